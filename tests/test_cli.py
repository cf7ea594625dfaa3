"""The command lines as a user runs them: modules, `twinnets list|train|compare`, bad input.

Bad input must end with exit code 2 and one readable line on stderr, no traceback, and
nothing written to --out. Most cases run in-process (fast); a few run as real processes
to prove what a user sees.
"""
import json
import re
import os

import numpy as np
import pytest

from conftest import run_main


def test_module_runs_and_writes_metrics(cli, tmp_path):
    out = tmp_path / "run"
    done = cli("-m", "keras_impl.mlp", "--epochs", "2", "--hidden-units", "16", "--seed", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "Epoch 2/2" in done.stdout and "test accuracy" in done.stdout
    assert "oneDNN" not in done.stderr and "cuda" not in done.stderr.lower()  # TF start-up noise is hidden
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"network", "impl", "dataset", "metric", "value", "history", "train_seconds"} <= set(metrics)
    assert (metrics["network"], metrics["impl"], metrics["dataset"]) == ("mlp", "keras", "digits")
    assert metrics["config"]["hidden_units"] == 16 and metrics["seed"] == 1 and len(metrics["history"]["loss"]) == 2
    assert (out / "weights.npz").exists()


def test_tf_module_on_a_users_npz(module_main, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(60, 28, 28)).astype(np.uint8)  # MNIST-shaped images, (N, H, W)
    y = np.arange(60) % 3
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=x, y_train=y, x_test=x[:12], y_test=y[:12])
    out = tmp_path / "run"
    code, _, err = module_main("tf_impl.cnn", "--dataset", str(path), "--epochs", "1", "--out", str(out))
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["impl"] == "tf" and metrics["dataset"] == "mine.npz"


def test_list(capsys):
    code, out, _ = run_main(capsys, ["list"])
    assert code == 0
    for network in ("logistic_regression", "mlp", "deep_mlp", "cnn"):
        assert network in out
    assert ">= 0.97" in out


def test_train_subcommand(capsys, tmp_path):
    code, out, err = run_main(capsys, ["train", "logistic_regression", "--impl", "tf", "--epochs", "3", "--quiet",
                                       "--out", str(tmp_path)])
    assert code == 0, err
    assert json.loads((tmp_path / "metrics.json").read_text())["impl"] == "tf"


def test_compare_writes_report_and_plot(capsys, tmp_path):
    report_path, plot_path = tmp_path / "r.json", tmp_path / "r.png"
    code, out, err = run_main(capsys, ["compare", "logistic_regression", "--seeds", "2", "--epochs", "5",
                                       "--json", str(report_path), "--plot", str(plot_path)])
    assert code == 0, err
    report = json.loads(report_path.read_text())
    assert {"network", "dataset", "metric", "higher_is_better", "floor", "tolerance", "impls", "parity"} <= set(report)
    for impl in ("keras", "tf"):
        summary = report["impls"][impl]
        assert [run["seed"] for run in summary["runs"]] == [0, 1]
        assert {"seed", "metric", "train_seconds", "samples_per_second", "history"} <= set(summary["runs"][0])
        assert {"metric_mean", "metric_std"} <= set(summary)
    parity = report["parity"]
    assert {"difference", "ci_low", "ci_high", "p_value", "p_equivalence", "verdict", "seeds_to_decide", "passed"} <= set(parity)
    assert parity["verdict"] in ("equivalent", "different", "undecided") and parity["tolerance"] == 0.02
    assert parity["ci_low"] <= parity["difference"] <= parity["ci_high"]
    assert report["config"]["epochs"] == 5
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "keras" in out and f"parity of accuracy: keras - tf = {parity['difference']:+.4f}" in out
    assert out.count(parity["verdict"]) >= 1


def test_train_from_mock_tfds(capsys, tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=48):
        code, out, err = run_main(capsys, ["train", "cnn", "--impl", "keras", "--dataset", "fashion_mnist",
                                           "--epochs", "1", "--quiet", "--out", str(tmp_path)])
    assert code == 0, err
    assert json.loads((tmp_path / "metrics.json").read_text())["dataset"] == "fashion_mnist"


def bad_npz(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"PK\x03\x04 this is not a zip archive")
    return str(path)


def table_npz(tmp_path):
    path = tmp_path / "table.npz"
    x = np.random.default_rng(0).normal(size=(30, 5))
    np.savez(path, x_train=x, y_train=np.arange(30) % 2, x_test=x[:6], y_test=np.arange(6) % 2)
    return str(path)


BAD_INPUT = {
    "unknown network": (lambda tmp: ["train", "resnet9000", "--impl", "tf"], "unknown network 'resnet9000'"),
    "unknown impl": (lambda tmp: ["train", "mlp", "--impl", "torch"], "invalid choice: 'torch'"),
    "unknown dataset": (lambda tmp: ["train", "mlp", "--impl", "tf", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    "epochs not a number": (lambda tmp: ["train", "mlp", "--impl", "tf", "--epochs", "many"], "invalid int value: 'many'"),
    "zero epochs": (lambda tmp: ["train", "mlp", "--impl", "keras", "--epochs", "0"], "epochs must be at least 1"),
    "negative epochs": (lambda tmp: ["train", "cnn", "--impl", "tf", "--epochs", "-3"], "epochs must be at least 1"),
    "negative batch size": (lambda tmp: ["train", "cnn", "--impl", "tf", "--batch-size", "-1"], "batch-size must be at least 1"),
    "zero learning rate": (lambda tmp: ["train", "mlp", "--impl", "tf", "--learning-rate", "0"], "learning-rate must be positive"),
    "dropout of one": (lambda tmp: ["train", "deep_mlp", "--impl", "tf", "--dropout", "1.0"], "dropout must be in [0, 1)"),
    "bad layer sizes": (lambda tmp: ["train", "deep_mlp", "--impl", "tf", "--hidden-units", "64,x"], "comma-separated integers"),
    "negative l1": (lambda tmp: ["train", "deep_mlp", "--impl", "keras", "--l1", "-0.001"], "l1 must be >= 0"),
    "negative l1 on a cnn": (lambda tmp: ["train", "cnn", "--impl", "tf", "--l1=-1e-5"], "l1 must be >= 0"),
    "negative l2 on an mlp": (lambda tmp: ["train", "mlp", "--impl", "tf", "--l2", "-0.1"], "l2 must be >= 0"),
    "l1 not a number": (lambda tmp: ["train", "lstm", "--impl", "tf", "--l1", "lots"], "invalid float value: 'lots'"),
    "compare with a negative l1": (lambda tmp: ["compare", "deep_mlp", "--l1", "-0.5"], "l1 must be >= 0"),
    "no critic steps": (lambda tmp: ["train", "wgan_gp", "--impl", "tf", "--n-critic", "0"], "n-critic must be at least 1"),
    "negative gradient penalty": (lambda tmp: ["train", "wgan_gp", "--impl", "keras", "--gp-weight", "-1"],
                                  "gp-weight must be positive"),
    "gradient penalty not a number": (lambda tmp: ["compare", "wgan_gp", "--gp-weight", "nan"], "gp-weight must be positive"),
    "unknown flag": (lambda tmp: ["train", "mlp", "--impl", "tf", "--hiden-units", "3"], "unrecognized arguments"),
    "flag of another network": (lambda tmp: ["train", "mlp", "--impl", "tf", "--filters", "3"], "unrecognized arguments"),
    "missing file": (lambda tmp: ["train", "mlp", "--impl", "tf", "--dataset", f"{tmp}/absent.npz"], "no such dataset file"),
    "malformed file": (lambda tmp: ["train", "mlp", "--impl", "tf", "--dataset", bad_npz(tmp)], "not a readable .npz"),
    "cnn on a table": (lambda tmp: ["train", "cnn", "--impl", "keras", "--dataset", table_npz(tmp)], "cnn needs images"),
    "a classifier on a regression's data": (lambda tmp: ["train", "mlp", "--impl", "tf", "--dataset", "diabetes"],
                                            "mlp classifies; diabetes holds real-valued targets"),
    "tfds not prepared": (lambda tmp: ["train", "cnn", "--impl", "tf", "--dataset", "mnist", "--data-dir", str(tmp)],
                          "twinnets prepare mnist"),
    "zero seeds": (lambda tmp: ["compare", "mlp", "--seeds", "0"], "seeds must be at least 1"),
    "rbm without hidden units": (lambda tmp: ["train", "rbm", "--impl", "tf", "--n-hidden", "0"], "n-hidden must be at least 1"),
    "rbm without gibbs steps": (lambda tmp: ["compare", "rbm", "--k", "0"], "k (Gibbs steps per update) must be at least 1"),
    "rbm on unscaled pixels": (lambda tmp: ["train", "rbm", "--impl", "keras", "--dataset", _npz(
        tmp, "raw255.npz", x_train=np.random.default_rng(0).uniform(size=(40, 8, 8)) * 255.0)],
        "rbm needs inputs in [0, 1] (probabilities of its binary units); x_train of raw255.npz holds values from"),
    "prepare an embedded set": (lambda tmp: ["prepare", "digits"], "invalid choice: 'digits'"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, case):
    make_argv, message = BAD_INPUT[case]
    out_dir = tmp_path / "out"
    argv = make_argv(tmp_path)
    if argv[0] == "train":
        argv += ["--out", str(out_dir)]
    code, _, err = run_main(capsys, argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err
    assert not (out_dir / "metrics.json").exists()


def test_out_that_is_a_file(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    code, _, err = run_main(capsys, ["train", "mlp", "--impl", "tf", "--out", str(blocker)])
    assert code == 2 and "exists and is not a directory" in err
    assert blocker.read_text() == "keep me"


def test_diverging_loss_stops_and_keeps_earlier_results(module_main, tmp_path):
    """Adam at 1e12 drives the loss to ~1e25, finite: it is stopped as exploded, not written as a result."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text('{"earlier": "result"}')
    for impl in ("keras_impl", "tf_impl"):
        code, _, err = module_main(f"{impl}.mlp", "--learning-rate", "1e12", "--epochs", "2", "--out", str(out))
        assert code == 2, err
        assert "Traceback" not in err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and re.match(r"twinnets: error: the training loss (exploded to \S+ \(more than 10,000x "
                                            r"its value at the first step, [0-9.]+\)|became (nan|inf)) at step \d+ of "
                                            r"epoch 1;", lines[0]), lines
        assert json.loads((out / "metrics.json").read_text()) == {"earlier": "result"}


@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_a_run_below_its_floor_says_so(capsys, tmp_path, impl):
    code, out, _ = run_main(capsys, ["train", "logistic_regression", "--impl", impl, "--learning-rate", "1e-7",
                                     "--epochs", "1", "--quiet", "--out", str(tmp_path)])
    assert code == 0
    assert re.search(r"BELOW THE FLOOR: test accuracy 0\.\d+ misses >= 0\.95 set for logistic_regression on "
                     r"breast_cancer$", out.strip().splitlines()[-1])
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["below_floor"] is True and written["floor"] == 0.95


@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_a_floor_judges_only_the_data_it_was_set_for(capsys, tmp_path, impl):
    """On a user's own 10-class images, logistic regression's breast-cancer floor gives no verdict."""
    rng = np.random.default_rng(0)
    path = tmp_path / "mine.npz"
    np.savez(path, x_train=rng.uniform(size=(200, 6, 6)), y_train=np.arange(200) % 10,
             x_test=rng.uniform(size=(40, 6, 6)), y_test=np.arange(40) % 10)
    code, out, _ = run_main(capsys, ["train", "logistic_regression", "--impl", impl, "--dataset", str(path),
                                     "--epochs", "1", "--quiet", "--out", str(tmp_path / "run")])
    assert code == 0
    last = out.strip().splitlines()[-1]
    assert "no floor is set for logistic_regression on mine.npz, so no verdict" in last and "BELOW" not in last
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["below_floor"] is None and written["floor"] is None


def test_a_real_process_reports_bad_input_without_traceback(cli):
    done = cli("-m", "common.twinnets", "train", "cnn", "--impl", "tf", "--epochs", "-1")
    assert done.returncode == 2
    assert done.stderr.strip() == "twinnets: error: epochs must be at least 1, got -1"


# --- bad input, systematically: every network of the registry x every case ---

from common import registry  # noqa: E402


def _npz(tmp, name, **changes):
    """A small valid image .npz (8x8 digits-like), with some arrays replaced."""
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.uniform(size=(40, 8, 8)).astype(np.float32), "y_train": np.arange(40) % 3,
              "x_test": rng.uniform(size=(12, 8, 8)).astype(np.float32), "y_test": np.arange(12) % 3}
    arrays.update(changes)
    path = tmp / name
    np.savez(path, **arrays)
    return str(path)


def truncated_npz(tmp):
    path = _npz(tmp, "whole.npz")
    content = open(path, "rb").read()
    cut = tmp / "truncated.npz"
    cut.write_bytes(content[: len(content) // 2])  # a download or copy that stopped half way
    return str(cut)


def nan_npz(tmp):
    x = np.random.default_rng(0).uniform(size=(40, 8, 8)).astype(np.float32)
    x[3, 4, 5] = np.nan
    return _npz(tmp, "nan.npz", x_train=x)


EVERY_NETWORK_CASES = {
    # case: (extra argv given the tmp folder, a piece of the one-line message)
    "epochs of the wrong type": (lambda tmp: ["--epochs", "2.5"], "invalid int value: '2.5'"),
    "learning rate of the wrong type": (lambda tmp: ["--learning-rate", "fast"], "invalid float value: 'fast'"),
    "negative batch size": (lambda tmp: ["--batch-size", "-4"], "batch-size must be at least 1"),
    "zero batch size": (lambda tmp: ["--batch-size", "0"], "batch-size must be at least 1"),
    "zero epochs": (lambda tmp: ["--epochs", "0"], "epochs must be at least 1"),
    "negative learning rate": (lambda tmp: ["--learning-rate", "-0.1"], "learning-rate must be positive"),
    "unknown dataset": (lambda tmp: ["--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    "unknown optimizer": (lambda tmp: ["--optimizer", "lion"], "optimizer must be one of sgd, adam, rmsprop, adagrad, adamw"),
    "unknown schedule": (lambda tmp: ["--learning-rate-schedule", "step"], "learning-rate-schedule must be one of"),
    "warm-up longer than training": (lambda tmp: ["--learning-rate-schedule", "cosine", "--warmup-epochs", "1"],
                                     "a warm-up of 1 epochs is longer than training (1 epochs)"),
    "truncated npz": (lambda tmp: ["--dataset", truncated_npz(tmp)], "not a readable .npz file"),
    "npz with NaN": (lambda tmp: ["--dataset", nan_npz(tmp)], "contains NaN or infinite values"),
    "negative labels": (lambda tmp: ["--dataset", _npz(tmp, "neg.npz", y_test=np.arange(12) % 3 - 1)],
                        "negative labels"),
    "labels out of range": (lambda tmp: ["--dataset", _npz(tmp, "range.npz", y_test=np.arange(12) % 3 + 5)],
                            "every class must appear in training"),
    "fractional labels": (lambda tmp: ["--dataset", _npz(tmp, "frac.npz", y_train=(np.arange(40) % 3) + 0.5)],
                          "not whole numbers"),
    "labels that skip classes": (lambda tmp: ["--dataset", _npz(tmp, "all99.npz", y_train=np.full(40, 99),
                                                                y_test=np.full(12, 99))],
                                 "labels run up to 99, but 99 of the classes 0..99 never occur"),
    "images of the wrong rank": (lambda tmp: ["--dataset", _npz(tmp, "rank5.npz", x_train=np.zeros((40, 2, 2, 2, 2)))],
                                 "expected (N, features), (N, H, W) or (N, H, W, C)"),
    "empty dataset": (lambda tmp: ["--dataset", _npz(tmp, "empty.npz", x_train=np.zeros((0, 8, 8)),
                                                     y_train=np.zeros((0,), int))], "is empty"),
    "out that is a file": ("out-file", "exists and is not a directory"),
    "read-only out": ("out-read-only", "is not writable"),
}
# A regression reads y as real values, where negative, fractional or skipping "labels" are fine targets:
# its networks take REGRESSION_CASES, its own bad targets, in place of these.
LABEL_CASES = ("negative labels", "labels out of range", "fractional labels", "labels that skip classes")
REGRESSION_CASES = {
    "NaN targets": (lambda tmp: ["--dataset", _npz(tmp, "nan_y.npz", y_train=np.where(np.arange(40) == 5, np.nan, 1.5))],
                    "y_train contains NaN or infinite values"),
    "constant targets": (lambda tmp: ["--dataset", _npz(tmp, "constant.npz", y_train=np.full(40, 99.0))],
                         "y_train holds a single value (99): nothing to regress"),
    "two targets per example": (lambda tmp: ["--dataset", _npz(tmp, "two.npz", y_train=np.zeros((40, 2)))],
                                "expected one real-valued target per example"),
    "class labels": (lambda tmp: ["--dataset", "breast_cancer"],
                     "breast_cancer holds class labels, not real-valued targets"),
}


def every_network_case():
    """(network, case): every case for every network, REGRESSION_CASES in place of LABEL_CASES for a regression."""
    for case in [*EVERY_NETWORK_CASES, *REGRESSION_CASES]:
        for network, spec in registry.NETWORKS.items():
            skipped = LABEL_CASES if spec.family == "regression" else REGRESSION_CASES
            if case not in skipped:
                yield pytest.param(network, case, id=f"{network}-{case}")


def _unwritable_folder(path):
    """A folder that even this user cannot write into; returns how to undo it (None: not possible here)."""
    import shutil
    import subprocess

    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o500)
        return lambda: path.chmod(0o700)
    # root ignores permission bits: make the folder immutable instead, where the file system allows it
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0:
        return lambda: subprocess.run(["chattr", "-i", str(path)], capture_output=True)
    return None


@pytest.mark.parametrize("network,case", list(every_network_case()))
def test_every_network_refuses_bad_input(capsys, tmp_path, network, case):
    cases = {**EVERY_NETWORK_CASES, **REGRESSION_CASES}
    make, message = cases[case]
    out_dir, undo = tmp_path / "out", None
    if make == "out-file":
        out_dir.write_text("keep me")
        extra = []
    elif make == "out-read-only":
        undo = _unwritable_folder(out_dir)
        if undo is None:
            pytest.skip("running as root on a file system without chattr +i: no folder is unwritable here")
        extra = []
    else:
        extra = make(tmp_path)
    impl = ("keras", "tf")[list(cases).index(case) % 2]  # both share this path; alternate to cover both
    try:
        code, _, err = run_main(capsys, ["train", network, "--impl", impl, "--epochs", "1", *extra, "--out", str(out_dir)])
    finally:
        if undo is not None:
            undo()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert "Traceback" not in err
    if out_dir.is_dir():
        assert list(out_dir.iterdir()) == [], "nothing half-written in --out"
    elif out_dir.exists():
        assert out_dir.read_text() == "keep me"


def test_bad_npz_through_a_module_main_is_one_line(module_main, tmp_path):
    out = tmp_path / "out"
    code, _, err = module_main("keras_impl.gan", "--dataset", truncated_npz(tmp_path), "--out", str(out))
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("twinnets: error: ") and "not a readable .npz file" in lines[0]
    assert not out.exists() or list(out.iterdir()) == []
