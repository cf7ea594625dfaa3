"""Logistic regression in Keras: one Dense layer on the (flattened) inputs.

Two classes: one logit, p(y=1|x) = sigmoid(x.w + b). More classes: K logits and a
softmax (multinomial logistic regression). Which one is chosen from the data.
Trained by minimising cross-entropy, optionally with an L2 and/or L1 penalty (elastic net).

Hyperparameters: common.configs.LogisticRegressionConfig. Twin: tf_impl/logistic_regression.py.
"""
import sys

import keras

from common import cli
from keras_impl import supervised

NETWORK = "logistic_regression"


def build(config, input_shape, num_classes):
    regularizer = keras.regularizers.L1L2(l1=config.l1, l2=config.l2) if config.l1 or config.l2 else None
    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Flatten(),  # (batch, ...) -> (batch, features)
            keras.layers.Dense(supervised.output_units(num_classes), kernel_regularizer=regularizer),  # logits
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
