"""Gated recurrent unit in raw TensorFlow, the reset_after=True form (Keras's default, cuDNN-compatible).

    xz, xr, xh = split(x_t @ W + b_input);  rz, rr, rh = split(h_{t-1} @ U + b_recurrent)
    z = sigmoid(xz + rz);  r = sigmoid(xr + rr);  h~ = tanh(xh + r * rh)
    h_t = z * h_{t-1} + (1 - z) * h~                     as keras.layers.GRU

An update gate z interpolating between the old state and a candidate: the LSTM's
memory with one state and two gates (Cho et al. 2014). The reset gate applies after
the recurrent matmul, so there are two biases (a bias of shape (2, 3 * units)).
The model around the layer is tf_impl/recurrent.py.
Hyperparameters: common.configs.GRUConfig. Twin: keras_impl/gru.py.
The cell is tf_impl.layers.GRUCell, run over time by tf_impl.layers.Recurrent (a tf.while_loop).
"""
import sys

from common import cli
from tf_impl import layers, recurrent

NETWORK = "gru"


def build(config, input_shape, num_classes, vocabulary_size=0):
    return recurrent.build(NETWORK, layers.GRUCell, config, input_shape, num_classes, vocabulary_size)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return recurrent.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
