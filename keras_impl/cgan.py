"""Conditional GAN (Mirza & Osindero 2014), in Keras: the DCGAN of keras_impl/gan.py, told which digit to draw.

    generator:     [z, one_hot(y)] (latent_dim + K,) -> keras_impl/gan.py's generator      image (8, 8, 1) in [0, 1]
    discriminator: [image, one_hot(y) as K constant channels] (8, 8, 1 + K) -> gan.py's discriminator -> logit

The class label y enters both players, as in the keras-io "Conditional GAN" example: the
generator reads it one-hot beside its noise, the discriminator one-hot as extra image
channels, so it judges "a real image *of this class*". Each step, with one batch of real
images x, their labels y and latent vectors z:
    discriminator: minimise BCE(D(x, y), 1) and BCE(D(G(z, y), y), 0), over the 2B images at once
    generator:     minimise BCE(D(G(z, y), y), 1)     non-saturating, against the updated D
The fakes are asked for the batch's own labels, so both players see the data's class mix.
The model subclasses keras_impl/gan.py's GAN (its two optimizers, loss trackers, compile)
and overrides train_step; `fit` drives it on ((images, labels),) batches, and
`train_on_batch((x, y), z)` injects the latent vectors (the parity tests use this).
Hyperparameters: common.configs.CGANConfig. Twin: tf_impl/cgan.py.
"""
import dataclasses
import sys
import time

import keras
import tensorflow as tf
from keras import ops

from common import cli, evaluate, generative
from common.checkpoints import fingerprint
from common.data import DataError
from keras_impl import gan
from keras_impl.supervised import EpochStats, StopOnDivergence, keras_history, per_replica, precision, resumable_fit

NETWORK = "cgan"


def build_generator(config, image_shape, num_classes):
    """gan.py's generator, one input per latent dimension and per class."""
    return gan.build_generator(dataclasses.replace(config, latent_dim=config.latent_dim + num_classes), image_shape)


def build_discriminator(config, image_shape, num_classes):
    """gan.py's discriminator, one more input channel per class."""
    return gan.build_discriminator(config, (*image_shape[:-1], image_shape[-1] + num_classes))


class CGAN(gan.GAN):
    """Generator and discriminator, both conditioned on the label; weights in Keras order: generator's, discriminator's."""

    def __init__(self, generator, discriminator, latent_dim, num_classes, seed=None, **kwargs):
        super().__init__(generator, discriminator, latent_dim, seed=seed, **kwargs)
        self.num_classes = num_classes

    def generator_input(self, z, labels):
        return ops.concatenate([z, ops.one_hot(labels, self.num_classes, dtype=z.dtype)], axis=1)  # (B, latent + K)

    def discriminator_input(self, images, labels):
        one_hot = ops.one_hot(labels, self.num_classes, dtype=images.dtype)[:, None, None, :]  # (B, 1, 1, K)
        height, width = ops.shape(images)[1], ops.shape(images)[2]
        maps = ops.tile(one_hot, (1, height, width, 1))  # (B, H, W, K): the label, constant over the image
        return ops.concatenate([images, maps], axis=-1)  # (B, H, W, C + K)

    def call(self, inputs, training=False):
        z, labels = inputs
        return self.generator(self.generator_input(z, labels), training=training)

    def discriminator_loss(self, real, fake, labels, training=True):
        images = ops.concatenate([real, ops.cast(fake, real.dtype)], axis=0)  # (2B, H, W, C): real first
        targets = ops.concatenate([ops.ones((ops.shape(real)[0], 1)), ops.zeros((ops.shape(fake)[0], 1))], axis=0)
        both = ops.concatenate([labels, labels], axis=0)  # each fake asked for its real image's class
        return gan.bce(targets, self.discriminator(self.discriminator_input(images, both), training=training))

    def generator_loss(self, z, labels, training=True):
        fake = self((z, labels), training=training)
        logits = self.discriminator(self.discriminator_input(fake, labels), training=training)
        return gan.bce(ops.ones_like(logits), logits)  # non-saturating: -log D(G(z, y), y)

    def train_step(self, data):
        (real, labels), z, _ = keras.utils.unpack_x_y_sample_weight(data)  # z: injected latent vectors, or None
        if z is None:
            z = keras.random.normal((ops.shape(real)[0], self.latent_dim), seed=self.seed_generator)
        fake = self((z, labels), training=True)
        with tf.GradientTape() as tape:
            d_loss = self.discriminator_loss(real, fake, labels)
            share = self.d_optimizer.scale_loss(per_replica(d_loss))  # mixed_float16: this player's loss scale
        gradients = tape.gradient(share, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(gradients, self.discriminator.trainable_weights))
        with tf.GradientTape() as tape:
            g_loss = self.generator_loss(z, labels)
            share = self.g_optimizer.scale_loss(per_replica(g_loss))
        gradients = tape.gradient(share, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(gradients, self.generator.trainable_weights))
        batch = ops.cast(ops.shape(real)[0], "float32")  # epoch means weighted by batch size, as tf_impl's loop
        self.d_loss_tracker.update_state(d_loss, sample_weight=batch)
        self.g_loss_tracker.update_state(g_loss, sample_weight=batch)
        return {metric.name: metric.result() for metric in self.metrics}


def build(config, image_shape, num_classes):
    model = CGAN(build_generator(config, image_shape, num_classes), build_discriminator(config, image_shape, num_classes),
                 config.latent_dim, num_classes, seed=config.seed, name=NETWORK)
    model((ops.zeros((1, config.latent_dim)), ops.zeros((1,), "int32")))  # build: get_weights() before fit
    model.compile(d_optimizer=gan.optimizer(config), g_optimizer=gan.optimizer(config))
    return model


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    if data.info.task != "classification":
        raise DataError(f"{NETWORK} generates a class of images: {data.info.name} has no class labels")
    keras.utils.set_random_seed(config.seed)
    with precision(config.precision):
        model = build(config, data.info.input_shape, data.info.num_classes)
    conditioned = lambda x, y: ((x, y),)  # noqa: E731  the labels are an input, not a target
    started = time.perf_counter()
    stats = EpochStats()
    fitted = resumable_fit(model, data.train.map(conditioned), epochs=config.epochs,
                           callbacks=[StopOnDivergence(), stats], stats=stats, verbose=verbose,
                           checkpoint_dir=checkpoint_dir, fingerprint=fingerprint(NETWORK, "keras", config, data),
                           optimizers=[(model.d_optimizer, model.discriminator.trainable_variables),
                                       (model.g_optimizer, model.generator.trainable_variables)],
                           tensorboard_dir=tensorboard_dir)
    seconds = time.perf_counter() - started
    labels = evaluate.conditional_labels(data.info.num_classes, len(data.x_test))  # the judge's classes and latents,
    z = evaluate.evaluation_noise((len(labels), config.latent_dim))  # the same for both implementations
    samples = ops.convert_to_numpy(ops.cast(model((z, labels), training=False), "float32"))
    return generative.result(
        NETWORK, "keras", config, data,
        metric="conditional_accuracy",
        metrics=evaluate.conditional_sample_quality(samples, labels, data.x_train, data.y_train, data.x_test,
                                                    data.y_test),
        history=keras_history(fitted, stats),
        seconds=seconds,
        epochs_run=len(fitted.history["loss"]),
        figures=generative.figure_arrays(data, conditional=(samples, labels)),
        out_dir=out_dir,
        weights=model.get_weights(),
        # what --export serves: [z, one_hot(label)] -> image
        model=(model.generator, (config.latent_dim + data.info.num_classes,)),
    )


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
