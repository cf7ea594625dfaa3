"""Variational autoencoder, in raw TensorFlow.

    encoder: image (8, 8, 1) -> flatten -> relu(x @ W1 + b1) = h;  mean = h @ Wm + bm;  log_var = h @ Wv + bv
    sampling: z = mean + exp(log_var / 2) * epsilon,  epsilon ~ N(0, I)   (reparameterisation trick)
    decoder: z -> relu(z @ W2 + b2) -> @ W3 + b3 -> reshape (8, 8, 1) = pixel logits

The ELBO written out (Kingma & Welling 2014), per image:
    -ELBO = sum over pixels of sigmoid_cross_entropy(logits, x)   reconstruction, -log p(x | z)
          + -0.5 * sum(1 + log_var - mean^2 - exp(log_var))      KL(q(z|x) || N(0, I)), analytic
averaged over the batch, in float32 under mixed precision too (with float16 the step
differentiates the scaled loss: tf_impl/optim.py LossScaleOptimizer). The compiled step
takes epsilon as an argument: training draws it from a seeded tf.random.Generator, the
parity tests inject it.
Hyperparameters: common.configs.VAEConfig. Twin: keras_impl/vae.py.
"""
import math
import sys
import time

import numpy as np
import tensorflow as tf

from common import cli, evaluate, generative
from tf_impl import layers, loop, optim, replicas

NETWORK = "vae"


class Encoder(tf.Module):
    """x -> (mean, log_var); weights in Keras order: hidden, mean head, log-variance head."""

    def __init__(self, config, input_shape, rng):
        super().__init__(name="encoder")
        self.body = layers.Sequential(
            [layers.Flatten(), layers.Dense(math.prod(input_shape), config.hidden_units, "relu", rng=rng)]
        )
        self.mean = layers.Dense(config.hidden_units, config.latent_dim, rng=rng)
        self.log_var = layers.Dense(config.hidden_units, config.latent_dim, rng=rng)
        self.parts = layers.Sequential([self.body, self.mean, self.log_var])  # weights bookkeeping, in order

    def __call__(self, x, training=False):
        hidden = self.body(x, training=training)  # (batch, hidden_units)
        return self.mean(hidden), self.log_var(hidden)

    @property
    def weights(self):
        return self.parts.weights

    @property
    def trainable_weights(self):
        return self.parts.trainable_weights

    def get_weights(self):
        return self.parts.get_weights()

    def set_weights(self, arrays):
        self.parts.set_weights(arrays)

    def count_params(self):
        return self.parts.count_params()


def build_decoder(config, input_shape, rng):
    return layers.Sequential(
        [
            layers.Dense(config.latent_dim, config.hidden_units, "relu", rng=rng),
            layers.Dense(config.hidden_units, math.prod(input_shape), rng=rng),  # logits of the grey levels
            layers.Reshape(input_shape),  # (batch, H*W*C) -> (batch, H, W, C)
        ],
        name="decoder",
    )


class VAE(layers.Sequential):
    """Encoder and decoder; weights in Keras order are the encoder's, then the decoder's."""

    def __init__(self, encoder, decoder, name=NETWORK):
        super().__init__([encoder, decoder], name=name)
        self.encoder, self.decoder = encoder, decoder

    def __call__(self, x, epsilon, training=False):
        """Pixel logits of a reconstruction through the code mean + exp(log_var / 2) * epsilon."""
        mean, log_var = self.encoder(x, training=training)
        return self.decoder(sample(mean, log_var, epsilon), training=training)


def build(config, input_shape):
    rng = np.random.default_rng(config.seed)
    return VAE(Encoder(config, input_shape, rng), build_decoder(config, input_shape, rng))


def sample(mean, log_var, epsilon):
    """The reparameterisation trick: a draw from N(mean, exp(log_var)) that is differentiable in both.

    Under mixed precision epsilon is cast to the code's type, as Keras casts a layer's inputs.
    """
    return mean + tf.exp(0.5 * log_var) * tf.cast(epsilon, mean.dtype)


def negative_elbo_per_image(model, x, epsilon, training):
    """(loss, reconstruction, kl), each of shape (batch,): per-image sums over pixels and latent dimensions."""
    mean, log_var = model.encoder(x, training=training)  # (batch, latent_dim) each
    logits = model.decoder(sample(mean, log_var, epsilon), training=training)  # (batch, H, W, C)
    mean, log_var, logits = (tf.cast(t, tf.float32) for t in (mean, log_var, logits))  # the loss in float32
    per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits)
    reconstruction = tf.reduce_sum(per_pixel, axis=[1, 2, 3])
    kl = -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mean) - tf.exp(log_var), axis=1)
    return reconstruction + kl, reconstruction, kl


def negative_elbo(model, x, epsilon, training):
    """(loss, reconstruction, kl), each the mean over the batch of a per-image sum."""
    return tuple(tf.reduce_mean(term) for term in negative_elbo_per_image(model, x, epsilon, training))


def make_train_step(model, optimizer, image_spec, latent_dim, strategy=None, track_terms=False):
    """The compiled step train_step(x, epsilon): epsilon holds one row per image of the *global* batch.

    Returns (batch-mean loss, batch size); with track_terms ({"loss", "reconstruction_loss",
    "kl_loss"}, batch size), the three values keras_impl's loss trackers report.
    Under a tf.distribute strategy each replica takes its rows of epsilon and divides its
    summed per-image loss by the global batch size (tf_impl/replicas.py).
    """
    strategy = strategy or tf.distribute.get_strategy()

    def replica_step(x, epsilon):
        epsilon = replicas.this_replicas_rows(epsilon, x)
        with tf.GradientTape() as tape:
            per_image, reconstruction, kl = negative_elbo_per_image(model, x, epsilon, training=True)
            loss = replicas.average_loss(per_image, x)
            scaled_loss = optimizer.scale_loss(loss)  # mixed_float16: loss * loss scale (optim.LossScaleOptimizer)
        gradients = tape.gradient(scaled_loss, model.trainable_weights)
        optimizer.apply(gradients, model.trainable_weights)
        if track_terms:
            terms = {"loss": loss, "reconstruction_loss": replicas.average_loss(reconstruction, x),
                     "kl_loss": replicas.average_loss(kl, x)}
            return terms, tf.shape(x)[0]
        return loss, tf.shape(x)[0]

    return replicas.compiled_step(replica_step, strategy, [image_spec, tf.TensorSpec([None, latent_dim], tf.float32)])


def batched(function, x, batch_size=256):
    """A compiled function of a batch, applied to a whole numpy array; tuples of outputs concatenated apiece."""
    outputs = [function(x[start:start + batch_size]) for start in range(0, len(x), batch_size)]
    if isinstance(outputs[0], (tuple, list)):
        return tuple(np.concatenate([output[i].numpy() for output in outputs]) for i in range(len(outputs[0])))
    return np.concatenate([output.numpy() for output in outputs])


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope(), layers.precision(config.precision):
        model = build(config, data.info.input_shape)
        optimizer = optim.from_config(config)
        optimizer.build(model.trainable_weights)
        noise = tf.random.Generator.from_seed(config.seed)  # epsilon for every training step
    train_pipeline = strategy.experimental_distribute_dataset(data.train)  # per-replica batches, reshuffled per pass
    train_step = make_train_step(model, optimizer, train_pipeline.element_spec[0], config.latent_dim, strategy,
                                 track_terms=True)
    image_spec = tf.TensorSpec([None, *data.info.input_shape], tf.float32)  # any batch size, one trace
    encode = tf.function(lambda x: [tf.cast(t, tf.float32) for t in model.encoder(x, training=False)],
                         input_signature=[image_spec])
    decode = tf.function(lambda z: tf.cast(model.decoder(z, training=False), tf.float32),
                         input_signature=[tf.TensorSpec([None, config.latent_dim], tf.float32)])

    def step(x, _labels):  # labels only colour the latent plot
        return train_step(x, noise.normal([replicas.examples_in(strategy, x), config.latent_dim]))  # one per example

    def validate():  # the names keras_impl's loss trackers give these in fit's history
        x = tf.constant(data.x_val)
        terms = negative_elbo(model, x, noise.normal([len(data.x_val), config.latent_dim]), training=False)
        names = ("val_loss", "val_reconstruction_loss", "val_kl_loss")
        return {name: float(value) for name, value in zip(names, terms)}

    started = time.perf_counter()
    history, epochs_run = loop.run_epochs(
        epochs=config.epochs, train_step=step, train_batches=lambda: train_pipeline, validate=validate, verbose=verbose,
        names=("loss", "reconstruction_loss", "kl_loss"),
        checkpoint=loop.checkpoint_of(checkpoint_dir, NETWORK, config, data, model=model, optimizer=optimizer.state(),
                                      noise=noise),
        summaries=loop.summaries_of(tensorboard_dir, optimizer),
    )
    seconds = time.perf_counter() - started
    mean, _ = batched(encode, data.x_test)
    prior = evaluate.evaluation_noise((generative.GRID_SAMPLES, config.latent_dim))
    return generative.result(
        NETWORK, "tf", config, data,
        metric="neg_elbo",
        metrics=evaluate.elbo(data.x_test, lambda x: batched(encode, x), lambda z: batched(decode, z), data.x_train),
        history=history,
        seconds=seconds,
        epochs_run=epochs_run,
        figures=generative.figure_arrays(
            data, reconstructions=tf.sigmoid(batched(decode, mean)).numpy(),
            samples=tf.sigmoid(batched(decode, prior)).numpy(), codes=mean,
        ),
        out_dir=out_dir,
        weights=model.get_weights(),
        model=(model.decoder, (config.latent_dim,)),  # what --export serves: latent vector -> pixel logits
    )


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
