"""`twinnets bench [<net>|all]`: training throughput of both implementations, side by side.

What is measured: samples per second of the training pass alone, through each
implementation's public `train()`, from the per-epoch seconds both record
(history["epoch_seconds"]: validation excluded). The first epoch traces and warms up,
so a run's throughput is examples per epoch / the median of its later epochs.
The implementations run interleaved (keras, tf, then tf, keras on the next repeat) and
`--repeats` times; the table shows medians over repeats and the median of the paired
tf/keras ratios (each repeat's tf run divided by the Keras run next to it).

Cases:
- every network on its default data (as `twinnets compare` trains it);
- `cnn` on a larger synthetic input, 28x28x1 images in batches of 128 (the shape of
  keras-io's `mnist_convnet`), where the work is convolutions rather than Python and
  per-step overhead. There, two more rows, fit "the keras-io way" (numpy arrays straight
  into `model.fit(x, y, batch_size=128)`, keras_impl/references/mnist_convnet.py):
  `keras-plain` is *our* cnn model (keras_impl.cnn.build, same compile) fit that way,
  the like-for-like check of our Keras path; `keras-io` is keras-io's own model, an
  outside reference (a different, smaller network: not comparable sample for sample).
  The cnn's FLOPs are counted from its layers and set against a float32 matrix-multiply
  peak measured in the same run.

Keras side, explicitly (keras_impl/supervised.py): jit_compile=False (the "auto" default
is off on CPU anyway; tf_impl does not use XLA either) and steps_per_execution=1
(fit's default, one host call per step; tf_impl compiles the whole epoch into one call,
which is the difference being measured).
"""
import dataclasses
import os
import platform
import statistics
import time

import numpy as np

from common import cli, modules, registry
from common.configs import ConfigError
from common.data import Data, DataInfo
from common.results import versions, write_json

SYNTHETIC_28 = dict(shape=(28, 28, 1), classes=10, n_train=3072, n_val=256, n_test=256, batch_size=128)
IMPL_ROWS = ("keras", "tf")
REFERENCE_ROWS = ("keras-plain", "keras-io")
ROW_MEANING = {
    "keras": "keras_impl.<net>.train: model.fit on our tf.data pipeline",
    "tf": "tf_impl.<net>.train: the compiled-epoch loop (GradientTape; backprop: gradients by hand)",
    "keras-plain": "our Keras cnn model, fit the keras-io way (numpy arrays, batch 128)",
    "keras-io": "keras-io mnist_convnet's own model (outside reference, a different network)",
}
# An epoch of fewer examples lasts a few milliseconds (logistic_regression: 409, transfer's fine-tuning: 50),
# where one scheduler stall on a shared machine (measured: 2 ms vs 20 ms for the same pipeline pass)
# outweighs the work: such cases run SHORT_EPOCH_FACTOR times the epochs, so that the median stays steady.
SHORT_EPOCH, SHORT_EPOCH_FACTOR = 1000, 4
TARGETS = {"tf_over_keras_default": 1.2, "tf_over_keras_cnn28": 1.0, "keras_over_plain": 0.95, "fraction_of_peak": 0.40}


# --- FLOPs ---


def cnn_flops(config, input_shape, num_classes):
    """Multiply-adds x 2 of one forward pass of our cnn (common.configs.CNNConfig), per example.

    conv ('same' padding): 2 * H_out * W_out * k * k * C_in * C_out; dense: 2 * in * out.
    Biases, ReLUs and pooling are left out (a few percent at most). A training step is
    counted as ~3x the forward pass (forward, gradients w.r.t. activations and weights).
    """
    height, width, channels = input_shape
    layers = []
    for filters in config.filters:
        layers.append((f"conv {channels}->{filters} at {height}x{width}",
                       2 * height * width * config.kernel_size ** 2 * channels * filters))
        height, width, channels = height // 2, width // 2, filters  # 2x2 max-pool
    flat = height * width * channels
    outputs = 1 if num_classes == 2 else num_classes
    layers.append((f"dense {flat}->{config.dense_units}", 2 * flat * config.dense_units))
    layers.append((f"dense {config.dense_units}->{outputs}", 2 * config.dense_units * outputs))
    forward = sum(flops for _, flops in layers)
    return {"layers": dict(layers), "forward_per_example": forward, "train_per_example": 3 * forward,
            "note": "training step counted as 3x the forward pass"}


def matmul_peak(size=2048, chain=8, repeats=5):
    """GFLOP/s of float32 square matrix multiplies in a compiled loop: the best of `repeats` timings."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    a = tf.constant((rng.standard_normal((size, size)) / np.sqrt(size)).astype(np.float32))
    b = tf.constant(rng.standard_normal((size, size), dtype=np.float32))

    @tf.function
    def run(x):
        for _ in tf.range(chain):  # a dependent chain: nothing can be hoisted or skipped
            x = tf.matmul(a, x)
        return tf.reduce_sum(x)

    float(run(b))  # trace and warm up
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        float(run(b))
        rates.append(2 * size ** 3 * chain / (time.perf_counter() - started) / 1e9)
    return {"size": size, "chain": chain, "gflops": rates, "peak_gflops": max(rates),
            "median_gflops": statistics.median(rates)}


# --- cases ---


def synthetic_images(seed=0, shape=SYNTHETIC_28["shape"], classes=SYNTHETIC_28["classes"], n_train=SYNTHETIC_28["n_train"],
                     n_val=SYNTHETIC_28["n_val"], n_test=SYNTHETIC_28["n_test"], batch_size=SYNTHETIC_28["batch_size"]):
    """Random 28x28x1 images in [0, 1] with random labels: the shape of MNIST, for timing only."""
    rng = np.random.default_rng(1234)
    arrays = []
    for n in (n_train, n_val, n_test):
        arrays += [rng.random((n, *shape), dtype=np.float32), rng.integers(0, classes, n).astype(np.int32)]
    info = DataInfo(name="synthetic 28x28x1", kind="image", input_shape=tuple(shape), num_classes=classes,
                    n_train=n_train, n_val=n_val, n_test=n_test)
    return Data(*arrays, info=info, batch_size=batch_size, seed=seed)


def bench_config(spec, epochs, **fields):
    """The network's default config with enough epochs for several steady ones (and no early stop within them)."""
    config = spec.config_class(**fields)
    if spec.name == "transfer":  # timed: the fine-tuning phase; pretraining and the head kept to one epoch
        return dataclasses.replace(config, epochs=1, head_epochs=1, fine_tune_epochs=epochs)
    return dataclasses.replace(config, epochs=epochs)


def examples_per_epoch(spec, config, data):
    if spec.name == "transfer":  # the few-shot target set the fine-tuning epochs pass over
        return min(config.examples_per_class * data.info.num_classes, data.info.n_train)
    if spec.family == "seq2seq":  # the first train_pairs of the training split (common/seq2seq.py prepare; 0: all)
        return min(config.train_pairs or data.info.n_train, data.info.n_train)
    return data.info.n_train


def steady_throughput(examples, epoch_seconds):
    steady = epoch_seconds[1:] or epoch_seconds
    return examples / statistics.median(steady)


def cases(network, epochs, precision="float32"):
    """(spec, case name, config, data) for one network: its default data, and 28x28x1 for the cnn."""
    spec = registry.get(network)
    data = cli.load_data(spec, spec.config_class())
    config = spec.check(bench_config(spec, epochs, precision=precision))
    if examples_per_epoch(spec, config, data) < SHORT_EPOCH:
        config = bench_config(spec, SHORT_EPOCH_FACTOR * epochs, precision=precision)
    found = [(spec, "default", config, data)]
    if network == "cnn":
        synthetic = synthetic_images()
        found.append((spec, "28x28x1", dataclasses.replace(config, batch_size=synthetic.batch_size), synthetic))
    return found


def run_row(row, spec, config, data):
    """One timed run of one row: (samples per second, epoch seconds)."""
    if row in IMPL_ROWS:
        result = modules.network_module(spec.name, row).train(config, data, verbose=0)
        seconds = result.history["epoch_seconds"]
    else:
        reference = modules.reference_module("mnist_convnet")  # by name: common/ imports no implementation
        if row == "keras-plain":
            seconds = reference.bench_plain_cnn(config, data.x_train, data.y_train, data.info.num_classes,
                                                epochs=config.epochs)
        else:
            seconds = reference.bench_keras_io(data.x_train, data.y_train, data.info.num_classes, epochs=config.epochs,
                                               seed=config.seed)
    return steady_throughput(examples_per_epoch(spec, config, data), seconds), seconds


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), **versions()}


def bench(networks, *, repeats=3, epochs=6, precision="float32", verbose=True):
    """Run every case of every network; returns the report as a dict.

    precision: every run's --precision. The keras-io reference rows, the matmul peak and the
    targets are float32 figures: they are measured at float32 only.
    """
    if repeats < 1:
        raise ConfigError(f"repeats must be at least 1, got {repeats}")
    if epochs < 2:
        raise ConfigError(f"epochs must be at least 2 (the first is warm-up), got {epochs}")
    all_cases = [case for network in networks for case in cases(network, epochs, precision)]
    float32 = precision == "float32"
    results = []
    for spec, name, config, data in all_cases:
        rows = list(IMPL_ROWS) + (list(REFERENCE_ROWS) if name == "28x28x1" and float32 else [])
        runs = {row: [] for row in rows}
        for repeat in range(repeats):
            order = rows if repeat % 2 == 0 else rows[::-1]  # alternate who goes first
            for row in order:
                speed, seconds = run_row(row, spec, config, data)
                runs[row].append({"samples_per_second": speed, "epoch_seconds": seconds})
                if verbose:
                    print(f"  {spec.name:20s} {name:8s} {row:12s} repeat {repeat + 1}/{repeats}: {speed:12,.0f} samples/s",
                          flush=True)
        results.append(summarise(spec, name, config, data, runs))
    present = {row for case in results for row in case["median"]}
    report = {"repeats": repeats, "epochs": epochs, "precision": precision, "rows": {row: ROW_MEANING[row] for row in ROW_MEANING if row in present},
              "cases": results, "machine": machine()}
    if float32 and any(case["case"] == "28x28x1" for case in results):
        report["matmul"] = matmul_peak()
        cnn28 = next(case for case in results if case["case"] == "28x28x1")
        flops = cnn_flops(registry.get("cnn").config_class(), SYNTHETIC_28["shape"], SYNTHETIC_28["classes"])
        achieved = {row: cnn28["median"][row] * flops["train_per_example"] / 1e9 for row in IMPL_ROWS}
        best = max(achieved, key=achieved.get)
        flops.update(achieved_gflops=achieved, best=best,
                     fraction_of_peak=achieved[best] / report["matmul"]["peak_gflops"])
        report["cnn28_flops"] = flops
    report["targets"] = targets(report) if float32 else []
    return report


def summarise(spec, name, config, data, runs):
    speeds = {row: [run["samples_per_second"] for run in values] for row, values in runs.items()}
    ratios = [tf / keras for tf, keras in zip(speeds["tf"], speeds["keras"])]
    summary = {
        "network": spec.name, "case": name, "dataset": data.info.name, "input_shape": list(data.info.input_shape),
        "batch_size": config.batch_size, "examples_per_epoch": examples_per_epoch(spec, config, data),
        "epochs_per_run": len(runs["keras"][0]["epoch_seconds"]),
        "runs": runs, "median": {row: statistics.median(values) for row, values in speeds.items()},
        "tf_over_keras": statistics.median(ratios), "tf_over_keras_paired": ratios,
    }
    if "keras-plain" in speeds:
        paired = [keras / plain for keras, plain in zip(speeds["keras"], speeds["keras-plain"])]
        summary["keras_over_plain"] = statistics.median(paired)
        summary["keras_over_plain_paired"] = paired
    return summary


def targets(report):
    """The issue's targets, each with the measured figure and whether it is met."""
    found = []
    for case in report["cases"]:
        if case["case"] == "default":
            found.append(("tf_over_keras_default", f"{case['network']}: tf / keras on {case['dataset']}", case["tf_over_keras"]))
        else:
            found.append(("tf_over_keras_cnn28", "cnn: tf / keras on 28x28x1", case["tf_over_keras"]))
            found.append(("keras_over_plain", "cnn 28x28x1: our Keras path / the same model fit the keras-io way",
                          case["keras_over_plain"]))
    if "cnn28_flops" in report:
        found.append(("fraction_of_peak", f"cnn 28x28x1 ({report['cnn28_flops']['best']}): fraction of the matmul peak",
                      report["cnn28_flops"]["fraction_of_peak"]))
    return [{"target": key, "what": what, "value": value, "threshold": TARGETS[key], "met": value >= TARGETS[key]}
            for key, what, value in found]


def table(report):
    """The table as printed."""
    lines = [f"training throughput, samples/s, {report.get('precision', 'float32')}: median of {report['repeats']} "
             f"interleaved repeat(s), the first of each run's epochs (warm-up, tracing) excluded, validation excluded",
             f"{'network':20s} {'case':8s} {'data':22s} {'batch':>5s} {'epochs':>6s} {'keras':>10s} {'tf':>10s} {'tf/keras':>8s}  "
             f"{'keras-plain':>11s} {'keras-io':>10s} {'keras/plain':>11s}"]
    for case in report["cases"]:
        median = case["median"]
        extra = (f"  {median['keras-plain']:>11,.0f} {median['keras-io']:>10,.0f} {case['keras_over_plain']:>11.2f}"
                 if "keras-plain" in median else "")
        lines.append(f"{case['network']:20s} {case['case']:8s} {case['dataset'][:22]:22s} {case['batch_size']:>5d} "
                     f"{case['epochs_per_run']:>6d} {median['keras']:>10,.0f} {median['tf']:>10,.0f} {case['tf_over_keras']:>8.2f}{extra}")
    lines.append("rows: " + "; ".join(f"{row} = {meaning}" for row, meaning in report["rows"].items()))
    if "matmul" in report:
        flops, matmul = report["cnn28_flops"], report["matmul"]
        lines.append(f"float32 matmul peak ({matmul['size']}x{matmul['size']}, compiled loop): {matmul['peak_gflops']:.0f} GFLOP/s "
                     f"(median {matmul['median_gflops']:.0f})")
        lines.append(f"cnn 28x28x1: {flops['forward_per_example'] / 1e6:.2f} MFLOP forward per example, "
                     f"{flops['train_per_example'] / 1e6:.2f} per training example ({flops['note']}); achieved "
                     + ", ".join(f"{row} {value:.1f} GFLOP/s" for row, value in flops["achieved_gflops"].items())
                     + f" = {100 * flops['fraction_of_peak']:.0f}% of the peak ({flops['best']})")
    lines.append("targets:" if report["targets"] else "targets: measured at float32 only")
    for target in report["targets"]:
        lines.append(f"  {'met ' if target['met'] else 'MISS'} {target['what']}: {target['value']:.3f} "
                     f"(target >= {target['threshold']})")
    m = report["machine"]
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores; TensorFlow {m['tensorflow']}, Python {m['python']}")
    return "\n".join(lines)


def run_from_args(args):
    networks = list(registry.NETWORKS) if args.network == "all" else [registry.get(args.network).name]
    if args.network == "all":  # a network that cannot run at --precision (backprop: float32 only) is left out, and said so
        left_out = [name for name in networks if args.precision not in registry.get(name).precisions]
        networks = [name for name in networks if name not in left_out]
        if left_out and not args.quiet:
            print(f"not at {args.precision}, so left out: {', '.join(left_out)}")
    for path in (args.json, args.plot):
        cli.prepare_out_dir(os.path.dirname(os.path.abspath(path)))
    report = bench(networks, repeats=args.repeats, epochs=args.epochs, precision=args.precision, verbose=not args.quiet)
    print(table(report))
    write_json(args.json, report)
    from common import plots

    plots.throughput_bars(report, args.plot)
    print(f"wrote {args.json} and {args.plot}")
    return report
