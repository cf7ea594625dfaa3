"""Parity levels 1-3 for the conditional GAN (cgan), and its conditional evaluation.

Its own file (family "conditional"): the generative tests build a network from the image
shape alone, the cgan also takes the number of classes, and every step takes labels.
1. Shape: parameter counts equal, per player, and pinned below.
2. Function: Keras weights transplanted into the tf_impl model, player by player and whole:
   the same outputs, both players' losses and gradients (1e-5), with injected latent vectors
   z and labels y; batch normalisation in training mode too; a different label changes the
   output and the losses on both sides alike (the label is really used).
3. Optimisation: from the same weights, 20 steps on the same batches (images and labels) with
   the same injected z give the same losses and weights (1e-4), both players, moving statistics included.
Level 4 (learning) is test_learning.py's, through common.compare; the learning test here reads its runs.
"""
import dataclasses
import importlib
import os

import numpy as np
import pytest
import tensorflow as tf

from common import data as data_module
from common import evaluate, registry
from common.data import DataError

from conftest import learning_group
from test_parity_generative import assert_gradients_close, assert_weights_close, normal

IMAGE_SHAPE = (8, 8, 1)  # the default data: scikit-learn's digits
CLASSES = 10
PLAYERS = ("generator", "discriminator")

# player -> parameters on 8x8x1 digits, 10 classes, default config (latent_dim 16, generator_filters (64, 32),
# discriminator_filters (32, 64)). Pinned.
PARAM_COUNTS = {
    "generator": 41089,  # dense (16+10)*(2*2*64) no bias, BN 4*256, conv^T 4*4*64*32 no bias, BN 4*32, conv^T 4*4*32*1+1
    "discriminator": 21953,  # conv 9*(1+10)*32+32, conv 9*32*64+64, dense (2*2*64)*1+1
}
NON_TRAINABLE = {"generator": 576, "discriminator": 0}  # BN moving mean and variance: 2*256 + 2*32


@pytest.fixture(autouse=True)
def seeded():
    """Keras draws initial weights from its global seed: fix it, so no test depends on the ones before it."""
    import keras

    keras.utils.set_random_seed(0)


def modules():
    return importlib.import_module("keras_impl.cgan"), importlib.import_module("tf_impl.cgan")


def built(**overrides):
    """(keras model, tf model, config), weights independent (different initialisations)."""
    config = registry.get("cgan").config_class(**overrides)
    keras_module, tf_module = modules()
    return keras_module.build(config, IMAGE_SHAPE, CLASSES), tf_module.build(config, IMAGE_SHAPE, CLASSES), config


def transplanted(**overrides):
    keras_model, tf_model, config = built(**overrides)
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model, config


@pytest.fixture(scope="module")
def digits():
    return data_module.load("digits")


def labelled_batches(digits, count, batch_size=32):
    """(images, labels) windows of the training set, wrapping past its end."""
    windows = [np.arange(i * batch_size, (i + 1) * batch_size) for i in range(count)]
    return [(np.take(digits.x_train, w, axis=0, mode="wrap"), np.take(digits.y_train, w, mode="wrap")) for w in windows]


# --- level 1: shape -----------------------------------------------------------------------


def test_level1_parameter_counts():
    keras_model, tf_model, _ = built()
    for player in PLAYERS:
        keras_player, tf_player = getattr(keras_model, player), getattr(tf_model, player)
        assert keras_player.count_params() == PARAM_COUNTS[player], player
        assert tf_player.count_params() == keras_player.count_params(), player
        assert [w.shape for w in tf_player.get_weights()] == [w.shape for w in keras_player.get_weights()], player
        assert sum(int(np.prod(w.shape)) for w in keras_player.non_trainable_weights) == NON_TRAINABLE[player], player
    assert keras_model.count_params() == tf_model.count_params() == sum(PARAM_COUNTS.values())
    assert [w.shape for w in tf_model.get_weights()] == [w.shape for w in keras_model.get_weights()]


def test_level1_the_label_widens_both_inputs_by_the_class_count():
    """Three classes instead of ten: 7 fewer generator inputs (x 2*2*64) and 7 fewer discriminator channels (x 9*32)."""
    keras_module, tf_module = modules()
    config = registry.get("cgan").config_class()
    for module in (keras_module, tf_module):
        three = module.build(config, IMAGE_SHAPE, 3)
        assert three.generator.count_params() == PARAM_COUNTS["generator"] - 7 * 2 * 2 * 64
        assert three.discriminator.count_params() == PARAM_COUNTS["discriminator"] - 7 * 9 * 32


# --- level 2: function --------------------------------------------------------------------


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_level2_generator_transplant_with_injected_latents_and_labels(training, digits):
    keras_model, tf_model, config = built()
    tf_model.generator.set_weights(keras_model.generator.get_weights())
    z, labels = normal((64, config.latent_dim), seed=7), digits.y_train[:64]
    probe = normal((64, *IMAGE_SHAPE), seed=11)  # a fixed random read-out: every pixel gets a gradient
    with tf.GradientTape(persistent=True) as tape:
        keras_out = keras_model((z, labels), training=training)
        tf_out = tf_model(tf.constant(z), tf.constant(labels), training=training)
        keras_scalar, tf_scalar = tf.reduce_sum(keras_out * probe), tf.reduce_sum(tf_out * probe)
    assert keras_out.shape == tf_out.shape == (64, *IMAGE_SHAPE)
    np.testing.assert_allclose(tf_out.numpy(), keras_out.numpy(), atol=1e-5, rtol=1e-5)
    assert_gradients_close(tape.gradient(tf_scalar, tf_model.generator.trainable_weights),
                           tape.gradient(keras_scalar, keras_model.generator.trainable_weights),
                           keras_model.generator.trainable_weights)
    assert_weights_close(tf_model.generator.get_weights(), keras_model.generator.get_weights(), atol=1e-6)
    if training:  # batch normalisation has moved its statistics, alike
        moving = [w.numpy() for w in keras_model.generator.non_trainable_weights]
        assert any(np.abs(m - np.round(m)).max() > 1e-4 for m in moving), "the moving statistics did not move"


def test_level2_discriminator_transplant_with_labels(digits):
    keras_model, tf_model, _ = built()
    tf_model.discriminator.set_weights(keras_model.discriminator.get_weights())
    images, labels = digits.x_train[:64], digits.y_train[:64]
    with tf.GradientTape(persistent=True) as tape:
        keras_logits = keras_model.discriminator(keras_model.discriminator_input(images, labels))
        tf_logits = tf_model.discriminate(tf.constant(images), tf.constant(labels))
        keras_scalar, tf_scalar = tf.reduce_sum(keras_logits), tf.reduce_sum(tf_logits)
    assert keras_logits.shape == tf_logits.shape == (64, 1)
    np.testing.assert_allclose(tf_logits.numpy(), keras_logits.numpy(), atol=1e-5, rtol=1e-5)
    assert_gradients_close(tape.gradient(tf_scalar, tf_model.discriminator.trainable_weights),
                           tape.gradient(keras_scalar, keras_model.discriminator.trainable_weights),
                           keras_model.discriminator.trainable_weights)


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_level2_both_losses_and_gradients_with_injected_latents_and_labels(training, digits):
    keras_model, tf_model, config = transplanted()
    _, tf_module = modules()
    real, labels = digits.x_train[:64], digits.y_train[:64]
    z = normal((64, config.latent_dim), seed=5)

    with tf.GradientTape() as tape:
        keras_d = keras_model.discriminator_loss(real, keras_model((z, labels), training=training), labels,
                                                 training=training)
    keras_d_grads = tape.gradient(keras_d, keras_model.discriminator.trainable_weights)
    with tf.GradientTape() as tape:
        tf_d = tf_module.discriminator_loss(tf_model, tf.constant(real), tf_model(z, labels, training=training),
                                            tf.constant(labels), training)
    tf_d_grads = tape.gradient(tf_d, tf_model.discriminator.trainable_weights)
    np.testing.assert_allclose(float(tf_d), float(keras_d), atol=1e-5, rtol=1e-5)
    assert_gradients_close(tf_d_grads, keras_d_grads, keras_model.discriminator.trainable_weights)

    with tf.GradientTape() as tape:
        keras_g = keras_model.generator_loss(z, labels, training=training)
    keras_g_grads = tape.gradient(keras_g, keras_model.generator.trainable_weights)
    with tf.GradientTape() as tape:
        tf_g = tf_module.generator_loss(tf_model, tf.constant(z), tf.constant(labels), training)
    tf_g_grads = tape.gradient(tf_g, tf_model.generator.trainable_weights)
    np.testing.assert_allclose(float(tf_g), float(keras_g), atol=1e-5, rtol=1e-5)
    assert_gradients_close(tf_g_grads, keras_g_grads, keras_model.generator.trainable_weights)
    assert_weights_close(tf_model.get_weights(), keras_model.get_weights(), atol=1e-6)  # moving statistics


def test_level2_the_label_is_really_used(digits):
    """Other labels, other images and other losses, on both sides alike: the conditioning is not silently dropped."""
    keras_model, tf_model, config = transplanted()
    _, tf_module = modules()
    real, labels = digits.x_train[:64], digits.y_train[:64]
    other = (labels + 1) % CLASSES
    z = normal((64, config.latent_dim), seed=5)
    keras_images = [keras_model((z, y)).numpy() for y in (labels, other)]
    tf_images = [tf_model(tf.constant(z), tf.constant(y)).numpy() for y in (labels, other)]
    assert np.abs(keras_images[0] - keras_images[1]).max() > 1e-3
    np.testing.assert_allclose(tf_images, keras_images, atol=1e-5, rtol=1e-5)
    keras_d = [keras_model.discriminator(keras_model.discriminator_input(real, y)).numpy() for y in (labels, other)]
    tf_d = [tf_model.discriminate(tf.constant(real), tf.constant(y)).numpy() for y in (labels, other)]
    assert np.abs(keras_d[0] - keras_d[1]).max() > 1e-3  # the real images judged as other digits
    np.testing.assert_allclose(tf_d, keras_d, atol=1e-5, rtol=1e-5)
    fake = keras_images[0]
    keras_loss, tf_loss = (float(keras_model.discriminator_loss(real, fake, other, training=False)),
                           float(tf_module.discriminator_loss(tf_model, tf.constant(real), tf.constant(fake),
                                                              tf.constant(other), False)))
    np.testing.assert_allclose(tf_loss, keras_loss, atol=1e-5, rtol=1e-5)


# --- level 3: optimisation ----------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_level3_twenty_steps_both_players(optimizer, digits):
    extra = {"optimizer": optimizer}
    if optimizer == "sgd":
        extra.update(learning_rate=0.05, momentum=0.5)
    keras_model, tf_model, config = transplanted(**extra)
    from tf_impl import cgan, gan

    d_optimizer, g_optimizer = gan.optimizers(tf_model, config)
    spec = (tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32), tf.TensorSpec([None], tf.int32))
    step = cgan.make_train_step(tf_model, d_optimizer, g_optimizer, spec, config.latent_dim)
    initial = {player: getattr(keras_model, player).get_weights() for player in PLAYERS}
    keras_d, keras_g, tf_d, tf_g = [], [], [], []
    for index, (real, labels) in enumerate(labelled_batches(digits, 20)):
        z = normal((len(real), config.latent_dim), seed=200 + index)
        logs = keras_model.train_on_batch((real, labels), z, return_dict=True)
        keras_d.append(logs["loss"])
        keras_g.append(logs["g_loss"])
        d_loss, g_loss, _ = step(real, labels, z)
        tf_d.append(float(d_loss))
        tf_g.append(float(g_loss))
    for player in PLAYERS:
        moved = max(np.abs(a - b).max() for a, b in zip(getattr(keras_model, player).get_weights(), initial[player]))
        assert moved > 1e-3, f"the {player} barely moved ({moved:.1e})"
        assert_weights_close(getattr(tf_model, player).get_weights(), getattr(keras_model, player).get_weights(),
                             atol=1e-4)
    np.testing.assert_allclose(tf_d, keras_d, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(tf_g, keras_g, atol=1e-4, rtol=1e-4)
    assert int(d_optimizer.iterations) == int(keras_model.d_optimizer.iterations) == 20
    assert int(g_optimizer.iterations) == int(keras_model.g_optimizer.iterations) == 20


def test_train_step_traces_once_for_every_batch_size(digits):
    from tf_impl import cgan, gan

    config = registry.get("cgan").config_class()
    model = cgan.build(config, IMAGE_SHAPE, CLASSES)
    step = cgan.make_train_step(model, *gan.optimizers(model, config),
                                (tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32), tf.TensorSpec([None], tf.int32)),
                                config.latent_dim)
    for size in (32, 17, 50):  # the last, partial batch of an epoch has another size
        step(digits.x_train[:size], digits.y_train[:size], normal((size, config.latent_dim), seed=size))
    assert step.experimental_get_tracing_count() == 1


# --- mixed precision: test_precision.py's checks, on the cgan's own losses and steps ------


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_function_parity_after_transplant(precision, digits):
    """Generated images bit-identical in the compute type; both players' float32 losses and gradients within
    one unit in the last place of the compute type (test_precision.py's rule)."""
    from test_precision import COMPUTE_DTYPES, build_both, gradient_gaps, gradients_of
    from tf_impl import cgan

    config = registry.get("cgan").config_class(precision=precision)
    real, labels = digits.x_train[:64], digits.y_train[:64]
    z = normal((64, config.latent_dim), seed=5)
    keras_model, tf_model = build_both("cgan", config, IMAGE_SHAPE, CLASSES)
    for training in (False, True):
        keras_fake = keras_model((z, labels), training=training)
        tf_fake = tf_model(tf.constant(z), tf.constant(labels), training=training)
        assert keras_fake.dtype == tf_fake.dtype == COMPUTE_DTYPES[precision]
        np.testing.assert_array_equal(np.float32(tf_fake), np.float32(keras_fake))
    fake = np.float32(keras_fake)
    players = [
        (lambda: keras_model.discriminator_loss(real, fake, labels), keras_model.discriminator.trainable_weights,
         lambda: cgan.discriminator_loss(tf_model, tf.constant(real), tf.constant(fake), tf.constant(labels)),
         tf_model.discriminator.trainable_weights),
        (lambda: keras_model.generator_loss(z, labels), keras_model.generator.trainable_weights,
         lambda: cgan.generator_loss(tf_model, tf.constant(z), tf.constant(labels)), tf_model.generator.trainable_weights),
    ]
    for keras_loss_fn, keras_weights, tf_loss_fn, tf_weights in players:
        keras_loss, keras_grads = gradients_of(keras_loss_fn, keras_weights)
        tf_loss, tf_grads = gradients_of(tf_loss_fn, tf_weights)
        assert tf_loss.dtype == keras_loss.dtype == tf.float32
        np.testing.assert_allclose(float(tf_loss), float(keras_loss), rtol=1e-6)
        gradient_gaps(keras_grads, tf_grads, keras_weights, precision)


@pytest.mark.parametrize("scaling", ["default", "overflowing"])
def test_float16_steps_match_keras_with_each_players_loss_scale(scaling, digits):
    """20 mixed_float16 steps from the same weights with the same injected z: losses and weights (1e-4) and both
    players' dynamic loss scales after every step, as test_precision.py checks the gan's."""
    from test_precision import assert_same_float16_gan_steps, build_both, gan_loss_scaling
    from tf_impl import cgan

    config = registry.get("cgan").config_class(precision="mixed_float16")
    keras_model, tf_model = build_both("cgan", config, IMAGE_SHAPE, CLASSES)
    d_optimizer, g_optimizer = gan_loss_scaling(keras_model, config, scaling)
    d_optimizer.build(tf_model.discriminator.trainable_weights)
    g_optimizer.build(tf_model.generator.trainable_weights)
    spec = (tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32), tf.TensorSpec([None], tf.int32))
    step = cgan.make_train_step(tf_model, d_optimizer, g_optimizer, spec, config.latent_dim)
    feeds = []
    for index, (real, labels) in enumerate(labelled_batches(digits, 20)):
        z = normal((len(real), config.latent_dim), seed=100 + index)
        feeds.append(((real, labels), z, (real, labels, z)))
    applied = assert_same_float16_gan_steps(keras_model, tf_model, d_optimizer, g_optimizer, step, feeds)
    assert min(applied) < 20 if scaling == "overflowing" else applied == (20, 20)


# --- evaluation ---------------------------------------------------------------------------


def test_conditional_labels_ask_for_every_class_equally():
    labels = evaluate.conditional_labels(10, 360)
    assert len(labels) == 360 and list(np.bincount(labels)) == [36] * 10 and list(labels[:37]) == [0] * 36 + [1]
    assert list(np.bincount(evaluate.conditional_labels(3, 10))) == [4, 4, 4]  # rounded up: as many of each


def test_conditional_accuracy_separates_the_asked_class_from_a_generator_that_ignores_it(digits):
    """Real held-out digits with their labels score the judge's accuracy; with labels it ignores, about chance."""
    asked = evaluate.conditional_sample_quality(digits.x_test, digits.y_test, digits.x_train, digits.y_train,
                                                digits.x_test, digits.y_test)
    assert asked["conditional_accuracy"] == asked["accuracy_heldout_real"] > 0.95
    ignored = np.random.default_rng(0).permutation(digits.y_test)
    shuffled = evaluate.conditional_sample_quality(digits.x_test, ignored, digits.x_train, digits.y_train,
                                                   digits.x_test, digits.y_test)
    assert shuffled["conditional_accuracy"] < 0.2  # ten classes: 0.1 by chance
    assert shuffled["frechet_distance"] == asked["frechet_distance"]  # the images' quality, whatever was asked


def test_an_untrained_generator_is_far_below_the_floor(digits):
    from tf_impl import cgan

    config = registry.get("cgan").config_class()
    labels = evaluate.conditional_labels(CLASSES, len(digits.x_test))
    untrained = cgan.build(config, IMAGE_SHAPE, CLASSES)
    samples = untrained(evaluate.evaluation_noise((len(labels), config.latent_dim)), labels).numpy()
    scores = evaluate.conditional_sample_quality(samples, labels, digits.x_train, digits.y_train, digits.x_test,
                                                 digits.y_test)
    assert scores["conditional_accuracy"] < registry.get("cgan").floor / 2
    assert scores["frechet_distance"] > 2 * registry.get("gan").floor


@pytest.mark.learning
@learning_group("cgan")
def test_trained_conditional_generator_draws_the_asked_digits_as_well_as_the_gan(learned):
    """Default training runs (test_learning's, shared): every seed of both at or above the floor, and its
    samples as close to the training digits as the unconditional GAN's floor asks."""
    spec = registry.get("cgan")
    for impl, summary in learned("cgan")["impls"].items():
        for run in summary["runs"]:
            assert run["metric"] >= spec.floor, (impl, run["seed"], run["metric"])
            assert run["metrics"]["frechet_distance"] <= registry.get("gan").floor, (impl, run["seed"], run["metrics"])


# --- the contract of a network module -----------------------------------------------------


@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_train_returns_a_complete_result(impl, digits, tmp_path):
    spec = registry.get("cgan")
    config = spec.config_class(epochs=2)
    small = dataclasses.replace(digits, x_train=digits.x_train[:96], y_train=digits.y_train[:96], batch_size=32)
    result = importlib.import_module(f"{impl}_impl.cgan").train(config, small, verbose=0, out_dir=str(tmp_path))
    assert result.metric == spec.metric == "conditional_accuracy" and result.value == result.metrics[spec.metric]
    assert 0.0 <= result.value <= 1.0 and np.isfinite(result.metrics["frechet_distance"])
    assert len(result.history["loss"]) == len(result.history["g_loss"]) == result.epochs_run == 2
    assert result.train_seconds > 0 and result.samples_per_second > 0
    assert result.figures["class_samples"].shape == (CLASSES, 8, *IMAGE_SHAPE)  # one row per class
    assert result.model_input == ((config.latent_dim + CLASSES,), "float32")
    assert "figures" not in result.to_dict()
    assert os.path.exists(tmp_path / "weights.npz")


@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_data_without_class_labels_is_refused(impl, digits):
    regression = dataclasses.replace(digits, info=dataclasses.replace(digits.info, task="regression", num_classes=1))
    module = importlib.import_module(f"{impl}_impl.cgan")
    with pytest.raises(DataError, match="has no class labels"):
        module.train(registry.get("cgan").config_class(epochs=1), regression, verbose=0)


def test_compare_draws_one_row_per_class_keras_next_to_tf(tmp_path):
    """The sample grid `twinnets compare cgan` writes: from both implementations' class_samples, a PNG."""
    from common import plots

    rng = np.random.default_rng(0)
    figures = {impl: {"class_samples": rng.uniform(size=(CLASSES, 8, *IMAGE_SHAPE))} for impl in ("keras", "tf")}
    report = {"network": "cgan", "dataset": "digits"}
    (path,) = plots.generative_figures(report, figures, str(tmp_path / "compare-cgan.png"))
    assert path.endswith("compare-cgan-samples.png")
    assert open(path, "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"
    grid = plots.mosaic(figures["keras"]["class_samples"].reshape(-1, *IMAGE_SHAPE), columns=8)
    assert grid.shape == (CLASSES * 9 + 1, 8 * 9 + 1)  # ten rows of eight 8x8 images, 1-pixel gaps
