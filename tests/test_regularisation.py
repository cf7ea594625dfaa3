"""L1 and elastic-net (L1 + L2) regularisation: the same penalty on both sides, and the deep_mlp table.

- The penalty: tf_impl.layers.kernel_penalty is keras.regularizers.L1L2, l1 * sum|w| + l2 * sum w**2.
- Level 2 with L1 alone and with elastic net, on every network that takes --l1/--l2 (every dense/conv
  kernel of the classifiers and of transfer's base and head; the recurrent networks' dense head):
  transplanted weights give the same penalised loss and the same gradients (1e-5), and the penalty
  is large enough that leaving it out on one side would fail the comparison.
- Level 3 with L1 (and elastic net): 20 optimizer steps from the same weights, the same losses and weights (1e-4).
- Bad input: a negative, NaN or infinite l1/l2 is refused; fingerprints of configs at l1 = l2 = 0 do not move.
- common.evaluate.weight_sparsity, and common.regularisation's table, built from a tiny real run.
"""
import dataclasses
import importlib
import json

import numpy as np
import pytest
import tensorflow as tf

from common import checkpoints, configs, evaluate, regularisation, registry
from common import data as data_module
from tf_impl import layers, optim, supervised

# Networks whose config has l1 and l2 fields, by how the parity suite drives them.
PENALISED = [name for name, spec in registry.NETWORKS.items()
             if {"l1", "l2"} <= {field.name for field in dataclasses.fields(spec.config_class)}]
CLASSIFIERS = [name for name in PENALISED if registry.get(name).family == "classifier"]
RECURRENT = [name for name in PENALISED if registry.get(name).family in ("recurrent", "gesture")]  # gesture: its stack
# levels 2 and 3 with L1 + L2 (elastic net): tests/test_parity_regression.py (FUNCTION_CASES, test_level3_*)
REGRESSION = [name for name in PENALISED if registry.get(name).family == "regression"]

# Factors large enough that the penalty is far above the 1e-5 tolerance in the loss (deep_mlp's initial
# sum|w| is ~5.7e3, logistic regression's ~5: 5e-3) and in every kernel gradient (l1 * sign(w) = 1e-3).
PENALTIES = {"l1": {"l1": 1e-3, "l2": 0.0}, "elastic_net": {"l1": 1e-3, "l2": 1e-2}}


@pytest.fixture(autouse=True)
def seeded():
    """Keras draws initial weights from its global seed: fix it, so no test depends on the ones before it."""
    import keras

    keras.utils.set_random_seed(0)


def modules(network):
    return importlib.import_module(f"keras_impl.{network}"), importlib.import_module(f"tf_impl.{network}")


def default_batches(network, count, batch_size=32):
    data = data_module.load(registry.get(network).default_dataset, batch_size=batch_size)
    windows = [np.arange(i * batch_size, (i + 1) * batch_size) for i in range(count)]  # wraps past the end
    return data.info, [(np.take(data.x_train, w, axis=0, mode="wrap"), np.take(data.y_train, w, mode="wrap"))
                       for w in windows]


def transplanted(network, config, input_shape, num_classes):
    keras_module, tf_module = modules(network)
    keras_model = keras_module.build(config, input_shape, num_classes)
    tf_model = tf_module.build(config, input_shape, num_classes)
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model


def assert_same_penalised_loss_and_gradients(keras_model, tf_model, x, y, expected_kernels):
    """The penalised loss and every trainable weight's gradient agree to 1e-5; the penalty is really in both."""
    keras_penalty = float(tf.add_n(keras_model.losses))
    tf_penalty = float(tf_model.regularization_loss())
    assert len(keras_model.losses) == expected_kernels, "one penalty per penalised (trainable) kernel"
    assert keras_penalty > 100 * 1e-5, f"penalty {keras_penalty:.1e}: too small to prove anything at 1e-5"
    np.testing.assert_allclose(tf_penalty, keras_penalty, rtol=1e-6)

    with tf.GradientTape() as tape:
        keras_loss = keras_model.compute_loss(x=x, y=y, y_pred=keras_model(x, training=False), training=False)
    keras_grads = tape.gradient(keras_loss, keras_model.trainable_weights)
    with tf.GradientTape() as tape:
        tf_loss = supervised.loss_fn(tf_model, x, y, training=False)
    tf_grads = tape.gradient(tf_loss, tf_model.trainable_weights)

    unpenalised = float(tf.reduce_mean(supervised.per_example_loss(tf_model(x, training=False), y)))
    np.testing.assert_allclose(float(keras_loss) - unpenalised, keras_penalty, rtol=1e-4)  # Keras adds it once
    np.testing.assert_allclose(float(tf_loss), float(keras_loss), atol=1e-5, rtol=1e-5)
    assert len(tf_grads) == len(keras_grads)
    for keras_grad, tf_grad, weight in zip(keras_grads, tf_grads, keras_model.trainable_weights):
        keras_grad, tf_grad = tf.convert_to_tensor(keras_grad).numpy(), tf.convert_to_tensor(tf_grad).numpy()
        assert np.abs(keras_grad).max() > 0, f"{weight.path}: zero gradient proves nothing"
        np.testing.assert_allclose(tf_grad, keras_grad, atol=1e-5, rtol=1e-5, err_msg=weight.path)


# --- the penalty itself ----------------------------------------------------------------------------------


@pytest.mark.parametrize("l1,l2", [(0.0, 0.0), (1e-3, 0.0), (0.0, 1e-2), (1e-3, 1e-2)])
def test_kernel_penalty_is_keras_l1l2(l1, l2):
    import keras

    kernel = tf.constant(np.random.default_rng(0).normal(size=(7, 5, 3)).astype(np.float32))
    expected = l1 * np.abs(kernel.numpy()).sum() + l2 * np.square(kernel.numpy()).sum()  # no 1/2 anywhere
    ours = float(layers.kernel_penalty(kernel, l1, l2))
    theirs = float(keras.regularizers.L1L2(l1=l1, l2=l2)(kernel))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=0)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=0)


def test_the_l1_gradient_is_the_sign_and_zero_at_zero():
    kernel = tf.Variable([[-2.0, 0.0, 3.0]])
    with tf.GradientTape() as tape:
        penalty = layers.kernel_penalty(kernel, l1=0.5)
    np.testing.assert_array_equal(tape.gradient(penalty, kernel).numpy(), [[-0.5, 0.0, 0.5]])


def test_penalties_reach_every_dense_and_conv_kernel():
    """cnn: both conv kernels, the dense one and the classifier's; biases never."""
    config = configs.CNNConfig(l1=1e-3, l2=1e-2)
    keras_model, tf_model = transplanted("cnn", config, (8, 8, 1), 10)
    kernels = [w for w in tf_model.get_weights() if w.ndim >= 2]
    assert len(kernels) == 4 == len(keras_model.losses)
    expected = sum(1e-3 * np.abs(k).sum() + 1e-2 * np.square(k).sum() for k in kernels)
    np.testing.assert_allclose(float(tf_model.regularization_loss()), expected, rtol=1e-5)


# --- level 2: the penalised loss and its gradients ---------------------------------------------------------


def test_every_network_with_a_penalty_is_covered():
    assert {"logistic_regression", "mlp", "deep_mlp", "cnn", "rnn", "lstm", "gru", "transfer"} <= set(PENALISED)
    assert set(PENALISED) == set(CLASSIFIERS) | set(RECURRENT) | set(REGRESSION) | ({"transfer"} & set(PENALISED))


@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("network", CLASSIFIERS)
def test_level2_penalised_loss_and_gradients_classifiers(network, penalty):
    config = registry.get(network).config_class(**PENALTIES[penalty])
    info, [(x, y)] = default_batches(network, 1, batch_size=64)
    keras_model, tf_model = transplanted(network, config, info.input_shape, info.num_classes)
    kernels = sum(1 for w in keras_model.trainable_weights if len(w.shape) >= 2)
    assert_same_penalised_loss_and_gradients(keras_model, tf_model, x, y, expected_kernels=kernels)


@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("network", RECURRENT)
def test_level2_penalised_loss_and_gradients_recurrent_head(network, penalty):
    """The dense head's kernel only: the recurrent kernels carry no penalty on either side."""
    config = registry.get(network).config_class(units=(16,), **PENALTIES[penalty])
    info, [(x, y)] = default_batches(network, 1, batch_size=64)
    keras_model, tf_model = transplanted(network, config, info.input_shape, info.num_classes)
    assert_same_penalised_loss_and_gradients(keras_model, tf_model, x, y, expected_kernels=1)


@pytest.mark.parametrize("phase,kernels", [("feature_extraction", 2), ("fine_tuning", 3), ("scratch", 4)])
def test_level2_penalised_loss_and_gradients_transfer(phase, kernels):
    """Only the phase's trained kernels are penalised (Keras counts a regularizer only on a trainable weight)."""
    from keras_impl import transfer as keras_transfer
    from tf_impl import transfer as tf_transfer

    config = configs.TransferConfig(l1=1e-3, l2=1e-2)
    target = data_module.load("digits_transfer")
    x, y = target.x_train[:64], target.y_train[:64]
    shape, classes = target.info.input_shape, target.info.num_classes
    keras_model = keras_transfer.build(config, shape, classes)
    tf_model = tf_transfer.build(config, shape, classes)
    tf_model.set_weights(keras_model.get_weights())
    keras_transfer.set_phase(keras_model, config, phase)
    tf_transfer.phase_optimizer(tf_model, config, phase)
    assert_same_penalised_loss_and_gradients(keras_model, tf_model, x, y, expected_kernels=kernels)


# --- level 3: twenty optimizer steps with L1 ----------------------------------------------------------------


@pytest.mark.parametrize("network,penalty,optimizer", [
    ("deep_mlp", "l1", "adam"), ("deep_mlp", "l1", "sgd"), ("mlp", "elastic_net", "adam"), ("cnn", "l1", "sgd"),
])
def test_level3_twenty_steps_with_l1(network, penalty, optimizer):
    overrides = dict(PENALTIES[penalty], optimizer=optimizer)
    if "dropout" in {field.name for field in dataclasses.fields(registry.get(network).config_class)}:
        overrides["dropout"] = 0.0  # training-mode steps are compared: no masks
    if optimizer == "sgd":
        overrides.update(learning_rate=0.05, momentum=0.9)
    config = registry.get(network).config_class(**overrides)
    info, batches = default_batches(network, 20)
    keras_model, tf_model = transplanted(network, config, info.input_shape, info.num_classes)
    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    spec = (tf.TensorSpec([None, *info.input_shape], tf.float32), tf.TensorSpec([None], tf.int32))
    tf_step = supervised.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec)

    initial = keras_model.get_weights()
    keras_losses, tf_losses = [], []
    for x, y in batches:
        keras_losses.append(keras_model.train_on_batch(x, y, return_dict=True)["loss"])
        tf_losses.append(float(tf_step(x, y)[0]))

    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    assert moved > 1e-3, f"the weights barely moved ({moved:.1e}): the comparison would be vacuous"
    assert float(tf.add_n(keras_model.losses)) > 1e-2, "the penalty is part of every step's loss"
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-4, rtol=1e-4)
    for keras_weight, tf_weight in zip(keras_model.get_weights(), tf_model.get_weights()):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=1e-4, rtol=1e-4)


# --- bad input and fingerprints ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [-1e-4, float("nan"), float("inf")])
@pytest.mark.parametrize("name", ["l1", "l2"])
@pytest.mark.parametrize("network", PENALISED)
def test_a_bad_penalty_factor_is_refused(network, name, value):
    with pytest.raises(configs.ConfigError, match=f"^{name} must be >= 0"):
        registry.get(network).config_class(**{name: value})


def test_penalties_default_to_what_they_were():
    assert configs.DeepMLPConfig().l2 == 1e-4 and configs.DeepMLPConfig().l1 == 0.0
    for network in PENALISED:
        config = registry.get(network).config_class()
        assert config.l1 == 0.0
        assert config.l2 == {"deep_mlp": 1e-4, "regression": 0.1}.get(network, 0.0)  # regression: L2 since it came


def _fingerprint(network, **overrides):
    spec = registry.get(network)
    config = spec.config_class(**overrides)
    data = data_module.load(config.dataset)
    return checkpoints.fingerprint(network, "tf", config, data)


def test_fingerprints_leave_out_zero_penalties():
    assert {"l1", "l2"}.isdisjoint(_fingerprint("mlp")["config"])  # as before the fields existed
    deep = _fingerprint("deep_mlp")["config"]
    assert deep["l2"] == 1e-4 and "l1" not in deep
    assert _fingerprint("mlp", l1=1e-3)["config"]["l1"] == 1e-3


def test_checkpoints_written_before_l1_existed_still_resume(tmp_path):
    """An older fingerprint.json: mlp's without l1/l2, logistic regression's with "l2": 0.0, deep_mlp's with l2."""
    for network in ("mlp", "logistic_regression", "deep_mlp"):
        old = _fingerprint(network)
        old["config"].pop("l1", None)
        if network == "logistic_regression":
            old["config"]["l2"] = 0.0
        folder = tmp_path / network
        folder.mkdir()
        (folder / checkpoints.FINGERPRINT).write_text(json.dumps(old))
        checkpoints.claim(str(folder), _fingerprint(network))  # no CheckpointError


def test_a_checkpoint_with_another_l1_is_refused(tmp_path):
    checkpoints.claim(str(tmp_path), _fingerprint("deep_mlp", l1=1e-4))
    with pytest.raises(checkpoints.CheckpointError, match="config l1: 0.0001 there, None here"):
        checkpoints.claim(str(tmp_path), _fingerprint("deep_mlp"))


# --- weight sparsity ----------------------------------------------------------------------------------------


def test_weight_sparsity_counts_small_kernel_weights_only():
    kernel = np.array([[0.0, 5e-4], [-9e-4, 1e-3], [-1e-3, 0.5]], np.float32)  # 3 of 6 below 1e-3 in magnitude
    conv = np.zeros((3, 3, 1, 2), np.float32)  # 18 zeros
    bias = np.zeros(4, np.float32)  # a vector: left out, however small
    assert evaluate.weight_sparsity([kernel, bias]) == pytest.approx(3 / 6)
    assert evaluate.weight_sparsity([kernel, bias, conv, bias]) == pytest.approx((3 + 18) / (6 + 18))
    assert evaluate.weight_sparsity([kernel], threshold=1e-2) == pytest.approx(5 / 6)
    assert evaluate.weight_sparsity([np.full((2, 2), np.nan)]) == 0.0  # NaN is not small


def test_weight_sparsity_refuses_what_has_no_kernels():
    with pytest.raises(ValueError, match="no kernels"):
        evaluate.weight_sparsity([np.zeros(3)])
    with pytest.raises(ValueError, match="threshold must be positive"):
        evaluate.weight_sparsity([np.zeros((2, 2))], threshold=0.0)


def test_weight_sparsity_is_the_same_for_both_implementations():
    keras_model, tf_model = transplanted("deep_mlp", configs.DeepMLPConfig(), (8, 8, 1), 10)
    assert evaluate.weight_sparsity(keras_model.get_weights()) == evaluate.weight_sparsity(tf_model.get_weights())


# --- the deep_mlp table -----------------------------------------------------------------------------------


def test_best_epoch_is_the_first_lowest_validation_loss():
    assert regularisation.best_epoch([1.0, 0.5, 0.7, 0.5, 0.9]) == 2
    assert regularisation.best_epoch([0.3]) == 1
    with pytest.raises(ValueError):
        regularisation.best_epoch([])


def test_settings_are_what_the_table_says():
    defaults = configs.DeepMLPConfig()
    resolved = {name: dataclasses.replace(defaults, **setting) for name, setting in regularisation.SETTINGS.items()}
    assert [(c.dropout, c.l2, c.l1) for c in resolved.values()] == [
        (0.0, 0.0, 0.0), (0.0, defaults.l2, 0.0), (0.0, 0.0, regularisation.L1_FACTOR), (defaults.dropout, 0.0, 0.0)]
    assert defaults.dropout > 0 and defaults.l2 > 0 and regularisation.L1_FACTOR > 0


def test_the_table_from_a_tiny_real_run():
    settings = {"none": regularisation.SETTINGS["none"], "L1": {"dropout": 0.0, "l2": 0.0, "l1": 1e-3}}
    report = regularisation.run(settings, overrides={"epochs": 3, "hidden_units": (16, 16), "patience": 1},
                                verbose=False)
    assert [row["setting"] for row in report["rows"]] == ["none", "L1"]
    for row in report["rows"]:
        for impl in ("keras", "tf"):
            found = row[impl]
            assert 0.0 <= found["sparsity"] <= 1.0 and 0.0 <= found["accuracy"] <= 1.0
            assert 1 <= found["best_epoch"] <= found["stopped_epoch"] <= 3
            assert found["stopped_early"] == (found["stopped_epoch"] < 3)
    assert report["rows"][1]["l1"] == 1e-3 and report["rows"][0]["l1"] == 0.0
    text = regularisation.table(report)
    lines = text.splitlines()
    assert lines[0].startswith("| setting | dropout | L2 | L1 |") and len(lines) == 2 + 2 + 2
    keras = report["rows"][1]["keras"]
    assert lines[3].startswith(f"| L1 | 0 | 0 | 0.001 | {keras['accuracy']:.4f} |")
    assert f"{keras['sparsity']:.1%}" in lines[3] and f"({keras['best_epoch']})" in lines[3]
    json.dumps(report)  # what main writes


@pytest.mark.parametrize("argv,message", [
    (["--l1", "-0.1"], "l1 of the L1 setting must be positive"),
    (["--l1", "nan"], "l1 must be >= 0"),
    (["--epochs", "0"], "epochs must be at least 1"),
    (["--l1", "lots"], "invalid float value: 'lots'"),
])
def test_the_table_command_refuses_bad_input_in_one_line(module_main, tmp_path, argv, message):
    code, _, err = module_main("common.regularisation", *argv, "--out", str(tmp_path / "out"), "--quiet")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "out" / "regularisation-deep_mlp.md").exists()
