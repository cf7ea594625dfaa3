"""`twinnets compare <net>`: train both implementations over seeds, side by side.

Each implementation is trained K times (seeds 0..K-1) on the same data: for a given
seed both see the same split and the same shuffles. The report says whether both clear
the network's floor and, as a statistical claim (common/stats.py), whether the two are
the same network: the difference of the mean metrics with its 95% confidence interval
(Welch), a difference test, and a TOST equivalence test against the registry's
tolerance, giving a verdict — equivalent, different or undecided (with the seeds that
would likely decide it). It prints a table and writes JSON and a PNG of the learning curves.
"""
import dataclasses
import os
import statistics

from common import cli, modules, registry, stats
from common.configs import ConfigError
from common.results import versions, write_json

LOWER_IS_BETTER = {"mse", "rmse", "log_loss", "neg_elbo", "frechet_distance",
                   "cross_entropy", "bits_per_character", "ce_over_optimum"}  # the last three: charlm's


def compare(network, *, seeds=3, overrides=None, data_dir=None, download=False, num_classes=None, verbose=True):
    """Train both implementations `seeds` times; returns the report as a dict."""
    if seeds < 1:
        raise ConfigError(f"seeds must be at least 1, got {seeds}")
    spec = registry.get(network)
    base = spec.check(spec.config_class(**(overrides or {})))
    data = cli.load_data(spec, base, data_dir, download, num_classes)
    impls = {}
    figures = {}  # generative networks: seed 0's arrays for the sample grid, per implementation
    total, done = 2 * seeds, 0
    for impl in cli.IMPLS:
        module = modules.network_module(network, impl)
        runs = []
        for seed in range(seeds):
            config = dataclasses.replace(base, seed=seed)
            done += 1
            if verbose:
                print(f"[{done}/{total}] {impl:5s} seed {seed}: training {config.epochs} epochs ...", end="", flush=True)
            result = module.train(config, dataclasses.replace(data, seed=seed), verbose=0)
            if verbose:
                print(f" {result.metric} {result.value:.4f} in {result.train_seconds:.1f}s", flush=True)
            metric = result.metric  # the registry's, unless the data asks for another (regression: mse)
            if result.figures is not None and seed == 0:
                figures[impl] = result.figures
            runs.append({
                "seed": seed,
                "metric": result.value,
                "metrics": result.metrics,
                "train_seconds": result.train_seconds,
                "samples_per_second": result.samples_per_second,
                "epochs_run": result.epochs_run,
                "history": result.history,
            })
        impls[impl] = {"runs": runs}
    # The registry's tolerance judges its own metric, its floor that metric on the data the floor was
    # set for; another metric, or a floor on other data, is reported, not judged.
    judged = metric == spec.metric
    higher_is_better = spec.higher_is_better if judged else metric not in LOWER_IS_BETTER
    floor = spec.floor_for(data.info.name, metric)
    tolerance = spec.tolerance if judged else None
    for summary in impls.values():
        values = [run["metric"] for run in summary["runs"]]
        summary["metric_mean"] = statistics.fmean(values)
        summary["metric_std"] = statistics.pstdev(values)
        summary["clears_floor"] = None if floor is None else all(
            value >= floor if higher_is_better else value <= floor for value in values
        )
    keras_values, tf_values = ([run["metric"] for run in impls[impl]["runs"]] for impl in ("keras", "tf"))
    report = {
        "network": network,
        "dataset": data.info.name,
        "metric": metric,
        "higher_is_better": higher_is_better,
        "floor": floor,
        "tolerance": tolerance,
        "seeds": seeds,
        "config": dataclasses.asdict(base),
        "impls": impls,
        "parity": stats.parity(keras_values, tf_values, tolerance),  # difference, CI, p-values, verdict, passed
        "versions": versions(),
    }
    if figures:
        report["figures"] = figures  # arrays: run_from_args takes them out before writing the JSON
    return report


def table(report):
    """The side-by-side table as printed."""
    metric = report["metric"]
    lines = [
        f"{report['network']} on {report['dataset']}: {metric} "
        f"({'higher' if report['higher_is_better'] else 'lower'} is better) over {report['seeds']} seed(s), "
        + (f"floor {report['floor']:g}" if report["floor"] is not None
           else f"no floor set for this metric on {report['dataset']}")
        + (f", tolerance {report['tolerance']}" if report["tolerance"] is not None else ", no tolerance for this metric"),
        f"{'impl':6s} {metric + ' (mean ± std)':>26s} {'final loss':>10s} {'train s':>8s} {'samples/s':>10s} {'floor':>6s}",
    ]
    for impl, summary in report["impls"].items():
        runs = summary["runs"]
        final_loss = statistics.fmean(run["history"]["loss"][-1] for run in runs)  # training loss, last epoch
        seconds = statistics.fmean(run["train_seconds"] for run in runs)
        speed = statistics.fmean(run["samples_per_second"] for run in runs)
        mean_std = f"{summary['metric_mean']:.4f} ± {summary['metric_std']:.4f}"
        floor = {True: "clear", False: "MISS", None: "-"}[summary["clears_floor"]]
        lines.append(f"{impl:6s} {mean_std:>26s} {final_loss:>10.4f} {seconds:>8.1f} {speed:>10,.0f} {floor:>6s}")
    names = [name for name in report["impls"]["keras"]["runs"][0]["metrics"] if name != metric]
    if names:  # every other test metric, side by side
        lines.append(f"{'test metric':26s} " + " ".join(f"{impl + ' (mean ± std)':>22s}" for impl in report["impls"]))
        for name in names:
            cells = []
            for summary in report["impls"].values():
                values = [run["metrics"][name] for run in summary["runs"]]
                cells.append(f"{statistics.fmean(values):.4f} ± {statistics.pstdev(values):.4f}")
            lines.append(f"{name:26s} " + " ".join(f"{cell:>22s}" for cell in cells))
    lines += stats.format_parity(report["parity"], metric)
    return "\n".join(lines)


def run_from_args(args):
    spec = registry.get(args.network)
    overrides = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(spec.config_class)
        if getattr(args, field.name, None) is not None
    }
    json_path = args.json or os.path.join("runs", f"compare-{spec.name}.json")
    plot_path = args.plot or os.path.join("runs", f"compare-{spec.name}.png")
    for path in (json_path, plot_path):
        cli.prepare_out_dir(os.path.dirname(os.path.abspath(path)))
    report = compare(spec.name, seeds=args.seeds, overrides=overrides, data_dir=args.data_dir,
                     download=args.download, num_classes=args.num_classes, verbose=not args.quiet)
    print(table(report))
    figures = report.pop("figures", None)
    write_json(json_path, report)
    from common import plots

    plots.learning_curves(report, plot_path)
    written = [json_path, plot_path]
    if figures:
        written += plots.generative_figures(report, figures, plot_path)
    print(f"wrote {', '.join(written[:-1])} and {written[-1]}")
    return report
