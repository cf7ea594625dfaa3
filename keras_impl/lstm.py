"""Long short-term memory in Keras.

    i, f, c~, o = split(x_t @ W + h_{t-1} @ U + b)     gates in this order, as Keras keeps them
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(c~)
    h_t = sigmoid(o) * tanh(c_t)                         keras.layers.LSTM

A cell state updated by addition, gated by learned sigmoids, lets the gradient flow
across long spans (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000).
The forget-gate bias starts at 1 (unit_forget_bias), so the cell remembers by default.
The model around the layer is keras_impl/recurrent.py.
Hyperparameters: common.configs.LSTMConfig. Twin: tf_impl/lstm.py.
"""
import sys

import keras

from common import cli
from keras_impl import recurrent

NETWORK = "lstm"


def lstm_layer(units, return_sequences):
    return keras.layers.LSTM(
        units, recurrent_activation="sigmoid", unit_forget_bias=True, return_sequences=return_sequences
    )


def build(config, input_shape, num_classes, vocabulary_size=0):
    return recurrent.build(NETWORK, lstm_layer, config, input_shape, num_classes, vocabulary_size)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return recurrent.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
