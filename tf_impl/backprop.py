"""Backpropagation written out: a feed-forward network whose every gradient is computed by hand.

    x -> flatten -> f(x @ W1 + b1) [-> f(. @ W2 + b2)] -> . @ W_L + b_L -> logits

Two or three dense layers (one or two hidden, f = relu | tanh | sigmoid), trained on
cross-entropy or squared error (common.configs.BackpropConfig). No tf.GradientTape:
the training step runs the forward pass keeping every pre-activation z and activation a,
the loss, the backward pass by the chain rule as matrix products, and the update
(Rumelhart, Hinton & Williams 1986, "Learning representations by back-propagating
errors"). Twin: keras_impl/backprop.py, where `fit` differentiates automatically; the
tests check these gradients against tf.GradientTape's and against finite differences.

Notation: layer l = 1..L has kernel W_l (n_{l-1}, n_l) and bias b_l (n_l,); a_0 = x,
N examples in the (global) batch, rows are examples.

    forward    z_l = a_{l-1} W_l + b_l          a_l = f(z_l) for l < L;  logits = z_L
    loss       L = 1/N sum_n loss_n(z_L[n], y_n)
    backward   delta_L = dL/dz_L                                 (per loss, output_error)
               dL/dW_l = a_{l-1}^T delta_l                       (n_{l-1}, n_l)
               dL/db_l = sum over the batch of delta_l           (n_l,)
               delta_{l-1} = (delta_l W_l^T) * f'(z_{l-1})        elementwise
    update     w <- optimizer(w, dL/dw)                          (tf_impl/optim.py: Adam by default)
"""
import sys
import time

import numpy as np
import tensorflow as tf

from common import cli, evaluate
from common.data import DataError
from tf_impl import layers, loop, optim, replicas, supervised

NETWORK = "backprop"


# --- the model: its weights in Keras order; forward() reads them ---


class FeedForward(layers.Sequential):
    """Dense layers holding W_l, b_l (Glorot-uniform kernels, zero biases, as Keras); the nonlinearity is
    applied in forward(), which keeps what the backward pass needs. Weights: W1, b1, W2, b2, ... (Keras order)."""

    def __init__(self, config, input_shape, num_classes):
        if num_classes < 2:
            raise DataError(f"{NETWORK} classifies: it needs class labels, not a regression target")
        rng = np.random.default_rng(config.seed)
        outputs = 1 if num_classes == 2 else num_classes  # one logit and a sigmoid for two classes
        widths = [int(np.prod(input_shape)), *config.hidden_units, outputs]
        super().__init__([layers.Dense(n_in, n_out, rng=rng) for n_in, n_out in zip(widths[:-1], widths[1:])],
                         name=NETWORK)
        self.activation, self.loss, self.num_classes = config.activation, config.loss, num_classes

    def __call__(self, x, training=False):
        pre_activations, _ = forward(self.trainable_weights, x, self.activation)
        return pre_activations[-1]  # logits


def build(config, input_shape, num_classes):
    return FeedForward(config, input_shape, num_classes)


# --- forward pass ---


def activate(z, activation):
    """a = f(z)."""
    return {"relu": tf.nn.relu, "tanh": tf.math.tanh, "sigmoid": tf.math.sigmoid}[activation](z)


def forward(weights, x, activation):
    """z_l = a_{l-1} W_l + b_l, a_l = f(z_l); the last layer is linear (its z is the logits).

    weights: [W1, b1, ..., WL, bL]. Returns (pre_activations [z_1..z_L], activations [a_0..a_{L-1}]).
    """
    a = tf.reshape(x, [tf.shape(x)[0], -1])  # (batch, ...) -> (batch, features): a_0
    a = tf.cast(a, weights[0].dtype)
    kernels, biases = weights[0::2], weights[1::2]
    pre_activations, activations = [], [a]
    for layer, (kernel, bias) in enumerate(zip(kernels, biases)):
        z = layers.add_bias(tf.matmul(a, kernel), bias)  # (batch, n_l)
        pre_activations.append(z)
        if layer < len(kernels) - 1:
            a = activate(z, activation)
            activations.append(a)
    return pre_activations, activations


# --- loss ---


def probabilities(logits):
    """p = softmax(z_L) over K outputs, or sigmoid(z_L) for one output (two classes)."""
    return tf.math.sigmoid(logits) if logits.shape[-1] == 1 else tf.nn.softmax(logits, axis=-1)


def targets_of(y, logits):
    """t: one-hot rows (N, K) for K outputs; the 0/1 label as a column (N, 1) for one output."""
    if logits.shape[-1] == 1:
        return tf.cast(tf.reshape(y, [-1, 1]), logits.dtype)  # (N,) -> (N, 1): no (N, N) broadcast
    return tf.one_hot(tf.cast(tf.reshape(y, [-1]), tf.int32), logits.shape[-1], dtype=logits.dtype)  # (N,) -> (N, K)


def per_example_loss(logits, y, loss):
    """loss_n of each example, from the logits z = z_L[n]:

    cross_entropy:  -sum_k t_k log p_k   (one output: -t log p - (1 - t) log(1 - p)), from the logits
                    through tf.nn's stable forms, as keras.losses.*Crossentropy(from_logits=True)
    squared_error:  1/K sum_k (p_k - t_k)^2   (one output: (p - t)^2), keras.losses.MeanSquaredError on p
    """
    if loss == "cross_entropy":
        return supervised.cross_entropy(logits, y)
    return tf.reduce_mean(tf.square(probabilities(logits) - targets_of(y, logits)), axis=-1)


# --- backward pass ---


def output_error(logits, y, loss, batch_size):
    """delta_L = dL/dz_L for L = 1/N sum_n loss_n, (N, K), where p = probabilities(z_L), t = targets:

    cross_entropy (softmax or sigmoid):  delta_L = (p - t) / N
    squared_error, one output:           delta_L = 2 (p - t) p (1 - p) / N              (sigmoid' = p (1 - p))
    squared_error, softmax over K:       g = dloss_n/dp = 2 (p - t) / K
                                         delta_L = p * (g - sum_k g_k p_k) / N          (softmax's Jacobian
                                                                  dp_k/dz_j = p_k (1[j = k] - p_j), applied to g)
    """
    p, t = probabilities(logits), targets_of(y, logits)
    n = tf.cast(batch_size, logits.dtype)
    if loss == "cross_entropy":
        return (p - t) / n
    if logits.shape[-1] == 1:
        return 2.0 * (p - t) * p * (1.0 - p) / n
    g = 2.0 * (p - t) / logits.shape[-1]  # (N, K)
    return p * (g - tf.reduce_sum(g * p, axis=-1, keepdims=True)) / n


def derivative(z, a, activation):
    """f'(z), from z or from a = f(z): relu 1[z > 0]; tanh 1 - a^2; sigmoid a (1 - a)."""
    if activation == "relu":
        return tf.cast(z > 0, z.dtype)  # 0 at z = 0, as tf.nn.relu's gradient
    if activation == "tanh":
        return 1.0 - tf.square(a)
    return a * (1.0 - a)


def backward(weights, pre_activations, activations, delta, activation):
    """The chain rule from delta_L = dL/dz_L back to the input layer: [dL/dW1, dL/db1, ..., dL/dWL, dL/dbL]."""
    kernels = weights[0::2]
    gradients = [None] * len(weights)
    for layer in reversed(range(len(kernels))):
        gradients[2 * layer] = tf.matmul(activations[layer], delta, transpose_a=True)  # a_{l-1}^T delta_l (n_{l-1}, n_l)
        gradients[2 * layer + 1] = tf.reduce_sum(delta, axis=0)  # sum over the batch of delta_l (n_l,)
        if layer > 0:  # delta_{l-1} = (delta_l W_l^T) * f'(z_{l-1}), (batch, n_{l-1})
            delta = tf.matmul(delta, kernels[layer], transpose_b=True) * derivative(
                pre_activations[layer - 1], activations[layer], activation)
    return gradients


def loss_and_gradients(weights, x, y, activation, loss, batch_size=None):
    """The whole computation of one step but the update: (L, [dL/dW1, dL/db1, ...]), by hand.

    batch_size: the N that divides (the global batch under a tf.distribute strategy); default: this batch's.
    """
    batch_size = tf.shape(x)[0] if batch_size is None else batch_size
    pre_activations, activations = forward(weights, x, activation)
    logits = pre_activations[-1]
    value = tf.reduce_sum(per_example_loss(logits, y, loss)) / tf.cast(batch_size, logits.dtype)
    delta = output_error(logits, y, loss, batch_size)
    return value, backward(weights, pre_activations, activations, delta, activation)


def loss_fn(model, x, y, training=False, task="classification"):
    """The scalar loss of one batch (as tf_impl.supervised.loss_fn, with this network's loss)."""
    return tf.reduce_mean(per_example_loss(model(x, training=training), y, model.loss))


# --- the training step and the epochs ---


def make_train_step(model, optimizer, strategy, element_spec, task="classification", track_accuracy=False):
    """A compiled step (x, y) -> (loss, examples): forward, loss, backward, update; with track_accuracy,
    ({"loss", "accuracy"}, examples), the training accuracy fit's compiled metric reports.

    Under a strategy each replica divides by the *global* batch (tf_impl/replicas.py), so the
    replicas' gradients, summed by optimizer.apply, are the gradients of the global batch mean.
    Same signature as tf_impl.supervised.make_train_step.
    """
    if task != "classification":
        raise DataError(f"{NETWORK} classifies: it needs class labels, not a regression target")

    def replica_step(x, y):
        weights = model.trainable_weights
        batch_size = replicas.global_batch_size(x)  # N: every replica's examples
        # forward: z_l = a_{l-1} W_l + b_l, a_l = f(z_l), kept for the backward pass
        pre_activations, activations = forward(weights, x, model.activation)
        logits = pre_activations[-1]
        # loss: L = 1/N sum_n loss_n (this replica's share of the global batch mean)
        loss = tf.reduce_sum(per_example_loss(logits, y, model.loss)) / tf.cast(batch_size, logits.dtype)
        # backward: delta_L = dL/dz_L, then dL/dW_l = a_{l-1}^T delta_l, dL/db_l = sum delta_l, down to layer 1
        delta = output_error(logits, y, model.loss, batch_size)
        gradients = backward(weights, pre_activations, activations, delta, model.activation)
        # update: w <- optimizer(w, dL/dw), the replicas' gradients summed first
        optimizer.apply(gradients, weights)
        if not track_accuracy:
            return loss, tf.shape(x)[0]
        accuracy = tf.reduce_sum(supervised.correct(logits, y)) / tf.cast(batch_size, tf.float32)  # as fit's metric
        return {"loss": loss, "accuracy": accuracy}, tf.shape(x)[0]

    return replicas.compiled_step(replica_step, strategy, element_spec)  # run on every replica, summed


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    """Build, train by hand-written backpropagation, evaluate: keras_impl/backprop.py's `fit`, written out."""
    if data.info.task != "classification":
        raise DataError(f"{NETWORK} classifies: {data.info.name} is a regression task")
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = build(config, data.info.input_shape, data.info.num_classes)
        optimizer = optim.from_config(config, steps_per_epoch=loop.steps_of(data.train))
        optimizer.build(model.trainable_weights)
    train_batches = strategy.experimental_distribute_dataset(data.train)  # reshuffled per pass
    train_step = make_train_step(model, optimizer, strategy, train_batches.element_spec, track_accuracy=True)
    predict = supervised.make_predict(model)

    def validate():
        logits = predict(data.val)
        val_loss = float(tf.reduce_mean(per_example_loss(tf.constant(logits), data.y_val, config.loss)))
        return {"val_loss": val_loss, "val_accuracy": evaluate.classification(data.y_val, logits)["accuracy"]}

    started = time.perf_counter()
    history, epochs_run = loop.run_epochs(
        epochs=config.epochs,
        train_step=train_step,
        train_batches=lambda: train_batches,
        validate=validate,
        names=("loss", "accuracy"),
        verbose=verbose,
        checkpoint=loop.checkpoint_of(checkpoint_dir, NETWORK, config, data, model=model, optimizer=optimizer.state()),
        summaries=loop.summaries_of(tensorboard_dir, optimizer),
    )
    seconds = time.perf_counter() - started
    return supervised.scored_result(NETWORK, config, data, model, predict, history, epochs_run, seconds, out_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
