"""Elman simple recurrent network in raw TensorFlow.

    h_t = tanh(x_t @ W + b + h_{t-1} @ U)        as keras.layers.SimpleRNN

A hidden state fed back into itself carries what the sequence has shown so far (Elman
1990, "Finding structure in time"). Its gradient through time is multiplied by U and
tanh' at every step, so it vanishes over long spans: the adding problem shows it.
The model around the layer (masking, stacking, bidirectional, classifier) is
tf_impl/recurrent.py. Hyperparameters: common.configs.RNNConfig. Twin: keras_impl/rnn.py.
The cell is tf_impl.layers.SimpleRNNCell, run over time by tf_impl.layers.Recurrent (a tf.while_loop).
"""
import sys

from common import cli
from tf_impl import layers, recurrent

NETWORK = "rnn"


def build(config, input_shape, num_classes, vocabulary_size=0):
    return recurrent.build(NETWORK, layers.SimpleRNNCell, config, input_shape, num_classes, vocabulary_size)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return recurrent.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
