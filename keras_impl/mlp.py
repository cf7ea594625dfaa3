"""Shallow feed-forward network (a multilayer perceptron with one hidden layer), in Keras.

    x -> flatten -> Dense(hidden_units, activation) -> Dense(classes) -> logits

The universal-approximation workhorse, trained by backpropagation.
Hyperparameters: common.configs.MLPConfig. Twin: tf_impl/mlp.py.
"""
import sys

import keras

from common import cli
from keras_impl import supervised

NETWORK = "mlp"


def build(config, input_shape, num_classes):
    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Flatten(),  # (batch, ...) -> (batch, features)
            keras.layers.Dense(config.hidden_units, activation=config.activation),
            keras.layers.Dense(supervised.output_units(num_classes)),  # logits
        ],
        name=NETWORK,
    )
    return supervised.compile_classifier(model, config, num_classes)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None):
    return supervised.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
