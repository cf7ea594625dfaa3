"""Long short-term memory in raw TensorFlow.

    i, f, c~, o = split(x_t @ W + h_{t-1} @ U + b)     gates in this order, as Keras keeps them
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(c~)
    h_t = sigmoid(o) * tanh(c_t)                         as keras.layers.LSTM

A cell state updated by addition, gated by learned sigmoids, lets the gradient flow
across long spans (Hochreiter & Schmidhuber 1997; forget gate: Gers et al. 2000).
The forget-gate bias starts at 1 (unit_forget_bias), so the cell remembers by default.
The model around the layer is tf_impl/recurrent.py.
Hyperparameters: common.configs.LSTMConfig. Twin: keras_impl/lstm.py.
The cell is tf_impl.layers.LSTMCell, run over time by tf_impl.layers.Recurrent (a tf.while_loop).
"""
import sys

from common import cli
from tf_impl import layers, recurrent

NETWORK = "lstm"


def build(config, input_shape, num_classes, vocabulary_size=0):
    return recurrent.build(NETWORK, layers.LSTMCell, config, input_shape, num_classes, vocabulary_size)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return recurrent.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
