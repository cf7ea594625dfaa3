"""The regression network: parity levels 1-3, its metrics and baselines, its floor, its data.

1. Shape: parameter counts equal, and pinned in PARAM_COUNTS below.
2. Function: Keras weights transplanted into the tf_impl model give the same predictions,
   the same loss (squared error + the kernels' penalties) and the same gradients (1e-5).
3. Optimisation: from the same weights, 20 optimizer steps on the same batches give the
   same losses and weights (1e-4), for Adam and for SGD with momentum, and with elastic net.
Level 4 (learning) is tests/test_learning.py, through `twinnets compare regression`; here,
whole trainings from the same initial weights end alike.

Also here: R², RMSE and MSE against scikit-learn's, scored in the targets' own units from
standardised ones; the linear and mean baselines; a user's .npz with real-valued targets;
the registry's floor recomputed from the linear model, so the number cannot drift from what
it says it is. Mixed precision: tests/test_precision.py; bad input: tests/test_cli.py and
tests/data/test_npz.py.
"""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from sklearn import metrics as sk_metrics

from common import data as data_module
from common import evaluate, registry
from conftest import build_keras_optimizer, learning_group, train_from
from keras_impl import regression as keras_regression
from tf_impl import optim, supervised
from tf_impl import regression as tf_regression

NETWORK = "regression"
SPEC = registry.get(NETWORK)

# (input_shape, hidden_units) -> parameters. Pinned: a change to the architecture must show here.
PARAM_COUNTS = {
    ((10,), (32,)): 385,  # diabetes, the default: 10*32+32 + 32*1+1
    ((8, 8, 1), (16, 8)): 1185,  # images flattened, two hidden layers: 64*16+16 + 16*8+8 + 8*1+1
}
# Every part exercised: the default L2 penalty; L1 and L2 together (elastic net); two tanh layers.
FUNCTION_CASES = {
    "default": {},
    "elastic_net": {"l1": 1e-2, "l2": 1e-2},
    "two_tanh_layers": {"hidden_units": (16, 8), "activation": "tanh"},
}


@pytest.fixture(autouse=True)
def seeded():
    """Keras draws initial weights from its global seed: fix it, so no test depends on the ones before it."""
    import keras

    keras.utils.set_random_seed(0)


@pytest.fixture(scope="module")
def diabetes():
    return data_module.load(SPEC.default_dataset)


def transplanted(config, input_shape):
    keras_model = keras_regression.build(config, input_shape, 1)
    tf_model = tf_regression.build(config, input_shape, 1)
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model


def batches(data, count, batch_size=32):
    windows = [np.arange(i * batch_size, (i + 1) * batch_size) for i in range(count)]  # wraps past the end
    return [(np.take(data.x_train, w, axis=0, mode="wrap"), np.take(data.y_train, w, mode="wrap")) for w in windows]


# --- level 1: shape ---

@pytest.mark.parametrize("input_shape,hidden_units", list(PARAM_COUNTS))
def test_level1_parameter_counts(input_shape, hidden_units):
    config = SPEC.config_class(hidden_units=hidden_units)
    keras_model, tf_model = (module.build(config, input_shape, 1) for module in (keras_regression, tf_regression))
    assert keras_model.count_params() == PARAM_COUNTS[(input_shape, hidden_units)]
    assert tf_model.count_params() == keras_model.count_params()
    assert [w.shape for w in tf_model.get_weights()] == [w.shape for w in keras_model.get_weights()]
    assert keras_model.output_shape == (None, 1)


def test_default_config_is_pinned_above():
    config = SPEC.config_class()
    assert ((10,), config.hidden_units) in PARAM_COUNTS


# --- level 2: function ---

@pytest.mark.parametrize("case", list(FUNCTION_CASES))
def test_level2_predictions_loss_and_gradients_after_transplant(case, diabetes):
    config = SPEC.config_class(**FUNCTION_CASES[case])
    keras_model, tf_model = transplanted(config, diabetes.info.input_shape)
    x, y = batches(diabetes, 1, batch_size=64)[0]
    assert y.dtype == np.float32 and len(np.unique(y)) > 32  # real-valued targets, not labels

    keras_out, tf_out = keras_model(x, training=False), tf_model(x, training=False)
    assert keras_out.shape == tf_out.shape == (64, 1)
    np.testing.assert_allclose(tf_out.numpy(), keras_out.numpy(), atol=1e-5, rtol=1e-5)

    with tf.GradientTape() as tape:
        keras_loss = keras_model.compute_loss(x=x, y=y, y_pred=keras_model(x, training=False), training=False)
    keras_grads = tape.gradient(keras_loss, keras_model.trainable_weights)
    with tf.GradientTape() as tape:
        tf_loss = supervised.loss_fn(tf_model, x, y, training=False, task="regression")
    tf_grads = tape.gradient(tf_loss, tf_model.trainable_weights)

    penalty = float(tf_model.regularization_loss())
    assert penalty > 0  # the loss compared includes the kernels' penalties (all cases have one)
    squared_error = float(np.mean((keras_out.numpy()[:, 0] - y) ** 2))  # by hand: no (N, N) broadcast on either side
    np.testing.assert_allclose(float(tf_loss), squared_error + penalty, rtol=1e-5)
    np.testing.assert_allclose(float(tf_loss), float(keras_loss), atol=1e-5, rtol=1e-5)
    assert len(tf_grads) == len(keras_grads)
    for keras_grad, tf_grad, weight in zip(keras_grads, tf_grads, keras_model.trainable_weights):
        assert np.abs(keras_grad.numpy()).max() > 0, f"{weight.path}: zero gradient proves nothing"
        np.testing.assert_allclose(tf_grad.numpy(), keras_grad.numpy(), atol=1e-5, rtol=1e-5, err_msg=weight.path)


# --- level 3: optimisation ---

@pytest.mark.parametrize("optimizer,penalty", [("adam", "default"), ("sgd", "default"), ("adam", "elastic_net")])
def test_level3_twenty_optimizer_steps(optimizer, penalty, diabetes):
    overrides = dict(FUNCTION_CASES[penalty], optimizer=optimizer)
    if optimizer == "sgd":
        overrides.update(learning_rate=0.05, momentum=0.9)
    config = SPEC.config_class(**overrides)
    input_shape = diabetes.info.input_shape
    keras_model, tf_model = transplanted(config, input_shape)
    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    spec = (tf.TensorSpec([None, *input_shape], tf.float32), tf.TensorSpec([None], tf.float32))
    tf_step = supervised.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec, "regression")

    build_keras_optimizer(keras_model)  # traced once, as in fit
    initial = keras_model.get_weights()
    keras_losses, tf_losses = [], []
    for x, y in batches(diabetes, 20):
        keras_losses.append(keras_model.train_on_batch(x, y, return_dict=True)["loss"])
        tf_losses.append(float(tf_step(x, y)[0]))

    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    assert moved > 1e-3, f"the weights barely moved ({moved:.1e}): the comparison would be vacuous"
    assert tf_losses[-1] < tf_losses[0]  # it learns: squared error (standardised targets start near 1) goes down
    assert float(tf_model.regularization_loss()) > 1e-2  # the penalty is part of every step's loss
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-4, rtol=1e-4)
    for keras_weight, tf_weight in zip(keras_model.get_weights(), tf_model.get_weights()):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=1e-4, rtol=1e-4)
    assert int(tf_optimizer.iterations) == int(keras_model.optimizer.iterations) == 20


# --- the metrics, against scikit-learn's, in the targets' own units ---

def test_r2_rmse_and_mse_match_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.normal(150.0, 70.0, size=89)
    for predictions in (y + rng.normal(0.0, 40.0, size=89), np.full(89, 100.0), -y):  # good, constant, worse than mean
        scores = evaluate.regression(y, predictions[:, None])  # (N, 1), as both implementations hand it over
        assert scores["r2"] == pytest.approx(sk_metrics.r2_score(y, predictions), abs=1e-12)
        assert scores["mse"] == pytest.approx(sk_metrics.mean_squared_error(y, predictions), rel=1e-12)
        assert scores["rmse"] == pytest.approx(np.sqrt(sk_metrics.mean_squared_error(y, predictions)), rel=1e-12)
        assert scores["mse_mean_baseline"] == pytest.approx(np.var(y))
    assert evaluate.regression(y, -y)["r2"] < 0  # worse than predicting the mean: negative, not clipped


def test_r2_of_a_constant_target_follows_scikit_learn():
    constant = np.full(5, 3.0)
    for predictions in (constant, constant + 1.0):
        assert evaluate.regression(constant, predictions)["r2"] == sk_metrics.r2_score(constant, predictions)


def test_standardised_targets_are_scored_in_their_own_units():
    """A model trained on (y - mean) / std is scored in y's units: RMSE scales by std, R² does not change."""
    rng = np.random.default_rng(1)
    y = rng.normal(150.0, 70.0, size=50)
    predictions = y + rng.normal(0.0, 30.0, size=50)
    mean, std = 140.0, 75.0
    standardised = evaluate.regression((y - mean) / std, (predictions - mean) / std, target_mean=mean, target_std=std)
    raw = evaluate.regression(y, predictions)
    for name in ("r2", "rmse", "mse", "mse_mean_baseline"):
        assert standardised[name] == pytest.approx(raw[name], rel=1e-9), name
    unscaled = evaluate.regression((y - mean) / std, (predictions - mean) / std)
    assert unscaled["rmse"] == pytest.approx(raw["rmse"] / std) and unscaled["r2"] == pytest.approx(raw["r2"])


def test_nan_predictions_are_refused():
    with pytest.raises(FloatingPointError, match="NaN or infinite"):
        evaluate.regression(np.zeros(3), np.array([0.0, np.nan, 1.0]))


def test_baselines_are_least_squares_and_the_training_mean(diabetes):
    from sklearn.linear_model import LinearRegression

    info = diabetes.info
    original = lambda y: y * info.target_std + info.target_mean  # noqa: E731
    linear = LinearRegression().fit(diabetes.x_train.astype(np.float64), original(diabetes.y_train.astype(np.float64)))
    expected = linear.predict(diabetes.x_test.astype(np.float64))
    y_test = original(diabetes.y_test.astype(np.float64))
    mean = np.full(len(y_test), original(diabetes.y_train.astype(np.float64)).mean())
    baselines = evaluate.regression_baselines(diabetes.x_train, diabetes.y_train, diabetes.x_test, diabetes.y_test,
                                              target_mean=info.target_mean, target_std=info.target_std)
    assert baselines["r2_linear"] == pytest.approx(sk_metrics.r2_score(y_test, expected), abs=1e-6)
    assert baselines["rmse_linear"] == pytest.approx(np.sqrt(sk_metrics.mean_squared_error(y_test, expected)), rel=1e-6)
    assert baselines["r2_mean"] == pytest.approx(sk_metrics.r2_score(y_test, mean), abs=1e-6)
    assert -0.05 < baselines["r2_mean"] <= 0.0  # the training mean: about the test mean's R² of 0
    assert baselines["r2_linear"] > 0.3  # diabetes is nearly linear


def test_a_run_reports_r2_first_with_the_baselines_beside(diabetes):
    """Both implementations' scores come from common.evaluate: the headline is the registry's r2."""
    config = SPEC.config_class(epochs=1)
    small = dataclasses.replace(diabetes, x_train=diabetes.x_train[:64], y_train=diabetes.y_train[:64])
    results = [module.train(config, small, verbose=0) for module in (keras_regression, tf_regression)]
    for result in results:
        assert result.metric == "r2" and result.value == result.metrics["r2"]
        assert {"r2", "rmse", "mse", "r2_linear", "rmse_linear", "r2_mean", "rmse_mean"} <= set(result.metrics)
        assert result.metrics["rmse"] > 10  # diabetes' units (progression points, sd ~78), not standardised ones
    assert results[0].metrics["r2_linear"] == results[1].metrics["r2_linear"]  # the same baselines beside both


def test_a_users_npz_with_real_valued_targets_trains_as_a_regression(module_main, tmp_path):
    """x (N, F) and a real-valued y in its own units (here thousands): trained on standardised targets,
    scored back in thousands; the linear baseline all but solves this linear target."""
    import json

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4))
    y = 5000.0 + 1000.0 * (x @ np.array([1.0, -2.0, 0.5, 0.0])) + rng.normal(0.0, 100.0, size=120)
    path = tmp_path / "prices.npz"
    np.savez(path, x_train=x[:100], y_train=y[:100], x_test=x[100:], y_test=y[100:])
    out = tmp_path / "run"
    code, printed, err = module_main("tf_impl.regression", "--dataset", str(path), "--epochs", "2", "--quiet",
                                     "--out", str(out))
    assert code == 0, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["dataset"], metrics["metric"]) == ("prices.npz", "r2")
    assert metrics["metrics"]["r2_linear"] > 0.95 and metrics["metrics"]["rmse_linear"] < 300  # noise sd: 100
    assert metrics["metrics"]["rmse_mean"] > 1000  # the targets' own units
    assert "no floor is set for regression on prices.npz" in printed


# --- the floor and the tolerance, recomputed ---

def test_floor_is_the_linear_model_minus_two_points(diabetes):
    r2_linear = evaluate.regression_baselines(diabetes.x_train, diabetes.y_train, diabetes.x_test,
                                              diabetes.y_test)["r2_linear"]
    assert SPEC.floor == pytest.approx(r2_linear - 0.02, abs=5e-5), r2_linear
    assert SPEC.tolerance == pytest.approx(SPEC.floor / 10, abs=5e-5)  # a tenth of the floor beyond R² 0
    assert SPEC.higher_is_better and SPEC.metric == "r2"


# --- level 4's spread is the initial weights': from the same start, whole trainings end alike ---

@pytest.mark.learning
@learning_group(NETWORK)
def test_whole_trainings_from_the_same_initial_weights_end_alike():
    """Both implementations trained for the default 50 epochs from tf_impl's seed-0 initial weights, on the
    same data order: the same weights and the same test R² at the end (measured: bit-identical, seeds 0
    and 1). So the gap between their seed means in `twinnets compare` (tf's seed-0 draw ends at R² 0.343,
    Keras's at 0.370) is the draw of the initial weights, not the implementations."""
    config = SPEC.config_class(seed=0)
    data = data_module.load(config.dataset, seed=config.seed, batch_size=config.batch_size)
    start = tf_regression.build(config, data.info.input_shape, data.info.num_classes).get_weights()

    keras_result, tf_result = (train_from(module, start, config, data) for module in (keras_regression, tf_regression))
    assert keras_result.epochs_run == tf_result.epochs_run == config.epochs
    moved = max(np.abs(w - s).max() for w, s in zip(tf_result.model.get_weights(), start))
    assert moved > 0.1, f"the weights barely moved ({moved:.2e})"
    for keras_weight, tf_weight in zip(keras_result.model.get_weights(), tf_result.model.get_weights()):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=1e-4)
    assert abs(keras_result.value - tf_result.value) <= 1e-4, (keras_result.value, tf_result.value)
