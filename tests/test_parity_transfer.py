"""Parity for transfer learning, phase by phase (DESIGN.md, "What parity means"), and what frozen means.

1. Shape: parameter counts pinned; trained and frozen counts of every phase pinned, equal in both.
2. Function: Keras weights transplanted into the tf_impl model: the same logits, loss and
   gradients of exactly the phase's trained variables (1e-5).
3. Optimisation: 20 steps of each phase from the same weights on the same batches: the same
   losses and weights (1e-4); the frozen variables bit-identical in both.
Plus: frozen variables bit-identical after training; a new optimizer when the trained set
changes; base checkpoints (each implementation reads its own format and the other's
weights.npz; a wrong architecture is refused with a message); and learning: transfer
beats scratch on the default task. Level 4 for the registry is in test_learning.py.
"""

import numpy as np
import pytest
import tensorflow as tf

from common import data as data_module
from common.configs import CNNConfig, TransferConfig
from keras_impl import transfer as keras_transfer
from tf_impl import supervised
from tf_impl import transfer as tf_transfer

from conftest import build_keras_optimizer, learning_group, mean_metric

# One worker for this module and test_learning's transfer check: cnn_runs and target are built once, and the
# learning claims below read the same compare as test_learning (xdist joins every group mark a test has).
pytestmark = learning_group("transfer")

PHASES = ("feature_extraction", "fine_tuning", "scratch")
SHAPE, CLASSES = (8, 8, 1), 5  # digits_transfer's target: 8x8 digits 5-9, relabelled 0-4

# The base: conv 3*3*1*32 + 32 = 320, conv 3*3*32*64 + 64 = 18496               -> 18816
# The head: dense (2*2*64)*128 + 128 = 32896, classifier 128*5 + 5 = 645          -> 33541
PARAM_COUNT = 52357  # 18816 + 33541, cnn's count for 5 classes
TRAINED = {  # phase -> (trained, frozen) with the default fine_tune_layers = 1
    "feature_extraction": (33541, 18816),  # the head; the whole base frozen
    "fine_tuning": (52037, 320),  # the head + the top conv layer 18496; the first conv layer frozen
    "scratch": (52357, 0),  # everything
}


@pytest.fixture(autouse=True)
def seeded():
    """Keras draws initial weights from its global seed: fix it, so no test depends on the ones before it."""
    import keras

    keras.utils.set_random_seed(0)


@pytest.fixture(scope="module")
def target():
    return data_module.load("digits_transfer")


def count(weights):
    return int(sum(np.prod(w.shape) for w in weights))


def trained_indices(weights, trained, key):
    """Positions, in Keras order, of the trained variables."""
    ids = {key(w) for w in trained}
    return [index for index, w in enumerate(weights) if key(w) in ids]


def transplanted(config, phase):
    keras_model = keras_transfer.build(config, SHAPE, CLASSES)
    tf_model = tf_transfer.build(config, SHAPE, CLASSES)
    tf_model.set_weights(keras_model.get_weights())
    keras_transfer.set_phase(keras_model, config, phase)
    tf_optimizer = tf_transfer.phase_optimizer(tf_model, config, phase)
    return keras_model, tf_model, tf_optimizer


def batches(data, count, batch_size=32):
    windows = [np.arange(i * batch_size, (i + 1) * batch_size) for i in range(count)]  # wraps past the end
    return [(np.take(data.x_train, w, axis=0, mode="wrap"), np.take(data.y_train, w, mode="wrap")) for w in windows]


@pytest.mark.parametrize("phase", PHASES)
def test_level1_parameter_counts_trained_and_frozen(phase):
    config = TransferConfig()
    keras_model, tf_model, _ = transplanted(config, phase)
    assert keras_model.count_params() == tf_model.count_params() == PARAM_COUNT
    assert [w.shape for w in tf_model.get_weights()] == [w.shape for w in keras_model.get_weights()]
    keras_counts = (count(keras_model.trainable_weights), count(keras_model.non_trainable_weights))
    tf_counts = (count(tf_model.trainable_weights), count(tf_model.non_trainable_weights))
    assert keras_counts == tf_counts == TRAINED[phase]
    assert trained_indices(tf_model.weights, tf_model.trainable_weights, lambda w: w.ref()) == trained_indices(
        keras_model.weights, keras_model.trainable_weights, id)


@pytest.mark.parametrize("phase", PHASES)
def test_level2_outputs_loss_and_gradients_of_the_trained_variables(phase, target):
    config = TransferConfig()
    keras_model, tf_model, _ = transplanted(config, phase)
    x, y = batches(target, 1, batch_size=64)[0]

    keras_logits = keras_model(x, training=False)
    np.testing.assert_allclose(tf_model(x, training=False).numpy(), keras_logits.numpy(), atol=1e-5, rtol=1e-5)

    with tf.GradientTape() as tape:
        keras_loss = keras_model.compute_loss(x=x, y=y, y_pred=keras_model(x, training=False), training=False)
    keras_grads = tape.gradient(keras_loss, keras_model.trainable_weights)
    with tf.GradientTape() as tape:
        tf_loss = supervised.loss_fn(tf_model, x, y, training=False)
    tf_grads = tape.gradient(tf_loss, tf_model.trainable_weights)

    np.testing.assert_allclose(float(tf_loss), float(keras_loss), atol=1e-5, rtol=1e-5)
    assert len(tf_grads) == len(keras_grads) == {"feature_extraction": 4, "fine_tuning": 6, "scratch": 8}[phase]
    for keras_grad, tf_grad, weight in zip(keras_grads, tf_grads, keras_model.trainable_weights):
        assert np.abs(keras_grad.numpy()).max() > 0, f"{weight.path}: zero gradient proves nothing"
        np.testing.assert_allclose(tf_grad.numpy(), keras_grad.numpy(), atol=1e-5, rtol=1e-5, err_msg=weight.path)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("phase", ["feature_extraction", "fine_tuning"])
def test_level3_twenty_steps_of_each_phase(phase, optimizer, target):
    overrides = {"optimizer": optimizer}
    if optimizer == "sgd":
        overrides.update(learning_rate=0.05, fine_tune_learning_rate=0.01, momentum=0.9)
    config = TransferConfig(**overrides)
    keras_model, tf_model, tf_optimizer = transplanted(config, phase)
    spec = (tf.TensorSpec([None, *SHAPE], tf.float32), tf.TensorSpec([None], tf.int32))
    tf_step = supervised.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec)
    frozen = [index for index in range(len(keras_model.weights))
              if index not in trained_indices(keras_model.weights, keras_model.trainable_weights, id)]
    assert frozen, "every phase here freezes something"

    build_keras_optimizer(keras_model)  # traced once, as in fit
    initial = keras_model.get_weights()
    keras_losses, tf_losses = [], []
    for x, y in batches(target, 20):
        keras_losses.append(keras_model.train_on_batch(x, y, return_dict=True)["loss"])
        tf_losses.append(float(tf_step(x, y)[0]))

    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    assert moved > 1e-3, f"the weights barely moved ({moved:.1e}): the comparison would be vacuous"
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-4, rtol=1e-4)
    for keras_weight, tf_weight in zip(keras_model.get_weights(), tf_model.get_weights()):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=1e-4, rtol=1e-4)
    for index in frozen:  # frozen: not one bit moved, in either implementation
        np.testing.assert_array_equal(keras_model.get_weights()[index], initial[index])
        np.testing.assert_array_equal(tf_model.get_weights()[index], initial[index])
    assert int(tf_optimizer.iterations) == int(keras_model.optimizer.iterations) == 20


def test_frozen_variables_are_bit_identical_after_training(target):
    """Feature extraction, then fine-tuning, with each implementation's own fit: frozen means not one bit moves."""
    config = TransferConfig(head_epochs=2, fine_tune_epochs=2)
    few = data_module.few_shot(target, config.examples_per_class)
    keras_model = keras_transfer.build(config, SHAPE, CLASSES)
    tf_model = tf_transfer.build(config, SHAPE, CLASSES)
    initial = {"keras": keras_model.get_weights(), "tf": tf_model.get_weights()}
    base = {impl: weights[:4] for impl, weights in initial.items()}

    keras_transfer.fit(keras_transfer.set_phase(keras_model, config, "feature_extraction"), few, 2, verbose=0)
    tf_transfer.fit(tf_model, tf_transfer.phase_optimizer(tf_model, config, "feature_extraction"), few, 2, verbose=0)
    for impl, weights in (("keras", keras_model.get_weights()), ("tf", tf_model.get_weights())):
        for before, after in zip(base[impl], weights[:4]):  # the whole base
            np.testing.assert_array_equal(after, before, err_msg=f"{impl}: feature extraction moved the base")
        assert not np.array_equal(weights[-2], initial[impl][-2]), f"{impl}: the head did not train"

    keras_transfer.fit(keras_transfer.set_phase(keras_model, config, "fine_tuning"), few, 2, verbose=0)
    tf_transfer.fit(tf_model, tf_transfer.phase_optimizer(tf_model, config, "fine_tuning"), few, 2, verbose=0)
    for impl, weights in (("keras", keras_model.get_weights()), ("tf", tf_model.get_weights())):
        for before, after in zip(base[impl][:2], weights[:2]):  # the first conv layer: below the top one
            np.testing.assert_array_equal(after, before, err_msg=f"{impl}: fine-tuning moved a frozen layer")
        assert not np.array_equal(weights[2], base[impl][2]), f"{impl}: fine-tuning left the top conv layer alone"


def test_the_base_always_runs_in_inference_mode():
    """Keras: base(x, training=False) in the graph; tf_impl: the base sees training=False even in a training step.

    So batch-norm statistics in a base would never move, frozen or fine-tuned (the Keras guide's advice).
    """
    config = TransferConfig()
    keras_model = keras_transfer.build(config, SHAPE, CLASSES)
    assert [node.arguments.kwargs for node in keras_model.get_layer("base")._inbound_nodes] == [{"training": False}]

    tf_model = tf_transfer.build(config, SHAPE, CLASSES)
    seen = []

    class Recorder(tf.Module):
        weights = []

        def __call__(self, x, training=False):
            seen.append(training)
            return x

    tf_model.base.layers.append(Recorder())
    tf_model(np.zeros((2, *SHAPE), np.float32), training=True)
    assert seen == [False]


def test_a_new_optimizer_for_every_trained_set(target):
    """Slots belong to the trained variables: a phase change builds a new optimizer, counting from step 0."""
    config = TransferConfig()
    few = data_module.few_shot(target, config.examples_per_class)
    steps = -(-few.info.n_train // config.batch_size)  # batches in one epoch

    keras_model = keras_transfer.build(config, SHAPE, CLASSES)
    keras_transfer.fit(keras_transfer.set_phase(keras_model, config, "feature_extraction"), few, 1, verbose=0)
    head_optimizer = keras_model.optimizer
    assert len(head_optimizer._trainable_variables) == 4
    keras_transfer.fit(keras_transfer.set_phase(keras_model, config, "fine_tuning"), few, 1, verbose=0)
    assert keras_model.optimizer is not head_optimizer
    assert int(keras_model.optimizer.iterations) == steps
    assert len(keras_model.optimizer._trainable_variables) == 6
    assert float(keras_model.optimizer.learning_rate) == pytest.approx(config.fine_tune_learning_rate)

    tf_model = tf_transfer.build(config, SHAPE, CLASSES)
    head_optimizer = tf_transfer.phase_optimizer(tf_model, config, "feature_extraction")
    tf_transfer.fit(tf_model, head_optimizer, few, 1, verbose=0)
    optimizer = tf_transfer.phase_optimizer(tf_model, config, "fine_tuning")
    assert optimizer is not head_optimizer and int(optimizer.iterations) == 0
    assert set(optimizer._slots) == {w.ref() for w in tf_model.trainable_weights}
    assert len(optimizer._slots) == 6 and len(head_optimizer._slots) == 4
    tf_transfer.fit(tf_model, optimizer, few, 1, verbose=0)
    assert int(optimizer.iterations) == steps
    assert float(optimizer.learning_rate) == pytest.approx(config.fine_tune_learning_rate)


# --- base checkpoints ---


@pytest.fixture(scope="module")
def cnn_runs(tmp_path_factory):
    """What `twinnets train cnn --impl keras|tf --out DIR` writes, one short run each."""
    from keras_impl import cnn as keras_cnn
    from tf_impl import cnn as tf_cnn

    digits = data_module.load("digits")
    config = CNNConfig(epochs=1)
    runs = {}
    for impl, module in (("keras", keras_cnn), ("tf", tf_cnn)):
        runs[impl] = tmp_path_factory.mktemp(f"cnn-{impl}")
        module.train(config, digits, verbose=0, out_dir=str(runs[impl]))
    return runs


IMPLS = {"keras": keras_transfer, "tf": tf_transfer}


def base_weights(base_layers):
    return [w.numpy() for layer in base_layers for w in layer.weights]


@pytest.mark.parametrize("impl", IMPLS)
def test_each_implementation_reads_its_own_checkpoint(impl, cnn_runs):
    from common.results import load_weights

    written = load_weights(str(cnn_runs[impl] / "weights.npz"))
    native = {"keras": "model.weights.h5", "tf": "checkpoint"}[impl]
    assert (cnn_runs[impl] / (native if impl == "keras" else native + ".index")).exists()
    for path in (cnn_runs[impl] / native, cnn_runs[impl]):  # the file, or the folder (native first)
        loaded = base_weights(IMPLS[impl].load_base(TransferConfig(), str(path), SHAPE))
        assert len(loaded) == 4
        for got, want in zip(loaded, written[:4]):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("impl,other", [("keras", "tf"), ("tf", "keras")])
def test_a_base_from_the_other_implementation_loads_through_weights_npz(impl, other, cnn_runs):
    from common.results import load_weights

    written = load_weights(str(cnn_runs[other] / "weights.npz"))
    loaded = base_weights(IMPLS[impl].load_base(TransferConfig(), str(cnn_runs[other] / "weights.npz"), SHAPE))
    for got, want in zip(loaded, written[:4]):
        np.testing.assert_array_equal(got, want)
    native = cnn_runs[other] / {"keras": "model.weights.h5", "tf": "checkpoint"}[other]
    with pytest.raises(data_module.DataError, match="weights.npz"):  # the other's native format: say what to pass
        IMPLS[impl].load_base(TransferConfig(), str(native), SHAPE)


@pytest.mark.parametrize("file", ["weights.npz", "native"])
@pytest.mark.parametrize("impl", IMPLS)
def test_a_checkpoint_of_another_architecture_is_refused(impl, file, cnn_runs):
    name = file if file != "native" else {"keras": "model.weights.h5", "tf": "checkpoint"}[impl]
    wider = TransferConfig(filters=(16, 64))
    with pytest.raises(data_module.DataError, match=r"does not fit this architecture.*\(3, 3, 1, 16\).*\(3, 3, 1, 32\)"):
        IMPLS[impl].load_base(wider, str(cnn_runs[impl] / name), SHAPE)
    with pytest.raises(data_module.DataError, match="does not fit this architecture"):
        IMPLS[impl].load_base(TransferConfig(filters=(32,)), str(cnn_runs[impl] / name), SHAPE)


@pytest.mark.parametrize("impl", IMPLS)
def test_training_from_a_checkpoint_skips_pretraining(impl, cnn_runs, target):
    config = TransferConfig(base_checkpoint=str(cnn_runs[impl] / "weights.npz"), head_epochs=1, fine_tune_epochs=1)
    result = IMPLS[impl].train(config, target, verbose=0)
    assert "source_accuracy" not in result.metrics and "pretrain_loss" not in result.history
    assert {"scratch_accuracy", "feature_extraction_accuracy", "fine_tuning_accuracy"} <= set(result.metrics)
    assert result.value == result.metrics["fine_tuning_accuracy"] and len(result.history["loss"]) == 1


def test_the_cli_refuses_a_wrong_checkpoint_in_one_line(module_main, cnn_runs, tmp_path):
    code, _, err = module_main("tf_impl.transfer", "--filters", "16,64", "--base-checkpoint",
                               str(cnn_runs["keras"] / "weights.npz"), "--out", str(tmp_path / "run"))
    assert code == 2
    assert not (tmp_path / "run" / "metrics.json").exists()
    assert err.strip().count("\n") == 0 and "does not fit this architecture" in err
    assert "Traceback" not in err


# --- learning: transfer against scratch on the default task (digits 0-4 -> 5-9, 10 examples a class) ---
#
# Measured with `twinnets compare transfer --seeds 3` (TF 2.21, Keras 3.15, CPU), target test accuracy:
#                       keras            tf
#   scratch             0.9710 ± 0.0018  0.9635 ± 0.0046
#   feature extraction  0.9345 ± 0.0042  0.9338 ± 0.0086   gain -0.0365 / -0.0298
#   fine-tuning         0.9479 ± 0.0069  0.9457 ± 0.0069   gain -0.0231 / -0.0179
# On 8x8 digits, 10 examples a class already teach a cnn from scratch ~96-97%, and the
# features of digits 0-4 are no better than what it learns: transfer does NOT beat scratch
# here. What does hold, and is tested: fine-tuning improves on feature extraction in both
# implementations (+0.013 / +0.012), and both see the same effect of transfer (gains
# differ by <= 0.007). The claim stays below as a strict xfail: it fails today, and
# the suite says so the day it starts to hold.

LEARNING_SEEDS = 3  # the runs of test_learning.py's level-4 check, shared with it (conftest.learned)


@pytest.fixture(scope="module")
def learning_report(learned):
    return learned("transfer", seeds=LEARNING_SEEDS)


@pytest.mark.learning
def test_fine_tuning_improves_on_feature_extraction(learning_report):
    for impl in IMPLS:
        gain = mean_metric(learning_report, impl, "fine_tuning_accuracy") - mean_metric(
            learning_report, impl, "feature_extraction_accuracy")
        assert gain > 0.0, f"{impl}: fine-tuning changed target accuracy by {gain:+.4f}"


@pytest.mark.learning
@pytest.mark.parametrize("phase", ["feature_extraction", "fine_tuning"])
def test_both_implementations_see_the_same_effect_of_transfer(learning_report, phase):
    gains = {impl: mean_metric(learning_report, impl, f"{phase}_gain") for impl in IMPLS}
    assert abs(gains["keras"] - gains["tf"]) <= 0.02, gains  # the cnn tolerance, on the gain over scratch


@pytest.mark.learning
@pytest.mark.xfail(strict=True, reason="measured: transfer from digits 0-4 trails scratch on 5-9 (gain -0.01 to -0.04)")
@pytest.mark.parametrize("phase", ["feature_extraction", "fine_tuning"])
def test_transfer_beats_scratch_by_a_clear_margin(learning_report, phase):
    for impl in IMPLS:
        gain = mean_metric(learning_report, impl, f"{phase}_gain")
        assert gain >= 0.02, f"{impl}: {phase} beats scratch by {gain:+.4f}"
