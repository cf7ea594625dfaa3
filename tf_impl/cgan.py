"""Conditional GAN (Mirza & Osindero 2014), in raw TensorFlow: the DCGAN of tf_impl/gan.py, told which digit to draw.

    generator:     concat([z, one_hot(y)]) (latent_dim + K,) -> tf_impl/gan.py's generator   image (8, 8, 1) in [0, 1]
    discriminator: concat([image, tile(one_hot(y))], channels) (8, 8, 1 + K) -> gan.py's discriminator -> logit

The class label y enters both players: one-hot beside the generator's noise, one-hot as K
extra image channels (constant over the image) of the discriminator's input. One compiled
step holds two GradientTapes and two optimizers; with one batch of real images x, their
labels y and latent vectors z (an argument of the step: drawn from a seeded
tf.random.Generator in training, injected by the parity tests):
    fake = G(z, y)              (batch statistics, synchronised across replicas; moving statistics move)
    tape 1: d_loss = mean over 2B of sigmoid_cross_entropy([D(x, y); D(fake, y)], [1; 0]) -> D's optimizer
    tape 2: g_loss = mean of sigmoid_cross_entropy(D(G(z, y), y), 1)   non-saturating, against the updated D
The fakes are asked for the batch's own labels, so both players see the data's class mix.
Hyperparameters: common.configs.CGANConfig. Twin: keras_impl/cgan.py.
"""
import dataclasses
import sys
import time

import numpy as np
import tensorflow as tf

from common import cli, evaluate, generative
from common.data import DataError
from tf_impl import gan, layers, loop, replicas

NETWORK = "cgan"


def build_generator(config, image_shape, num_classes, rng):
    """gan.py's generator, one input per latent dimension and per class."""
    return gan.build_generator(dataclasses.replace(config, latent_dim=config.latent_dim + num_classes), image_shape, rng)


def build_discriminator(config, image_shape, num_classes, rng):
    """gan.py's discriminator, one more input channel per class."""
    return gan.build_discriminator(config, (*image_shape[:-1], image_shape[-1] + num_classes), rng)


def generator_input(z, labels, num_classes):
    return tf.concat([z, tf.one_hot(labels, num_classes, dtype=z.dtype)], axis=1)  # (B, latent_dim + K)


def discriminator_input(images, labels, num_classes):
    one_hot = tf.one_hot(labels, num_classes, dtype=images.dtype)[:, None, None, :]  # (B, 1, 1, K)
    maps = tf.tile(one_hot, [1, tf.shape(images)[1], tf.shape(images)[2], 1])  # (B, H, W, K): constant over the image
    return tf.concat([images, maps], axis=-1)  # (B, H, W, C + K)


class CGAN(gan.GAN):
    """Generator and discriminator, both conditioned on the label; weights in Keras order: generator's, discriminator's."""

    def __init__(self, generator, discriminator, num_classes):
        super().__init__(generator, discriminator, name=NETWORK)
        self.num_classes = num_classes

    def __call__(self, z, labels, training=False):
        return self.generator(generator_input(z, labels, self.num_classes), training=training)

    def discriminate(self, images, labels, training=False):
        return self.discriminator(discriminator_input(images, labels, self.num_classes), training=training)


def build(config, image_shape, num_classes):
    rng = np.random.default_rng(config.seed)
    return CGAN(build_generator(config, image_shape, num_classes, rng),
                build_discriminator(config, image_shape, num_classes, rng), num_classes)


def discriminator_losses(model, real, fake, labels, training=True):
    """Per-image sigmoid cross-entropy of D on [real; fake] against [1; 0], each with its label: shape (2B,)."""
    images = tf.concat([real, tf.cast(fake, real.dtype)], axis=0)  # (2B, H, W, C): real first
    both = tf.concat([labels, labels], axis=0)  # each fake asked for its real image's class
    targets = tf.concat([tf.ones([tf.shape(real)[0], 1]), tf.zeros([tf.shape(fake)[0], 1])], axis=0)
    logits = tf.cast(model.discriminate(images, both, training=training), tf.float32)  # (2B, 1); the loss in float32
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)[:, 0]  # (2B, 1) -> (2B,)


def generator_losses(model, z, labels, training=True):
    """Per-latent -log D(G(z, y), y) (non-saturating): shape (B,)."""
    logits = tf.cast(model.discriminate(model(z, labels, training=training), labels, training=training), tf.float32)
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(logits), logits=logits)[:, 0]


def discriminator_loss(model, real, fake, labels, training=True):
    return tf.reduce_mean(discriminator_losses(model, real, fake, labels, training))


def generator_loss(model, z, labels, training=True):
    return tf.reduce_mean(generator_losses(model, z, labels, training))


def make_train_step(model, d_optimizer, g_optimizer, element_spec, latent_dim, strategy=None):
    """The compiled step train_step(real, labels, z): z holds one latent vector per image of the *global* batch.

    element_spec: the (images, labels) spec of a batch. Under a tf.distribute strategy each
    replica takes its rows of z, divides its losses by the global counts (2B images for D,
    B for G), and the generator's batch normalisation uses the global batch's statistics,
    as in tf_impl/gan.py.
    """
    strategy = strategy or tf.distribute.get_strategy()
    discriminator_weights = model.discriminator.trainable_weights
    generator_weights = model.generator.trainable_weights
    image_spec, label_spec = element_spec

    def replica_step(real, labels, z):
        z = replicas.this_replicas_rows(z, real)
        fake = model(z, labels, training=True)
        with tf.GradientTape() as tape:
            d_loss = replicas.average_loss(discriminator_losses(model, real, fake, labels), real, examples_per_item=2)
            scaled = d_optimizer.scale_loss(d_loss)  # mixed_float16: each player has its own loss scale
        d_optimizer.apply(tape.gradient(scaled, discriminator_weights), discriminator_weights)
        with tf.GradientTape() as tape:
            g_loss = replicas.average_loss(generator_losses(model, z, labels), real)
            scaled = g_optimizer.scale_loss(g_loss)
        g_optimizer.apply(tape.gradient(scaled, generator_weights), generator_weights)
        return d_loss, g_loss, tf.shape(real)[0]

    return replicas.compiled_step(replica_step, strategy,
                                  [image_spec, label_spec, tf.TensorSpec([None, latent_dim], tf.float32)])


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    if data.info.task != "classification":
        raise DataError(f"{NETWORK} generates a class of images: {data.info.name} has no class labels")
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope(), layers.precision(config.precision):
        model = build(config, data.info.input_shape, data.info.num_classes)
        d_optimizer, g_optimizer = gan.optimizers(model, config)
        latents = tf.random.Generator.from_seed(config.seed)  # z for every training step
    train_pipeline = strategy.experimental_distribute_dataset(data.train)  # per-replica batches, reshuffled per pass
    train_step = make_train_step(model, d_optimizer, g_optimizer, train_pipeline.element_spec, config.latent_dim,
                                 strategy)

    def step(real, labels):  # both players' batch losses: the loop averages each over the epoch
        z = latents.normal([replicas.examples_in(strategy, real), config.latent_dim])  # one per global example
        d_loss, g_loss, batch_size = train_step.python_function(real, labels, z)  # traced into the epoch (gan.py)
        return {"loss": d_loss, "g_loss": g_loss}, batch_size

    started = time.perf_counter()
    history, epochs_run = loop.run_epochs(
        epochs=config.epochs, train_step=step, train_batches=lambda: train_pipeline, validate=dict,  # no validation
        names=("loss", "g_loss"), verbose=verbose,
        checkpoint=loop.checkpoint_of(checkpoint_dir, NETWORK, config, data, model=model, d_optimizer=d_optimizer.state(),
                                      g_optimizer=g_optimizer.state(), latents=latents),
        summaries=loop.summaries_of(tensorboard_dir),
    )
    seconds = time.perf_counter() - started
    labels = evaluate.conditional_labels(data.info.num_classes, len(data.x_test))  # the judge's classes and latents,
    z = evaluate.evaluation_noise((len(labels), config.latent_dim))  # the same for both implementations
    samples = tf.cast(model(tf.constant(z), tf.constant(labels), training=False), tf.float32).numpy()
    return generative.result(
        NETWORK, "tf", config, data,
        metric="conditional_accuracy",
        metrics=evaluate.conditional_sample_quality(samples, labels, data.x_train, data.y_train, data.x_test,
                                                    data.y_test),
        history=history,
        seconds=seconds,
        epochs_run=epochs_run,
        figures=generative.figure_arrays(data, conditional=(samples, labels)),
        out_dir=out_dir,
        weights=model.get_weights(),
        # what --export serves: [z, one_hot(label)] -> image
        model=(model.generator, (config.latent_dim + data.info.num_classes,)),
    )


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
