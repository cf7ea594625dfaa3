"""Logistic regression in raw TensorFlow: logits = x @ W + b.

Two classes: one logit, p(y=1|x) = sigmoid(x.w + b). More classes: K logits and a
softmax (multinomial logistic regression). Which one is chosen from the data.
Trained by minimising cross-entropy (tf_impl/supervised.py), optionally with an L2 and/or L1
penalty (elastic net).

Hyperparameters: common.configs.LogisticRegressionConfig. Twin: keras_impl/logistic_regression.py.
"""
import sys

import numpy as np

from common import cli
from tf_impl import layers, supervised

NETWORK = "logistic_regression"


def build(config, input_shape, num_classes):
    rng = np.random.default_rng(config.seed)
    features = int(np.prod(input_shape))
    outputs = 1 if num_classes == 2 else num_classes
    return layers.Sequential(
        [
            layers.Flatten(),  # (batch, ...) -> (batch, features)
            layers.Dense(features, outputs, l2=config.l2, l1=config.l1, rng=rng),  # logits
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
