"""Feed-forward regression network in raw TensorFlow: dense hidden layers to one linear output, squared error.

    x -> flatten -> [activation(x @ W + b)] per hidden layer -> @ w + b -> prediction

A multilayer perceptron trained by backpropagation (Rumelhart, Hinton & Williams 1986) on
a real-valued target: no output nonlinearity; the loss is the batch mean of
(prediction - y)^2 plus the kernels' penalties (tf_impl/supervised.py, task "regression").
The targets are standardised on training statistics (common.data); common.evaluate maps the
predictions back and scores R² and RMSE in the target's own units, beside a least-squares
linear model and the training mean. An L2 penalty on every kernel (--l2; --l1 too: elastic
net; layers.kernel_penalty) keeps diabetes' 317 training patients from being memorised.
Hyperparameters: common.configs.RegressionConfig. Twin: keras_impl/regression.py.
"""
import sys

import numpy as np

from common import cli
from tf_impl import layers, supervised

NETWORK = "regression"


def build(config, input_shape, num_classes=1):
    """num_classes: 1 for a regression's data (common.data), taken for the supervised contract; one output."""
    rng = np.random.default_rng(config.seed)
    width = int(np.prod(input_shape))
    stack = [layers.Flatten()]  # (batch, ...) -> (batch, features)
    for units in config.hidden_units:
        stack.append(layers.Dense(width, units, config.activation, l2=config.l2, l1=config.l1, rng=rng))
        width = units
    stack.append(layers.Dense(width, 1, l2=config.l2, l1=config.l1, rng=rng))  # the prediction: linear, (batch, 1)
    return layers.Sequential(stack, name=NETWORK)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return supervised.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
