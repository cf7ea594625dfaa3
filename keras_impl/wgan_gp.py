"""Wasserstein GAN with gradient penalty (WGAN-GP), in Keras.

    generator: keras_impl/gan.py's    z (latent_dim,) -> dense -> BN -> ReLU -> transposed convs -> image (8, 8, 1) in [0, 1]
    critic:    gan.py's discriminator image -> [Conv2D(f, 3, strides 2) -> LeakyReLU(0.2)] per f -> Dense(1) = score

Gulrajani et al. 2017: the critic D estimates the Wasserstein-1 distance between the real
and the generated images, kept (softly) 1-Lipschitz by a penalty on its gradient at points
x_hat = x + eps * (G(z) - x), eps ~ U[0, 1], on straight lines between real and fake images.
No batch normalisation in the critic (the penalty is per image; batch statistics would mix
the images), no sigmoid: the score is unbounded. Each train_step, on one batch of real images x:
    n_critic times, each with fresh z and eps:
        critic:    minimise mean D(G(z)) - mean D(x) + gp_weight * mean (|grad_x_hat D(x_hat)|_2 - 1)^2
    once, with fresh z:
        generator: minimise -mean D(G(z))                                  against the updated critic
All n_critic critic steps see the same real batch (as keras-io's "WGAN-GP" example does), so
an epoch is one pass over the data with n_critic critic and one generator step per batch.
The penalty needs the gradient of the critic's input gradient: a GradientTape (the input
gradient) inside the critic's GradientTape (the weight gradient), second order.
As keras-io's example, a keras.Model subclass (here of keras_impl/gan.py's GAN: its two
optimizers, loss trackers and compile) overrides train_step, and `fit` drives it. The
random parts are injectable: `train_on_batch(x, (critic_latents, epsilons, latents))`
with critic_latents (B, n_critic, latent_dim), epsilons (B, n_critic), latents (B, latent_dim)
(the parity tests use this); otherwise they are drawn from a seeded generator.
History: "loss" is the critic's penalised loss, the mean of its n_critic steps; "g_loss" the generator's.
Hyperparameters: common.configs.WGANGPConfig. Twin: tf_impl/wgan_gp.py.
"""
import sys

import keras
import tensorflow as tf
from keras import ops

from common import cli
from keras_impl import gan
from keras_impl.supervised import per_replica

NETWORK = "wgan_gp"


class WGANGP(gan.GAN):
    """Generator and critic; weights in Keras order are the generator's, then the critic's."""

    def __init__(self, generator, critic, latent_dim, n_critic, gp_weight, seed=None, **kwargs):
        super().__init__(generator, critic, latent_dim, seed=seed, **kwargs)
        self.n_critic, self.gp_weight = n_critic, gp_weight

    @property
    def critic(self):
        return self.discriminator  # gan.GAN's second player, here read as a score, not a logit

    def noise(self, batch_size):
        """One train_step's random parts: (critic_latents (B, n_critic, latent_dim), epsilons (B, n_critic),
        latents (B, latent_dim)), the z and eps of each critic step and the generator step's z."""
        return (keras.random.normal((batch_size, self.n_critic, self.latent_dim), seed=self.seed_generator),
                keras.random.uniform((batch_size, self.n_critic), seed=self.seed_generator),
                keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator))

    def gradient_penalty(self, real, fake, epsilon, training=True):
        """mean over images of (|grad D(x_hat)|_2 - 1)^2 at x_hat = real + epsilon * (fake - real)."""
        epsilon = ops.reshape(ops.cast(epsilon, real.dtype), (-1, 1, 1, 1))  # (B,) -> (B, 1, 1, 1): one per image
        interpolated = real + epsilon * (ops.cast(fake, real.dtype) - real)
        with tf.GradientTape() as tape:
            tape.watch(interpolated)
            scores = self.critic(interpolated, training=training)
        # (B, H, W, C): the gradient of the summed scores; row i is image i's own, as the critic scores each alone
        gradients = tape.gradient(scores, interpolated)
        norms = ops.sqrt(ops.sum(ops.square(gradients), axis=(1, 2, 3)))  # (B,)
        return ops.mean(ops.square(norms - 1.0))

    def critic_loss(self, real, fake, epsilon, training=True):
        """(penalised loss, Wasserstein loss mean D(fake) - mean D(real), gradient penalty), in float32."""
        images = ops.concatenate([real, ops.cast(fake, real.dtype)], axis=0)  # (2B, H, W, C): real first
        scores = ops.cast(self.critic(images, training=training), "float32")  # (2B, 1); mixed precision: float32
        real_scores, fake_scores = ops.split(scores, 2, axis=0)
        wasserstein = ops.mean(fake_scores) - ops.mean(real_scores)
        penalty = self.gradient_penalty(real, fake, epsilon, training=training)
        return wasserstein + self.gp_weight * penalty, wasserstein, penalty

    def generator_loss(self, z, training=True):
        scores = ops.cast(self.critic(self.generator(z, training=training), training=training), "float32")
        return -ops.mean(scores)

    def train_step(self, data):
        real, noise, _ = keras.utils.unpack_x_y_sample_weight(data)  # noise: injected, or None
        critic_latents, epsilons, latents = self.noise(ops.shape(real)[0]) if noise is None else noise
        critic_losses = []
        for step in range(self.n_critic):  # the same real batch, fresh z and eps each time
            fake = self.generator(critic_latents[:, step], training=True)
            with tf.GradientTape() as tape:
                loss, _, _ = self.critic_loss(real, fake, epsilons[:, step])
                share = self.d_optimizer.scale_loss(per_replica(loss))  # mixed_float16: this player's loss scale
            gradients = tape.gradient(share, self.critic.trainable_weights)  # through the penalty's own gradient
            self.d_optimizer.apply_gradients(zip(gradients, self.critic.trainable_weights))
            critic_losses.append(loss)
        with tf.GradientTape() as tape:
            g_loss = self.generator_loss(latents)
            share = self.g_optimizer.scale_loss(per_replica(g_loss))
        gradients = tape.gradient(share, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(gradients, self.generator.trainable_weights))
        batch = ops.cast(ops.shape(real)[0], "float32")  # epoch means weighted by batch size, as tf_impl's loop
        self.d_loss_tracker.update_state(ops.mean(ops.stack(critic_losses)), sample_weight=batch)
        self.g_loss_tracker.update_state(g_loss, sample_weight=batch)
        return {metric.name: metric.result() for metric in self.metrics}


def build(config, image_shape):
    model = WGANGP(gan.build_generator(config, image_shape), gan.build_discriminator(config, image_shape),
                   config.latent_dim, config.n_critic, config.gp_weight, seed=config.seed, name=NETWORK)
    model(ops.zeros((1, config.latent_dim)))  # build: get_weights() before fit
    model.compile(d_optimizer=gan.optimizer(config), g_optimizer=gan.optimizer(config))
    return model


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    """gan.py's training call and scoring: fit on the images alone, then the Frechet distance of the samples."""
    return gan.train_gan(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir, checkpoint_dir=checkpoint_dir,
                         tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
