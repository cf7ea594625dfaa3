"""The epoch loop: what `model.fit` does around the step, written out.

The step itself (forward pass, loss, gradients, update) stays with the network; this
module runs it over the epochs:

- each epoch is one compiled call (`tf.function` over the whole pass of the dataset):
  no Python per step and one host sync per epoch, where `fit` runs Python callbacks
  around every step;
- the values an epoch reports are running means over its batches, weighted by batch
  size, as Keras's loss trackers compute them ("loss" and, for a GAN, "g_loss");
- a running-mean loss that becomes NaN or infinite, or explodes past 1e4x its value at the
  run's first step, stops training, naming the first bad step and the epoch
  (common.evaluate.diverged); the last checkpoint stays the latest;
- validation after every epoch, early stopping, one progress line per epoch;
- per epoch, what a benchmark needs: the seconds of the training pass alone
  ("epoch_seconds") and how often the epoch function has been traced so far
  ("train_traces": [1, 1, ...] means it was never retraced);
- with a Checkpoint, the training state after every finite epoch, and a resume from it;
- with Summaries (--tensorboard), each epoch's values as TensorBoard scalars, named as
  Keras's TensorBoard callback names them.
"""
import json
import math
import os
import sys
import time

import tensorflow as tf

from common import checkpoints
from common.results import save_weights
from common.evaluate import EXPLOSION_FACTOR, diverged


class Checkpoint:
    """What must survive a crash, saved after every finite epoch; a rerun resumes from the latest save.

    `objects` are what a tf.train.Checkpoint tracks: the model (its layers' tf.random.Generators
    come with it), each optimizer's `state()`, the step's own generators. run_epochs adds the
    epoch count, the history and the early-stopping state (as one JSON string variable, so they
    are saved in the same file as the weights they belong to) and the best weights.
    The data order needs no state: each epoch draws the pipeline's next shuffle pass, and a
    resume skips the finished passes by making and dropping one iterator each (a seeded
    `reshuffle_each_iteration` shuffle advances per iterator).
    Saves are atomic: TensorFlow writes the new files under temporary names and then
    rewrites the `checkpoint` index in one rename, so a crash during a save leaves the
    previous checkpoint (max_to_keep=2) the latest. `fingerprint` (common.checkpoints) is
    checked before anything is read: another network's or config's state is refused.
    """

    def __init__(self, directory, fingerprint, **objects):
        checkpoints.claim(directory, fingerprint)
        self.directory = directory
        self.bookkeeping = tf.Variable("", dtype=tf.string, trainable=False)  # JSON: epochs done, history, ...
        self.checkpoint = tf.train.Checkpoint(bookkeeping=self.bookkeeping, **objects)
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=2)

    def track_best_weights(self, early_stopping):
        """Variables that hold early stopping's best weights, so that they are saved and restored too."""
        self.best_weights = [tf.Variable(w, trainable=False) for w in early_stopping.get_weights()]
        self.checkpoint.early_stopping_best_weights = self.best_weights

    def restore(self):
        """The bookkeeping dict of the latest save (variables restored), or None when there is none."""
        path = self.manager.latest_checkpoint
        if path is None:
            return None
        try:
            self.checkpoint.read(path).assert_existing_objects_matched()
        except (tf.errors.OpError, AssertionError, ValueError) as error:
            raise checkpoints.CheckpointError(
                f"{path} does not match this model ({type(error).__name__}); use another --checkpoint-dir"
            ) from None
        return json.loads(self.bookkeeping.numpy().decode())

    def save(self, state, epoch):
        self.bookkeeping.assign(json.dumps(state))
        self.manager.save(checkpoint_number=epoch)


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
    """One compiled pass: train_epoch(iterator, steps, start) -> (sums, examples, first bad step, bad, start).

    train_step(x, y) -> (values, batch_size): values is a dict of batch means with the
    keys `names`, or a single batch-mean loss. sums are the batch means * batch size.
    start holds each value's running mean after the run's first step (NaN until then; the
    pass fills it in). A step is bad when the running mean of a loss (what fit reports) is NaN or
    infinite or past common.evaluate.explosion_limit(start); the first bad step is -1
    when there was none; bad is (its running mean, that value's start).

    The pass loops over an *iterator* for a known number of steps (a tf.while_loop, as
    Keras's steps_per_execution does). `for x, y in dataset` inside a tf.function would be
    converted to Dataset.reduce, which runs the whole training step inside tf.data's
    function runtime: 2-12x slower than a Python loop here (TF 2.21, CPU), where this
    form is 1.3-2.8x faster.
    """

    losses = tuple(name for name in names if name.endswith("loss"))  # what can diverge (not an accuracy)

    @tf.function
    def train_epoch(iterator, steps, start):
        sums = {name: tf.constant(0.0) for name in names}
        examples = tf.constant(0)
        first_bad_step, bad_value, bad_start = tf.constant(-1), tf.constant(0.0), tf.constant(0.0)
        for step in tf.range(steps):
            x, y = next(iterator)
            values, batch_size = train_step(x, y)
            if not isinstance(values, dict):
                values = {"loss": values}
            weight = tf.cast(batch_size, tf.float32)
            sums = {name: sums[name] + tf.cast(values[name], tf.float32) * weight for name in names}
            examples += tf.cast(batch_size, tf.int32)
            running = {name: sums[name] / tf.cast(examples, tf.float32) for name in names}
            start = {name: tf.where(tf.math.is_nan(start[name]), running[name], start[name]) for name in names}
            for name in losses:  # common.evaluate.is_divergent, in tf ops
                limit = EXPLOSION_FACTOR * tf.maximum(tf.abs(start[name]), 1.0)
                bad = tf.logical_not(tf.math.is_finite(running[name])) | (tf.abs(running[name]) > limit)
                newly_bad = (first_bad_step < 0) & bad
                bad_value = tf.where(newly_bad, running[name], bad_value)
                bad_start = tf.where(newly_bad, start[name], bad_start)
                first_bad_step = tf.where(newly_bad, step, first_bad_step)
        return sums, examples, first_bad_step, (bad_value, bad_start), start

    return train_epoch


def steps_of(batches):
    """Batches in one pass of a pipeline (tf.data.Dataset or tf.distribute's DistributedDataset)."""
    cardinality = batches.cardinality
    count = int(cardinality() if callable(cardinality) else cardinality)
    if count < 0:
        raise ValueError("the training pipeline's length is unknown or infinite; the epoch needs it")
    return count


class Summaries:
    """--tensorboard DIR for this loop: per epoch, what keras.callbacks.TensorBoard(write_graph=False) writes, by name.

    train/:      epoch_<name> for each value the epoch reports (loss, accuracy, g_loss, ...), and
                 epoch_learning_rate (the optimizer's rate for its next step, as Keras reads it);
    validation/: epoch_<name> for each val_<name>, and evaluation_<name>_vs_iterations at the
                 optimizer's step count (what Keras writes at the end of every validation);
    the step of an epoch's scalars is its index from 0.
    """

    def __init__(self, directory, learning_rate=None, iterations=None):
        self.directory, self.writers = directory, {}
        self.learning_rate, self.iterations = learning_rate, iterations

    def writer(self, part):
        """train/ or validation/, created at its first scalar (as Keras does: no empty files)."""
        if part not in self.writers:
            self.writers[part] = tf.summary.create_file_writer(os.path.join(self.directory, part))
        return self.writers[part]

    def write(self, epoch, values):
        trained = {name: value for name, value in values.items() if not name.startswith("val_")}
        validated = {name[len("val_"):]: value for name, value in values.items() if name.startswith("val_")}
        if self.learning_rate is not None:
            trained["learning_rate"] = float(self.learning_rate())
        for part, scalars in (("train", trained), ("validation", validated)):
            if not scalars:
                continue
            with self.writer(part).as_default():
                for name, value in scalars.items():
                    if part == "validation" and self.iterations is not None:
                        tf.summary.scalar(f"evaluation_{name}_vs_iterations", value, step=int(self.iterations()))
                    tf.summary.scalar(f"epoch_{name}", value, step=epoch)
            self.writer(part).flush()

    def close(self):
        for writer in self.writers.values():
            writer.close()


def summaries_of(directory, optimizer=None):
    """Summaries in `directory` (None without one), with the learning rate and steps of `optimizer` if given."""
    if directory is None:
        return None
    if optimizer is None:
        return Summaries(directory)
    return Summaries(directory, learning_rate=optimizer.current_learning_rate, iterations=lambda: optimizer.iterations)


def run_epochs(*, epochs, train_step, train_batches, validate, names=("loss",), early_stopping=None, verbose=1,
               checkpoint=None, summaries=None):
    """Train for `epochs` passes, or until early stopping; with a Checkpoint, resume and save every epoch.

    train_step(x, y) -> (values, batch_size), see make_train_epoch; compiled or not, it is
    traced into the epoch.
    train_batches() -> the (x, y) pipeline, reshuffled on each pass (the same object every
    epoch, so the epoch is traced once).
    validate() -> dict of validation metrics ("val_loss", ...).
    checkpoint: a Checkpoint, or None.
    summaries: a Summaries (--tensorboard), or None.
    Returns (history, epochs_run).
    """
    train_epoch = make_train_epoch(train_step, names)
    history = {name: [] for name in names}
    history.update(epoch_seconds=[], train_traces=[])
    epochs_run, stopped = 0, False
    start = {name: tf.constant(math.nan) for name in names}  # the running means after this run's first step
    if checkpoint is not None:
        if early_stopping is not None:
            checkpoint.track_best_weights(early_stopping)
        state = checkpoint.restore()
        if state is not None:
            history, epochs_run, stopped = state["history"], state["epochs_done"], state["stopped"]
            if early_stopping is not None:
                _set_early_stopping_state(early_stopping, state["early_stopping"], checkpoint.best_weights)
            for _ in range(epochs_run):  # skip the finished epochs' shuffle passes
                iter(train_batches())
            if verbose:
                print(f"resuming after epoch {epochs_run} from {checkpoint.manager.latest_checkpoint}", flush=True)
    for epoch in range(epochs_run, 0 if stopped else epochs):
        started = time.perf_counter()
        batches = train_batches()
        sums, examples, first_bad_step, bad, start = train_epoch(iter(batches), tf.constant(steps_of(batches)), start)
        means = {name: float(sums[name]) / float(examples) for name in names}  # float(): waits for the pass
        history["epoch_seconds"].append(time.perf_counter() - started)
        history["train_traces"].append(train_epoch.experimental_get_tracing_count())
        if int(first_bad_step) >= 0:
            raise diverged(float(bad[0]), int(first_bad_step) + 1, epoch + 1, float(bad[1]))
        for name, value in means.items():
            history[name].append(value)
        for name, value in validate().items():
            history.setdefault(name, []).append(value)
        epochs_run = epoch + 1
        if summaries is not None:
            summaries.write(epoch, {name: values[-1] for name, values in history.items() if name not in BOOKKEEPING})
        if verbose:
            logs = " - ".join(f"{name}: {values[-1]:.4f}" for name, values in history.items() if name not in BOOKKEEPING)
            print(f"Epoch {epoch + 1}/{epochs} - {time.perf_counter() - started:.2f}s - {logs}", file=sys.stdout, flush=True)
        stopped = early_stopping is not None and early_stopping.should_stop(epoch, history["val_loss"][-1])
        if checkpoint is not None:
            _save(checkpoint, history, epochs_run, stopped, early_stopping)
        if stopped:
            if verbose:
                print(f"Epoch {epoch + 1}: early stopping", flush=True)
            break
    if early_stopping is not None:
        early_stopping.restore()
    if summaries is not None:
        summaries.close()
    return history, epochs_run


def _save(checkpoint, history, epochs_done, stopped, early_stopping):
    state = {"history": history, "epochs_done": epochs_done, "stopped": bool(stopped), "early_stopping": None}
    if early_stopping is not None:
        state["early_stopping"] = {"best": early_stopping.best, "best_epoch": early_stopping.best_epoch,
                                   "wait": early_stopping.wait, "has_best": early_stopping.best_weights is not None}
        if early_stopping.best_weights is not None:
            for variable, value in zip(checkpoint.best_weights, early_stopping.best_weights):
                variable.assign(value)
    checkpoint.save(state, epochs_done)


def _set_early_stopping_state(early_stopping, state, best_weights):
    early_stopping.best, early_stopping.best_epoch, early_stopping.wait = state["best"], state["best_epoch"], state["wait"]
    early_stopping.best_weights = [v.numpy() for v in best_weights] if state["has_best"] else None


def checkpoint_of(directory, network, config, data, part=None, **objects):
    """A Checkpoint of `objects` in `directory` (in its sub-folder `part`), fingerprinted for this run.

    None without a directory.
    """
    if directory is None:
        return None
    expected = checkpoints.fingerprint(network, "tf", config, data)
    if part is not None:
        directory, expected = checkpoints.part(directory, expected, part)
    return Checkpoint(directory, expected, **objects)


def train_and_save(network, config, data, model, optimizer, train_step, train_batches, validate, *, verbose=1,
                   out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    """The epochs of a network trained by one compiled step and one optimizer (detection, forecaster, segmentation,
    speech, tagger), as keras_impl/supervised.py fit_and_score runs `fit`: config.epochs passes over the
    distributed train_batches (resumable from checkpoint_dir, summarised to tensorboard_dir), then the weights saved
    to out_dir (Keras order, and TensorFlow's own format). Returns (history, epochs run, seconds of training)."""
    started = time.perf_counter()
    history, epochs_run = run_epochs(
        epochs=config.epochs, train_step=train_step, train_batches=lambda: train_batches, validate=validate,
        verbose=verbose, summaries=summaries_of(tensorboard_dir, optimizer),
        checkpoint=checkpoint_of(checkpoint_dir, network, config, data, model=model, optimizer=optimizer.state()),
    )
    seconds = time.perf_counter() - started
    if out_dir is not None:
        save_weights(out_dir, model.get_weights())  # portable: Keras order, read by either implementation
        tf.train.Checkpoint(model=model).write(os.path.join(out_dir, "checkpoint"))  # TensorFlow's own format
    return history, epochs_run, seconds
