"""Undercomplete autoencoder (dense, or convolutional), in raw TensorFlow.

    dense:   image (8, 8, 1) -> flatten -> relu(x @ W1 + b1) -> @ W2 + b2                     = code
             code -> relu(z @ W3 + b3) -> sigmoid(@ W4 + b4) -> reshape (8, 8, 1)
    conv:    image -> [relu(conv2d(x, K, stride 2, 'SAME') + b)] per f in filters -> flatten -> @ W + b
             code -> relu(z @ W + b) -> reshape (2, 2, f_last)
                  -> [relu(conv2d_transpose(x, K, stride 2, 'SAME') + b)] per f in reversed(filters[:-1])
                  -> sigmoid(conv2d_transpose(x, K, stride 2, 'SAME') + b)

The code has far fewer numbers than the image, so the network must learn a compressed
representation of digits (Hinton & Salakhutdinov 2006; Goodfellow et al., Deep
Learning, ch. 14). The loss is the mean squared error over every pixel, what Keras's
loss="mse" computes; the step is a GradientTape over it. Under mixed precision the layers
compute in bfloat16/float16 and the loss is float32; with float16 the step differentiates
the scaled loss (tf_impl/optim.py LossScaleOptimizer).
Hyperparameters: common.configs.AutoencoderConfig. Twin: keras_impl/autoencoder.py.
"""
import math
import sys
import time

import numpy as np
import tensorflow as tf

from common import cli, evaluate, generative
from common.data import DataError, require_image
from tf_impl import layers, loop, optim, replicas

NETWORK = "autoencoder"


def build_encoder(config, input_shape, rng):
    stack = []
    if config.convolutional:
        channels = input_shape[-1]
        for filters in config.filters:
            stack.append(layers.StridedConv2D(channels, filters, 3, strides=2, activation="relu", rng=rng))
            channels = filters
        height, width = (math.ceil(size / 2 ** len(config.filters)) for size in input_shape[:2])
        stack.append(layers.Flatten())  # (batch, h, w, c) -> (batch, h*w*c)
        features = height * width * channels
    else:
        stack += [layers.Flatten(), layers.Dense(math.prod(input_shape), config.hidden_units, "relu", rng=rng)]
        features = config.hidden_units
    stack.append(layers.Dense(features, config.latent_dim, rng=rng))  # the code: linear, unconstrained
    return layers.Sequential(stack, name="encoder")


def build_decoder(config, input_shape, rng):
    if config.convolutional:
        height, width = (math.ceil(size / 2 ** len(config.filters)) for size in input_shape[:2])
        channels = config.filters[-1]
        stack = [
            layers.Dense(config.latent_dim, height * width * channels, "relu", rng=rng),
            layers.Reshape((height, width, channels)),  # (batch, h*w*c) -> (batch, h, w, c)
        ]
        for filters in reversed(config.filters[:-1]):
            stack.append(layers.Conv2DTranspose(channels, filters, 3, strides=2, activation="relu", rng=rng))
            channels = filters
        stack.append(layers.Conv2DTranspose(channels, input_shape[-1], 3, strides=2, activation="sigmoid", rng=rng))
    else:
        stack = [
            layers.Dense(config.latent_dim, config.hidden_units, "relu", rng=rng),
            layers.Dense(config.hidden_units, math.prod(input_shape), "sigmoid", rng=rng),  # grey levels in [0, 1]
            layers.Reshape(input_shape),  # (batch, H*W*C) -> (batch, H, W, C)
        ]
    return layers.Sequential(stack, name="decoder")


class Autoencoder(layers.Sequential):
    """decoder(encoder(x)); weights in Keras order are the encoder's, then the decoder's."""

    def __init__(self, encoder, decoder, name=NETWORK):
        super().__init__([encoder, decoder], name=name)
        self.encoder, self.decoder = encoder, decoder


def build(config, input_shape):
    if config.convolutional:
        require_image(input_shape, NETWORK, halvings=len(config.filters))
        if any(size % 2 ** len(config.filters) for size in input_shape[:2]):
            raise DataError(f"{NETWORK}: image sides {input_shape[:2]} must be divisible by {2 ** len(config.filters)}")
    rng = np.random.default_rng(config.seed)
    return Autoencoder(build_encoder(config, input_shape, rng), build_decoder(config, input_shape, rng))


def per_example_loss(model, x, training):
    """Mean squared error over the pixels of each image: shape (batch,), in float32 under mixed precision too."""
    squared = tf.square(x - tf.cast(model(x, training=training), tf.float32))
    return tf.reduce_mean(tf.reshape(squared, [tf.shape(x)[0], -1]), axis=1)  # (batch, H, W, C) -> (batch, H*W*C)


def loss_fn(model, x, training):
    """Mean squared error over every pixel of the batch (all images have as many pixels)."""
    return tf.reduce_mean(per_example_loss(model, x, training))


def make_train_step(model, optimizer, image_spec, strategy=None):
    """The compiled step; under a tf.distribute strategy each replica averages over the global batch."""
    strategy = strategy or tf.distribute.get_strategy()

    def replica_step(x):
        with tf.GradientTape() as tape:
            loss = replicas.average_loss(per_example_loss(model, x, training=True), x)  # / global batch size
            scaled_loss = optimizer.scale_loss(loss)  # mixed_float16: loss * loss scale (optim.LossScaleOptimizer)
        gradients = tape.gradient(scaled_loss, model.trainable_weights)
        optimizer.apply(gradients, model.trainable_weights)
        return loss, tf.shape(x)[0]

    return replicas.compiled_step(replica_step, strategy, [image_spec])


def batched(function, x, batch_size=256):
    """A compiled function of a batch, applied to a whole numpy array."""
    return np.concatenate([function(x[start:start + batch_size]).numpy() for start in range(0, len(x), batch_size)])


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope(), layers.precision(config.precision):
        model = build(config, data.info.input_shape)
        optimizer = optim.from_config(config)
        optimizer.build(model.trainable_weights)
    train_pipeline = strategy.experimental_distribute_dataset(data.train)  # per-replica batches, reshuffled per pass
    train_step = make_train_step(model, optimizer, train_pipeline.element_spec[0], strategy)
    image_spec = tf.TensorSpec([None, *data.info.input_shape], tf.float32)  # any batch size, one trace
    reconstruct = tf.function(lambda x: tf.cast(model(x, training=False), tf.float32), input_signature=[image_spec])
    encode = tf.function(lambda x: tf.cast(model.encoder(x, training=False), tf.float32), input_signature=[image_spec])

    def validate():
        return {"val_loss": float(np.mean((data.x_val - batched(reconstruct, data.x_val)) ** 2))}

    started = time.perf_counter()
    history, epochs_run = loop.run_epochs(
        epochs=config.epochs,
        train_step=lambda x, _labels: train_step(x),  # labels only colour the latent plot
        train_batches=lambda: train_pipeline,
        validate=validate,
        verbose=verbose,
        checkpoint=loop.checkpoint_of(checkpoint_dir, NETWORK, config, data, model=model, optimizer=optimizer.state()),
        summaries=loop.summaries_of(tensorboard_dir, optimizer),
    )
    seconds = time.perf_counter() - started
    reconstructions = batched(reconstruct, data.x_test)
    codes = batched(encode, data.x_test)
    return generative.result(
        NETWORK, "tf", config, data,
        metric="mse",
        metrics=evaluate.reconstruction(data.x_test, reconstructions, data.x_train),
        history=history,
        seconds=seconds,
        epochs_run=epochs_run,
        figures=generative.figure_arrays(data, reconstructions=reconstructions, codes=codes),
        out_dir=out_dir,
        weights=model.get_weights(),
        model=(model, data.info.input_shape),  # what --export serves: image -> reconstruction
    )


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
