"""A feed-forward network trained by backpropagation, in Keras: `fit` differentiates for us.

    x -> flatten -> Dense(h1, activation) [-> Dense(h2, activation)] -> Dense(outputs) -> logits

Two or three dense layers (one or two hidden), trained by gradient descent on one of two
losses (BackpropConfig.loss), both computed from the logits:

    cross_entropy:  softmax cross-entropy over K classes; for 2 classes one logit, sigmoid
                    cross-entropy (keras.losses.*Crossentropy(from_logits=True))
    squared_error:  mean over the outputs of (p - t)^2, p = softmax(logits) against the
                    one-hot t (K classes), or p = sigmoid(logit) against y (2 classes)

The backward pass that `fit` finds by automatic differentiation is written out by hand,
with the chain rule as matrix products, in the twin: tf_impl/backprop.py
(Rumelhart, Hinton & Williams 1986). Hyperparameters: common.configs.BackpropConfig.
"""
import sys

import keras
from keras import ops

from common import cli
from common.data import DataError
from keras_impl import supervised

NETWORK = "backprop"


class SquaredErrorOfProbabilities(keras.losses.Loss):
    """Per example: mean over the K outputs of (softmax(logits) - one_hot(y))^2; one output: (sigmoid(logit) - y)^2.

    keras.losses.MeanSquaredError on the probabilities; Keras's Loss takes the mean over the batch.
    """

    def __init__(self, num_classes, name="squared_error"):
        super().__init__(name=name)
        self.num_classes = num_classes

    def call(self, y_true, y_pred):
        if self.num_classes == 2:
            probabilities = ops.sigmoid(y_pred)
            targets = ops.reshape(ops.cast(y_true, probabilities.dtype), (-1, 1))  # (N,) -> (N, 1)
        else:
            probabilities = ops.softmax(y_pred, axis=-1)
            targets = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), self.num_classes)  # (N,) -> (N, K)
        return ops.mean(ops.square(probabilities - targets), axis=-1)


def build(config, input_shape, num_classes):
    if num_classes < 2:
        raise DataError(f"{NETWORK} classifies: it needs class labels, not a regression target")
    stack = [keras.Input(shape=input_shape), keras.layers.Flatten()]  # (batch, ...) -> (batch, features)
    for units in config.hidden_units:
        stack.append(keras.layers.Dense(units, activation=config.activation))
    stack.append(keras.layers.Dense(supervised.output_units(num_classes)))  # logits
    model = keras.Sequential(stack, name=NETWORK)
    if config.loss == "cross_entropy":
        return supervised.compile_classifier(model, config, num_classes)
    accuracy = (keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0) if num_classes == 2  # on the logit
                else keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
    model.compile(optimizer=supervised.optimizer_from_config(config), loss=SquaredErrorOfProbabilities(num_classes),
                  metrics=[accuracy], jit_compile=False, steps_per_execution=1)  # as compile_classifier
    return model


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    return supervised.train(NETWORK, build, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
