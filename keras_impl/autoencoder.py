"""Undercomplete autoencoder (dense, or convolutional), in Keras.

    dense:   image (8, 8, 1) -> flatten -> Dense(hidden_units, relu) -> Dense(latent_dim)   = code
             code -> Dense(hidden_units, relu) -> Dense(64, sigmoid) -> reshape (8, 8, 1)
    conv:    image -> [Conv2D(f, 3, strides 2, 'same', relu)] per f in filters -> flatten -> Dense(latent_dim)
             code -> Dense(2*2*f_last, relu) -> reshape (2, 2, f_last)
                  -> [Conv2DTranspose(f, 3, strides 2, 'same', relu)] per f in reversed(filters[:-1])
                  -> Conv2DTranspose(channels, 3, strides 2, 'same', sigmoid)

The code has far fewer numbers than the image, so the network must learn a compressed
representation of digits (Hinton & Salakhutdinov 2006; Goodfellow et al., Deep
Learning, ch. 14). Trained with `compile(loss="mse")` and `fit` on (image, image) pairs,
as the TensorFlow autoencoder tutorial does, with the encoder and decoder as sub-models.
Mixed precision: built under the Keras dtype policy (keras_impl.supervised.precision).
Hyperparameters: common.configs.AutoencoderConfig. Twin: tf_impl/autoencoder.py.
"""
import math
import sys
import time

import keras

from common import cli, evaluate, generative
from common.data import DataError, require_image
from common.checkpoints import fingerprint
from keras_impl.supervised import EpochStats, StopOnDivergence, keras_history, optimizer_from_config, precision, resumable_fit

NETWORK = "autoencoder"


def build_encoder(config, input_shape):
    stack = [keras.Input(shape=input_shape)]
    if config.convolutional:
        for filters in config.filters:
            stack.append(keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu"))  # (h, w) -> (h/2, w/2)
        stack.append(keras.layers.Flatten())  # (batch, h, w, c) -> (batch, h*w*c)
    else:
        stack += [keras.layers.Flatten(), keras.layers.Dense(config.hidden_units, activation="relu")]
    stack.append(keras.layers.Dense(config.latent_dim))  # the code: linear, unconstrained
    return keras.Sequential(stack, name="encoder")


def build_decoder(config, input_shape):
    stack = [keras.Input(shape=(config.latent_dim,))]
    if config.convolutional:
        height, width = (math.ceil(size / 2 ** len(config.filters)) for size in input_shape[:2])
        stack += [
            keras.layers.Dense(height * width * config.filters[-1], activation="relu"),
            keras.layers.Reshape((height, width, config.filters[-1])),  # (batch, h*w*c) -> (batch, h, w, c)
        ]
        for filters in reversed(config.filters[:-1]):
            stack.append(keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu"))
        stack.append(keras.layers.Conv2DTranspose(input_shape[-1], 3, strides=2, padding="same", activation="sigmoid"))
    else:
        pixels = math.prod(input_shape)
        stack += [
            keras.layers.Dense(config.hidden_units, activation="relu"),
            keras.layers.Dense(pixels, activation="sigmoid"),  # grey levels in [0, 1]
            keras.layers.Reshape(input_shape),  # (batch, H*W*C) -> (batch, H, W, C)
        ]
    return keras.Sequential(stack, name="decoder")


class Autoencoder(keras.Model):
    """decoder(encoder(x)); weights in Keras order are the encoder's, then the decoder's."""

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)


def build(config, input_shape):
    if config.convolutional:
        require_image(input_shape, NETWORK, halvings=len(config.filters))
        if any(size % 2 ** len(config.filters) for size in input_shape[:2]):
            raise DataError(f"{NETWORK}: image sides {input_shape[:2]} must be divisible by {2 ** len(config.filters)}")
    model = Autoencoder(build_encoder(config, input_shape), build_decoder(config, input_shape), name=NETWORK)
    model(keras.ops.zeros((1, *input_shape)))  # create the weights now: get_weights() before fit
    # Keras MSE: mean over the last axis, then over the batch ("sum_over_batch_size"): the mean over every pixel.
    model.compile(optimizer=optimizer_from_config(config), loss="mse", jit_compile=False)
    return model


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    keras.utils.set_random_seed(config.seed)
    with precision(config.precision):  # mixed_float16: compile wraps the optimizer in a LossScaleOptimizer
        model = build(config, data.info.input_shape)
    as_pairs = lambda x, y: (x, x)  # noqa: E731  (input, target): the image is its own target
    started = time.perf_counter()
    stats = EpochStats()
    train_pipeline = data.train.map(as_pairs)
    fitted = resumable_fit(model, train_pipeline, validation_data=data.val.map(as_pairs), epochs=config.epochs,
                           callbacks=[StopOnDivergence(), stats], stats=stats, verbose=verbose, checkpoint_dir=checkpoint_dir,
                           fingerprint=fingerprint(NETWORK, "keras", config, data), tensorboard_dir=tensorboard_dir)
    seconds = time.perf_counter() - started
    reconstructions = keras.ops.convert_to_numpy(keras.ops.cast(model(data.x_test, training=False), "float32"))
    codes = keras.ops.convert_to_numpy(keras.ops.cast(model.encoder(data.x_test, training=False), "float32"))
    return generative.result(
        NETWORK, "keras", config, data,
        metric="mse",
        metrics=evaluate.reconstruction(data.x_test, reconstructions, data.x_train),
        history=keras_history(fitted, stats),
        seconds=seconds,
        epochs_run=len(fitted.history["loss"]),
        figures=generative.figure_arrays(data, reconstructions=reconstructions, codes=codes),
        out_dir=out_dir,
        weights=model.get_weights(),
        model=(model, data.info.input_shape),  # what --export serves: image -> reconstruction
    )


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
