"""Convolutional network, LeNet-style, in raw TensorFlow.

    image (H, W, C) -> [relu(conv2d(x, K) + b) -> max_pool 2x2] per entry of `filters`
          -> flatten -> relu(x @ W + b) -> dropout -> @ W + b -> logits

Local receptive fields, shared weights and subsampling (LeCun et al. 1998). 'SAME'
padding keeps the 8x8 digits alive through two poolings; the same code takes 28x28x1
(MNIST) and 32x32x3 (CIFAR-10). Optional L1/L2 penalties (--l1, --l2) on every kernel.
Hyperparameters: common.configs.CNNConfig. Twin: keras_impl/cnn.py.
"""
import sys

import numpy as np

from common import cli
from common.data import require_image
from tf_impl import layers, supervised

NETWORK = "cnn"


def build(config, input_shape, num_classes):
    height, width = require_image(input_shape, NETWORK, halvings=len(config.filters))
    rng = np.random.default_rng(config.seed)
    stack = []
    channels = input_shape[-1]
    for filters in config.filters:
        stack.append(layers.Conv2D(channels, filters, config.kernel_size, activation="relu", l2=config.l2, l1=config.l1,
                                   rng=rng))
        stack.append(layers.MaxPool2D(2))  # (batch, h, w, c) -> (batch, h//2, w//2, c)
        channels = filters
    outputs = 1 if num_classes == 2 else num_classes
    stack += [
        layers.Flatten(),  # (batch, h, w, c) -> (batch, h*w*c)
        layers.Dense(height * width * channels, config.dense_units, "relu", l2=config.l2, l1=config.l1, rng=rng),
        layers.Dropout(config.dropout, seed=config.seed),
        layers.Dense(config.dense_units, outputs, l2=config.l2, l1=config.l1, rng=rng),  # logits
    ]
    return layers.Sequential(stack, name=NETWORK)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return supervised.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
