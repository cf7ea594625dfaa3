"""Variational autoencoder, in Keras.

    encoder: image (8, 8, 1) -> flatten -> Dense(hidden_units, relu) -> Dense(latent_dim) = mean
                                                                      -> Dense(latent_dim) = log_var
    sampling: z = mean + exp(log_var / 2) * epsilon,  epsilon ~ N(0, I)   (reparameterisation trick)
    decoder: z -> Dense(hidden_units, relu) -> Dense(64) -> reshape (8, 8, 1) = pixel logits

The loss is the negative evidence lower bound (Kingma & Welling 2014), per image:
    -ELBO = sum over pixels of cross-entropy(logits, x)        reconstruction, -log p(x | z)
          + KL(N(mean, exp(log_var)) || N(0, I))               analytic, -0.5 * sum(1 + lv - mean^2 - e^lv)
averaged over the batch. As in the keras-io VAE example, a keras.Model subclass holds the
encoder and decoder and overrides train_step, and `fit` drives it; loss trackers report
the epoch means of the loss and of both terms.

The noise can be injected: `train_on_batch(x, epsilon)` puts epsilon in the target slot,
and train_step uses it instead of drawing (the parity tests use this to compare exactly).
Hyperparameters: common.configs.VAEConfig. Twin: tf_impl/vae.py.
"""
import math
import sys
import time

import keras
import tensorflow as tf
from keras import ops

from common import cli, evaluate, generative
from common.checkpoints import fingerprint
from keras_impl.supervised import (EpochStats, StopOnDivergence, keras_history, optimizer_from_config, per_replica, precision,
                                   resumable_fit)

NETWORK = "vae"


class Sampling(keras.layers.Layer):
    """z = mean + exp(log_var / 2) * epsilon; epsilon drawn from a seeded generator unless given."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, mean, log_var, epsilon=None):
        if epsilon is None:  # float32 draws, cast to the code's type under mixed precision (as an input would be)
            epsilon = ops.cast(keras.random.normal(ops.shape(mean), seed=self.seed_generator), mean.dtype)
        return mean + ops.exp(0.5 * log_var) * epsilon


def build_encoder(config, input_shape):
    images = keras.Input(shape=input_shape)
    hidden = keras.layers.Flatten()(images)  # (batch, H, W, C) -> (batch, H*W*C)
    hidden = keras.layers.Dense(config.hidden_units, activation="relu")(hidden)
    mean = keras.layers.Dense(config.latent_dim, name="mean")(hidden)
    log_var = keras.layers.Dense(config.latent_dim, name="log_var")(hidden)
    return keras.Model(images, [mean, log_var], name="encoder")


def build_decoder(config, input_shape):
    return keras.Sequential(
        [
            keras.Input(shape=(config.latent_dim,)),
            keras.layers.Dense(config.hidden_units, activation="relu"),
            keras.layers.Dense(math.prod(input_shape)),  # logits of the grey levels
            keras.layers.Reshape(input_shape),  # (batch, H*W*C) -> (batch, H, W, C)
        ],
        name="decoder",
    )


class VAE(keras.Model):
    """Encoder, sampling, decoder; weights in Keras order are the encoder's, then the decoder's."""

    def __init__(self, encoder, decoder, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.sampling = Sampling(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def call(self, x, epsilon=None, training=False):
        """Pixel logits of a reconstruction through one sampled code."""
        mean, log_var = self.encoder(x, training=training)
        return self.decoder(self.sampling(mean, log_var, epsilon), training=training)

    def negative_elbo(self, x, epsilon=None, training=False):
        """(loss, reconstruction, kl), each the mean over the batch of a per-image sum."""
        mean, log_var = self.encoder(x, training=training)
        z = self.sampling(mean, log_var, epsilon)
        logits = self.decoder(z, training=training)
        mean, log_var, logits = (ops.cast(t, "float32") for t in (mean, log_var, logits))  # the loss in float32
        reconstruction = ops.mean(ops.sum(ops.binary_crossentropy(x, logits, from_logits=True), axis=(1, 2, 3)))
        kl = ops.mean(-0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=1))
        return reconstruction + kl, reconstruction, kl

    def _track(self, x, loss, reconstruction, kl):
        batch = ops.cast(ops.shape(x)[0], "float32")  # epoch means weighted by batch size, as tf_impl's loop
        self.loss_tracker.update_state(loss, sample_weight=batch)
        self.reconstruction_tracker.update_state(reconstruction, sample_weight=batch)
        self.kl_tracker.update_state(kl, sample_weight=batch)
        return {metric.name: metric.result() for metric in self.metrics}

    def train_step(self, data):
        x, epsilon, _ = keras.utils.unpack_x_y_sample_weight(data)  # epsilon: injected noise, or None
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self.negative_elbo(x, epsilon, training=True)
            share = self.optimizer.scale_loss(per_replica(loss))  # mixed_float16: the LossScaleOptimizer's scale
        gradients = tape.gradient(share, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._track(x, loss, reconstruction, kl)

    def test_step(self, data):
        x, epsilon, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._track(x, *self.negative_elbo(x, epsilon, training=False))


def build(config, input_shape):
    model = VAE(build_encoder(config, input_shape), build_decoder(config, input_shape), seed=config.seed, name=NETWORK)
    model(keras.ops.zeros((1, *input_shape)))  # create the weights now: get_weights() before fit
    model.compile(optimizer=optimizer_from_config(config), jit_compile=False)
    return model


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    keras.utils.set_random_seed(config.seed)
    with precision(config.precision):  # mixed_float16: compile wraps the optimizer in a LossScaleOptimizer
        model = build(config, data.info.input_shape)
    images = lambda x, y: x  # noqa: E731  labels only colour the latent plot
    started = time.perf_counter()
    stats = EpochStats()
    train_pipeline = data.train.map(images)
    fitted = resumable_fit(model, train_pipeline, validation_data=data.val.map(images), epochs=config.epochs,
                           callbacks=[StopOnDivergence(), stats], stats=stats, verbose=verbose, checkpoint_dir=checkpoint_dir,
                           fingerprint=fingerprint(NETWORK, "keras", config, data), tensorboard_dir=tensorboard_dir)
    seconds = time.perf_counter() - started

    def encode(x):
        return [ops.convert_to_numpy(ops.cast(t, "float32")) for t in model.encoder(x, training=False)]

    def decode(z):
        return ops.convert_to_numpy(ops.cast(model.decoder(z, training=False), "float32"))

    mean, _ = encode(data.x_test)
    prior = evaluate.evaluation_noise((generative.GRID_SAMPLES, config.latent_dim))
    return generative.result(
        NETWORK, "keras", config, data,
        metric="neg_elbo",
        metrics=evaluate.elbo(data.x_test, encode, decode, data.x_train),
        history=keras_history(fitted, stats),
        seconds=seconds,
        epochs_run=len(fitted.history["loss"]),
        figures=generative.figure_arrays(
            data, reconstructions=ops.convert_to_numpy(ops.sigmoid(decode(mean))),
            samples=ops.convert_to_numpy(ops.sigmoid(decode(prior))), codes=mean,
        ),
        out_dir=out_dir,
        weights=model.get_weights(),
        model=(model.decoder, (config.latent_dim,)),  # what --export serves: latent vector -> pixel logits
    )


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
