"""Deep feed-forward network in raw TensorFlow: five hidden layers, dropout, L2 weight decay, early stopping.

    x -> flatten -> [activation(x @ W + b) -> dropout] x 5 -> @ W + b -> logits

Regularised three ways against overfitting a small dataset: dropout after every hidden
layer (Srivastava et al. 2014), an L2 penalty on every kernel (L1, or both: elastic net,
with --l1; layers.kernel_penalty, added to the loss in tf_impl/supervised.py), and early
stopping on the validation loss with the best weights restored (tf_impl/loop.py).
Hyperparameters: common.configs.DeepMLPConfig. Twin: keras_impl/deep_mlp.py.
"""
import sys

import numpy as np

from common import cli
from tf_impl import layers, supervised

NETWORK = "deep_mlp"


def build(config, input_shape, num_classes):
    rng = np.random.default_rng(config.seed)
    width = int(np.prod(input_shape))
    stack = [layers.Flatten()]  # (batch, ...) -> (batch, features)
    for index, units in enumerate(config.hidden_units):
        stack.append(layers.Dense(width, units, config.activation, l2=config.l2, l1=config.l1, rng=rng))
        stack.append(layers.Dropout(config.dropout, seed=config.seed * 1000 + index))
        width = units
    outputs = 1 if num_classes == 2 else num_classes
    stack.append(layers.Dense(width, outputs, l2=config.l2, l1=config.l1, rng=rng))  # logits
    return layers.Sequential(stack, name=NETWORK)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return supervised.train(NETWORK, build, config, data, early_stopping_patience=config.patience, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
