"""Convolutional network, LeNet-style, in Keras.

    image (H, W, C) -> [Conv2D(filters, k, 'same', relu) -> MaxPool 2x2] per entry of `filters`
          -> flatten -> Dense(dense_units, relu) -> Dropout -> Dense(classes) -> logits

Local receptive fields, shared weights and subsampling (LeCun et al. 1998). 'same'
padding keeps the 8x8 digits alive through two poolings; the same code takes 28x28x1
(MNIST) and 32x32x3 (CIFAR-10). Optional L1/L2 penalties (--l1, --l2) on every kernel.
Hyperparameters: common.configs.CNNConfig. Twin: tf_impl/cnn.py.
"""
import sys

import keras

from common import cli
from common.data import require_image
from keras_impl import supervised

NETWORK = "cnn"


def build(config, input_shape, num_classes):
    require_image(input_shape, NETWORK, halvings=len(config.filters))
    # --l1/--l2 on every conv and dense kernel: l1 * sum|w| + l2 * sum w**2
    penalty = keras.regularizers.L1L2(l1=config.l1, l2=config.l2) if config.l1 or config.l2 else None
    stack = [keras.Input(shape=input_shape)]
    for filters in config.filters:
        stack.append(keras.layers.Conv2D(filters, config.kernel_size, padding="same", activation="relu",
                                         kernel_regularizer=penalty))
        stack.append(keras.layers.MaxPooling2D(2))  # (batch, h, w, c) -> (batch, h//2, w//2, c)
    stack += [
        keras.layers.Flatten(),  # (batch, h, w, c) -> (batch, h*w*c)
        keras.layers.Dense(config.dense_units, activation="relu", kernel_regularizer=penalty),
        keras.layers.Dropout(config.dropout),
        keras.layers.Dense(supervised.output_units(num_classes), kernel_regularizer=penalty),  # logits
    ]
    model = keras.Sequential(stack, name=NETWORK)
    return supervised.compile_classifier(model, config, num_classes)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return supervised.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
