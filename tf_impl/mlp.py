"""Shallow feed-forward network (a multilayer perceptron with one hidden layer), in raw TensorFlow.

    x -> flatten -> activation(x @ W1 + b1) -> @ W2 + b2 -> logits

The universal-approximation workhorse, trained by backpropagation (tf_impl/supervised.py);
optional L1/L2 penalties (--l1, --l2) on both kernels.
Hyperparameters: common.configs.MLPConfig. Twin: keras_impl/mlp.py.
"""
import sys

import numpy as np

from common import cli
from tf_impl import layers, supervised

NETWORK = "mlp"


def build(config, input_shape, num_classes):
    rng = np.random.default_rng(config.seed)
    features = int(np.prod(input_shape))
    outputs = 1 if num_classes == 2 else num_classes
    return layers.Sequential(
        [
            layers.Flatten(),  # (batch, ...) -> (batch, features)
            layers.Dense(features, config.hidden_units, config.activation, l2=config.l2, l1=config.l1, rng=rng),
            layers.Dense(config.hidden_units, outputs, l2=config.l2, l1=config.l1, rng=rng),  # logits
        ],
        name=NETWORK,
    )


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return supervised.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
