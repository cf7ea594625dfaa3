"""Compile and fit a classifier or a regressor: shared by the supervised keras_impl networks.

The twin of `tf_impl/supervised.py`, which writes out what these calls do:
`compile` picks the loss from the number of classes (one logit and a sigmoid for two,
softmax over K logits for more, always from logits; mean squared error for one
real-valued output, num_classes 1 in common.data), and `fit` runs the epochs.
"""
import dataclasses
import math
import os
import sys
import time

import keras

from common import evaluate
from common.evaluate import diverged
from common.results import RunResult, save_weights, training_throughput


def optimizer_from_config(config):
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(config.learning_rate, momentum=config.momentum)
    return keras.optimizers.Adam(config.learning_rate)


def output_units(num_classes):
    return 1 if num_classes == 2 else num_classes


def compile_regressor(model, config):
    """Mean squared error of one real-valued output (data.info.task == "regression")."""
    model.compile(optimizer=optimizer_from_config(config), loss=keras.losses.MeanSquaredError(), jit_compile=False)
    return model


def compile_classifier(model, config, num_classes):
    if num_classes == 2:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        accuracy = keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)  # threshold on the logit
    else:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
    # jit_compile "auto" is off on CPU anyway; say so, to compare like with like.
    model.compile(optimizer=optimizer_from_config(config), loss=loss, metrics=[accuracy], jit_compile=False)
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


class StopOnNaN(keras.callbacks.Callback):
    """Stop on a NaN/infinite loss with an error naming the step and epoch, so no result is written.

    keras.callbacks.TerminateOnNaN stops quietly instead. The per-batch check runs on
    Keras's callback thread (async_safe), so it costs the training loop no host sync.
    """

    async_safe = True

    def on_epoch_begin(self, epoch, logs=None):
        self.first_bad = None

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))  # the epoch's running mean: NaN from the bad step on
        if self.first_bad is None and not math.isfinite(loss):
            self.first_bad = (batch, loss)

    def on_epoch_end(self, epoch, logs=None):
        if self.first_bad is not None:
            batch, loss = self.first_bad
            raise diverged(loss, batch + 1, epoch + 1)


def train(network, build, config, data, *, early_stopping_patience=None, verbose=1, out_dir=None):
    keras.utils.set_random_seed(config.seed)
    model = build(config, data.info.input_shape, data.info.num_classes)
    stats = EpochStats()
    callbacks = [StopOnNaN(), stats]
    if early_stopping_patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=early_stopping_patience, restore_best_weights=True)
        )
    progress = 0 if not verbose else (1 if sys.stdout.isatty() else 2)
    started = time.perf_counter()
    train_pipeline = data.train
    fitted = model.fit(
        train_pipeline, validation_data=data.val, epochs=config.epochs, callbacks=callbacks, verbose=progress,
        **epoch_options(train_pipeline),
    )
    seconds = time.perf_counter() - started
    epochs_run = len(fitted.history["loss"])
    if out_dir is not None:
        save_weights(out_dir, model.get_weights())  # portable: Keras order, read by either implementation
        model.save_weights(os.path.join(out_dir, "model.weights.h5"))  # Keras's own format
    if data.info.task == "regression":
        score, metric = evaluate.regression, "mse"
    else:
        score, metric = evaluate.classification, "accuracy"
    metrics = score(data.y_test, model.predict(data.test, verbose=0))
    return RunResult(
        network=network,
        impl="keras",
        dataset=data.info.name,
        metric=metric,
        value=metrics[metric],
        metrics=metrics,
        history=keras_history(fitted, stats, drop=("accuracy",)),  # training accuracy: tf_impl does not track it
        train_seconds=seconds,
        samples_per_second=training_throughput(data.info.n_train, stats.history["epoch_seconds"]),
        epochs_run=epochs_run,
        seed=config.seed,
        config=dataclasses.asdict(config),
    )
