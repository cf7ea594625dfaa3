"""Deep feed-forward network in Keras: five hidden layers, dropout, L2 weight decay, early stopping.

    x -> flatten -> [Dense(units, activation, L1L2) -> Dropout] x 5 -> Dense(classes, L1L2) -> logits

Regularised three ways against overfitting a small dataset: dropout after every hidden
layer (Srivastava et al. 2014), an L2 penalty on every kernel (L1, or both: elastic net,
with --l1), and early stopping on the validation loss with the best weights restored.
Hyperparameters: common.configs.DeepMLPConfig. Twin: tf_impl/deep_mlp.py.
"""
import sys

import keras

from common import cli
from keras_impl import supervised

NETWORK = "deep_mlp"


def build(config, input_shape, num_classes):
    # on every kernel: l1 * sum|w| + l2 * sum w**2 (L2 alone by default; both > 0: elastic net)
    penalty = keras.regularizers.L1L2(l1=config.l1, l2=config.l2) if config.l1 or config.l2 else None
    stack = [keras.Input(shape=input_shape), keras.layers.Flatten()]  # (batch, ...) -> (batch, features)
    for units in config.hidden_units:
        stack.append(keras.layers.Dense(units, activation=config.activation, kernel_regularizer=penalty))
        stack.append(keras.layers.Dropout(config.dropout))
    stack.append(keras.layers.Dense(supervised.output_units(num_classes), kernel_regularizer=penalty))  # logits
    model = keras.Sequential(stack, name=NETWORK)
    return supervised.compile_classifier(model, config, num_classes)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return supervised.train(NETWORK, build, config, data, early_stopping_patience=config.patience, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
