"""Gesture recognition from motion sensors in Keras: a masked LSTM or GRU over 3-axis traces.

    traces (batch, 80, 3), zero-padded after each end (30-80 real steps)
      -> Masking(0.0)                          a padded step leaves the state unchanged
      -> LSTM or GRU (--cell), one per --units entry, stacked (--bidirectional: both ways)
      -> Dense(6): logits of circle, swipe left/right, shake, zig-zag, tap

The recurrent classifier of keras_impl/recurrent.py (the lstm and gru networks' stack, their
layers: keras_impl/lstm.py, keras_impl/gru.py), on the generated gestures
(common/data/tasks/gestures.py) or an .npz of padded traces with a lengths array
(common/data/npz.py). Recurrent networks over accelerometer traces: e.g. Ordonez & Roggen 2016,
DeepConvLSTM (its recurrent half). Hyperparameters: common.configs.GestureConfig.
Twin: tf_impl/gesture.py.
"""
import sys

from common import cli
from keras_impl import gru, lstm, recurrent

NETWORK = "gesture"
LAYERS = {"lstm": lstm.lstm_layer, "gru": gru.gru_layer}


def build(config, input_shape, num_classes, vocabulary_size=0):
    return recurrent.build(NETWORK, LAYERS[config.cell], config, input_shape, num_classes, vocabulary_size)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return recurrent.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
