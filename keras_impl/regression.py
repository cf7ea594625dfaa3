"""Feed-forward regression network in Keras: dense hidden layers to one linear output, squared error.

    x -> flatten -> [Dense(units, activation, L1L2)] per hidden layer -> Dense(1, L1L2) -> prediction

A multilayer perceptron trained by backpropagation (Rumelhart, Hinton & Williams 1986) on
a real-valued target: no output nonlinearity, mean squared error as the loss. The targets
are standardised on training statistics (common.data); common.evaluate maps the predictions
back and scores R² and RMSE in the target's own units, beside a least-squares linear model
and the training mean. An L2 penalty on every kernel (--l2; --l1 too: elastic net) keeps
diabetes' 317 training patients from being memorised.
Hyperparameters: common.configs.RegressionConfig. Twin: tf_impl/regression.py.
"""
import sys

import keras

from common import cli
from keras_impl import supervised

NETWORK = "regression"


def build(config, input_shape, num_classes=1):
    """num_classes: 1 for a regression's data (common.data), taken for the supervised contract; one output."""
    penalty = keras.regularizers.L1L2(l1=config.l1, l2=config.l2) if config.l1 or config.l2 else None
    stack = [keras.Input(shape=input_shape), keras.layers.Flatten()]  # (batch, ...) -> (batch, features)
    for units in config.hidden_units:
        stack.append(keras.layers.Dense(units, activation=config.activation, kernel_regularizer=penalty))
    stack.append(keras.layers.Dense(1, kernel_regularizer=penalty))  # the prediction: linear, (batch, 1)
    model = keras.Sequential(stack, name=NETWORK)
    return supervised.compile_regressor(model, config)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return supervised.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
