"""Compile and fit a classifier or a regressor: shared by the supervised keras_impl networks.

The twin of `tf_impl/supervised.py`, which writes out what these calls do:
`compile` picks the loss from the number of classes (one logit and a sigmoid for two,
softmax over K logits for more, always from logits; mean squared error for one
real-valued output, num_classes 1 in common.data), and `fit` runs the epochs.
"""
import contextlib
import json
import os
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from common import checkpoints, evaluate, registry
from common.evaluate import diverged, is_divergent
from common.results import RunResult, save_weights


@contextlib.contextmanager
def precision(policy):
    """Layers built inside use this Keras dtype policy ("mixed_bfloat16"/"mixed_float16": bfloat16/float16
    compute, float32 variables). Under mixed_float16, `compile` wraps the optimizer in a LossScaleOptimizer.

    The policy is set around the build only, so a later run in the same process starts from float32.
    Keras losses cast predictions to float32, so the loss is float32 either way.
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def optimizer_from_config(config, beta_1=0.9):
    """The optimizer a config names, Keras's defaults for the rest (tf_impl/optim.py from_config is the twin).

    beta_1: Adam's and AdamW's first-moment decay (the GAN passes its adam_beta_1).
    """
    name = config.optimizer
    if name == "sgd":
        return keras.optimizers.SGD(config.learning_rate, momentum=config.momentum, nesterov=config.nesterov)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(config.learning_rate, momentum=config.momentum)
    if name == "adagrad":
        return keras.optimizers.Adagrad(config.learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay, beta_1=beta_1)
    if name == "adam":
        return keras.optimizers.Adam(config.learning_rate, beta_1=beta_1)
    raise ValueError(f"unknown optimizer {name!r}")  # TrainConfig refuses it first


def schedule_from_config(config, steps_per_epoch):
    """The keras.optimizers.schedules schedule a config names (None: constant), in optimizer steps.

    tf_impl/schedules.py schedule_from_config is the twin. exponential: decay_rate per epoch;
    cosine: down to 0 at the last step, after a linear warm-up from 0 over warmup_epochs.
    """
    schedules = keras.optimizers.schedules
    if config.learning_rate_schedule == "exponential":
        return schedules.ExponentialDecay(config.learning_rate, decay_steps=steps_per_epoch, decay_rate=config.decay_rate)
    if config.learning_rate_schedule == "cosine":
        decay_steps = (config.epochs - config.warmup_epochs) * steps_per_epoch
        if config.warmup_epochs:
            return schedules.CosineDecay(0.0, decay_steps, warmup_target=config.learning_rate,
                                         warmup_steps=config.warmup_epochs * steps_per_epoch)
        return schedules.CosineDecay(config.learning_rate, decay_steps)
    return None


def output_units(num_classes):
    return 1 if num_classes == 2 else num_classes


def compile_regressor(model, config):
    """Mean squared error of one real-valued output (data.info.task == "regression")."""
    model.compile(optimizer=optimizer_from_config(config), loss=keras.losses.MeanSquaredError(), jit_compile=False,
                  steps_per_execution=1)  # explicit, as compile_classifier says why
    return model


def compile_classifier(model, config, num_classes):
    if num_classes == 2:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        accuracy = keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)  # threshold on the logit
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    # Explicit, to compare like with like (twinnets bench): jit_compile "auto" is off on CPU anyway, and
    # tf_impl uses no XLA either; steps_per_execution=1 is fit's default, one host call and one round of
    # callbacks per step (StopOnDivergence names the bad step), the fit path as users run it. tf_impl's loop
    # compiles a whole epoch into one call instead: that difference is what the bench measures.
    model.compile(optimizer=optimizer_from_config(config), loss=loss, metrics=[accuracy], jit_compile=False,
                  steps_per_execution=1)
    return model


def epoch_options(pipeline):
    """fit() options that make each epoch see the pipeline's next shuffle, exactly as tf_impl's loop does.

    shuffle=False: the pipeline already reshuffles every pass with the run's seed.
    steps_per_epoch: without it, fit (Keras 3.15, trainers/epoch_iterator.py) makes a new
    iterator at the end of every epoch and then another at the start of the next, so
    epoch k would see shuffle pass 2k - 1 and one shuffle buffer per epoch would be
    filled for nothing. With it, epoch k sees pass k.
    """
    return {"shuffle": False, "steps_per_epoch": int(pipeline.cardinality())}


class EpochStats(keras.callbacks.Callback):
    """Per epoch, what tf_impl's loop records too: seconds of the training pass alone
    (validation excluded) and how often fit's train function has been traced so far."""

    def __init__(self):
        super().__init__()
        self.history = {"epoch_seconds": [], "train_traces": []}

    def on_epoch_begin(self, epoch, logs=None):
        self.started, self.trained = time.perf_counter(), None

    def on_test_begin(self, logs=None):  # validation starts: the training pass is over
        if self.trained is None:
            self.trained = time.perf_counter() - self.started

    def on_epoch_end(self, epoch, logs=None):
        self.history["epoch_seconds"].append(self.trained if self.trained is not None else time.perf_counter() - self.started)
        self.history["train_traces"].append(traces_of(self.model.train_function))


def traces_of(function, depth=3):
    """How often the tf.functions behind fit's train function were traced (None if none are found).

    Keras 3.15 keeps them in closures (backend/tensorflow/trainer.py: `one_step_on_data`,
    `multi_step_on_iterator`), not as attributes, so we look there.
    """
    if hasattr(function, "experimental_get_tracing_count"):
        return function.experimental_get_tracing_count()
    counts = [traces_of(cell.cell_contents, depth - 1) for cell in (getattr(function, "__closure__", None) or ())
              if depth > 0 and callable(cell.cell_contents)]
    counts = [count for count in counts if count is not None]
    return sum(counts) if counts else None


def keras_history(fitted, stats, drop=()):
    """fit's history as plain floats, with EpochStats' entries: the same keys tf_impl's loop writes."""
    history = {name: [float(v) for v in values] for name, values in fitted.history.items() if name not in drop}
    return {**history, **stats.history}


class StopOnDivergence(keras.callbacks.Callback):
    """Stop when a loss diverges, with an error naming the step and epoch, so no result is written.

    Diverges: the running mean fit reports for a loss (every log whose name ends in "loss")
    becomes NaN or infinite, or passes common.evaluate.explosion_limit of its value after
    the run's first step, as tf_impl/loop.py checks in its compiled epoch.
    keras.callbacks.TerminateOnNaN stops quietly instead, and only on NaN. The per-batch
    check runs on Keras's callback thread (async_safe), so it costs the loop no host sync.
    """

    async_safe = True

    def on_train_begin(self, logs=None):
        self.start = {}

    def on_epoch_begin(self, epoch, logs=None):
        self.first_bad = None

    def on_train_batch_end(self, batch, logs=None):
        for name, value in (logs or {}).items():
            if not name.endswith("loss"):
                continue
            value = float(value)
            start = self.start.setdefault(name, value)
            if self.first_bad is None and is_divergent(value, start):
                self.first_bad = (batch, value, start)

    def on_epoch_end(self, epoch, logs=None):
        if self.first_bad is not None:
            batch, value, start = self.first_bad
            raise diverged(value, batch + 1, epoch + 1, start)


class Checkpoints(keras.callbacks.Callback):
    """--checkpoint-dir for fit: the whole training state after every finite epoch, and a resume from it.

    keras.callbacks.BackupAndRestore keeps the weights, the optimizer and the epoch, but
    not what a resume must reproduce as well: the layers' seed generators (dropout masks,
    a GAN's latents), early stopping's best/wait/best weights, and the history so far.
    This saves all of it as one .npz, written under a temporary name and renamed over the
    previous one (atomic: a crash during a save leaves the previous state whole), with
    common.checkpoints' fingerprint next to it. The data order, as in tf_impl/loop.py:
    each epoch draws the pipeline's next shuffle pass, so a resume makes and drops one
    iterator per finished epoch. Put it after StopOnDivergence (a NaN epoch is never saved),
    EpochStats and EarlyStopping in the callback list.
    """

    FILE = "keras_state.npz"

    def __init__(self, directory, fingerprint, optimizers, stats, early_stopping=None):
        super().__init__()
        checkpoints.claim(directory, fingerprint)
        self.path = os.path.join(directory, self.FILE)
        self.optimizers, self.stats, self.early_stopping = optimizers, stats, early_stopping
        self.history, self.epochs_done, self.stopped, self.early_stopping_state = {}, 0, False, None

    def state_variables(self):
        """Every variable a resume needs, in a fixed order: the model's, its layers' seed generator
        states (not in model.variables for nested layers such as Dropout; found through Keras 3's
        private _flatten_layers), then each optimizer's (iterations, learning rate, slots)."""
        found, seen = [], set()
        layers = self.model._flatten_layers(include_self=True, recursive=True)
        candidates = list(self.model.variables) + [generator.state for layer in layers
                                                   for generator in getattr(layer, "_seed_generators", [])]
        candidates += [variable for optimizer, _ in self.optimizers for variable in optimizer.variables]
        for variable in candidates:
            if id(variable) not in seen:
                seen.add(id(variable))
                found.append(variable)
        return found

    def restore(self, model, pipeline):
        """Load the latest state into `model` (before fit); returns fit's initial_epoch."""
        self.set_model(model)
        for optimizer, variables in self.optimizers:
            if not optimizer.built:
                optimizer.build(variables)
        directory = os.path.dirname(self.path)
        for name in os.listdir(directory):  # what a save interrupted by a crash left behind
            if name.startswith(".tmp-") and name.endswith(".npz"):
                os.unlink(os.path.join(directory, name))
        if not os.path.exists(self.path):
            return 0
        try:
            with np.load(self.path, allow_pickle=False) as archive:
                meta = json.loads(str(archive["meta"]))
                arrays = [archive[f"arr_{index}"] for index in range(meta["variables"])]
                best = [archive[f"best_{index}"] for index in range(meta["best_weights"])]
        except (OSError, ValueError, KeyError) as error:
            raise checkpoints.CheckpointError(f"{self.path} is unreadable ({type(error).__name__}); "
                                              "use another --checkpoint-dir") from None
        variables = self.state_variables()
        if [tuple(v.shape) for v in variables] != [tuple(a.shape) for a in arrays]:
            raise checkpoints.CheckpointError(f"{self.path} does not match this model; use another --checkpoint-dir")
        for variable, array in zip(variables, arrays):
            variable.assign(array)
        self.history, self.epochs_done, self.stopped = meta["history"], meta["epochs_done"], meta["stopped"]
        self.stats.history = meta["stats"]
        self.early_stopping_state = meta["early_stopping"]
        if self.early_stopping_state is not None:
            self.early_stopping_state["best_weights"] = best or None
        for _ in range(self.epochs_done):  # skip the finished epochs' shuffle passes
            iter(pipeline)
        return self.epochs_done

    def on_train_begin(self, logs=None):  # after EarlyStopping's own reset
        if self.early_stopping is not None and self.early_stopping_state is not None:
            for name, value in self.early_stopping_state.items():
                setattr(self.early_stopping, name, value)

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        self.epochs_done = epoch + 1
        self.stopped = bool(self.model.stop_training)
        self.save()

    def save(self):
        early = None
        best = []
        if self.early_stopping is not None:
            stopper = self.early_stopping
            early = {"wait": stopper.wait, "stopped_epoch": stopper.stopped_epoch, "best": stopper.best,
                     "best_epoch": stopper.best_epoch}
            best = list(stopper.best_weights or [])
        variables = [np.asarray(v.numpy()) for v in self.state_variables()]
        meta = {"history": self.history, "epochs_done": self.epochs_done, "stopped": self.stopped,
                "stats": self.stats.history, "early_stopping": early, "variables": len(variables),
                "best_weights": len(best)}
        arrays = {f"arr_{index}": array for index, array in enumerate(variables)}
        arrays.update({f"best_{index}": np.asarray(array) for index, array in enumerate(best)})
        directory = os.path.dirname(self.path)
        handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=directory)
        try:
            with os.fdopen(handle, "wb") as stream:
                np.savez(stream, meta=np.array(json.dumps(meta)), **arrays)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


def resumable_fit(model, pipeline, *, epochs, callbacks, stats, verbose, checkpoint_dir=None, fingerprint=None,
                  optimizers=None, early_stopping=None, tensorboard_dir=None, **fit_arguments):
    """model.fit(pipeline) for `epochs`, resumed from and saved to checkpoint_dir when one is given.

    optimizers: [(optimizer, the variables it updates)] (default: the compiled model's);
    the returned History holds every epoch's values, the resumed ones included.
    tensorboard_dir: Keras's TensorBoard callback writes each epoch's logs there (train/, validation/);
    tf_impl/loop.py Summaries writes the same names.
    """
    if tensorboard_dir is not None:  # after StopOnDivergence: a diverged epoch is not written
        callbacks = list(callbacks) + [keras.callbacks.TensorBoard(log_dir=tensorboard_dir, write_graph=False)]
    progress = 0 if not verbose else (1 if sys.stdout.isatty() else 2)
    optimizers = optimizers or [(model.optimizer, model.trainable_variables)]
    for optimizer, variables in optimizers:  # before fit: built inside the first trace, Keras would trace it twice
        if not optimizer.built:
            optimizer.build(variables)
    checkpoint, initial_epoch = None, 0
    if checkpoint_dir is not None:
        checkpoint = Checkpoints(checkpoint_dir, fingerprint, optimizers, stats, early_stopping)
        initial_epoch = checkpoint.restore(model, pipeline)
        if checkpoint.stopped:  # early stopping had ended the run
            initial_epoch = epochs
        if initial_epoch and verbose:
            print(f"resuming after epoch {checkpoint.epochs_done} from {checkpoint.path}", flush=True)
        callbacks = list(callbacks) + [checkpoint]
    fitted = model.fit(pipeline, epochs=max(epochs, initial_epoch), initial_epoch=initial_epoch, callbacks=callbacks,
                       verbose=progress, **fit_arguments, **epoch_options(pipeline))
    if checkpoint is not None:
        fitted.history = checkpoint.history  # every epoch, the restored ones first
    return fitted


def train(network, build, config, data, *, early_stopping_patience=None, verbose=1, out_dir=None, checkpoint_dir=None,
          tensorboard_dir=None):
    keras.utils.set_random_seed(config.seed)
    with precision(config.precision):
        model = build(config, data.info.input_shape, data.info.num_classes)
    schedule = schedule_from_config(config, steps_per_epoch=int(data.train.cardinality()))
    if schedule is not None:  # build compiled with the constant rate: the steps per epoch are known only here
        model.optimizer.learning_rate = schedule
    stats = EpochStats()
    callbacks, stopper = [StopOnDivergence(), stats], None
    if early_stopping_patience is not None:
        stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=early_stopping_patience,
                                                restore_best_weights=True)
        callbacks.append(stopper)
    started = time.perf_counter()
    train_pipeline = data.train
    fitted = resumable_fit(
        model, train_pipeline, validation_data=data.val, epochs=config.epochs, callbacks=callbacks, stats=stats,
        verbose=verbose, checkpoint_dir=checkpoint_dir, early_stopping=stopper, tensorboard_dir=tensorboard_dir,
        fingerprint=checkpoints.fingerprint(network, "keras", config, data),
    )
    seconds = time.perf_counter() - started
    epochs_run = len(fitted.history["loss"])
    if out_dir is not None:
        save_weights(out_dir, model.get_weights())  # portable: Keras order, read by either implementation
        model.save_weights(os.path.join(out_dir, "model.weights.h5"))  # Keras's own format
    if data.info.task == "regression":  # in y's own units, with the linear and mean baselines beside
        metrics = evaluate.regression_scores(data, model.predict(data.test, verbose=0))
        metric = registry.headline(network, metrics, "mse")
    else:
        metrics, metric = evaluate.classification(data.y_test, model.predict(data.test, verbose=0)), "accuracy"
    return RunResult.scored(
        network, "keras", config, data, metric, metrics,
        history=keras_history(fitted, stats), epochs_run=epochs_run, seconds=seconds,
        model=model,
        model_input=(data.info.input_shape, "int32" if data.info.kind == "tokens" else "float32"),
    )


def fit_and_score(network, config, data, model, scored_result, *, verbose=1, out_dir=None, checkpoint_dir=None,
                  tensorboard_dir=None, served=None, **scoring):
    """The train() of a network whose compiled model fit trains as it is (detection, forecaster, segmentation,
    speech, tagger): fit config.epochs epochs (resumable, stopped on a NaN loss), save the weights (both formats),
    then score the test predictions by its family's scored_result (common/<family>.py). served: what --export
    writes and the result keeps, when not the model itself (the forecaster's de-normalising wrapper); scoring:
    scored_result's other keywords."""
    stats = EpochStats()
    started = time.perf_counter()
    fitted = resumable_fit(
        model, data.train, validation_data=data.val, epochs=config.epochs,
        callbacks=[StopOnDivergence(), stats], stats=stats, verbose=verbose, checkpoint_dir=checkpoint_dir,
        tensorboard_dir=tensorboard_dir, fingerprint=checkpoints.fingerprint(network, "keras", config, data),
    )
    seconds = time.perf_counter() - started
    if out_dir is not None:
        save_weights(out_dir, model.get_weights())  # portable: Keras order, read by either implementation
        model.save_weights(os.path.join(out_dir, "model.weights.h5"))  # Keras's own format
    return scored_result(
        network, "keras", config, data, model.predict(data.test, verbose=0),
        history=keras_history(fitted, stats), epochs_run=len(fitted.history["loss"]), seconds=seconds,
        model=model if served is None else served, **scoring,
    )


def per_replica(loss):
    """This replica's share of a batch-mean loss under a tf.distribute strategy: loss / replicas.

    Keras sums the replicas' gradients in apply_gradients; fit's own train_step divides the
    loss first (keras.src.losses.loss.scale_loss_for_distribution), and so must an
    overridden train_step. With one device it is the loss itself.
    """
    return loss / tf.distribute.get_strategy().num_replicas_in_sync  # tf.distribute: Keras 3 has no public form
