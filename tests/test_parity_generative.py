"""Parity levels 1-3 for the generative networks (autoencoder, vae, gan), and their evaluation.
(wgan_gp: levels 1 and the sub-network transplant here, its losses and n_critic schedule in test_parity_wgan_gp.py.)

1. Shape: parameter counts equal, per sub-network, and pinned in PARAM_COUNTS below.
2. Function: Keras weights transplanted into the tf_impl model, sub-network by sub-network
   (encoder, decoder; generator, discriminator) and whole: the same outputs, losses and
   gradients (1e-5). The VAE's noise epsilon and the GAN's latent vectors z are injected,
   so these are exact comparisons; batch normalisation is compared in training mode too.
3. Optimisation: from the same weights, 20 steps on the same batches with the same
   injected noise give the same losses and weights (1e-4); for the GAN, both players'
   losses and weights, the generator's moving statistics included.
Level 4 (learning) is in test_learning.py, through common.compare.
"""
import ast
import dataclasses
import importlib
import os

import numpy as np
import pytest
import tensorflow as tf

from common import data as data_module
from common import evaluate, registry

from conftest import build_keras_optimizer, learning_group

IMAGE_SHAPE = (8, 8, 1)  # the default data: scikit-learn's digits
GENERATIVE = [name for name, spec in registry.NETWORKS.items() if spec.family == "generative"]

# variant -> (network, config overrides)
VARIANTS = {
    "autoencoder": ("autoencoder", {}),
    "conv_autoencoder": ("autoencoder", {"convolutional": True}),
    "vae": ("vae", {}),
    "gan": ("gan", {}),
    "wgan_gp": ("wgan_gp", {}),
}
SUBNETWORKS = {"autoencoder": ("encoder", "decoder"), "vae": ("encoder", "decoder"), "gan": ("generator", "discriminator"),
              "wgan_gp": ("generator", "critic")}

# (variant, sub-network) -> parameters on 8x8x1 digits with the default config. Pinned.
PARAM_COUNTS = {
    # latent_dim 8, hidden_units 64
    ("autoencoder", "encoder"): 4680,  # flatten, dense 64*64+64, dense 64*8+8
    ("autoencoder", "decoder"): 4736,  # dense 8*64+64, dense 64*64+64, reshape
    # filters (16, 32), kernel 3, latent_dim 8
    ("conv_autoencoder", "encoder"): 5832,  # conv 9*1*16+16, conv 9*16*32+32, dense (2*2*32)*8+8
    ("conv_autoencoder", "decoder"): 5921,  # dense 8*128+128, conv^T 9*32*16+16, conv^T 9*16*1+1
    # latent_dim 4, hidden_units 128
    ("vae", "encoder"): 9352,  # dense 64*128+128, mean head 128*4+4, log-variance head 128*4+4
    ("vae", "decoder"): 8896,  # dense 4*128+128, dense 128*64+64
    # latent_dim 16, generator_filters (64, 32), discriminator_filters (32, 64)
    ("gan", "generator"): 38529,  # dense 16*(2*2*64) no bias, BN 4*256, conv^T 4*4*64*32 no bias, BN 4*32, conv^T 4*4*32*1+1
    ("gan", "discriminator"): 19073,  # conv 9*1*32+32, conv 9*32*64+64, dense (2*2*64)*1+1
    # the gan's two networks, the discriminator as the critic (same defaults)
    ("wgan_gp", "generator"): 38529,
    ("wgan_gp", "critic"): 19073,
}
NON_TRAINABLE = {("gan", "generator"): 576, ("wgan_gp", "generator"): 576}  # BN moving mean and variance: 2*256 + 2*32


@pytest.fixture(autouse=True)
def seeded():
    """Keras draws initial weights from its global seed: fix it, so no test depends on the ones before it."""
    import keras

    keras.utils.set_random_seed(0)


def modules(network):
    return importlib.import_module(f"keras_impl.{network}"), importlib.import_module(f"tf_impl.{network}")


def config_of(variant, **extra):
    network, overrides = VARIANTS[variant]
    return registry.get(network).config_class(**dict(overrides, **extra))


def built(variant, **extra):
    """(keras model, tf model, config), weights independent (different initialisations)."""
    network, _ = VARIANTS[variant]
    config = config_of(variant, **extra)
    keras_module, tf_module = modules(network)
    return keras_module.build(config, IMAGE_SHAPE), tf_module.build(config, IMAGE_SHAPE), config


def transplanted(variant, **extra):
    keras_model, tf_model, config = built(variant, **extra)
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model, config


def digit_batches(count, batch_size=32):
    x = data_module.load("digits").x_train
    windows = [np.arange(i * batch_size, (i + 1) * batch_size) for i in range(count)]  # wraps past the end
    return [np.take(x, w, axis=0, mode="wrap") for w in windows]


def normal(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def sub_input(variant, sub, config, batch=64):
    """What a sub-network eats: digits for encoders, discriminators and critics, codes or latents for the others."""
    if sub in ("encoder", "discriminator", "critic"):
        return digit_batches(1, batch)[0]
    return normal((batch, config.latent_dim), seed=7)


def outputs_of(result):
    return [t.numpy() for t in (result if isinstance(result, (tuple, list)) else [result])]


def assert_gradients_close(tf_grads, keras_grads, keras_weights):
    assert len(tf_grads) == len(keras_grads) == len(keras_weights)
    for keras_grad, tf_grad, weight in zip(keras_grads, tf_grads, keras_weights):
        assert np.abs(keras_grad.numpy()).max() > 0, f"{weight.path}: zero gradient proves nothing"
        np.testing.assert_allclose(tf_grad.numpy(), keras_grad.numpy(), atol=1e-5, rtol=1e-5, err_msg=weight.path)


def assert_weights_close(tf_weights, keras_weights, atol):
    assert len(tf_weights) == len(keras_weights)
    for keras_weight, tf_weight in zip(keras_weights, tf_weights):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=atol, rtol=atol)


# --- level 1: shape -----------------------------------------------------------------------


def test_every_generative_network_is_pinned():
    pinned = {VARIANTS[variant][0] for variant, _ in PARAM_COUNTS}
    assert set(GENERATIVE) == pinned == {"autoencoder", "vae", "gan", "wgan_gp"}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_level1_parameter_counts(variant):
    keras_model, tf_model, _ = built(variant)
    network = VARIANTS[variant][0]
    total = 0
    for sub in SUBNETWORKS[network]:
        keras_sub, tf_sub = getattr(keras_model, sub), getattr(tf_model, sub)
        assert keras_sub.count_params() == PARAM_COUNTS[(variant, sub)], sub
        assert tf_sub.count_params() == keras_sub.count_params(), sub
        assert [w.shape for w in tf_sub.get_weights()] == [w.shape for w in keras_sub.get_weights()], sub
        non_trainable = sum(int(np.prod(w.shape)) for w in keras_sub.non_trainable_weights)
        assert non_trainable == NON_TRAINABLE.get((variant, sub), 0), sub
        total += PARAM_COUNTS[(variant, sub)]
    assert keras_model.count_params() == tf_model.count_params() == total
    assert [w.shape for w in tf_model.get_weights()] == [w.shape for w in keras_model.get_weights()]


# --- level 2: function --------------------------------------------------------------------


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("variant,sub", [(v, s) for v in VARIANTS for s in SUBNETWORKS[VARIANTS[v][0]]])
def test_level2_subnetwork_transplant(variant, sub, training):
    """Only this sub-network's weights cross over; its outputs and gradients must then agree."""
    keras_model, tf_model, config = built(variant)
    keras_sub, tf_sub = getattr(keras_model, sub), getattr(tf_model, sub)
    tf_sub.set_weights(keras_sub.get_weights())
    x = sub_input(variant, sub, config)
    with tf.GradientTape(persistent=True) as tape:
        keras_out = keras_sub(x, training=training)
        tf_out = tf_sub(tf.constant(x), training=training)
        keras_list = keras_out if isinstance(keras_out, (tuple, list)) else [keras_out]
        tf_list = tf_out if isinstance(tf_out, (tuple, list)) else [tf_out]
        # a fixed random linear read-out of every output, so that each output element gets a gradient
        probes = [normal(tuple(o.shape), seed=11 + i) for i, o in enumerate(keras_list)]
        keras_scalar = tf.add_n([tf.reduce_sum(o * p) for o, p in zip(keras_list, probes)])
        tf_scalar = tf.add_n([tf.reduce_sum(o * p) for o, p in zip(tf_list, probes)])
    assert len(keras_list) == len(tf_list)
    for keras_value, tf_value in zip(keras_list, tf_list):
        assert keras_value.shape == tf_value.shape
        np.testing.assert_allclose(tf_value.numpy(), keras_value.numpy(), atol=1e-5, rtol=1e-5)
    assert_gradients_close(
        tape.gradient(tf_scalar, tf_sub.trainable_weights),
        tape.gradient(keras_scalar, keras_sub.trainable_weights),
        keras_sub.trainable_weights,
    )
    # In training mode batch normalisation has moved its statistics: they must have moved alike.
    assert_weights_close(tf_sub.get_weights(), keras_sub.get_weights(), atol=1e-6)
    if training and (variant, sub) in NON_TRAINABLE:
        moving = [w.numpy() for w in keras_sub.non_trainable_weights]
        assert any(np.abs(m - np.round(m)).max() > 1e-4 for m in moving), "the moving statistics did not move"


@pytest.mark.parametrize("variant", ["autoencoder", "conv_autoencoder"])
def test_level2_autoencoder_loss_and_gradients(variant):
    keras_model, tf_model, _ = transplanted(variant)
    _, tf_module = modules("autoencoder")
    x = digit_batches(1, 64)[0]
    np.testing.assert_allclose(tf_model(x).numpy(), keras_model(x).numpy(), atol=1e-5, rtol=1e-5)
    with tf.GradientTape() as tape:
        keras_loss = keras_model.compute_loss(x=x, y=x, y_pred=keras_model(x, training=False), training=False)
    keras_grads = tape.gradient(keras_loss, keras_model.trainable_weights)
    with tf.GradientTape() as tape:
        tf_loss = tf_module.loss_fn(tf_model, tf.constant(x), training=False)
    tf_grads = tape.gradient(tf_loss, tf_model.trainable_weights)
    np.testing.assert_allclose(float(tf_loss), float(keras_loss), atol=1e-6, rtol=1e-5)
    assert_gradients_close(tf_grads, keras_grads, keras_model.trainable_weights)


def test_level2_vae_elbo_terms_and_gradients_with_injected_noise():
    keras_model, tf_model, config = transplanted("vae")
    _, tf_module = modules("vae")
    x = digit_batches(1, 64)[0]
    epsilon = normal((64, config.latent_dim), seed=3)
    np.testing.assert_allclose(tf_model(x, epsilon).numpy(), keras_model(x, epsilon).numpy(), atol=1e-5, rtol=1e-5)
    with tf.GradientTape() as tape:
        keras_terms = keras_model.negative_elbo(x, epsilon, training=False)
    keras_grads = tape.gradient(keras_terms[0], keras_model.trainable_weights)
    with tf.GradientTape() as tape:
        tf_terms = tf_module.negative_elbo(tf_model, tf.constant(x), tf.constant(epsilon), training=False)
    tf_grads = tape.gradient(tf_terms[0], tf_model.trainable_weights)
    np.testing.assert_allclose([float(t) for t in tf_terms], [float(t) for t in keras_terms], atol=1e-5, rtol=1e-5)
    assert float(keras_terms[2]) > 0, "a zero KL term would leave its gradient untested"
    assert_gradients_close(tf_grads, keras_grads, keras_model.trainable_weights)


def test_level2_vae_noise_is_really_used():
    """Different epsilon, different loss: the injection is not silently ignored on either side."""
    keras_model, tf_model, config = transplanted("vae")
    _, tf_module = modules("vae")
    x = digit_batches(1, 64)[0]
    first, second = normal((64, config.latent_dim), seed=3), normal((64, config.latent_dim), seed=4)
    keras_losses = [float(keras_model.negative_elbo(x, e)[0]) for e in (first, second)]
    tf_losses = [float(tf_module.negative_elbo(tf_model, tf.constant(x), tf.constant(e), False)[0]) for e in (first, second)]
    assert abs(keras_losses[0] - keras_losses[1]) > 1e-3
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_level2_gan_both_losses_and_gradients_with_injected_latents(training):
    keras_model, tf_model, config = transplanted("gan")
    _, tf_module = modules("gan")
    real = digit_batches(1, 64)[0]
    z = normal((64, config.latent_dim), seed=5)

    with tf.GradientTape() as tape:
        keras_d = keras_model.discriminator_loss(real, keras_model.generator(z, training=training), training=training)
    keras_d_grads = tape.gradient(keras_d, keras_model.discriminator.trainable_weights)
    with tf.GradientTape() as tape:
        tf_d = tf_module.discriminator_loss(tf_model, tf.constant(real), tf_model.generator(z, training=training), training)
    tf_d_grads = tape.gradient(tf_d, tf_model.discriminator.trainable_weights)
    np.testing.assert_allclose(float(tf_d), float(keras_d), atol=1e-5, rtol=1e-5)
    assert_gradients_close(tf_d_grads, keras_d_grads, keras_model.discriminator.trainable_weights)

    with tf.GradientTape() as tape:
        keras_g = keras_model.generator_loss(z, training=training)
    keras_g_grads = tape.gradient(keras_g, keras_model.generator.trainable_weights)
    with tf.GradientTape() as tape:
        tf_g = tf_module.generator_loss(tf_model, tf.constant(z), training)
    tf_g_grads = tape.gradient(tf_g, tf_model.generator.trainable_weights)
    np.testing.assert_allclose(float(tf_g), float(keras_g), atol=1e-5, rtol=1e-5)
    assert_gradients_close(tf_g_grads, keras_g_grads, keras_model.generator.trainable_weights)
    assert_weights_close(tf_model.get_weights(), keras_model.get_weights(), atol=1e-6)  # moving statistics


def test_batch_normalization_matches_keras_over_many_training_calls():
    """Batch statistics (biased variance, synchronised: E[x^2] - E[x]^2), moving-statistic updates (momentum 0.99),
    epsilon 1e-3, 4-D and 2-D."""
    import keras

    from tf_impl import layers

    for shape in [(16, 4, 4, 6), (32, 10)]:
        ours = layers.BatchNormalization(shape[-1])
        theirs = keras.layers.BatchNormalization(synchronized=True)
        theirs.build(shape)
        rng = np.random.default_rng(0)
        gamma, beta = rng.uniform(0.5, 2.0, shape[-1]).astype(np.float32), rng.normal(size=shape[-1]).astype(np.float32)
        for layer in (ours, theirs):
            layer.gamma.assign(gamma)
            layer.beta.assign(beta)
        for step in range(5):
            x = (rng.normal(size=shape) * 3.0 + 2.0).astype(np.float32)
            np.testing.assert_allclose(ours(x, training=True).numpy(), theirs(x, training=True).numpy(), atol=1e-5)
        assert_weights_close([w.numpy() for w in ours.weights], theirs.get_weights(), atol=1e-6)
        np.testing.assert_allclose(ours(x, training=False).numpy(), theirs(x, training=False).numpy(), atol=1e-5)


@pytest.mark.parametrize("strides,kernel_size", [(2, 3), (2, 4), (1, 3)])
def test_conv2d_transpose_matches_keras(strides, kernel_size):
    import keras

    from tf_impl import layers

    x = normal((3, 4, 4, 5), seed=1)
    theirs = keras.layers.Conv2DTranspose(7, kernel_size, strides=strides, padding="same")
    expected = theirs(x).numpy()
    ours = layers.Conv2DTranspose(5, 7, kernel_size, strides=strides, rng=np.random.default_rng(0))
    for variable, value in zip(ours.weights, theirs.get_weights()):
        assert tuple(variable.shape) == value.shape
        variable.assign(value)
    assert expected.shape == (3, 4 * strides, 4 * strides, 7)
    np.testing.assert_allclose(ours(x).numpy(), expected, atol=1e-5)


# --- level 3: optimisation ----------------------------------------------------------------


@pytest.mark.parametrize("variant,optimizer", [("autoencoder", "adam"), ("autoencoder", "sgd"), ("conv_autoencoder", "adam")])
def test_level3_autoencoder_twenty_steps(variant, optimizer):
    extra = {"optimizer": optimizer}
    if optimizer == "sgd":
        extra.update(learning_rate=0.5, momentum=0.9)
    keras_model, tf_model, config = transplanted(variant, **extra)
    from tf_impl import autoencoder, optim

    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    step = autoencoder.make_train_step(tf_model, tf_optimizer, tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32))
    build_keras_optimizer(keras_model)  # traced once, as in fit
    initial = keras_model.get_weights()
    keras_losses, tf_losses = [], []
    for x in digit_batches(20):
        keras_losses.append(keras_model.train_on_batch(x, x, return_dict=True)["loss"])
        tf_losses.append(float(step(x)[0]))
    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    assert moved > 1e-3, f"the weights barely moved ({moved:.1e}): the comparison would be vacuous"
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-4, rtol=1e-4)
    assert_weights_close(tf_model.get_weights(), keras_model.get_weights(), atol=1e-4)
    assert int(tf_optimizer.iterations) == int(keras_model.optimizer.iterations) == 20


def test_level3_vae_twenty_steps_with_injected_noise():
    keras_model, tf_model, config = transplanted("vae")
    from tf_impl import optim, vae

    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    step = vae.make_train_step(tf_model, tf_optimizer, tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32), config.latent_dim)
    build_keras_optimizer(keras_model)  # traced once, as in fit
    initial = keras_model.get_weights()
    keras_losses, tf_losses = [], []
    for index, x in enumerate(digit_batches(20)):
        epsilon = normal((len(x), config.latent_dim), seed=100 + index)
        keras_losses.append(keras_model.train_on_batch(x, epsilon, return_dict=True)["loss"])
        tf_losses.append(float(step(x, epsilon)[0]))
    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    assert moved > 1e-3, f"the weights barely moved ({moved:.1e})"
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-4, rtol=1e-4)
    assert_weights_close(tf_model.get_weights(), keras_model.get_weights(), atol=1e-4)
    assert int(tf_optimizer.iterations) == int(keras_model.optimizer.iterations) == 20


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_level3_gan_twenty_steps_both_players(optimizer):
    extra = {"optimizer": optimizer}
    if optimizer == "sgd":
        extra.update(learning_rate=0.05, momentum=0.5)
    keras_model, tf_model, config = transplanted("gan", **extra)
    from tf_impl import gan

    d_optimizer, g_optimizer = gan.optimizer(config), gan.optimizer(config)
    d_optimizer.build(tf_model.discriminator.trainable_weights)
    g_optimizer.build(tf_model.generator.trainable_weights)
    image_spec = tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32)
    step = gan.make_train_step(tf_model, d_optimizer, g_optimizer, image_spec, config.latent_dim)
    initial = {sub: getattr(keras_model, sub).get_weights() for sub in ("generator", "discriminator")}
    keras_d, keras_g, tf_d, tf_g = [], [], [], []
    for index, real in enumerate(digit_batches(20)):
        z = normal((len(real), config.latent_dim), seed=200 + index)
        logs = keras_model.train_on_batch(real, z, return_dict=True)
        keras_d.append(logs["loss"])
        keras_g.append(logs["g_loss"])
        d_loss, g_loss, _ = step(real, z)
        tf_d.append(float(d_loss))
        tf_g.append(float(g_loss))
    for sub in ("generator", "discriminator"):
        moved = max(np.abs(a - b).max() for a, b in zip(getattr(keras_model, sub).get_weights(), initial[sub]))
        assert moved > 1e-3, f"the {sub} barely moved ({moved:.1e})"
        assert_weights_close(getattr(tf_model, sub).get_weights(), getattr(keras_model, sub).get_weights(), atol=1e-4)
    np.testing.assert_allclose(tf_d, keras_d, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(tf_g, keras_g, atol=1e-4, rtol=1e-4)
    assert int(d_optimizer.iterations) == int(keras_model.d_optimizer.iterations) == 20
    assert int(g_optimizer.iterations) == int(keras_model.g_optimizer.iterations) == 20


def test_train_steps_trace_once_for_every_batch_size():
    from tf_impl import autoencoder, gan, optim, vae

    image_spec = tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32)
    x = digit_batches(1, 50)[0]
    sizes = (32, 17, 50, 1)  # the last, partial batch of an epoch has another size

    config = config_of("autoencoder")
    model = autoencoder.build(config, IMAGE_SHAPE)
    optimizer = optim.from_config(config)
    optimizer.build(model.trainable_weights)
    step = autoencoder.make_train_step(model, optimizer, image_spec)
    for size in sizes:
        step(x[:size])
    assert step.experimental_get_tracing_count() == 1

    config = config_of("vae")
    model = vae.build(config, IMAGE_SHAPE)
    optimizer = optim.from_config(config)
    optimizer.build(model.trainable_weights)
    step = vae.make_train_step(model, optimizer, image_spec, config.latent_dim)
    for size in sizes:
        step(x[:size], normal((size, config.latent_dim), seed=size))
    assert step.experimental_get_tracing_count() == 1

    config = config_of("gan")
    model = gan.build(config, IMAGE_SHAPE)
    d_optimizer, g_optimizer = gan.optimizer(config), gan.optimizer(config)
    d_optimizer.build(model.discriminator.trainable_weights)
    g_optimizer.build(model.generator.trainable_weights)
    step = gan.make_train_step(model, d_optimizer, g_optimizer, image_spec, config.latent_dim)
    for size in sizes[:3]:  # batch norm needs more than one example for a batch variance
        step(x[:size], normal((size, config.latent_dim), seed=size))
    assert step.experimental_get_tracing_count() == 1


# --- evaluation ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return data_module.load("digits")


def test_frechet_distance_matches_the_scipy_formula():
    from scipy import linalg

    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    b = rng.normal(size=(400, 6)) + 0.5
    sigma_a, sigma_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(sigma_a + sigma_b - 2 * linalg.sqrtm(sigma_a @ sigma_b).real)
    assert evaluate.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert evaluate.frechet_distance(b, a) == pytest.approx(expected, rel=1e-8)
    assert evaluate.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_sample_judge_separates_real_digits_from_noise_and_an_untrained_generator(digits):
    """Held-out real digits near 0, noise and an untrained generator far away: the scale a GAN is read on."""
    from tf_impl import gan

    config = registry.get("gan").config_class()
    scores = evaluate.sample_quality(digits.x_val, digits.x_train, digits.y_train, digits.x_test)
    untrained = gan.build(config, IMAGE_SHAPE)
    z = evaluate.evaluation_noise((len(digits.x_test), config.latent_dim))
    untrained_scores = evaluate.sample_quality(untrained.generator(z).numpy(), digits.x_train, digits.y_train, digits.x_test)
    floor = registry.get("gan").floor
    assert scores["fd_heldout_real"] < 1.0
    assert scores["frechet_distance"] < 3.0  # the validation digits: real, unseen, fewer of them
    assert scores["fd_noise"] > 2 * floor  # noise is far beyond the floor
    assert untrained_scores["frechet_distance"] > 2 * floor  # an untrained generator fails the floor by a wide margin
    assert untrained_scores["frechet_distance"] > 30 * scores["fd_heldout_real"]
    assert scores["confidence_heldout_real"] > 0.85 and scores["confidence_noise"] < 0.6
    assert scores["class_entropy"] > 2.2  # ten classes, nearly balanced: ln 10 = 2.30


def test_sample_judge_penalises_mode_collapse(digits):
    """Real digits of a single class are sharp but not diverse: far from the training distribution."""
    threes = digits.x_train[digits.y_train == 3]
    collapsed = np.resize(threes, (len(digits.x_test), *IMAGE_SHAPE))
    scores = evaluate.sample_quality(collapsed, digits.x_train, digits.y_train, digits.x_test)
    assert scores["frechet_distance"] > 10.0
    assert scores["class_entropy"] < 1.0  # ln 10 = 2.30 for ten balanced classes


@pytest.mark.learning
@learning_group("gan")
def test_trained_generator_beats_untrained_by_a_wide_margin(digits, learned):
    """Default training runs (test_learning's, shared): far below the untrained generator and under the floor."""
    from tf_impl import gan

    config = registry.get("gan").config_class()
    untrained = gan.build(config, IMAGE_SHAPE)
    z = evaluate.evaluation_noise((len(digits.x_test), config.latent_dim))
    untrained_fd = evaluate.sample_quality(untrained.generator(z).numpy(), digits.x_train, digits.y_train,
                                           digits.x_test)["frechet_distance"]
    for impl, summary in learned("gan")["impls"].items():
        for run in summary["runs"]:
            assert run["metric"] < registry.get("gan").floor, (impl, run["seed"], run["metric"])
            assert run["metric"] < untrained_fd / 3, (impl, run["seed"], run["metric"], untrained_fd)


# --- the contract of a network module -----------------------------------------------------


@pytest.mark.parametrize("impl", ["keras", "tf"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_train_returns_a_complete_result(variant, impl, digits, tmp_path):
    network, _ = VARIANTS[variant]
    spec = registry.get(network)
    config = config_of(variant, epochs=2)
    small = dataclasses.replace(digits, x_train=digits.x_train[:96], y_train=digits.y_train[:96], batch_size=32)
    module = importlib.import_module(f"{impl}_impl.{network}")
    result = module.train(config, small, verbose=0, out_dir=str(tmp_path))
    assert result.metric == spec.metric and result.value == result.metrics[spec.metric]
    assert np.isfinite(result.value)
    assert len(result.history["loss"]) == result.epochs_run == 2
    assert result.train_seconds > 0 and result.samples_per_second > 0
    assert "samples" in result.figures or "reconstructions" in result.figures
    assert "figures" not in result.to_dict()
    assert os.path.exists(tmp_path / "weights.npz")
    assert os.path.exists(tmp_path / "latent.png") == (network not in ("gan", "wgan_gp"))  # encoders only


def test_generative_sources_never_mention_keras():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = ["tf_impl/autoencoder.py", "tf_impl/vae.py", "tf_impl/gan.py", "tf_impl/layers.py",
             "common/evaluate.py", "common/generative.py", "common/plots.py", "common/compare.py"]
    for path in paths:
        tree = ast.parse(open(os.path.join(root, path)).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(alias.name.split(".")[0] == "keras" for alias in node.names), path
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "keras", path
            if isinstance(node, ast.Attribute) and node.attr == "keras":
                raise AssertionError(f"{path}: tf.keras at line {node.lineno}")
