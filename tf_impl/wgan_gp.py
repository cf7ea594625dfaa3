"""Wasserstein GAN with gradient penalty (WGAN-GP), in raw TensorFlow.

    generator: tf_impl/gan.py's    z (latent_dim,) -> z @ W -> batch_norm -> relu -> conv2d_transposes -> image (8, 8, 1)
    critic:    gan.py's discriminator image -> [leaky_relu(conv2d(x, K, stride 2) + b, 0.2)] per f -> @ W + b = score

Gulrajani et al. 2017: the critic D estimates the Wasserstein-1 distance between real and
generated images and is kept (softly) 1-Lipschitz by a penalty on its input gradient at
x_hat = x + eps * (G(z) - x), eps ~ U[0, 1]; no batch normalisation in the critic, no sigmoid.
One compiled step, on one batch of real images x, with its random parts as arguments (drawn
from a seeded tf.random.Generator in training, injected by the parity tests):
    critic_latents (B, n_critic, latent_dim), epsilons (B, n_critic), latents (B, latent_dim)
    for k in range(n_critic):                       the same real batch, fresh z and eps
        fake = G(critic_latents[:, k])              (batch statistics; moving statistics move)
        tape: inner tape: g = d sum D(x_hat) / d x_hat      (B, H, W, C), image i's gradient in row i
              critic loss = mean D(fake) - mean D(x) + gp_weight * mean (|g|_2 - 1)^2
        -> the critic's optimizer, with the gradient through g (second order)
    tape: g_loss = -mean D(G(latents))             against the updated critic -> the generator's optimizer
Reported per batch, as keras_impl's train_step: "loss", the mean of the n_critic penalised critic
losses, and "g_loss".
Hyperparameters: common.configs.WGANGPConfig. Twin: keras_impl/wgan_gp.py.
"""
import sys
import time

import numpy as np
import tensorflow as tf

from common import cli
from tf_impl import gan, layers, loop, replicas

NETWORK = "wgan_gp"


class WGANGP(gan.GAN):
    """Generator and critic; weights in Keras order are the generator's, then the critic's."""

    def __init__(self, generator, critic, n_critic, gp_weight, name=NETWORK):
        super().__init__(generator, critic, name=name)
        self.n_critic, self.gp_weight = n_critic, gp_weight

    @property
    def critic(self):
        return self.discriminator  # gan.GAN's second player, here read as a score, not a logit


def build(config, image_shape):
    rng = np.random.default_rng(config.seed)
    return WGANGP(gan.build_generator(config, image_shape, rng), gan.build_discriminator(config, image_shape, rng),
                  config.n_critic, config.gp_weight)


def optimizers(model, config):
    """(critic's, generator's) optimizer: tf_impl/gan.py's, the slots of each built for its player's variables."""
    return gan.optimizers(model, config)


def critic_scores(model, real, fake, training=True):
    """D on real and on fake images, in float32: two tensors of shape (B,)."""
    images = tf.concat([real, tf.cast(fake, real.dtype)], axis=0)  # (2B, H, W, C): real first
    scores = tf.cast(model.critic(images, training=training), tf.float32)[:, 0]  # (2B, 1) -> (2B,)
    return tf.split(scores, 2, axis=0)


def gradient_penalties(model, real, fake, epsilon, training=True):
    """Per image (|grad D(x_hat)|_2 - 1)^2 at x_hat = real + epsilon * (fake - real): shape (B,)."""
    epsilon = tf.reshape(tf.cast(epsilon, real.dtype), [-1, 1, 1, 1])  # (B,) -> (B, 1, 1, 1): one per image
    interpolated = real + epsilon * (tf.cast(fake, real.dtype) - real)
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        scores = model.critic(interpolated, training=training)
    # (B, H, W, C): the gradient of the summed scores; row i is image i's own, as the critic scores each alone
    gradients = tape.gradient(scores, interpolated)
    norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]))  # (B,)
    return tf.square(norms - 1.0)


def critic_loss(model, real, fake, epsilon, training=True):
    """(penalised loss, Wasserstein loss mean D(fake) - mean D(real), gradient penalty) of one batch."""
    real_scores, fake_scores = critic_scores(model, real, fake, training)
    wasserstein = tf.reduce_mean(fake_scores) - tf.reduce_mean(real_scores)
    penalty = tf.reduce_mean(gradient_penalties(model, real, fake, epsilon, training))
    return wasserstein + model.gp_weight * penalty, wasserstein, penalty


def generator_losses(model, z, training=True):
    """Per latent -D(G(z)): shape (B,)."""
    return -tf.cast(model.critic(model.generator(z, training=training), training=training), tf.float32)[:, 0]


def generator_loss(model, z, training=True):
    return tf.reduce_mean(generator_losses(model, z, training))


def make_train_step(model, d_optimizer, g_optimizer, image_spec, latent_dim, strategy=None):
    """The compiled step train_step(real, critic_latents, epsilons, latents), each with one row per image of the
    *global* batch.

    Under a tf.distribute strategy each replica takes its rows of the noise (tf_impl/replicas.py)
    and divides its sums by the global batch size; the penalty is per image, so a replica's
    images need no other replica's; the generator's batch normalisation uses the global batch.
    """
    strategy = strategy or tf.distribute.get_strategy()
    critic_weights, generator_weights = model.critic.trainable_weights, model.generator.trainable_weights

    def critic_step(real, z, epsilon):
        fake = model.generator(z, training=True)
        with tf.GradientTape() as tape:
            real_scores, fake_scores = critic_scores(model, real, fake)
            wasserstein = replicas.average_loss(fake_scores, real) - replicas.average_loss(real_scores, real)
            loss = wasserstein + model.gp_weight * replicas.average_loss(gradient_penalties(model, real, fake, epsilon),
                                                                         real)
            scaled = d_optimizer.scale_loss(loss)  # mixed_float16: each player has its own loss scale
        d_optimizer.apply(tape.gradient(scaled, critic_weights), critic_weights)  # through the penalty's own gradient
        return loss

    def replica_step(real, critic_latents, epsilons, latents):
        critic_latents, epsilons, latents = (replicas.this_replicas_rows(values, real)
                                             for values in (critic_latents, epsilons, latents))
        losses = [critic_step(real, critic_latents[:, k], epsilons[:, k]) for k in range(model.n_critic)]
        with tf.GradientTape() as tape:
            g_loss = replicas.average_loss(generator_losses(model, latents), real)
            scaled = g_optimizer.scale_loss(g_loss)
        g_optimizer.apply(tape.gradient(scaled, generator_weights), generator_weights)
        return tf.reduce_mean(tf.stack(losses)), g_loss, tf.shape(real)[0]

    n_critic = model.n_critic
    noise_specs = [tf.TensorSpec([None, n_critic, latent_dim], tf.float32), tf.TensorSpec([None, n_critic], tf.float32),
                   tf.TensorSpec([None, latent_dim], tf.float32)]

    return replicas.compiled_step(replica_step, strategy, [image_spec, *noise_specs])


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope(), layers.precision(config.precision):
        model = build(config, data.info.input_shape)
        d_optimizer, g_optimizer = optimizers(model, config)
        noise = tf.random.Generator.from_seed(config.seed)  # z and eps for every training step
    train_pipeline = strategy.experimental_distribute_dataset(data.train)  # per-replica batches, reshuffled per pass
    train_step = make_train_step(model, d_optimizer, g_optimizer, train_pipeline.element_spec[0], config.latent_dim,
                                 strategy)

    def step(real, _labels):  # both players' batch losses: the loop averages each over the epoch
        batch = replicas.examples_in(strategy, real)  # one row of noise per global example
        critic_latents = noise.normal([batch, config.n_critic, config.latent_dim])
        epsilons = noise.uniform([batch, config.n_critic])  # U[0, 1)
        latents = noise.normal([batch, config.latent_dim])
        # traced straight into the compiled epoch, as tf_impl/gan.py's step (a nested tf.function is slower)
        d_loss, g_loss, batch_size = train_step.python_function(real, critic_latents, epsilons, latents)
        return {"loss": d_loss, "g_loss": g_loss}, batch_size

    started = time.perf_counter()
    history, epochs_run = loop.run_epochs(
        epochs=config.epochs, train_step=step, train_batches=lambda: train_pipeline, validate=dict,  # no validation
        names=("loss", "g_loss"), verbose=verbose,
        checkpoint=loop.checkpoint_of(checkpoint_dir, NETWORK, config, data, model=model, d_optimizer=d_optimizer.state(),
                                      g_optimizer=g_optimizer.state(), noise=noise),
        summaries=loop.summaries_of(tensorboard_dir),
    )
    return gan.scored(NETWORK, model, config, data, history=history, seconds=time.perf_counter() - started,
                      epochs_run=epochs_run, out_dir=out_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
