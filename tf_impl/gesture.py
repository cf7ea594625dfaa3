"""Gesture recognition from motion sensors in raw TensorFlow: a masked LSTM or GRU over 3-axis traces.

    traces (batch, 80, 3), zero-padded after each end (30-80 real steps)
      -> mask = any(x != 0, axis=features)     a padded step leaves the state unchanged
      -> layers.Recurrent(LSTMCell | GRUCell) (--cell), one per --units entry, stacked
         (--bidirectional: layers.Bidirectional)
      -> x @ W + b: logits of circle, swipe left/right, shake, zig-zag, tap

The recurrent classifier of tf_impl/recurrent.py (the lstm and gru networks' stack, their
cells: tf_impl.layers.LSTMCell, GRUCell), on the generated gestures
(common/data/tasks/gestures.py) or an .npz of padded traces with a lengths array
(common/data/npz.py). Recurrent networks over accelerometer traces: e.g. Ordonez & Roggen 2016,
DeepConvLSTM (its recurrent half). Hyperparameters: common.configs.GestureConfig.
Twin: keras_impl/gesture.py.
"""
import sys

from common import cli
from tf_impl import layers, recurrent

NETWORK = "gesture"
CELLS = {"lstm": layers.LSTMCell, "gru": layers.GRUCell}


def build(config, input_shape, num_classes, vocabulary_size=0):
    return recurrent.build(NETWORK, CELLS[config.cell], config, input_shape, num_classes, vocabulary_size)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return recurrent.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
