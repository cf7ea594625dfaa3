"""Parity for the forecaster, the LSTM over a window of a series -> its next H values (family "forecaster": every
level is here, level 4 with tests/test_learning.py).

1. Shape: parameter counts equal, in the same Keras order, and pinned (PARAM_COUNTS), one and two LSTM layers.
2. Function: Keras weights transplanted into tf_impl give the same forecasts, the same loss (mean squared
   error over the H outputs) and the same gradients (1e-5), one and two layers.
3. Optimisation: from the same weights, 20 optimizer steps on the same batches of Mackey-Glass windows give
   the same losses and weights (1e-4), Adam and SGD with momentum.
   Forecasts: from transplanted weights, both sides' forecasts of every test window, de-normalised (what a
   user sees), and the scores made from them agree (1e-5); so do both exported SavedModels (series units in,
   series units out).
4. Learning: tests/test_learning.py (Mackey-Glass, seeds 0-2, floor 1/3 of persistence's RMSE); the forecast
   figure of those same runs is checked here.
Also: the metrics against hand-computed ones, the naive baselines, bad input at the command line, checkpoints
and TensorBoard. The data (Mackey-Glass, sine, CSV): tests/data/test_mackey_glass.py, tests/data/test_series.py.
"""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import configs, evaluate, forecasting, plots, registry
from common import data as data_module
from conftest import assert_same_steps, assert_twins_agree, learning_group, run_main
from keras_impl import forecaster as keras_forecaster
from tf_impl import optim, supervised
from tf_impl import forecaster as tf_forecaster

SPEC = registry.get("forecaster")

# Pinned: a change to the architecture must show here. An LSTM layer of u units on f features: 4 * (f*u + u*u + u);
# the dense head u*H + H.
PARAM_COUNTS = {
    ((32,), 10): 4 * (1 * 32 + 32 * 32 + 32) + 32 * 10 + 10,  # the default: 4352 + 330 = 4682
    ((8, 4), 5): 4 * (1 * 8 + 8 * 8 + 8) + 4 * (8 * 4 + 4 * 4 + 4) + 4 * 5 + 5,  # two layers: 320 + 208 + 25 = 553
}
TINY = {"window": 12, "horizon": 5, "units": (8,)}
TWO_LAYERS = {"window": 12, "horizon": 5, "units": (8, 4)}


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="module")
def series():
    return data_module.load("mackey_glass", window=12, horizon=5)


def transplanted(config, noise=0.0):
    """(keras model, tf model) with the same weights: Keras's, moved away from their initial values by `noise`."""
    keras_model, tf_model = keras_forecaster.build(config), tf_forecaster.build(config)
    weights = keras_model.get_weights()
    if noise:
        weights = [w + np.random.default_rng(i).normal(0, noise, w.shape).astype(w.dtype) for i, w in enumerate(weights)]
        keras_model.set_weights(weights)
    tf_model.set_weights(weights)
    return keras_model, tf_model


def batches(data, count, batch_size=16):
    """`count` batches of training windows drawn from the whole training part (a fixed draw)."""
    order = np.random.default_rng(0).permutation(len(data.x_train))
    rows = [order[i * batch_size:(i + 1) * batch_size] for i in range(count)]
    return [(data.x_train[r], data.y_train[r]) for r in rows]


# --- level 1: shape ---


@pytest.mark.parametrize("units,horizon", list(PARAM_COUNTS))
def test_level1_parameter_counts_pinned_and_equal(units, horizon):
    config = configs.ForecasterConfig(units=units, horizon=horizon)
    keras_model, tf_model = keras_forecaster.build(config), tf_forecaster.build(config)
    assert keras_model.count_params() == tf_model.count_params() == PARAM_COUNTS[(units, horizon)]
    assert [w.shape for w in tf_model.get_weights()] == [w.shape for w in keras_model.get_weights()]
    assert keras_model.output_shape == (None, horizon)


def test_default_config_is_pinned_above():
    config = SPEC.config_class()
    assert (config.units, config.horizon) in PARAM_COUNTS


# --- level 2: function ---


@pytest.mark.parametrize("overrides", [TINY, TWO_LAYERS], ids=["one_layer", "two_layers"])
def test_level2_forecasts_loss_and_gradients_after_transplant(overrides, series):
    keras_model, tf_model = transplanted(configs.ForecasterConfig(**overrides), noise=0.1)
    x, y = batches(series, 1, batch_size=24)[0]
    keras_out = keras_model(x, training=False)
    assert keras_out.shape == (24, 5)
    assert_twins_agree(keras_model, tf_model, x, y, task="regression")  # outputs, loss, gradients: 1e-5
    tf_loss = supervised.loss_fn(tf_model, x, y, training=False, task="regression")
    by_hand = float(np.mean((keras_out.numpy() - y) ** 2))  # the mean over all N * H values: no broadcast
    np.testing.assert_allclose(float(tf_loss), by_hand, rtol=1e-5)


# --- level 3: optimisation ---


@pytest.mark.parametrize("optimizer,overrides", [("adam", TINY), ("sgd", TWO_LAYERS)])
def test_level3_twenty_optimizer_steps(optimizer, overrides, series):
    settings = dict(overrides, optimizer=optimizer, learning_rate=1e-2)
    if optimizer == "sgd":
        settings.update(learning_rate=0.1, momentum=0.9)
    config = configs.ForecasterConfig(**settings)
    keras_model, tf_model = transplanted(config)
    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    spec = (tf.TensorSpec([None, 12, 1], tf.float32), tf.TensorSpec([None, 5], tf.float32))
    tf_step = supervised.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec, "regression")
    assert_same_steps(keras_model, tf_model, tf_optimizer, tf_step, list(batches(series, 20)))


# --- forecasts from transplanted weights: the numbers a user sees ---


@pytest.mark.parametrize("overrides", [TINY, TWO_LAYERS], ids=["one_layer", "two_layers"])
def test_forecasts_and_scores_from_transplanted_weights_are_identical(overrides, series):
    config = configs.ForecasterConfig(**overrides)
    keras_model, tf_model = transplanted(config, noise=0.3)
    keras_forecasts = keras_model.predict(series.test, verbose=0)
    tf_forecasts = supervised.make_predict(tf_model)(series.test)
    assert keras_forecasts.shape == tf_forecasts.shape == (series.info.n_test, 5)
    np.testing.assert_allclose(series.denormalise(tf_forecasts), series.denormalise(keras_forecasts), atol=1e-5)
    keras_scores, tf_scores = (forecasting.scores(config, series, f) for f in (keras_forecasts, tf_forecasts))
    assert keras_scores.keys() == tf_scores.keys()
    for name in keras_scores:
        np.testing.assert_allclose(tf_scores[name], keras_scores[name], atol=1e-5, err_msg=name)
    # The wrappers --export serves: windows in the series' units in, forecasts in them out.
    raw_windows = series.denormalise(series.x_test[:50]).astype(np.float32)
    keras_served = keras_forecaster.Forecast(keras_model, series.mean, series.std)(raw_windows).numpy()
    tf_served = tf_forecaster.Forecast(tf_model, series.mean, series.std)(raw_windows).numpy()
    np.testing.assert_allclose(keras_served, series.denormalise(keras_forecasts[:50]), atol=1e-5)
    np.testing.assert_allclose(tf_served, keras_served, atol=1e-5)


def test_both_exports_serve_the_same_forecasts(tmp_path, series):
    from keras_impl import export as keras_export
    from tf_impl import export as tf_export

    keras_model, tf_model = transplanted(configs.ForecasterConfig(**TINY), noise=0.3)
    keras_export.export(keras_forecaster.Forecast(keras_model, series.mean, series.std), str(tmp_path / "keras"),
                        (12, 1))
    tf_export.export(tf_forecaster.Forecast(tf_model, series.mean, series.std), str(tmp_path / "tf"), (12, 1))
    raw_windows = tf.constant(series.denormalise(series.x_test[:20]).astype(np.float32))
    loaded = {impl: tf.saved_model.load(str(tmp_path / impl)) for impl in ("keras", "tf")}  # kept: its variables
    served = {impl: archive.serve(raw_windows).numpy() for impl, archive in loaded.items()}
    expected = series.denormalise(keras_model(series.x_test[:20], training=False).numpy())
    np.testing.assert_allclose(served["keras"], expected, atol=1e-5)
    np.testing.assert_allclose(served["tf"], expected, atol=1e-5)


# --- level 4: what the learning runs of tests/test_learning.py also show ---


@pytest.mark.learning
@learning_group("forecaster")
def test_learned_forecasts_beat_persistence_at_every_step_and_draw_the_figure(learned, tmp_path):
    report = learned("forecaster")
    for impl, summary in report["impls"].items():
        for run in summary["runs"]:
            metrics = run["metrics"]
            for step in range(1, 11):  # beaten at every horizon step, not only on average
                assert metrics[f"rmse_h{step}"] < metrics[f"persistence_rmse_h{step}"], (impl, run["seed"], step)
            assert metrics["nrmse"] < metrics["persistence_nrmse"] < 1.0
    figures = report["figures"]
    curves = {impl: figures[impl]["forecast"] for impl in ("keras", "tf")}
    for curve in curves.values():
        assert len(curve["forecast"]) % 10 == 0 and curve["start"] + len(curve["forecast"]) <= len(curve["series"])
    paths = plots.generative_figures(report, figures, str(tmp_path / "compare-forecaster.png"))
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["compare-forecaster-forecast.png"]
    assert open(paths[0], "rb").read(8) == b"\x89PNG\r\n\x1a\n"


# --- the metrics ---


def test_metrics_against_hand_computed_ones():
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(40, 6))
    y_true = rng.normal(size=(40, 3))
    predictions = y_true + rng.normal(0, 0.1, size=(40, 3))
    scores = evaluate.forecasting(y_true, predictions, windows[..., np.newaxis], period=4)
    rmse = np.sqrt(np.mean((predictions - y_true) ** 2))
    persistence = np.sqrt(np.mean((windows[:, -1:] - y_true) ** 2))
    assert scores["rmse"] == pytest.approx(rmse) and scores["persistence_rmse"] == pytest.approx(persistence)
    assert scores["rmse_over_persistence"] == pytest.approx(rmse / persistence)
    assert scores["nrmse"] == pytest.approx(rmse / np.std(y_true))
    for step in range(3):
        assert scores[f"rmse_h{step + 1}"] == pytest.approx(np.sqrt(np.mean((predictions[:, step] - y_true[:, step]) ** 2)))
        assert scores[f"persistence_rmse_h{step + 1}"] == pytest.approx(np.sqrt(np.mean((windows[:, -1] - y_true[:, step]) ** 2)))
    # seasonal naive, period 4: step h forecasts the value 4 steps before it, window positions 2, 3, 4 of 0..5
    seasonal = np.sqrt(np.mean((windows[:, [2, 3, 4]] - y_true) ** 2))
    assert scores["seasonal_naive_rmse"] == pytest.approx(seasonal)
    assert "seasonal_naive_rmse" not in evaluate.forecasting(y_true, predictions, windows, period=0)
    assert "seasonal_naive_rmse" not in evaluate.forecasting(y_true, predictions, windows, period=7)  # > window
    with pytest.raises(FloatingPointError):
        evaluate.forecasting(y_true, np.full_like(y_true, np.nan), windows)


def test_naive_forecasts_score_what_they_are():
    """Persistence scores 1.0 against itself; on a noiseless periodic series the seasonal-naive forecast is exact,
    even beyond one period (H > P)."""
    t = np.arange(300)
    wave = np.sin(2 * np.pi * t / 8)
    window, horizon = 10, 12
    starts = np.arange(len(t) - window - horizon)
    windows = wave[starts[:, None] + np.arange(window)]
    y_true = wave[starts[:, None] + window + np.arange(horizon)]
    persistence = np.repeat(windows[:, -1:], horizon, axis=1)
    scores = evaluate.forecasting(y_true, persistence, windows, period=8)
    assert scores["rmse_over_persistence"] == pytest.approx(1.0)
    assert scores["seasonal_naive_rmse"] < 1e-12


def test_floor_and_tolerance_mean_what_they_say():
    assert SPEC.floor == pytest.approx(1 / 3) and not SPEC.higher_is_better  # >= 3x lower RMSE than persistence
    assert SPEC.tolerance == pytest.approx((1 - SPEC.floor) / 10)
    assert SPEC.clears(0.3, SPEC.floor) and not SPEC.clears(0.34, SPEC.floor)


# --- bad input, checkpoints and TensorBoard ---


def csv_file(tmp_path, text, name="series.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def rows(values, column="load"):
    return f"time,{column}\n" + "".join(f"{i},{value}\n" for i, value in enumerate(values))


BAD_INPUT = {
    "a column that does not exist": (
        lambda tmp: ["--dataset", csv_file(tmp, rows(range(100))), "--column", "demand"],
        "series.csv has no column 'demand' (its columns: time, load)"),
    "a column holding text": (
        lambda tmp: ["--dataset", csv_file(tmp, rows([1.0, 2.0, "high", 4.0] * 25)), "--column", "load"],
        "column 'load' holds 'high' on line 4, not a number"),
    "a series shorter than window + horizon": (
        lambda tmp: ["--dataset", csv_file(tmp, rows(np.arange(60.0))), "--column", "load"],
        "the series is too short: 60 values give a validation part of 6, shorter than window + horizon = 16 + 10 = 26"),
    "no column named": (lambda tmp: ["--dataset", csv_file(tmp, rows(range(100)))], "name the column to forecast with --column"),
    "a column without a csv": (lambda tmp: ["--column", "load"], "column names a column of a CSV dataset"),
    "window of zero": (lambda tmp: ["--window", "0"], "window must be at least 1, got 0"),
    "negative horizon": (lambda tmp: ["--horizon", "-2"], "horizon must be at least 1, got -2"),
    "three layers": (lambda tmp: ["--units", "8,8,8"], "units must name one or two LSTM layers"),
    "images": (lambda tmp: ["--dataset", "digits"], "forecaster forecasts a time series"),
    "mixed precision": (lambda tmp: ["--precision", "mixed_bfloat16"], "precision mixed_bfloat16 is not available"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(capsys, tmp_path, case):
    make, message = BAD_INPUT[case]
    impl = ("keras", "tf")[list(BAD_INPUT).index(case) % 2]
    out = tmp_path / "out"
    code, _, err = run_main(capsys, ["train", "forecaster", "--impl", impl, *make(tmp_path), "--out", str(out)])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in err, err
    assert not out.exists() or list(out.iterdir()) == []


def test_other_networks_refuse_a_series(capsys, tmp_path):
    code, _, err = run_main(capsys, ["train", "lstm", "--impl", "tf", "--dataset", "mackey_glass", "--out",
                                     str(tmp_path / "out")])
    assert code == 2 and "mackey_glass is a time series to forecast: train forecaster on it" in err


QUICK = ["--units", "4", "--window", "8", "--horizon", "3", "--batch-size", "64"]


@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_csv_run_resumes_from_its_checkpoint_and_writes_tensorboard(capsys, tmp_path, impl):
    """A CSV column trains and is scored in its own units, with the seasonal-naive baseline of --period; one
    epoch, then a second resumed from the checkpoint, is the two-epoch history; TensorBoard's scalars are the
    ones both implementations write; the SavedModel exported serves the forecasts that were scored."""
    t = np.arange(400)
    dataset = csv_file(tmp_path, rows(100 + 10 * np.sin(2 * np.pi * t / 6) + 0.05 * t))
    common = ["train", "forecaster", "--impl", impl, "--dataset", dataset, "--column", "load", "--period", "6",
              "--checkpoint-dir", str(tmp_path / "ckpt"), "--deterministic", *QUICK]
    code, _, err = run_main(capsys, common + ["--quiet", "--epochs", "1", "--out", str(tmp_path / "one"),
                                              "--tensorboard", str(tmp_path / "tb")])
    assert code == 0, err
    code, out, err = run_main(capsys, common + ["--epochs", "2", "--out", str(tmp_path / "two"),
                                                "--export", str(tmp_path / "model")])
    assert code == 0, err
    assert "resuming after epoch 1" in out
    one, two = (json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("one", "two"))
    assert two["dataset"] == "series.csv" and two["metric"] == "rmse_over_persistence"
    assert {"rmse", "nrmse", "persistence_rmse", "seasonal_naive_rmse", "rmse_h3"} <= set(two["metrics"])
    assert two["metrics"]["seasonal_naive_rmse"] < 1.0 < two["metrics"]["persistence_rmse"]  # in the series' units
    assert len(two["history"]["loss"]) == 2 and two["history"]["loss"][0] == one["history"]["loss"][0]
    assert "no floor is set for forecaster on series.csv" in out
    # The export serves what was scored: the test windows in the series' units -> the forecasts behind metrics.json.
    data = data_module.load(dataset, window=8, horizon=3, column="load")
    archive = tf.saved_model.load(str(tmp_path / "model"))  # kept: its variables
    served = archive.serve(tf.constant(data.denormalise(data.x_test), tf.float32))
    rescored = evaluate.forecasting(data.denormalise(data.y_test), served.numpy(), data.denormalise(data.x_test), period=6)
    assert rescored["rmse"] == pytest.approx(two["metrics"]["rmse"], rel=1e-5)
    from test_tensorboard import scalars

    tags = set(scalars(str(tmp_path / "tb" / impl)))
    assert {("train", "epoch_loss"), ("validation", "epoch_loss")} <= tags
