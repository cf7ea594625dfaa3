"""The epoch loop: what `model.fit` does around the step, written out.

The step itself (forward pass, loss, gradients, update) stays with the network; this
module runs it over the epochs:

- each epoch is one compiled call (`tf.function` over the whole pass of the dataset):
  no Python per step and one host sync per epoch, where `fit` runs Python callbacks
  around every step;
- the values an epoch reports are running means over its batches, weighted by batch
  size, as Keras's loss trackers compute them ("loss" and, for a GAN, "g_loss");
- a NaN or infinite value stops training, naming the first step and the epoch where it
  appeared (common.evaluate.diverged);
- validation after every epoch, early stopping, one progress line per epoch;
- per epoch, what a benchmark needs: the seconds of the training pass alone
  ("epoch_seconds") and how often the epoch function has been traced so far
  ("train_traces": [1, 1, ...] means it was never retraced).
"""
import math
import sys
import time

import tensorflow as tf

from common.evaluate import diverged


class EarlyStopping:
    """keras.callbacks.EarlyStopping(monitor="val_loss", patience, restore_best_weights=True), step for step.

    Like Keras, the best weights are restored at the end of training whether or not
    training stopped early.
    """

    def __init__(self, patience, get_weights, set_weights):
        self.patience = patience
        self.get_weights, self.set_weights = get_weights, set_weights
        self.best = math.inf
        self.best_weights = None
        self.best_epoch = 0
        self.wait = 0

    def should_stop(self, epoch, value):
        if self.best_weights is None:
            self.best_weights, self.best_epoch = self.get_weights(), epoch
        self.wait += 1
        if value < self.best:
            self.best, self.best_epoch = value, epoch
            self.best_weights = self.get_weights()
            self.wait = 0
            return False
        return self.wait >= self.patience and epoch > 0

    def restore(self):
        if self.best_weights is not None:
            self.set_weights(self.best_weights)


BOOKKEEPING = ("epoch_seconds", "train_traces")  # in the history, not in the progress line


def make_train_epoch(train_step, names=("loss",)):
    """One compiled pass: train_epoch(iterator, steps) -> (sums of batch means * batch size, examples, first bad step).

    train_step(x, y) -> (values, batch_size): values is a dict of batch means with the
    keys `names`, or a single batch-mean loss. The first bad step is -1 when every value
    of every step was finite.

    The pass loops over an *iterator* for a known number of steps (a tf.while_loop, as
    Keras's steps_per_execution does). `for x, y in dataset` inside a tf.function would be
    converted to Dataset.reduce, which runs the whole training step inside tf.data's
    function runtime: 2-12x slower than a Python loop here (TF 2.21, CPU), where this
    form is 1.3-2.8x faster.
    """

    @tf.function
    def train_epoch(iterator, steps):
        sums = {name: tf.constant(0.0) for name in names}
        examples = tf.constant(0)
        first_bad_step = tf.constant(-1)
        for step in tf.range(steps):
            x, y = next(iterator)
            values, batch_size = train_step(x, y)
            if not isinstance(values, dict):
                values = {"loss": values}
            finite = tf.reduce_all(tf.stack([tf.math.is_finite(values[name]) for name in names]))
            first_bad_step = tf.where((first_bad_step < 0) & tf.logical_not(finite), step, first_bad_step)
            weight = tf.cast(batch_size, tf.float32)
            sums = {name: sums[name] + tf.cast(values[name], tf.float32) * weight for name in names}
            examples += tf.cast(batch_size, tf.int32)
        return sums, examples, first_bad_step

    return train_epoch


def steps_of(batches):
    """Batches in one pass of a pipeline (tf.data.Dataset or tf.distribute's DistributedDataset)."""
    cardinality = batches.cardinality
    count = int(cardinality() if callable(cardinality) else cardinality)
    if count < 0:
        raise ValueError("the training pipeline's length is unknown or infinite; the epoch needs it")
    return count


def run_epochs(*, epochs, train_step, train_batches, validate, names=("loss",), early_stopping=None, verbose=1):
    """Train for `epochs` passes, or until early stopping.

    train_step(x, y) -> (values, batch_size), see make_train_epoch; compiled or not, it is
    traced into the epoch.
    train_batches() -> the (x, y) pipeline, reshuffled on each pass (the same object every
    epoch, so the epoch is traced once).
    validate() -> dict of validation metrics ("val_loss", ...).
    Returns (history, epochs_run).
    """
    train_epoch = make_train_epoch(train_step, names)
    history = {name: [] for name in names}
    history.update(epoch_seconds=[], train_traces=[])
    epochs_run = 0
    for epoch in range(epochs):
        started = time.perf_counter()
        batches = train_batches()
        sums, examples, first_bad_step = train_epoch(iter(batches), tf.constant(steps_of(batches)))
        means = {name: float(sums[name]) / float(examples) for name in names}  # float(): waits for the pass
        history["epoch_seconds"].append(time.perf_counter() - started)
        history["train_traces"].append(train_epoch.experimental_get_tracing_count())
        if int(first_bad_step) >= 0:
            raise diverged(_first_nonfinite(means), int(first_bad_step) + 1, epoch + 1)
        for name, value in means.items():
            history[name].append(value)
        for name, value in validate().items():
            history.setdefault(name, []).append(value)
        epochs_run = epoch + 1
        if verbose:
            logs = " - ".join(f"{name}: {values[-1]:.4f}" for name, values in history.items() if name not in BOOKKEEPING)
            print(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - started:.2f}s - {logs}", file=sys.stdout, flush=True)
        if early_stopping is not None and early_stopping.should_stop(epoch, history["val_loss"][-1]):
            if verbose:
                print(f"Epoch {epoch + 1}: early stopping", flush=True)
            break
    if early_stopping is not None:
        early_stopping.restore()
    return history, epochs_run


def _first_nonfinite(means):
    return next((value for value in means.values() if not math.isfinite(value)), "nan")
