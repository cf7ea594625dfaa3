"""`python -m common.report`: the README's results table, from real runs.

Runs `twinnets compare` (common.compare.compare, default hyperparameters, seeds 0..K-1)
for every network in the registry, writes each network's learning curves (and, for
the generative networks, the sample grids) into a report folder, and rewrites the
table in README.md between the markers

    <!-- results:begin -->
    <!-- results:end -->

with the metric of both implementations (mean ± std over the seeds), the difference of
the means with its 95% confidence interval, the parity verdict (common/stats.py:
equivalent, different or undecided) and the training throughput of both, followed by the
date, the machine and the versions.

    python -m common.report                     # every network, 3 seeds, report/ and README.md
    python -m common.report --networks cnn mlp --seeds 2 --out /tmp/report --readme /tmp/README.md
"""
import argparse
import datetime
import os
import statistics
import sys

from common import registry
from common.results import write_json

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"

WHAT = {
    "logistic_regression": "logistic regression: sigmoid for 2 classes, softmax for more",
    "mlp": "shallow network, one hidden layer",
    "deep_mlp": "5 hidden layers, dropout, L2, early stopping",
    "cnn": "LeNet-style convolutional network",
    "rnn": "Elman recurrent network (tanh), masked padding",
    "lstm": "long short-term memory",
    "gru": "gated recurrent unit (reset after)",
    "autoencoder": "undercomplete autoencoder (dense; `--convolutional`)",
    "vae": "variational autoencoder, analytic KL",
    "gan": "DCGAN-style GAN",
    "cgan": "conditional GAN: the label into both players",
    "wgan_gp": "Wasserstein GAN, gradient penalty (second order), 5 critic steps",
    "transfer": "pretrained cnn base, new head, fine-tuned top",
    "regression": "dense layers to one linear output, squared error, L2",
    "backprop": "2-3 dense layers; tf_impl's gradients by hand (chain rule), no tape",
    "dbn": "deep belief net: RBMs pretrained greedily, unrolled, fine-tuned",
    "rbm": "restricted Boltzmann machine, persistent CD (`--no-persistent`: CD-k)",
    "forecaster": "LSTM over a window of past values -> the next 10 values at once",
    "gesture": "masked GRU (`--cell lstm`) over 3-axis motion traces of varying length",
    "tagger": "embedding, bidirectional LSTM, a softmax over IOB2 tags per token",
    "detection": "CenterNet: strided convs, one upsampling, heatmap/size/offset heads",
    "segmentation": "U-Net: conv blocks, max-pooling, transposed convolutions, skips concatenated",
    "speech": "log-mel frames, bidirectional LSTM, CTC; best-path decoding",
}
DATA_NAMES = {"breast_cancer": "breast cancer", "digits_sequences": "digits, row by row", "moons": "two moons",
              "digits_transfer": "digits 0-4 → 5-9 (10 per class)", "mackey_glass": "Mackey–Glass series (τ = 17)",
              "gestures": "6 generated gestures, 30-80 steps",
              "entities": "generated sentences, test names unseen in training",
              "scene_boxes": "generated scenes, 1-4 discs, squares, triangles",
              "scenes": "generated 64x64 scenes of discs, squares, triangles",
              "digit_sequences": "generated 8 kHz clips of 1-4 digit tokens"}
METRIC_NAMES = {"r2": "R²", "neg_elbo": "−ELBO (nats)", "frechet_distance": "Fréchet distance", "fine_tuning_accuracy": "accuracy (fine-tuned)",
                "conditional_accuracy": "conditional accuracy", "log_likelihood": "log-likelihood (nats, exact)",
                "rmse_over_persistence": "RMSE / persistence's RMSE (H = 10)", "f1": "entity F1 (seqeval)",
                "map_50": "mAP@0.5 (COCO, pycocotools)", "mean_iou": "mean IoU",
                "ler": "label error rate (edit distance / length)"}


def row(report, spec):
    """One line of the README table from a compare report."""
    direction = "≥" if report["higher_is_better"] else "≤"
    floor = "-" if report["floor"] is None else f"{direction} {report['floor']:g}"
    cells = [f"`{spec.name}`", WHAT.get(spec.name, spec.title), DATA_NAMES.get(report["dataset"], report["dataset"]),
             METRIC_NAMES.get(report["metric"], report["metric"]), floor]
    speeds = []
    for impl in ("keras", "tf"):
        summary = report["impls"][impl]
        cells.append(f"{summary['metric_mean']:.4f} ± {summary['metric_std']:.4f}")
        speeds.append(f"{statistics.median(run['samples_per_second'] for run in summary['runs']):,.0f}")
    parity = report["parity"]
    if parity.get("ci_low") is None:
        cells.append(f"{parity['difference']:+.4f}")
    else:
        cells.append(f"{parity['difference']:+.4f} [{parity['ci_low']:+.4f}, {parity['ci_high']:+.4f}]")
    verdict = parity.get("verdict", "undecided")
    verdict = f"**{verdict}**" if verdict == "different" else verdict
    if verdict == "undecided" and parity.get("seeds_to_decide"):
        verdict += f" (~{parity['seeds_to_decide']} seeds would decide)"
    tolerance = "" if report["tolerance"] is None else f" vs ±{report['tolerance']:g}"
    misses = [impl for impl, summary in report["impls"].items() if summary.get("clears_floor") is False]
    floor_note = f"; **floor MISSED** by a {' and a '.join(misses)} seed" if misses else ""  # reported, not hidden
    cells.append(f"{verdict}{tolerance}{floor_note}")
    cells += speeds
    return "| " + " | ".join(cells) + " |"


HEADER = ("| network | what | default data | metric | floor | Keras (mean ± std) | raw TF (mean ± std) "
          "| Keras − TF [95% CI] | verdict (TOST vs tolerance) | Keras samples/s | raw TF samples/s |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|")


def machine_line(seeds, when=None):
    from common.bench import machine

    m = machine()
    when = when or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"Produced by `python -m common.report` on {when}: `twinnets compare <network>` with seeds 0–{seeds - 1} "
            f"and default hyperparameters, on {m['cpu']} ({m['cores']} cores), Python {m['python']}, "
            f"TensorFlow {m['tensorflow']}, Keras {_version('keras')}, NumPy {m['numpy']}. Samples/s: training examples per second of the "
            f"training pass, median over the seeds of each run's median epoch after the first (transfer: "
            f"examples of all three phases over the whole run).")


def _version(distribution):
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"


def table_block(reports, seeds, when=None):
    lines = [HEADER] + [row(report, registry.get(report["network"])) for report in reports]
    return "\n".join(lines) + "\n\n" + machine_line(seeds, when)


def rewrite_readme(path, block):
    """Replace what lies between the markers; refuse a README without exactly one pair of them."""
    with open(path, encoding="utf-8") as stream:
        text = stream.read()
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"{path}: expected one {BEGIN} ... {END} region")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    new = f"{head}{BEGIN}\n{block}\n{END}{tail}"
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as stream:
        stream.write(new)
    os.replace(temporary, path)
    return new


def build_report(networks, *, seeds=3, out_dir="report", readme="README.md", verbose=True, compare_fn=None):
    """Compare every network, write the figures and JSON into out_dir, rewrite the README's table."""
    from common import compare as compare_module
    from common import plots

    compare_fn = compare_fn or compare_module.compare
    with open(readme, encoding="utf-8") as stream:  # fail now, not after minutes of training
        text = stream.read()
    if text.count(BEGIN) != 1 or text.count(END) != 1:
        raise ValueError(f"{readme}: expected one {BEGIN} ... {END} region")
    os.makedirs(out_dir, exist_ok=True)
    reports = []
    for network in networks:
        if verbose:
            print(f"== {network}", flush=True)
        report = compare_fn(network, seeds=seeds, verbose=verbose)
        if verbose:
            print(compare_module.table(report), flush=True)
        figures = report.pop("figures", None)
        plot_path = os.path.join(out_dir, f"{network}.png")
        write_json(os.path.join(out_dir, f"{network}.json"), report)
        plots.learning_curves(report, plot_path)
        if figures:
            plots.generative_figures(report, figures, plot_path)
        reports.append(report)
    block = table_block(reports, seeds)
    rewrite_readme(readme, block)
    if verbose:
        print(block)
        print(f"wrote {out_dir}/ and the table in {readme}")
    return reports


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m common.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", nargs="+", default=list(registry.NETWORKS), choices=list(registry.NETWORKS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default="report", help="folder for the learning curves and JSON (default report/)")
    parser.add_argument("--readme", default="README.md", help="the README whose marked table is rewritten")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    build_report(args.networks, seeds=args.seeds, out_dir=args.out, readme=args.readme, verbose=not args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
