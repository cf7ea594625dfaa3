"""Transfer learning in Keras: pretrain a base, freeze it under a new head, fine-tune its top.

    source task -> cnn (keras_impl/cnn.py), trained here or read from --base-checkpoint
    base  = the cnn's [Conv2D -> MaxPool 2x2] blocks, always called with training=False
    head  = a new cnn top for the target classes: Flatten -> Dense(dense_units, relu) -> Dropout -> Dense(classes)
    1. feature extraction: base.trainable = False; compile; fit head_epochs at learning_rate
    2. fine-tuning: the top fine_tune_layers conv layers trainable again; compile again (a new
       optimizer: its slots belong to the new set of trained variables); fit fine_tune_epochs
       at fine_tune_learning_rate
    3. scratch, the baseline: the same base + head freshly initialised, everything trained,
       head_epochs + fine_tune_epochs at learning_rate, on the same few target examples

Features learned on one task carry over to another, the lower layers most (Yosinski et
al. 2014, "How transferable are features in deep neural networks?"); the recipe is the
Keras guide's "Transfer learning & fine-tuning". The base runs in inference mode in every
phase, so batch-norm statistics, if a base had them, would never move.
Hyperparameters: common.configs.TransferConfig. Twin: tf_impl/transfer.py.
"""
import dataclasses
import os
import sys
import time

import keras
import numpy as np

from common import checkpoints, cli, evaluate
from common import transfer as shared
from common.data import DataError, few_shot
from common.results import save_weights
from keras_impl import cnn, supervised

NETWORK = "transfer"


def cnn_layers(config, input_shape, num_classes):
    """A fresh cnn's layers, split into its convolutional base and its top."""
    fresh = cnn.build(config.base_config(), input_shape, num_classes)
    blocks = 2 * len(config.filters)  # conv + pool per entry of filters
    return fresh, fresh.layers[:blocks], fresh.layers[blocks:]


def build(config, input_shape, num_classes, base_layers=None):
    """base(x, training=False) -> new head; the base is fresh unless pretrained layers are given."""
    _, fresh_base, head = cnn_layers(config, input_shape, num_classes)
    base = keras.Sequential([keras.Input(shape=input_shape), *(base_layers or fresh_base)], name="base")
    inputs = keras.Input(shape=input_shape)
    x = base(inputs, training=False)  # inference mode in every phase, trainable or not
    for layer in head:
        x = layer(x)  # Dropout follows fit's training flag
    return keras.Model(inputs, x, name=NETWORK)


def set_phase(model, config, phase):
    """Freeze or unfreeze for `phase`, then compile: a new optimizer for the new set of trained variables."""
    base = model.get_layer("base")
    base.trainable = phase != "feature_extraction"  # also sets every layer of the base
    if phase == "fine_tuning":
        convs = [layer for layer in base.layers if layer.weights]
        for layer in convs[: len(convs) - config.fine_tune_layers]:
            layer.trainable = False
    units = model.output_shape[-1]
    phase_config = dataclasses.replace(config, learning_rate=config.learning_rate_of(phase))
    return supervised.compile_classifier(model, phase_config, 2 if units == 1 else units)


def fit(model, data, epochs, verbose, checkpoint=(None, None), tensorboard_dir=None):
    """checkpoint: (folder, fingerprint) of this phase's state, or (None, None); tensorboard_dir: this phase's."""
    train_pipeline = data.train
    stats = supervised.EpochStats()
    fitted = supervised.resumable_fit(model, train_pipeline, validation_data=data.val, epochs=epochs,
                                      callbacks=[supervised.StopOnDivergence(), stats], stats=stats, verbose=verbose,
                                      checkpoint_dir=checkpoint[0], fingerprint=checkpoint[1],
                                      tensorboard_dir=tensorboard_dir)
    return supervised.keras_history(fitted, stats)


def score(model, data):
    return evaluate.classification(data.y_test, np.float32(model.predict(data.test, verbose=0)))


def load_base(config, path, input_shape):
    """The base's layers with the weights of a cnn checkpoint: model.weights.h5 or weights.npz."""
    kind, path = shared.resolve_checkpoint(path, "keras")
    _, base_layers, _ = cnn_layers(config, input_shape, 2)
    base = keras.Sequential([keras.Input(shape=input_shape), *base_layers], name="base")
    expected = [tuple(w.shape) for w in base.weights]
    if kind == "npz":
        base.set_weights(shared.base_arrays(path, expected))
        return base_layers
    shared.check_shapes(path, _h5_base_shapes(path), expected)
    try:  # Keras's own reader: the base's layers carry the names of the cnn's first layers
        base.load_weights(path)
    except ValueError as error:
        raise DataError(f"base checkpoint {path}: {error}") from None
    return base_layers


def _h5_base_shapes(path):
    """Shapes of a cnn's conv weights in its model.weights.h5 (layers/conv2d, layers/conv2d_1, ...)."""
    import h5py

    try:
        with h5py.File(path, "r") as weights:
            names = [name for name in weights.get("layers", {}) if name.split("_")[0] == "conv2d"]
            names.sort(key=lambda name: int(name.rpartition("_")[2]) if "_" in name else 0)
            return [weights[f"layers/{name}/vars/{index}"].shape for name in names for index in (0, 1)]
    except OSError as error:
        raise DataError(f"base checkpoint {path}: not a readable Keras weights file ({error})") from None


def pretrain(config, source, verbose, checkpoint=(None, None), tensorboard_dir=None):
    """A cnn trained on the source task; returns its base layers, source test metrics and history."""
    model, base_layers, _ = cnn_layers(config, source.info.input_shape, source.info.num_classes)
    history = fit(model, source, config.epochs, verbose, checkpoint, tensorboard_dir)
    return base_layers, score(model, source), history


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    with supervised.precision(config.precision):  # every model built inside computes in config.precision
        return train_in_precision(config, data, verbose=verbose, out_dir=out_dir, checkpoint_dir=checkpoint_dir,
                                  tensorboard_dir=tensorboard_dir)


def train_in_precision(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    keras.utils.set_random_seed(config.seed)
    target = few_shot(data, config.examples_per_class)
    shape, classes = target.info.input_shape, target.info.num_classes
    started = time.perf_counter()
    metrics, history, examples = {}, {}, 0

    def checkpoint_of(phase):  # one sub-folder of --checkpoint-dir per phase: (folder, fingerprint)
        if checkpoint_dir is None:
            return None, None
        return checkpoints.part(checkpoint_dir, checkpoints.fingerprint(NETWORK, "keras", config, data), phase)

    def summaries_of(phase):  # one sub-folder of --tensorboard per phase
        return None if tensorboard_dir is None else os.path.join(tensorboard_dir, phase)

    if config.base_checkpoint:
        base_layers = load_base(config, config.base_checkpoint, shape)
    else:
        source = shared.source_task(data)
        base_layers, source_metrics, history_of_source = pretrain(config, source, verbose, checkpoint_of("pretrain"),
                                                                     summaries_of("pretrain"))
        metrics["source_accuracy"] = source_metrics["accuracy"]
        history["pretrain_loss"] = history_of_source["loss"]
        examples += source.info.n_train * config.epochs

    model = build(config, shape, classes, base_layers)
    runs = {}
    for phase, model_of_phase in (("feature_extraction", model), ("fine_tuning", model),
                                  ("scratch", build(config, shape, classes))):
        runs[phase] = fit(set_phase(model_of_phase, config, phase), target, config.epochs_of(phase), verbose,
                          checkpoint_of(phase), summaries_of(phase))
        metrics[f"{phase}_accuracy"] = score(model_of_phase, target)["accuracy"]
        examples += target.info.n_train * config.epochs_of(phase)
    seconds = time.perf_counter() - started
    if out_dir is not None:
        save_weights(out_dir, model.get_weights())
        model.save_weights(f"{out_dir}/{shared.NATIVE['keras']}")
    result = shared.result("keras", config, data, metrics=metrics, runs=runs, history=history, seconds=seconds,
                           examples=examples)
    result.model, result.model_input = model, (shape, "float32")  # --export: the transferred classifier
    return result


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
