"""Parity of the WGAN-GP twins (keras_impl/wgan_gp.py, tf_impl/wgan_gp.py) beyond the generative suite.

Level 1 (parameter counts, pinned) and the sub-network transplant of level 2 (generator and
critic alone, inference and training mode) run in test_parity_generative.py with the other
generative networks; level 4 in test_learning.py. Here, what only the WGAN-GP has:

2. Function, with Keras weights transplanted and the latents z and the interpolation
   weights eps injected: the critic's scores, its Wasserstein loss, the gradient penalty
   (checked against finite differences too), the penalised loss and its gradient with
   respect to every critic weight, which runs through the penalty's own input gradient
   (second order); the generator's loss and gradients. 1e-5.
3. Optimisation and the n_critic schedule: from the same weights and injected noise, N
   generator steps with n_critic critic steps each give the same losses and weights (1e-4),
   n_critic * N critic updates and N generator updates; and Keras's train_step equals the
   schedule written out here step by step from tf_impl's losses and optimizers.
"""
import numpy as np
import pytest
import tensorflow as tf

from common import data as data_module
from common import evaluate, registry
from conftest import learning_group

IMAGE_SHAPE = (8, 8, 1)
NETWORK = "wgan_gp"


@pytest.fixture(autouse=True)
def seeded():
    import keras

    keras.utils.set_random_seed(0)


def config_of(**overrides):
    return registry.get(NETWORK).config_class(**overrides)


def transplanted(**overrides):
    """(keras model, tf model, config) holding the same weights (Keras's initialisation)."""
    from keras_impl import wgan_gp as keras_wgan_gp
    from tf_impl import wgan_gp as tf_wgan_gp

    config = config_of(**overrides)
    keras_model, tf_model = keras_wgan_gp.build(config, IMAGE_SHAPE), tf_wgan_gp.build(config, IMAGE_SHAPE)
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model, config


def digits(count, offset=0):
    x = data_module.load("digits").x_train
    return np.take(x, np.arange(offset, offset + count), axis=0, mode="wrap")


def normal(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def uniform(shape, seed):
    return np.random.default_rng(seed).uniform(size=shape).astype(np.float32)


def noise(batch, config, seed):
    """One step's injected random parts: (critic_latents, epsilons, latents)."""
    return (normal((batch, config.n_critic, config.latent_dim), seed), uniform((batch, config.n_critic), seed + 1),
            normal((batch, config.latent_dim), seed + 2))


def close(tf_value, keras_value, what, atol=1e-5):
    np.testing.assert_allclose(np.asarray(tf_value), np.asarray(keras_value), atol=atol, rtol=atol, err_msg=what)


def assert_gradients_close(tf_grads, keras_grads, weights, structural_zeros=()):
    """Every gradient alike (1e-5) and non-zero, but for the weights named in structural_zeros: exactly 0 on both."""
    assert len(tf_grads) == len(keras_grads) == len(weights)
    for tf_grad, keras_grad, weight in zip(tf_grads, keras_grads, weights):
        if weight.path in structural_zeros:  # None: not even connected
            assert all(grad is None or not np.any(grad.numpy()) for grad in (keras_grad, tf_grad)), weight.path
            continue
        assert np.abs(keras_grad.numpy()).max() > 0, f"{weight.path}: zero gradient proves nothing"
        close(tf_grad.numpy(), keras_grad.numpy(), weight.path)


def score_bias(keras_model):
    """The critic's last bias: D(fake) - D(real) and D's input gradient do not depend on it, so the
    critic's loss has no gradient for it (exactly 0); the generator's loss does."""
    return {keras_model.critic.trainable_weights[-1].path}


def critic_biases(keras_model):
    """Every bias of the critic. D is piecewise linear (convolutions, leaky ReLUs, a dense layer): its input
    gradient is a product of the kernels and the leaky ReLUs' slopes, and the biases move it only by
    switching a slope, which has no derivative: the penalty's gradient for a bias is exactly 0 (or None)."""
    return {weight.path for weight in keras_model.critic.trainable_weights if weight.path.endswith("bias")}


# --- level 2: function ---------------------------------------------------------------------


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_level2_critic_loss_penalty_and_second_order_gradients(training):
    from tf_impl import wgan_gp

    keras_model, tf_model, config = transplanted()
    real = digits(64)
    fake = keras_model.generator(normal((64, config.latent_dim), seed=5), training=False).numpy()
    epsilon = uniform((64,), seed=6)
    critic_weights = keras_model.critic.trainable_weights

    keras_scores = keras_model.critic(np.concatenate([real, fake]), training=training).numpy()
    tf_real, tf_fake = wgan_gp.critic_scores(tf_model, tf.constant(real), tf.constant(fake), training)
    close(np.concatenate([tf_real, tf_fake]), keras_scores[:, 0], "critic scores")

    with tf.GradientTape(persistent=True) as tape:
        keras_terms = keras_model.critic_loss(real, fake, epsilon, training=training)
        tf_terms = wgan_gp.critic_loss(tf_model, tf.constant(real), tf.constant(fake), tf.constant(epsilon), training)
    for name, tf_value, keras_value in zip(("penalised loss", "Wasserstein loss", "gradient penalty"), tf_terms,
                                           keras_terms):
        close(float(tf_value), float(keras_value), name)
    loss, wasserstein, penalty = (float(term) for term in keras_terms)
    assert penalty > 1e-3, "a zero penalty would leave its gradient untested"
    assert loss == pytest.approx(wasserstein + config.gp_weight * penalty, rel=1e-6)

    # the penalty's gradient alone: it exists only through the inner tape's input gradient (second order)
    assert_gradients_close(tape.gradient(tf_terms[2], tf_model.critic.trainable_weights),
                           tape.gradient(keras_terms[2], critic_weights), critic_weights, critic_biases(keras_model))
    assert_gradients_close(tape.gradient(tf_terms[0], tf_model.critic.trainable_weights),
                           tape.gradient(keras_terms[0], critic_weights), critic_weights, score_bias(keras_model))


def test_level2_penalty_is_the_input_gradient_norm_of_each_image():
    """Both penalties against finite differences: the critic (convolutions, leaky ReLUs, a dense layer) is
    piecewise linear in its input, so a central difference along the gradient's direction gives each
    image's gradient norm, independently of either implementation's tape."""
    from tf_impl import wgan_gp

    keras_model, tf_model, config = transplanted()
    real, fake = digits(16), keras_model.generator(normal((16, config.latent_dim), seed=1)).numpy()
    epsilon = uniform((16,), seed=2)
    interpolated = tf.constant(real + epsilon[:, None, None, None] * (fake - real))
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        scores = keras_model.critic(interpolated)
    direction = tape.gradient(scores, interpolated).numpy()
    direction /= np.sqrt((direction ** 2).sum(axis=(1, 2, 3), keepdims=True))
    step = 1e-3
    ahead, behind = (keras_model.critic(interpolated + sign * step * direction).numpy()[:, 0] for sign in (1, -1))
    norms = (ahead - behind) / (2 * step)  # (B,): the directional derivative along the gradient is its norm
    expected = np.mean((norms - 1.0) ** 2)
    keras_penalty = float(keras_model.gradient_penalty(real, fake, epsilon))
    tf_penalty = float(tf.reduce_mean(wgan_gp.gradient_penalties(tf_model, tf.constant(real), tf.constant(fake),
                                                                  tf.constant(epsilon))))
    assert keras_penalty == pytest.approx(expected, rel=1e-3)
    assert tf_penalty == pytest.approx(expected, rel=1e-3)


def test_level2_interpolation_weights_are_really_used():
    """Another eps, another penalty, on both sides alike: the injection is not silently ignored."""
    from tf_impl import wgan_gp

    keras_model, tf_model, config = transplanted()
    real, fake = digits(32), keras_model.generator(normal((32, config.latent_dim), seed=1)).numpy()
    penalties = {"keras": [], "tf": []}
    for seed in (3, 4):
        epsilon = uniform((32,), seed)
        penalties["keras"].append(float(keras_model.gradient_penalty(real, fake, epsilon)))
        penalties["tf"].append(float(tf.reduce_mean(wgan_gp.gradient_penalties(
            tf_model, tf.constant(real), tf.constant(fake), tf.constant(epsilon)))))
    assert abs(penalties["keras"][0] - penalties["keras"][1]) > 1e-4
    close(penalties["tf"], penalties["keras"], "penalties")


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_level2_generator_loss_and_gradients(training):
    from tf_impl import wgan_gp

    keras_model, tf_model, config = transplanted()
    z = normal((64, config.latent_dim), seed=7)
    with tf.GradientTape() as tape:
        keras_loss = keras_model.generator_loss(z, training=training)
    keras_grads = tape.gradient(keras_loss, keras_model.generator.trainable_weights)
    with tf.GradientTape() as tape:
        tf_loss = wgan_gp.generator_loss(tf_model, tf.constant(z), training)
    tf_grads = tape.gradient(tf_loss, tf_model.generator.trainable_weights)
    close(float(tf_loss), float(keras_loss), "generator loss")
    assert_gradients_close(tf_grads, keras_grads, keras_model.generator.trainable_weights)
    for keras_weight, tf_weight in zip(keras_model.get_weights(), tf_model.get_weights()):  # moving statistics
        close(tf_weight, keras_weight, "weights after the call", atol=1e-6)


# --- level 3: optimisation and the n_critic schedule ---------------------------------------


def tf_step(tf_model, config):
    from tf_impl import wgan_gp

    d_optimizer, g_optimizer = wgan_gp.optimizers(tf_model, config)
    image_spec = tf.TensorSpec([None, *IMAGE_SHAPE], tf.float32)
    return wgan_gp.make_train_step(tf_model, d_optimizer, g_optimizer, image_spec, config.latent_dim), d_optimizer, \
        g_optimizer


@pytest.mark.parametrize("overrides", [{}, {"n_critic": 2, "optimizer": "sgd", "learning_rate": 0.02, "momentum": 0.5}],
                         ids=["adam-n_critic-5", "sgd-n_critic-2"])
def test_level3_generator_steps_with_n_critic_critic_steps_each(overrides):
    keras_model, tf_model, config = transplanted(**overrides)
    step, d_optimizer, g_optimizer = tf_step(tf_model, config)
    initial = {sub: getattr(keras_model, sub).get_weights() for sub in ("generator", "critic")}
    generator_steps, losses = 10, {"keras": [], "tf": []}
    for index in range(generator_steps):
        real, injected = digits(32, offset=32 * index), noise(32, config, seed=300 + 3 * index)
        logs = keras_model.train_on_batch(real, injected, return_dict=True)
        losses["keras"].append((logs["loss"], logs["g_loss"]))
        d_loss, g_loss, _ = step(real, *injected)
        losses["tf"].append((float(d_loss), float(g_loss)))
    close(losses["tf"], losses["keras"], "(critic, generator) loss of every step", atol=1e-4)
    for sub in ("generator", "critic"):
        moved = max(np.abs(a - b).max() for a, b in zip(getattr(keras_model, sub).get_weights(), initial[sub]))
        assert moved > 1e-3, f"the {sub} barely moved ({moved:.1e})"
        for keras_weight, tf_weight in zip(getattr(keras_model, sub).get_weights(), getattr(tf_model, sub).get_weights()):
            close(tf_weight, keras_weight, sub, atol=1e-4)
    assert int(d_optimizer.iterations) == int(keras_model.d_optimizer.iterations) == generator_steps * config.n_critic
    assert int(g_optimizer.iterations) == int(keras_model.g_optimizer.iterations) == generator_steps


def test_level3_train_step_is_the_schedule_written_out():
    """One Keras train_step = n_critic critic updates on the same real batch, update k with critic_latents[:, k]
    and epsilons[:, k], then one generator update with latents against the updated critic: written out here
    with tf_impl's loss functions and optimizers, from the same weights, for three batches."""
    from tf_impl import wgan_gp

    keras_model, tf_model, config = transplanted(n_critic=3)
    d_optimizer, g_optimizer = wgan_gp.optimizers(tf_model, config)
    critic_weights, generator_weights = tf_model.critic.trainable_weights, tf_model.generator.trainable_weights
    for index in range(3):
        real, (critic_latents, epsilons, latents) = digits(32, offset=32 * index), noise(32, config, seed=50 + index)
        logs = keras_model.train_on_batch(real, (critic_latents, epsilons, latents), return_dict=True)
        critic_losses = []
        for k in range(config.n_critic):
            fake = tf_model.generator(tf.constant(critic_latents[:, k]), training=True)
            with tf.GradientTape() as tape:
                loss = wgan_gp.critic_loss(tf_model, tf.constant(real), fake, tf.constant(epsilons[:, k]))[0]
            d_optimizer.apply(tape.gradient(loss, critic_weights), critic_weights)
            critic_losses.append(float(loss))
        with tf.GradientTape() as tape:
            g_loss = wgan_gp.generator_loss(tf_model, tf.constant(latents))
        g_optimizer.apply(tape.gradient(g_loss, generator_weights), generator_weights)
        close([np.mean(critic_losses), float(g_loss)], [logs["loss"], logs["g_loss"]], f"batch {index}", atol=1e-4)
        assert len(set(np.round(critic_losses, 6))) == config.n_critic, "each critic step saw other noise"
    for keras_weight, tf_weight in zip(keras_model.get_weights(), tf_model.get_weights()):
        close(tf_weight, keras_weight, "weights after three batches", atol=1e-4)


def test_train_step_traces_once_for_every_batch_size():
    from tf_impl import wgan_gp

    config = config_of(n_critic=2)
    model = wgan_gp.build(config, IMAGE_SHAPE)
    step, _, _ = tf_step(model, config)
    for size in (32, 17, 50):  # the last, partial batch of an epoch has another size (batch norm needs 2 or more)
        step(digits(size), *noise(size, config, seed=size))
    assert step.experimental_get_tracing_count() == 1


# --- level 4 (the runs of test_learning.py, shared) ----------------------------------------


@pytest.mark.learning
@learning_group(NETWORK)
def test_trained_generator_beats_untrained_by_a_wide_margin(learned):
    from tf_impl import wgan_gp

    data = data_module.load("digits")
    config = config_of()
    untrained = wgan_gp.build(config, IMAGE_SHAPE)
    z = evaluate.evaluation_noise((len(data.x_test), config.latent_dim))
    untrained_fd = evaluate.sample_quality(untrained.generator(z).numpy(), data.x_train, data.y_train,
                                           data.x_test)["frechet_distance"]
    for impl, summary in learned(NETWORK)["impls"].items():
        for run in summary["runs"]:
            assert run["metric"] < registry.get(NETWORK).floor, (impl, run["seed"], run["metric"])
            assert run["metric"] < untrained_fd / 3, (impl, run["seed"], run["metric"], untrained_fd)


# --- checkpoints: what a resume needs besides the weights (both optimizers, the noise's state) ------


@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_a_resumed_run_ends_as_an_uninterrupted_one(capsys, tmp_path, impl):
    """--checkpoint-dir: one epoch, then the same command for two resumes after the first and ends exactly as a
    two-epoch run without checkpoints, so the critic's and generator's optimizers and the state of the noise
    (tf_impl's tf.random.Generator, Keras's SeedGenerator) were saved and restored with the weights. Small
    networks, one critic step and 128 digits (4 batches an epoch): this is about the state, not the network."""
    import json

    from common import twinnets

    digits_data = data_module.load("digits")
    few = tmp_path / "few_digits.npz"
    np.savez(few, x_train=digits_data.x_train[:128], y_train=digits_data.y_train[:128],
             x_test=digits_data.x_test[:32], y_test=digits_data.y_test[:32])
    argv = ["train", NETWORK, "--impl", impl, "--dataset", str(few), "--n-critic", "1", "--generator-filters", "8,4",
            "--discriminator-filters", "4,8", "--quiet"]
    checkpoint = ["--checkpoint-dir", str(tmp_path / "ckpt")]
    for name, extra in (("first", ["--epochs", "1", *checkpoint]), ("resumed", ["--epochs", "2", *checkpoint]),
                        ("whole", ["--epochs", "2"])):
        code = twinnets.main(argv + extra + ["--out", str(tmp_path / name)])
        assert code == 0, capsys.readouterr().err
    resumed, whole = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("resumed", "whole"))
    for name in ("loss", "g_loss"):
        assert len(resumed["history"][name]) == 2 and resumed["history"][name] == whole["history"][name], name
    assert resumed["value"] == whole["value"]
