"""Shallow feed-forward network (a multilayer perceptron with one hidden layer), in Keras.

    x -> flatten -> Dense(hidden_units, activation) -> Dense(classes) -> logits

The universal-approximation workhorse, trained by backpropagation; optional L1/L2 penalties
(--l1, --l2) on both kernels.
Hyperparameters: common.configs.MLPConfig. Twin: tf_impl/mlp.py.
"""
import sys

import keras

from common import cli
from keras_impl import supervised

NETWORK = "mlp"


def build(config, input_shape, num_classes):
    penalty = keras.regularizers.L1L2(l1=config.l1, l2=config.l2) if config.l1 or config.l2 else None
    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Flatten(),  # (batch, ...) -> (batch, features)
            keras.layers.Dense(config.hidden_units, activation=config.activation, kernel_regularizer=penalty),
            keras.layers.Dense(supervised.output_units(num_classes), kernel_regularizer=penalty),  # logits
        ],
        name=NETWORK,
    )
    return supervised.compile_classifier(model, config, num_classes)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return supervised.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
