"""Deep convolutional GAN (DCGAN-style), in raw TensorFlow.

    generator:     z (latent_dim,) -> z @ W -> batch_norm -> relu -> reshape (2, 2, f0)
                   -> [conv2d_transpose(x, K, stride 2, 'SAME') -> batch_norm -> relu] per f in filters[1:]
                   -> sigmoid(conv2d_transpose(x, K, stride 2, 'SAME') + b)        image (8, 8, 1) in [0, 1]
    discriminator: image -> [leaky_relu(conv2d(x, K, stride 2, 'SAME') + b, 0.2)] per f -> flatten -> @ W + b = logit

Two players (Goodfellow et al. 2014) with the architecture rules of Radford et al. 2015.
One compiled step holds two GradientTapes and two optimizers; with one batch of latent
vectors z (an argument of the step: drawn from a seeded tf.random.Generator in training,
injected by the parity tests):
    fake = G(z)                 (batch statistics, synchronised across replicas; moving statistics move)
    tape 1: d_loss = mean over 2B of sigmoid_cross_entropy([D(x); D(fake)], [1; 0]) -> D's optimizer
    tape 2: g_loss = mean of sigmoid_cross_entropy(D(G(z)), 1)   non-saturating, against the updated D -> G's optimizer
Hyperparameters: common.configs.GANConfig. Twin: keras_impl/gan.py.
"""
import sys
import time

import numpy as np
import tensorflow as tf

from common import cli, evaluate, generative
from tf_impl import layers, loop, optim, replicas

NETWORK = "gan"
GENERATOR_KERNEL = 4  # divisible by the stride 2: no checkerboard from uneven overlap
DISCRIMINATOR_KERNEL = 3
LEAKY_SLOPE = 0.2


def build_generator(config, image_shape, rng):
    side, channels = generative.gan_start_size(config.generator_filters, image_shape), config.generator_filters[0]
    stack = [
        layers.BiaslessDense(config.latent_dim, side * side * channels, rng=rng),
        layers.BatchNormalization(side * side * channels),
        layers.Activation("relu"),
        layers.Reshape((side, side, channels)),  # (batch, s*s*f0) -> (batch, s, s, f0)
    ]
    for filters in config.generator_filters[1:]:
        stack += [
            layers.Conv2DTranspose(channels, filters, GENERATOR_KERNEL, strides=2, use_bias=False, rng=rng),  # side x2
            layers.BatchNormalization(filters),
            layers.Activation("relu"),
        ]
        channels = filters
    stack.append(layers.Conv2DTranspose(channels, image_shape[-1], GENERATOR_KERNEL, strides=2, activation="sigmoid",
                                        rng=rng))
    return layers.Sequential(stack, name="generator")


def build_discriminator(config, image_shape, rng):
    stack, channels, side = [], image_shape[-1], image_shape[0]
    for filters in config.discriminator_filters:
        stack += [
            layers.StridedConv2D(channels, filters, DISCRIMINATOR_KERNEL, strides=2, rng=rng),  # side /2 (rounded up)
            layers.Activation("leaky_relu", negative_slope=LEAKY_SLOPE),
        ]
        channels, side = filters, -(-side // 2)
    stack += [layers.Flatten(), layers.Dense(side * side * channels, 1, rng=rng)]  # (batch, 1) logit of "real"
    return layers.Sequential(stack, name="discriminator")


class GAN(layers.Sequential):
    """Generator and discriminator; weights in Keras order are the generator's, then the discriminator's."""

    def __init__(self, generator, discriminator, name=NETWORK):
        super().__init__([generator, discriminator], name=name)
        self.generator, self.discriminator = generator, discriminator

    def __call__(self, z, training=False):
        return self.generator(z, training=training)


def build(config, image_shape):
    rng = np.random.default_rng(config.seed)
    return GAN(build_generator(config, image_shape, rng), build_discriminator(config, image_shape, rng))


def optimizer(config):
    """One player's optimizer; under mixed_float16 with its own dynamic loss scale, as in keras_impl/gan.py."""
    return optim.from_config(config, beta_1=config.adam_beta_1)  # from_config wraps it under mixed_float16


def optimizers(model, config):
    """(discriminator's, generator's) optimizer, the slots of each built for its player's variables."""
    d_optimizer, g_optimizer = optimizer(config), optimizer(config)
    d_optimizer.build(model.discriminator.trainable_weights)
    g_optimizer.build(model.generator.trainable_weights)
    return d_optimizer, g_optimizer


def discriminator_losses(model, real, fake, training=True):
    """Per-image sigmoid cross-entropy of D on [real; fake] against [1; 0]: shape (2B,)."""
    images = tf.concat([real, tf.cast(fake, real.dtype)], axis=0)  # (2B, H, W, C): real first
    labels = tf.concat([tf.ones([tf.shape(real)[0], 1]), tf.zeros([tf.shape(fake)[0], 1])], axis=0)
    logits = tf.cast(model.discriminator(images, training=training), tf.float32)  # (2B, 1); the loss in float32
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)[:, 0]  # (2B, 1) -> (2B,)


def generator_losses(model, z, training=True):
    """Per-latent -log D(G(z)) (non-saturating): shape (B,)."""
    logits = tf.cast(model.discriminator(model.generator(z, training=training), training=training), tf.float32)
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(logits), logits=logits)[:, 0]


def discriminator_loss(model, real, fake, training=True):
    return tf.reduce_mean(discriminator_losses(model, real, fake, training))


def generator_loss(model, z, training=True):
    return tf.reduce_mean(generator_losses(model, z, training))


def make_train_step(model, d_optimizer, g_optimizer, image_spec, latent_dim, strategy=None):
    """The compiled step train_step(real, z): z holds one latent vector per image of the *global* batch.

    Under a tf.distribute strategy each replica takes its rows of z (tf_impl/replicas.py),
    divides its losses by the global counts (2B images for D, B for G), and the generator's
    batch normalisation uses the global batch's statistics: one device's step, split.
    """
    strategy = strategy or tf.distribute.get_strategy()
    discriminator_weights = model.discriminator.trainable_weights
    generator_weights = model.generator.trainable_weights

    def replica_step(real, z):
        z = replicas.this_replicas_rows(z, real)
        fake = model.generator(z, training=True)
        with tf.GradientTape() as tape:
            d_loss = replicas.average_loss(discriminator_losses(model, real, fake), real, examples_per_item=2)
            scaled = d_optimizer.scale_loss(d_loss)  # mixed_float16: each player has its own loss scale
        d_optimizer.apply(tape.gradient(scaled, discriminator_weights), discriminator_weights)
        with tf.GradientTape() as tape:
            g_loss = replicas.average_loss(generator_losses(model, z), real)
            scaled = g_optimizer.scale_loss(g_loss)
        g_optimizer.apply(tape.gradient(scaled, generator_weights), generator_weights)
        return d_loss, g_loss, tf.shape(real)[0]

    return replicas.compiled_step(replica_step, strategy, [image_spec, tf.TensorSpec([None, latent_dim], tf.float32)])


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope(), layers.precision(config.precision):
        model = build(config, data.info.input_shape)
        d_optimizer, g_optimizer = optimizers(model, config)
        latents = tf.random.Generator.from_seed(config.seed)  # z for every training step
    train_pipeline = strategy.experimental_distribute_dataset(data.train)  # per-replica batches, reshuffled per pass
    train_step = make_train_step(model, d_optimizer, g_optimizer, train_pipeline.element_spec[0], config.latent_dim,
                                 strategy)

    def step(real, _labels):  # both players' batch losses: the loop averages each over the epoch
        # The step's body is traced straight into the compiled epoch: called as a nested
        # tf.function, this two-tape step ran 2x slower (measured, TF 2.21 CPU).
        z = latents.normal([replicas.examples_in(strategy, real), config.latent_dim])  # one per global example
        d_loss, g_loss, batch_size = train_step.python_function(real, z)
        return {"loss": d_loss, "g_loss": g_loss}, batch_size

    started = time.perf_counter()
    history, epochs_run = loop.run_epochs(
        epochs=config.epochs, train_step=step, train_batches=lambda: train_pipeline, validate=dict,  # no validation
        names=("loss", "g_loss"), verbose=verbose,
        checkpoint=loop.checkpoint_of(checkpoint_dir, NETWORK, config, data, model=model, d_optimizer=d_optimizer.state(),
                                      g_optimizer=g_optimizer.state(), latents=latents),
        summaries=loop.summaries_of(tensorboard_dir),
    )
    return scored(NETWORK, model, config, data, history=history, seconds=time.perf_counter() - started,
                  epochs_run=epochs_run, out_dir=out_dir)


def scored(network, model, config, data, *, history, seconds, epochs_run, out_dir):
    """The RunResult of a trained GAN (this one, tf_impl/wgan_gp.py's): the Frechet distance of its samples."""
    z = evaluate.evaluation_noise((len(data.x_test), config.latent_dim))  # the judge's latents, same for both
    samples = tf.cast(model.generator(tf.constant(z), training=False), tf.float32).numpy()
    return generative.result(
        network, "tf", config, data,
        metric="frechet_distance",
        metrics=evaluate.sample_quality(samples, data.x_train, data.y_train, data.x_test),
        history=history,
        seconds=seconds,
        epochs_run=epochs_run,
        figures=generative.figure_arrays(data, samples=samples),
        out_dir=out_dir,
        weights=model.get_weights(),
        model=(model.generator, (config.latent_dim,)),  # what --export serves: latent vector -> image
    )


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
