"""Character-level language model and generator in Keras.

    ids (batch, time): <start> c1 c2 ... (0: padding)
      -> Embedding(vocabulary, embedding_dim, mask_zero=True)   the mask marks padded steps
      -> LSTM | GRU | SimpleRNN(units, return_sequences=True)  x layers (1 or 2)
      -> Dense(vocabulary): logits of the next character at every step

Trained on next-character prediction (Elman 1990; Graves 2013), as keras-io's
lstm_character_level_text_generation and text_generation_with_miniature_gpt: Embedding +
recurrent layer + Dense softmax, `fit` on (ids, next ids). The loss is the cross-entropy
over the real characters only (common/charlm.py says how it is averaged), and the model
generates one character at a time from its own cells (`step_function`), sampled by
common.decoding with temperature. On the embedded Reber grammar (Hochreiter & Schmidhuber
1997) its cross-entropy is judged against the exact optimum and its samples by the
grammar's acceptor (common.evaluate).
Hyperparameters: common.configs.CharLMConfig. Twin: tf_impl/charlm.py.
"""
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from common import charlm, checkpoints, cli, evaluate, registry
from common.checkpoints import CheckpointError
from common.results import RunResult, save_weights
from keras_impl import supervised

NETWORK = "charlm"
RECURRENT = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "rnn": keras.layers.SimpleRNN}


class RealCharacterCrossEntropy(keras.losses.Loss):
    """Sparse categorical cross-entropy from logits, the mean over the real characters (y != 0) of the global batch.

    reduction="sum" over sum(losses * real) / real characters of the global batch (common.charlm):
    the mean over real characters on one device, and the same gradient on several replicas.
    """

    def __init__(self, name="real_character_cross_entropy"):
        super().__init__(name=name, reduction="sum")

    def call(self, y_true, y_pred):
        real = keras.ops.cast(keras.ops.not_equal(y_true, 0), "float32")  # (batch, time): 0 at padding
        losses = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)  # (batch, time)
        return losses * real / keras.ops.maximum(charlm.real_characters(keras.ops.sum(real)), 1.0)


def build(config, input_shape, num_classes):
    """num_classes: the vocabulary's size, data.info.num_classes (the softmax width); any sequence length."""
    recurrent = RECURRENT[config.cell]
    stack = [keras.Input(shape=(None,), dtype="int32"),
             keras.layers.Embedding(num_classes, config.embedding_dim, mask_zero=True)]  # id 0 is padding
    stack += [recurrent(config.units, return_sequences=True) for _ in range(config.layers)]
    stack.append(keras.layers.Dense(num_classes))  # (batch, time, vocabulary): logits of the next character
    model = keras.Sequential(stack, name=NETWORK)
    model.compile(optimizer=supervised.optimizer_from_config(config), loss=RealCharacterCrossEntropy(),
                  jit_compile=False, steps_per_execution=1)  # as keras_impl/supervised.py compiles, and why
    return model


def step_function(model):
    """(step, initial_state) for common.decoding: the model's own layers, one character at a time.

    step(ids (batch,), state) -> (log-softmax of the next character (batch, vocabulary), state);
    the state holds each recurrent layer's cell state ([h, c] for an LSTM, [h] otherwise).
    """
    embedding, *recurrent, head = model.layers
    cells = [layer.cell for layer in recurrent]

    def initial_state(batch):
        return [list(cell.get_initial_state(batch)) for cell in cells]

    def step(ids, state):
        x = embedding.call(ids)  # (batch,) -> (batch, embedding_dim); call(): no padding mask to hand the cells
        new_state = []
        for cell, cell_state in zip(cells, state):
            x, cell_state = cell(x, cell_state, training=False)
            new_state.append(list(cell_state))
        logits = tf.cast(head(x), tf.float32)  # (batch, vocabulary)
        return tf.nn.log_softmax(logits).numpy(), new_state

    return step, initial_state


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    keras.utils.set_random_seed(config.seed)
    with supervised.precision(config.precision):
        model = build(config, data.info.input_shape, data.info.num_classes)
    schedule = supervised.schedule_from_config(config, steps_per_epoch=int(data.train.cardinality()))
    if schedule is not None:  # build compiled with the constant rate: the steps per epoch are known only here
        model.optimizer.learning_rate = schedule
    fingerprint = checkpoints.fingerprint(NETWORK, "keras", config, data)
    if checkpoint_dir is not None:  # the vocabulary beside the state, so that `twinnets generate` maps ids back
        checkpoints.claim(checkpoint_dir, fingerprint)
        charlm.save_vocabulary(checkpoint_dir, data.vocabulary)
    stats = supervised.EpochStats()
    started = time.perf_counter()
    fitted = supervised.resumable_fit(
        model, data.train, validation_data=data.val, epochs=config.epochs,
        callbacks=[supervised.StopOnDivergence(), stats], stats=stats, verbose=verbose,
        checkpoint_dir=checkpoint_dir, fingerprint=fingerprint, tensorboard_dir=tensorboard_dir,
    )
    seconds = time.perf_counter() - started
    if out_dir is not None:
        save_weights(out_dir, model.get_weights())  # portable: Keras order, read by either implementation
        model.save_weights(os.path.join(out_dir, "model.weights.h5"))  # Keras's own format
        charlm.save_vocabulary(out_dir, data.vocabulary)
    generated = None
    if data.grammar is not None:
        generated = charlm.acceptance_texts(*step_function(model), data, config)
    metrics = evaluate.language_model_scores(data, model.predict(data.test, verbose=0), generated)
    metric = registry.headline(NETWORK, metrics, "bits_per_character")
    return RunResult.scored(
        NETWORK, "keras", config, data, metric, metrics,
        history=supervised.keras_history(fitted, stats), epochs_run=len(fitted.history["loss"]), seconds=seconds,
        model=model,
        model_input=(data.info.input_shape, "int32"),
    )


def restore(config, vocabulary_size, directory):
    """The model whose training state `twinnets train charlm --impl keras --checkpoint-dir DIR` saved last."""
    with supervised.precision(config.precision):
        model = build(config, (None,), vocabulary_size)
    path = os.path.join(directory, supervised.Checkpoints.FILE)
    if not os.path.exists(path):
        raise CheckpointError(f"{directory} holds no saved Keras state of charlm yet (no {supervised.Checkpoints.FILE})")
    try:  # the state's first arrays are model.variables (Checkpoints.state_variables): weights and seed generators
        with np.load(path, allow_pickle=False) as archive:
            arrays = [archive[f"arr_{index}"] for index in range(len(model.variables))]
    except (OSError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path} does not hold this charlm's weights ({type(error).__name__})") from None
    if [tuple(v.shape) for v in model.variables] != [array.shape for array in arrays]:
        raise CheckpointError(f"{path} does not hold this charlm's weights (other shapes)")
    for variable, array in zip(model.variables, arrays):
        variable.assign(array)
    return model


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
