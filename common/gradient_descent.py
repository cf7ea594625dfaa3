"""`python -m common.gradient_descent`: full-batch gradient descent vs mini-batch SGD, both implementations.

The same network (the mlp on digits), the same plain SGD (no momentum), the same learning
rate and the same number of epochs; only the batch differs:

    full batch   every training example in one batch: one exact gradient step per epoch
    mini-batch   batches of 32: ~40 noisy steps per epoch over the same examples

Each is trained by Keras and by raw TensorFlow (`twinnets compare`, seeds 0..S-1), and one
figure shows the mean training loss and validation accuracy per epoch of all four. An
epoch costs the same arithmetic either way; mini-batch SGD turns it into many more steps.

    python -m common.gradient_descent                  # report/gradient-descent.{png,json}, ~1 minute
    python -m common.gradient_descent --epochs 50 --learning-rate 0.5 --out /tmp/gd
"""
import os
import statistics
import sys

from common import cli, compare, registry
from common.results import write_json

NETWORK = "mlp"
MINI_BATCH = 32


def settings(n_train, epochs, learning_rate):
    """name -> config overrides of the two runs."""
    shared = {"optimizer": "sgd", "momentum": 0.0, "learning_rate": learning_rate, "epochs": epochs}
    return {"full batch": dict(shared, batch_size=n_train), f"mini-batch ({MINI_BATCH})": dict(shared, batch_size=MINI_BATCH)}


def mean_curve(summary, key):
    """The per-epoch mean over the seeds of one history entry."""
    curves = [run["history"][key] for run in summary["runs"]]
    return [statistics.fmean(values) for values in zip(*curves)]


def study(*, seeds=3, epochs=30, learning_rate=0.1, verbose=True):
    """{setting: compare report} for both settings."""
    spec = registry.get(NETWORK)
    config = spec.config_class()
    n_train = cli.load_data(spec, config).info.n_train
    reports = {}
    for name, overrides in settings(n_train, epochs, learning_rate).items():
        reports[name] = compare.compare(NETWORK, seeds=seeds, overrides=overrides, verbose=verbose)
        reports[name]["steps_per_epoch"] = -(-n_train // overrides["batch_size"])  # ceil: the last batch may be short
    return reports


def table(reports):
    lines = ["| batch | steps per epoch | impl | final training loss | test accuracy (mean ± std) |", "|---|---|---|---|---|"]
    for name, report in reports.items():
        for impl, summary in report["impls"].items():
            loss = mean_curve(summary, "loss")[-1]
            accuracy = f"{summary['metric_mean']:.4f} ± {summary['metric_std']:.4f}"
            lines.append(f"| {name} | {report['steps_per_epoch']} | {impl} | {loss:.4f} | {accuracy} |")
    return "\n".join(lines)


def figure(reports, path):
    from common import plots

    plt = plots.plt
    figure_, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    styles = {"keras": "-", "tf": "--"}
    for (name, report), color in zip(reports.items(), ("tab:purple", "tab:green")):
        for impl, summary in report["impls"].items():
            for axis, key in zip(axes, ("loss", "val_accuracy")):
                values = mean_curve(summary, key)
                axis.plot(range(1, len(values) + 1), values, styles[impl], color=color, label=f"{name}, {impl}")
    for axis, title in zip(axes, ("training loss (epoch mean)", "validation accuracy")):
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    first = next(iter(reports.values()))
    figure_.suptitle(f"mlp on digits, plain SGD at learning rate {first['config']['learning_rate']}: "
                     f"full batch vs mini-batch, mean of {first['seeds']} seed(s)")
    figure_.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure_.savefig(path, dpi=110)
    plt.close(figure_)
    return path


def main(argv=None):
    parser = cli.Parser(prog="python -m common.gradient_descent", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--learning-rate", type=float, default=0.1)
    parser.add_argument("--out", default="report", help="folder for gradient-descent.png and .json (default: report)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    def run():
        out = cli.prepare_out_dir(args.out)
        reports = study(seeds=args.seeds, epochs=args.epochs, learning_rate=args.learning_rate, verbose=not args.quiet)
        print(table(reports))
        write_json(os.path.join(out, "gradient-descent.json"), reports)
        print(f"wrote {figure(reports, os.path.join(out, 'gradient-descent.png'))}")

    return cli.guarded(run)


if __name__ == "__main__":
    sys.exit(main())
