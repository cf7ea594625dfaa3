"""Compile and fit a classifier: shared by the feed-forward keras_impl networks.

The twin of `tf_impl/supervised.py`, which writes out what these calls do:
`compile` picks the loss from the number of classes (one logit and a sigmoid for two,
softmax over K logits for more, always from logits), and `fit` runs the epochs.
"""
import dataclasses
import sys
import time

import keras

from common import evaluate
from common.evaluate import check_finite
from common.results import RunResult, save_weights


def optimizer_from_config(config):
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(config.learning_rate, momentum=config.momentum)
    return keras.optimizers.Adam(config.learning_rate)


def output_units(num_classes):
    return 1 if num_classes == 2 else num_classes


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


class StopOnNaN(keras.callbacks.Callback):
    """Raise instead of keras.callbacks.TerminateOnNaN's quiet stop, so no result is written."""

    def on_epoch_end(self, epoch, logs=None):
        check_finite(float((logs or {}).get("loss", 0.0)), "the training loss", epoch)


def train(network, build, config, data, *, early_stopping_patience=None, verbose=1, out_dir=None):
    keras.utils.set_random_seed(config.seed)
    model = build(config, data.info.input_shape, data.info.num_classes)
    callbacks = [StopOnNaN()]
    if early_stopping_patience is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=early_stopping_patience, restore_best_weights=True)
        )
    progress = 0 if not verbose else (1 if sys.stdout.isatty() else 2)
    started = time.perf_counter()
    # shuffle=False: the pipeline already reshuffles every epoch with the run's seed (common.data).
    fitted = model.fit(
        data.train, validation_data=data.val, epochs=config.epochs, callbacks=callbacks, verbose=progress, shuffle=False
    )
    seconds = time.perf_counter() - started
    epochs_run = len(fitted.history["loss"])
    if out_dir is not None:
        save_weights(out_dir, model.get_weights())
    metrics = evaluate.classification(data.y_test, model.predict(data.test, verbose=0))
    return RunResult(
        network=network,
        impl="keras",
        dataset=data.info.name,
        metric="accuracy",
        value=metrics["accuracy"],
        metrics=metrics,
        history={name: [float(v) for v in values] for name, values in fitted.history.items() if name != "accuracy"},
        train_seconds=seconds,
        samples_per_second=data.info.n_train * epochs_run / seconds,
        epochs_run=epochs_run,
        seed=config.seed,
        config=dataclasses.asdict(config),
    )
