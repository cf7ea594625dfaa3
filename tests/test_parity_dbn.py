"""Parity for the deep belief network (DESIGN.md, "What parity means"): the stack, the unrolled classifier, the samples.

1. Shape: parameter counts of the stack of RBMs and of the unrolled classifier pinned, equal in both.
2. Function: Keras weights transplanted into tf_impl: the stack's up pass (each RBM's hidden probabilities of
   the one below) and the unrolled classifier's hidden layers are the same function; the classifier's logits,
   loss and every gradient agree (1e-5); the generative pass (Gibbs in the top RBM from common.energy's noise,
   then p(v | h) down the stack) gives the same samples.
3. Optimisation: 20 fine-tuning steps from the same weights on the same batches: the same losses and weights
   (1e-4, Adam and SGD + momentum); greedy pretraining, two updates per layer with injected Gibbs uniforms,
   each layer trained on its own side's hidden probabilities of the layer below: the same stacked weights (1e-5).
4. Learning: test_learning.py (`learned("dbn")`, seeds 0-2); here, on the same runs, both see the same effect of
   pretraining, and `twinnets compare dbn`'s sample grid is drawn from them.
Plus: bad hyperparameters and data outside [0, 1] refused in one line; a resumed run, on tfds (mocked) MNIST too.
"""
import json

import numpy as np
import pytest
import tensorflow as tf

from common import configs, energy
from common import data as data_module
from common import dbn as shared
from keras_impl import dbn as keras_dbn
from tf_impl import dbn as tf_dbn
from tf_impl import optim, supervised
from tf_impl import rbm as tf_rbm

from conftest import assert_twins_agree, learning_group, mean_metric, run_main

SHAPE, CLASSES, VISIBLE = (8, 8, 1), 10, 64

# The stack, default hidden_units (128, 64): RBM 64x128 + 128 + 64 = 8384, RBM 128x64 + 64 + 128 = 8384.
STACK_PARAMS = [8384, 8384]
# The classifier: dense 64x128 + 128 = 8320, dense 128x64 + 64 = 8256, logits 64x10 + 10 = 650.
CLASSIFIER_PARAMS = 17226


@pytest.fixture(autouse=True)
def seeded():
    """Keras draws initial weights from its global seed: fix it, so no test depends on the ones before it."""
    import keras

    keras.utils.set_random_seed(0)


@pytest.fixture(scope="module")
def digits():
    return data_module.load("digits")


def scaled(weights, seed, scale):
    """Weights moved far from their initial values (RBM kernels start at N(0, 0.01^2), biases at 0): + N(0, scale^2)."""
    rng = np.random.default_rng(seed)
    return [(w + rng.normal(0.0, scale, w.shape)).astype(np.float32) for w in weights]


def twin_stacks(config, seed=0, scale=0.5):
    keras_stack, tf_stack = keras_dbn.build_stack(config, VISIBLE), tf_dbn.build_stack(config, VISIBLE)
    for index, (keras_machine, tf_machine) in enumerate(zip(keras_stack, tf_stack, strict=True)):
        keras_machine.set_weights(scaled(keras_machine.get_weights(), seed + index, scale))
        tf_machine.set_weights(keras_machine.get_weights())
    return keras_stack, tf_stack


def twin_classifiers(config, seed=0):
    keras_model = keras_dbn.build(config, SHAPE, CLASSES)
    keras_model.set_weights(scaled(keras_model.get_weights(), seed, 0.1))  # biases away from 0
    tf_model = tf_dbn.build(config, SHAPE, CLASSES)
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model


def largest_difference(first, second):
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(first, second, strict=True))


# --- level 1 ---


@pytest.mark.parametrize("hidden_units,stack,classifier", [
    ((128, 64), STACK_PARAMS, CLASSIFIER_PARAMS),
    ((32, 16, 8), [64 * 32 + 32 + 64, 32 * 16 + 16 + 32, 16 * 8 + 8 + 16],
     64 * 32 + 32 + 32 * 16 + 16 + 16 * 8 + 8 + 8 * 10 + 10),
], ids=["default", "three-layers"])
def test_level1_parameter_counts_of_the_stack_and_the_classifier(hidden_units, stack, classifier):
    config = configs.DBNConfig(hidden_units=hidden_units)
    keras_stack, tf_stack = keras_dbn.build_stack(config, VISIBLE), tf_dbn.build_stack(config, VISIBLE)
    assert [m.count_params() for m in keras_stack] == [m.count_params() for m in tf_stack] == stack
    keras_model, tf_model = keras_dbn.build(config, SHAPE, CLASSES), tf_dbn.build(config, SHAPE, CLASSES)
    assert keras_model.count_params() == tf_model.count_params() == classifier
    assert [w.shape for w in tf_model.get_weights()] == [w.shape for w in keras_model.get_weights()]
    # The classifier's hidden layers have exactly the shapes of the RBMs' kernels and hidden biases.
    unrolled = [w.shape for m in tf_stack for w in m.get_weights()[:2]]
    assert unrolled == [w.shape for w in tf_model.get_weights()[:-2]]


# --- level 2 ---


def test_level2_the_stack_up_pass_and_the_unrolled_classifier_are_one_function(digits):
    config = configs.DBNConfig()
    keras_stack, tf_stack = twin_stacks(config)
    x = digits.x_train[:64]
    keras_up, tf_up = shared.flat(x), tf.constant(shared.flat(x))
    for keras_machine, tf_machine in zip(keras_stack, tf_stack):
        keras_up, tf_up = keras_machine.hidden_probs(keras_up), tf_machine.hidden_probs(tf_up)
        np.testing.assert_allclose(tf_up.numpy(), np.asarray(keras_up), atol=1e-5)
        down_keras, down_tf = keras_machine.visible_probs(keras_up), tf_machine.visible_probs(tf_up)
        np.testing.assert_allclose(down_tf.numpy(), np.asarray(down_keras), atol=1e-5)
    assert float(tf.math.reduce_std(tf_up)) > 0.05, "saturated features would prove little"

    keras_model = keras_dbn.unroll(keras_stack, keras_dbn.build(config, SHAPE, CLASSES))
    tf_model = tf_dbn.unroll(tf_stack, tf_dbn.build(config, SHAPE, CLASSES))
    import keras

    keras_hidden = keras.Model(keras_model.inputs[0], keras_model.layers[-2].output)(x)  # the top hidden layer
    tf_hidden = x
    for layer in tf_model.layers[:-1]:
        tf_hidden = layer(tf_hidden)
    np.testing.assert_allclose(np.asarray(keras_hidden), np.asarray(keras_up), atol=1e-6)  # unrolled = up pass
    np.testing.assert_allclose(tf_hidden.numpy(), tf_up.numpy(), atol=1e-6)
    for got, machine in zip(tf_model.get_weights()[:-2], [w for m in keras_stack for w in m.get_weights()[:2]]):
        np.testing.assert_array_equal(got, machine)


def test_level2_outputs_loss_and_gradients_of_the_classifier(digits):
    config = configs.DBNConfig()
    keras_model, tf_model = twin_classifiers(config)
    x, y = digits.x_train[:64], digits.y_train[:64]
    assert len(assert_twins_agree(keras_model, tf_model, x, y)) == 6  # two hidden layers and the logits


def test_level2_the_generative_pass_gives_the_same_samples():
    """Gibbs in the top RBM from the same noise (common.energy), then p(v | h) down: the same pixels; another
    seed, other pixels (the noise decides, so the comparison is not vacuous)."""
    config = configs.DBNConfig()
    keras_stack, tf_stack = twin_stacks(config, scale=1.0)
    keras_samples = keras_dbn.generate(keras_stack, 40, 25, seed=7)
    tf_samples = tf_dbn.generate(tf_stack, 40, 25, seed=7)
    assert tf_samples.shape == keras_samples.shape == (40, VISIBLE)
    np.testing.assert_allclose(tf_samples, keras_samples, atol=1e-5)
    assert np.all((tf_samples >= 0) & (tf_samples <= 1)) and float(np.std(tf_samples)) > 0.05
    other = tf_dbn.generate(tf_stack, 40, 25, seed=8)
    assert np.abs(other - tf_samples).max() > 0.1


# --- level 3 ---


def batches(data, count, batch_size=32):
    windows = [np.arange(i * batch_size, (i + 1) * batch_size) for i in range(count)]  # wraps past the end
    return [(np.take(data.x_train, w, axis=0, mode="wrap"), np.take(data.y_train, w, mode="wrap")) for w in windows]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_level3_twenty_fine_tuning_steps(optimizer, digits):
    overrides = {"optimizer": optimizer}
    if optimizer == "sgd":
        overrides.update(learning_rate=0.1, momentum=0.9)
    config = configs.DBNConfig(**overrides)
    keras_stack, _ = twin_stacks(config)
    keras_model = keras_dbn.unroll(keras_stack, keras_dbn.build(config, SHAPE, CLASSES))  # fine-tuning: unrolled
    tf_model = tf_dbn.build(config, SHAPE, CLASSES)
    tf_model.set_weights(keras_model.get_weights())
    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    spec = (tf.TensorSpec([None, *SHAPE], tf.float32), tf.TensorSpec([None], tf.int32))
    tf_step = supervised.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec)
    initial = keras_model.get_weights()
    keras_losses, tf_losses = [], []
    for x, y in batches(digits, 20):
        keras_losses.append(keras_model.train_on_batch(x, y, return_dict=True)["loss"])
        tf_losses.append(float(tf_step(x, y)[0]))
    assert largest_difference(keras_model.get_weights(), initial) > 1e-3, "the weights barely moved"
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-4, rtol=1e-4)
    for keras_weight, tf_weight in zip(keras_model.get_weights(), tf_model.get_weights()):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=1e-4, rtol=1e-4)
    assert int(tf_optimizer.iterations) == int(keras_model.optimizer.iterations) == 20


@pytest.mark.parametrize("persistent", [False, True], ids=["cd", "pcd"])
def test_level3_greedy_pretraining_with_injected_noise(persistent, digits):
    """Layer by layer, two updates each with the same uniforms; each upper layer trains on its own side's hidden
    probabilities of the trained layer below, as pretrain() feeds it: the stacked weights agree to 1e-5."""
    config = configs.DBNConfig(persistent=persistent, k=2, batch_size=16, hidden_units=(32, 16, 8))
    keras_stack, tf_stack = keras_dbn.build_stack(config, VISIBLE), tf_dbn.build_stack(config, VISIBLE)
    for keras_machine, tf_machine in zip(keras_stack, tf_stack):
        tf_machine.set_weights(keras_machine.get_weights())
    keras_features = tf_features = shared.flat(digits.x_train[:32])
    start = [w for m in tf_stack for w in m.get_weights()]
    for index, (keras_machine, tf_machine) in enumerate(zip(keras_stack, tf_stack)):
        optimizer = optim.SGD(config.pretrain_learning_rate)
        optimizer.build(tf_machine.trainable_weights)
        step = tf_rbm.make_train_step(tf_machine, optimizer, config.k, persistent)
        for update in range(2):
            rows = slice(16 * update, 16 * (update + 1))
            noise = energy.gibbs_uniforms(16, config.k, tf_machine.n_hidden, tf_machine.n_visible, seed=10 * index + update)
            keras_machine.train_on_batch(keras_features[rows], noise)
            step(tf.constant(tf_features[rows]), tf.constant(noise))
        keras_features = np.asarray(keras_machine.hidden_probs(keras_features))  # the next layer's data, each side's own
        tf_features = tf_machine.hidden_probs(tf.constant(tf_features)).numpy()
    keras_weights = [w for m in keras_stack for w in m.get_weights()]
    tf_weights = [w for m in tf_stack for w in m.get_weights()]
    assert largest_difference(keras_weights, tf_weights) <= 1e-5
    assert all(largest_difference([a], [b]) > 1e-3 for a, b in zip(tf_weights[::3], start[::3])), "every layer moved"
    if persistent:
        for keras_machine, tf_machine in zip(keras_stack, tf_stack):
            np.testing.assert_array_equal(np.asarray(keras_machine.chain), tf_machine.chain.numpy())


def test_pretraining_feeds_each_rbm_the_hidden_probabilities_of_the_one_below(digits, monkeypatch):
    """pretrain(), both sides: the second RBM's data are the first (trained) RBM's p(h | x) of the training images."""
    config = configs.DBNConfig(hidden_units=(16, 8), pretrain_epochs=1)
    seen = {}
    for impl, module in (("keras", keras_dbn), ("tf", tf_dbn)):
        real = shared.layer_data
        monkeypatch.setattr(shared, "layer_data", lambda data, features, impl=impl: seen.setdefault(impl, []).append(
            np.asarray(features)) or real(data, features))
        stack = module.build_stack(config, VISIBLE)
        module.pretrain(config, stack, digits)
        monkeypatch.setattr(shared, "layer_data", real)
        first, second = seen[impl]
        np.testing.assert_array_equal(first, shared.flat(digits.x_train))
        expected = stack[0].hidden_probs(tf.constant(first))
        np.testing.assert_allclose(second, np.asarray(expected), atol=1e-6)
        assert second.shape == (digits.info.n_train, 16)


# --- bad input, resume, tfds ---


TINY = ["--hidden-units", "16,8", "--pretrain-epochs", "1", "--epochs", "1", "--sample-steps", "2", "--quiet"]


@pytest.mark.parametrize("impl,low,high", [("keras", 0.0, 255.0), ("tf", -0.5, 1.0)], ids=["raw-pixels", "negative"])
def test_inputs_outside_the_unit_interval_are_refused_in_one_line(capsys, tmp_path, impl, low, high):
    rng = np.random.default_rng(0)
    x = rng.uniform(low, high, size=(40, 8, 8)).astype(np.float32)  # float, so the loader does not scale it
    path = tmp_path / "wide.npz"
    np.savez(path, x_train=x, y_train=np.arange(40) % 3, x_test=x[:12], y_test=np.arange(12) % 3)
    out = tmp_path / "out"
    code, _, err = run_main(capsys, ["train", "dbn", "--impl", impl, *TINY, "--dataset", str(path), "--out", str(out)])
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "dbn needs inputs in [0, 1]" in lines[0] and "x_train of wide.npz" in lines[0], err
    assert ("divide them by 255" in lines[0]) == (high > 1.0)
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize("flags,message", [
    (["--pretrain-epochs", "0"], "pretrain-epochs must be at least 1, got 0"),
    (["--k", "0"], "k must be at least 1, got 0"),
    (["--sample-steps", "-1"], "sample-steps must be at least 1, got -1"),
    (["--pretrain-learning-rate", "nan"], "pretrain-learning-rate must be positive (and finite), got nan"),
    (["--hidden-units", "64,0"], "hidden-units must hold positive sizes"),
    (["--precision", "mixed_bfloat16"], "precision mixed_bfloat16 is not available for dbn"),
], ids=["no-pretraining", "no-gibbs-steps", "negative-sample-steps", "nan-rate", "empty-layer", "16-bit"])
def test_bad_hyperparameters_are_refused_in_one_line(capsys, tmp_path, flags, message):
    code, _, err = run_main(capsys, ["train", "dbn", "--impl", "tf", *flags, "--out", str(tmp_path / "out")])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "out" / "metrics.json").exists()


@pytest.mark.parametrize("impl,dataset", [("keras", "digits"), ("tf", "mnist")])
def test_a_rerun_resumes_every_phase(capsys, tmp_path, impl, dataset):
    """--checkpoint-dir: one sub-folder per phase (each RBM, fine-tuning, scratch); a rerun after the run
    finished trains nothing again and ends with the same metrics. tf_impl's on --dataset mnist through tfds
    (mocked here: no network), 28x28 images scaled to [0, 1], 784 visible units."""
    import contextlib

    import tensorflow_datasets as tfds

    argv = ["train", "dbn", "--impl", impl, *TINY, "--dataset", dataset, "--checkpoint-dir", str(tmp_path / "ckpt")]
    runs = {}
    for run in ("first", "again"):
        with tfds.testing.mock_data(num_examples=48) if dataset == "mnist" else contextlib.nullcontext():
            code, _, err = run_main(capsys, argv + ["--out", str(tmp_path / run)])
        assert code == 0, err
        runs[run] = json.loads((tmp_path / run / "metrics.json").read_text())
        assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["fine_tuning", "fingerprint.json",
                                                                      "pretrain_1", "pretrain_2", "scratch"]
    first, again = runs["first"], runs["again"]
    assert first["dataset"] == dataset and first["config"]["hidden_units"] == [16, 8]
    assert {"scratch_accuracy", "pretraining_gain", "frechet_distance"} <= set(first["metrics"])
    assert again["metrics"] == first["metrics"]
    assert again["history"]["loss"] == first["history"]["loss"]


# --- learning: pretrained vs scratch, and the sample grid, from test_learning.py's runs ---

LEARNING_SEEDS = 3  # the runs of test_learning.py's level-4 check, shared with it (conftest.learned)


@pytest.fixture(scope="module")
def learning_report(learned):
    return learned("dbn", seeds=LEARNING_SEEDS)


@pytest.mark.learning
@learning_group("dbn")
def test_both_implementations_see_the_same_effect_of_pretraining(learning_report):
    gains = {impl: mean_metric(learning_report, impl, "pretraining_gain") for impl in ("keras", "tf")}
    print("pretraining gain (accuracy - scratch_accuracy), mean over seeds:", gains)
    assert abs(gains["keras"] - gains["tf"]) <= 0.02, gains  # the accuracy tolerance, on the gain over scratch
    for impl in ("keras", "tf"):  # the baseline learned too: the comparison is with a working classifier
        assert mean_metric(learning_report, impl, "scratch_accuracy") >= 0.95


@pytest.mark.learning
@learning_group("dbn")
def test_the_samples_are_scored_and_drawn_for_both(learning_report, tmp_path):
    from common import plots

    figures = learning_report["figures"]
    assert set(figures) == {"keras", "tf"}
    for impl in ("keras", "tf"):
        assert figures[impl]["samples"].shape == (32, *SHAPE)
        distance = mean_metric(learning_report, impl, "frechet_distance")
        noise = mean_metric(learning_report, impl, "fd_noise")
        assert distance < noise, f"{impl}: samples ({distance:.2f}) no closer to digits than uniform noise ({noise:.2f})"
    (path,) = plots.generative_figures(learning_report, figures, str(tmp_path / "compare-dbn.png"))
    assert path.endswith("compare-dbn-samples.png") and open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
