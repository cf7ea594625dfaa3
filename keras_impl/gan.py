"""Deep convolutional GAN (DCGAN-style), in Keras.

    generator:     z (latent_dim,) -> Dense(2*2*f0, no bias) -> BatchNorm -> ReLU -> reshape (2, 2, f0)
                   -> [Conv2DTranspose(f, 4, strides 2, 'same', no bias) -> BatchNorm -> ReLU] per f in filters[1:]
                   -> Conv2DTranspose(channels, 4, strides 2, 'same', sigmoid)      image (8, 8, 1) in [0, 1]
    discriminator: image -> [Conv2D(f, 3, strides 2, 'same') -> LeakyReLU(0.2)] per f -> flatten -> Dense(1) = logit

Two players (Goodfellow et al. 2014) with the architecture rules of Radford et al. 2015:
strided and transposed convolutions instead of pooling, batch normalisation in the
generator, ReLU there and leaky ReLU in the discriminator, Adam with beta_1 = 0.5. Each
step, with one batch of latent vectors z:
    discriminator: minimise BCE(D(x), 1) and BCE(D(G(z)), 0), over the 2B images at once
    generator:     minimise BCE(D(G(z)), 1)     the non-saturating loss, against the updated D
As in the keras-io DCGAN example, a keras.Model subclass overrides train_step, with its
own two optimizers, and `fit` drives it. `train_on_batch(x, z)` injects the latent
vectors (the parity tests use this); otherwise they are drawn from a seeded generator.
Batch normalisation is synchronized: under a tf.distribute strategy its statistics are
those of the global batch, as on one device (see tf_impl/layers.py BatchNormalization).
Hyperparameters: common.configs.GANConfig. Twin: tf_impl/gan.py.
"""
import sys
import time

import keras
import tensorflow as tf
from keras import ops

from common import cli, evaluate, generative
from common.checkpoints import fingerprint
from keras_impl.supervised import (EpochStats, StopOnDivergence, keras_history, optimizer_from_config, per_replica, precision,
                                   resumable_fit)

NETWORK = "gan"
GENERATOR_KERNEL = 4  # divisible by the stride 2: no checkerboard from uneven overlap
DISCRIMINATOR_KERNEL = 3
LEAKY_SLOPE = 0.2


def build_generator(config, image_shape):
    side, first = generative.gan_start_size(config.generator_filters, image_shape), config.generator_filters[0]
    stack = [
        keras.Input(shape=(config.latent_dim,)),
        keras.layers.Dense(side * side * first, use_bias=False),
        keras.layers.BatchNormalization(synchronized=True),  # statistics of the global batch on any strategy
        keras.layers.ReLU(),
        keras.layers.Reshape((side, side, first)),  # (batch, s*s*f0) -> (batch, s, s, f0)
    ]
    for filters in config.generator_filters[1:]:
        stack += [
            keras.layers.Conv2DTranspose(filters, GENERATOR_KERNEL, strides=2, padding="same", use_bias=False),  # side x2
            keras.layers.BatchNormalization(synchronized=True),
            keras.layers.ReLU(),
        ]
    stack.append(keras.layers.Conv2DTranspose(image_shape[-1], GENERATOR_KERNEL, strides=2, padding="same",
                                              activation="sigmoid"))
    return keras.Sequential(stack, name="generator")


def build_discriminator(config, image_shape):
    stack = [keras.Input(shape=image_shape)]
    for filters in config.discriminator_filters:
        stack += [
            keras.layers.Conv2D(filters, DISCRIMINATOR_KERNEL, strides=2, padding="same"),  # side /2
            keras.layers.LeakyReLU(negative_slope=LEAKY_SLOPE),
        ]
    stack += [keras.layers.Flatten(), keras.layers.Dense(1)]  # (batch, h*w*c) -> (batch, 1) logit of "real"
    return keras.Sequential(stack, name="discriminator")


def optimizer(config):
    """One player's optimizer. Under mixed_float16 it gets a LossScaleOptimizer of its own: compile
    wraps only `model.optimizer`, which this model does not use."""
    chosen = optimizer_from_config(config, beta_1=config.adam_beta_1)
    return keras.optimizers.LossScaleOptimizer(chosen) if config.precision == "mixed_float16" else chosen


def bce(labels, logits):
    """Mean binary cross-entropy from logits, written with ops.

    Not keras.losses.BinaryCrossentropy: under a tf.distribute strategy a Loss object
    already divides its mean by the replica count, and this train_step does that once, in
    per_replica, where the VAE's does too.
    """
    labels, logits = ops.cast(labels, "float32"), ops.cast(logits, "float32")  # mixed precision: loss in float32
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))


class GAN(keras.Model):
    """Generator and discriminator; weights in Keras order are the generator's, then the discriminator's."""

    def __init__(self, generator, discriminator, latent_dim, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.d_loss_tracker = keras.metrics.Mean(name="loss")  # the discriminator's loss is the history's "loss"
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer):
        super().compile(optimizer=None, jit_compile=False)  # not compile's default RMSprop: each player has its own
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        # Slots now, not at the first step: fit builds only `self.optimizer`, and Adam's slots
        # created inside the compiled step under a MirroredStrategy fail to run.
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def discriminator_loss(self, real, fake, training=True):
        images = ops.concatenate([real, ops.cast(fake, real.dtype)], axis=0)  # (2B, H, W, C): real first
        labels = ops.concatenate([ops.ones((ops.shape(real)[0], 1)), ops.zeros((ops.shape(fake)[0], 1))], axis=0)
        return bce(labels, self.discriminator(images, training=training))

    def generator_loss(self, z, training=True):
        logits = self.discriminator(self.generator(z, training=training), training=training)
        return bce(ops.ones_like(logits), logits)  # non-saturating: -log D(G(z))

    def train_step(self, data):
        real, z, _ = keras.utils.unpack_x_y_sample_weight(data)  # z: injected latent vectors, or None
        if z is None:
            z = keras.random.normal((ops.shape(real)[0], self.latent_dim), seed=self.seed_generator)
        fake = self.generator(z, training=True)
        with tf.GradientTape() as tape:
            d_loss = self.discriminator_loss(real, fake)
            share = self.d_optimizer.scale_loss(per_replica(d_loss))  # mixed_float16: this player's loss scale
        gradients = tape.gradient(share, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_weights))
        with tf.GradientTape() as tape:
            g_loss = self.generator_loss(z)
            share = self.g_optimizer.scale_loss(per_replica(g_loss))
        gradients = tape.gradient(share, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(gradients, self.generator.trainable_weights))
        batch = ops.cast(ops.shape(real)[0], "float32")  # epoch means weighted by batch size, as tf_impl's loop
        self.d_loss_tracker.update_state(d_loss, sample_weight=batch)
        self.g_loss_tracker.update_state(g_loss, sample_weight=batch)
        return {metric.name: metric.result() for metric in self.metrics}


def build(config, image_shape):
    model = GAN(build_generator(config, image_shape), build_discriminator(config, image_shape), config.latent_dim,
                seed=config.seed, name=NETWORK)
    model(ops.zeros((1, config.latent_dim)))  # build: get_weights() before fit
    model.compile(d_optimizer=optimizer(config), g_optimizer=optimizer(config))
    return model


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return train_gan(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir, checkpoint_dir=checkpoint_dir,
                     tensorboard_dir=tensorboard_dir)


def train_gan(network, build, config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    """Fit a GAN on the images alone and score its samples: this network's train, and keras_impl/wgan_gp.py's."""
    keras.utils.set_random_seed(config.seed)
    with precision(config.precision):
        model = build(config, data.info.input_shape)
    images = lambda x, y: x  # noqa: E731  labels are not used
    started = time.perf_counter()
    stats = EpochStats()
    train_pipeline = data.train.map(images)
    fitted = resumable_fit(model, train_pipeline, epochs=config.epochs, callbacks=[StopOnDivergence(), stats], stats=stats,
                           verbose=verbose, checkpoint_dir=checkpoint_dir,
                           fingerprint=fingerprint(network, "keras", config, data),
                           optimizers=[(model.d_optimizer, model.discriminator.trainable_variables),
                                       (model.g_optimizer, model.generator.trainable_variables)],
                           tensorboard_dir=tensorboard_dir)
    seconds = time.perf_counter() - started
    z = evaluate.evaluation_noise((len(data.x_test), config.latent_dim))  # the judge's latents, same for both
    samples = ops.convert_to_numpy(ops.cast(model.generator(z, training=False), "float32"))
    return generative.result(
        network, "keras", config, data,
        metric="frechet_distance",
        metrics=evaluate.sample_quality(samples, data.x_train, data.y_train, data.x_test),
        history=keras_history(fitted, stats),
        seconds=seconds,
        epochs_run=len(fitted.history["loss"]),
        figures=generative.figure_arrays(data, samples=samples),
        out_dir=out_dir,
        weights=model.get_weights(),
        model=(model.generator, (config.latent_dim,)),  # what --export serves: latent vector -> image
    )


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
