"""`python -m common.regularisation`: deep_mlp without and with each regulariser, both implementations, one table.

deep_mlp is trained by Keras and by raw TensorFlow under four settings, everything else
at DeepMLPConfig's defaults (early stopping on the validation loss included):

    none      dropout 0,   l2 0
    L2        dropout 0,   l2 1e-4 (the default), the penalty l2 * sum(w**2) on every kernel
    L1        dropout 0,   l2 0, l1 L1_FACTOR: the penalty l1 * sum(|w|) on every kernel
    dropout   dropout 0.2 (the default) after every hidden layer, l2 0

and the table gives, per setting and implementation, the test accuracy, the weight
sparsity (common.evaluate.weight_sparsity: the share of kernel weights with |w| < 1e-3,
of the restored best weights), the epoch at which early stopping stopped training and
the best epoch, whose weights it restored. One run per cell (one seed): it shows what
each regulariser does to the weights, not a difference between settings beyond the
seed-to-seed spread (a few tenths of a point of accuracy on digits' 360 test images).

    python -m common.regularisation                         # seed 0: runs/regularisation-deep_mlp.{md,json}
    python -m common.regularisation --seed 1 --l1 1e-4 --out /tmp/reg
"""
import dataclasses
import os
import sys

from common import cli, evaluate, modules, registry
from common.configs import ConfigError
from common.results import write_json

NETWORK = "deep_mlp"
# L1's factor: 1e-5 makes the L1 penalty of the initial (Glorot-uniform) weights about as large as the
# default L2's: sum|w| ~ 5.7e3 and sum w**2 ~ 5.7e2 over deep_mlp's 79k kernel weights on digits, so
# 1e-5 * 5.7e3 ~ 1e-4 * 5.7e2 ~ 0.06, a fortieth of the initial cross-entropy (ln 10 = 2.3). The two
# penalties then start from the same weight in the loss and differ in what they do with it.
L1_FACTOR = 1e-5
# setting -> DeepMLPConfig overrides; a field not named keeps its default (L2's l2, dropout's rate)
SETTINGS = {
    "none": {"dropout": 0.0, "l2": 0.0},
    "L2": {"dropout": 0.0},
    "L1": {"dropout": 0.0, "l2": 0.0, "l1": L1_FACTOR},
    "dropout": {"l2": 0.0},
}


def best_epoch(val_losses):
    """The epoch (from 1) whose weights early stopping restores: the first lowest validation loss
    (Keras's EarlyStopping and tf_impl/loop.py both keep a new best only when it is strictly lower)."""
    if not val_losses:
        raise ValueError("no validation losses: nothing was trained")
    return 1 + min(range(len(val_losses)), key=lambda epoch: (val_losses[epoch], epoch))


def cell(result, config):
    """What the table shows of one run: test accuracy, sparsity, where early stopping stopped and its best epoch."""
    return {
        "accuracy": result.metrics["accuracy"],
        "sparsity": evaluate.weight_sparsity(result.model.get_weights()),
        "stopped_epoch": result.epochs_run,
        "stopped_early": result.epochs_run < config.epochs,
        "best_epoch": best_epoch(result.history["val_loss"]),
        "train_seconds": result.train_seconds,
    }


def configs_of(settings, *, seed=0, overrides=None):
    """setting -> its DeepMLPConfig; a bad value is refused here (ConfigError), before any training."""
    if not settings:
        raise ConfigError("no settings to compare")
    spec = registry.get(NETWORK)
    return {name: spec.check(spec.config_class(**{**(overrides or {}), **setting, "seed": seed}))
            for name, setting in settings.items()}


def run(settings=None, *, seed=0, overrides=None, verbose=True):
    """Train both implementations once per setting; returns the report (a dict, the JSON written)."""
    spec = registry.get(NETWORK)
    configs = configs_of(SETTINGS if settings is None else settings, seed=seed, overrides=overrides)
    loaded = {}
    rows = []
    for name, config in configs.items():
        key = (config.dataset, config.batch_size, config.validation_fraction, config.seed)
        if key not in loaded:
            loaded[key] = cli.load_data(spec, config)
        data = loaded[key]
        row = {"setting": name, "dropout": config.dropout, "l2": config.l2, "l1": config.l1,
               "max_epochs": config.epochs, "patience": config.patience}
        for impl in cli.IMPLS:
            if verbose:
                print(f"{name:8s} {impl:5s}: training up to {config.epochs} epochs ...", end="", flush=True)
            result = modules.network_module(NETWORK, impl).train(config, data, verbose=0)
            row[impl] = cell(result, config)
            if verbose:
                found = row[impl]
                print(f" accuracy {found['accuracy']:.4f}, sparsity {found['sparsity']:.3f}, stopped at epoch "
                      f"{found['stopped_epoch']} (best {found['best_epoch']}) in {found['train_seconds']:.1f}s",
                      flush=True)
        rows.append(row)
    return {"network": NETWORK, "dataset": data.info.name, "seed": seed, "n_test": data.info.n_test,
            "sparse_below": evaluate.SPARSE_BELOW, "rows": rows,
            "config": {name: dataclasses.asdict(config) for name, config in configs.items()}}


def _stopped(found):
    limit = "" if found["stopped_early"] else " (limit)"
    return f"{found['stopped_epoch']}{limit} ({found['best_epoch']})"


def table(report):
    """The markdown table of a report, with a line saying how it was made."""
    lines = [
        "| setting | dropout | L2 | L1 | Keras test accuracy | raw TF test accuracy | Keras sparsity "
        "| raw TF sparsity | Keras stopped at (best) | raw TF stopped at (best) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        keras, tf = row["keras"], row["tf"]
        lines.append(
            f"| {row['setting']} | {row['dropout']:g} | {row['l2']:g} | {row['l1']:g} | {keras['accuracy']:.4f} "
            f"| {tf['accuracy']:.4f} | {keras['sparsity']:.1%} | {tf['sparsity']:.1%} | {_stopped(keras)} "
            f"| {_stopped(tf)} |"
        )
    first = report["rows"][0]
    lines += [
        "",
        f"`{report['network']}` on {report['dataset']} ({report['n_test']} test examples), seed {report['seed']}, "
        f"one run per cell. Sparsity: share of kernel weights with |w| < {report['sparse_below']:g}, of the "
        f"weights early stopping restored. Stopped at: the epoch training ended (patience {first['patience']} "
        f"on the validation loss, at most {first['max_epochs']} epochs; \"limit\": it never stopped early), "
        "in brackets the best epoch, whose weights were restored. Made by `python -m common.regularisation`.",
    ]
    return "\n".join(lines)


def main(argv=None):
    parser = cli.Parser(prog="python -m common.regularisation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="every run's seed (default 0)")
    parser.add_argument("--l1", type=float, default=L1_FACTOR, help=f"the L1 setting's factor (default {L1_FACTOR:g})")
    parser.add_argument("--epochs", type=int, default=None, help="the most epochs of a run (default: DeepMLPConfig's)")
    parser.add_argument("--out", default="runs", help="folder for regularisation-deep_mlp.md and .json (default runs/)")
    parser.add_argument("--quiet", action="store_true", help="no per-run progress")
    args = parser.parse_args(argv)

    def build():
        settings = {name: dict(setting) for name, setting in SETTINGS.items()}
        settings["L1"]["l1"] = args.l1
        if args.l1 <= 0:
            raise ConfigError(f"l1 of the L1 setting must be positive, got {args.l1}")
        overrides = {} if args.epochs is None else {"epochs": args.epochs}
        configs_of(settings, seed=args.seed, overrides=overrides)  # bad values: refused before --out is made
        out = cli.prepare_out_dir(args.out)  # fail now, not after minutes of training
        report = run(settings, seed=args.seed, overrides=overrides, verbose=not args.quiet)
        text = table(report)
        print(text)
        markdown = os.path.join(out, f"regularisation-{NETWORK}.md")
        with open(markdown, "w", encoding="utf-8") as stream:
            stream.write(text + "\n")
        path = write_json(os.path.join(out, f"regularisation-{NETWORK}.json"), report)
        print(f"wrote {markdown} and {path}")

    return cli.guarded(build)


if __name__ == "__main__":
    sys.exit(main())
