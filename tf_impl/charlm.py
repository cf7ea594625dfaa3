"""Character-level language model and generator in raw TensorFlow.

    ids (batch, time): <start> c1 c2 ... (0: padding)
      -> layers.Embedding(vocabulary, embedding_dim); mask = ids != 0   the mask marks padded steps
      -> layers.Recurrent(LSTMCell | GRUCell | SimpleRNNCell, return_sequences=True)  x layers (1 or 2)
      -> layers.Dense(vocabulary): logits of the next character at every step

Trained on next-character prediction (Elman 1990; Graves 2013): the loss is the
cross-entropy over the real characters only, summed and divided by the real characters of
the global batch (common/charlm.py), what keras_impl's compiled loss computes. The model
generates one character at a time from its own cells (`step_function`), sampled by
common.decoding with temperature. The cells are the ones rnn, lstm and gru use
(tf_impl/layers.py), so one cell serves classification, regression and generation.
Hyperparameters: common.configs.CharLMConfig. Twin: keras_impl/charlm.py.
"""
import os
import sys
import time

import numpy as np
import tensorflow as tf

from common import charlm, cli, evaluate, registry
from common.checkpoints import CheckpointError
from common.results import RunResult, save_weights
from tf_impl import layers, loop, optim, replicas

NETWORK = "charlm"


class CharLM(layers.Sequential):
    """embedding -> recurrent layers returning sequences -> dense head, the padding mask handed to every recurrent layer."""

    def __init__(self, embedding, recurrent, head, name=NETWORK):
        super().__init__([embedding, *recurrent, head], name=name)
        self.embedding, self.recurrent, self.head = embedding, list(recurrent), head

    def __call__(self, ids, training=False):
        mask = tf.not_equal(ids, 0)  # (batch, time): id 0 is padding
        x = self.embedding(ids, training=training)  # (batch, time) -> (batch, time, embedding_dim)
        for layer in self.recurrent:
            x = layer(x, mask=mask, training=training)  # (batch, time, units)
        batch, time = tf.shape(x)[0], tf.shape(x)[1]
        # Keras's Dense on a sequence is a tensordot, one matmul over every step: the same op here, so that the
        # kernel's gradient sums batch and time in the same order (it shows in float16)
        logits = self.head(tf.reshape(x, [-1, x.shape[-1]]), training=training)  # (batch * time, vocabulary)
        return tf.reshape(logits, [batch, time, -1])  # (batch, time, vocabulary)


def build(config, input_shape, num_classes):
    """num_classes: the vocabulary's size, data.info.num_classes (the softmax width); any sequence length."""
    rng = np.random.default_rng(config.seed)
    embedding = layers.Embedding(num_classes, config.embedding_dim, rng=rng)
    recurrent, width = [], config.embedding_dim
    for _ in range(config.layers):
        recurrent.append(layers.Recurrent(layers.CELLS[config.cell](width, config.units, rng=rng), return_sequences=True))
        width = config.units
    return CharLM(embedding, recurrent, layers.Dense(width, num_classes, rng=rng))


def real_character_loss(logits, y):
    """sum over real characters (y != 0) of the cross-entropy / real characters of the global batch, in float32."""
    real = tf.cast(tf.not_equal(y, 0), tf.float32)  # (batch, time): 0 at padding
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(y, tf.int32), logits=tf.cast(logits, tf.float32))
    # each term divided before the sum, as Keras's loss computes it: the float16 gradients round alike
    return tf.reduce_sum(losses * real / tf.maximum(charlm.real_characters(tf.reduce_sum(real)), 1.0))


def loss_fn(model, x, y, training=False):
    return real_character_loss(model(x, training=training), y)


def make_train_step(model, optimizer, strategy, element_spec, task=None):
    """train_step(x, y) -> (batch loss, batch size) on every replica: loss_fn's gradients applied (tf_impl/replicas.py
    loss_step). task: unused (the shared tests call every network's step as the supervised one's)."""
    return replicas.loss_step(loss_fn, model, optimizer, strategy, element_spec)


def step_function(model):
    """(step, initial_state) for common.decoding: the model's own cells, one character at a time.

    step(ids (batch,), state) -> (log-softmax of the next character (batch, vocabulary), state);
    the state holds each recurrent layer's cell state ((h, c) for an LSTM, (h,) otherwise).
    """
    cells = [layer.cell for layer in model.recurrent]

    def initial_state(batch):
        return [cell.initial_state(batch) for cell in cells]

    def step(ids, state):
        x = model.embedding(tf.constant(ids))  # (batch,) -> (batch, embedding_dim)
        new_state = []
        for cell, cell_state in zip(cells, state):
            cell_state = cell.step(x, tuple(cell_state))
            x = cell_state[0]  # the output h_t
            new_state.append(cell_state)
        logits = tf.cast(model.head(x), tf.float32)  # (batch, vocabulary)
        return tf.nn.log_softmax(logits).numpy(), new_state

    return step, initial_state


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope(), layers.precision(config.precision):
        model = build(config, data.info.input_shape, data.info.num_classes)
        optimizer = optim.from_config(config, steps_per_epoch=loop.steps_of(data.train))
        optimizer.build(model.trainable_weights)
    train_batches = strategy.experimental_distribute_dataset(data.train)  # reshuffled per pass
    train_step = make_train_step(model, optimizer, strategy, train_batches.element_spec)
    forward = tf.function(lambda x: tf.cast(model(x, training=False), tf.float32), reduce_retracing=True)

    def predict(dataset):
        return np.concatenate([forward(x).numpy() for x, _ in dataset], axis=0)  # (N, time, vocabulary)

    def validate():  # as Keras's evaluate: each batch's mean over its real characters, weighted by its size
        losses, sizes = zip(*((float(real_character_loss(forward(x), y)), len(x)) for x, y in data.val))
        return {"val_loss": float(np.dot(losses, sizes) / np.sum(sizes))}

    checkpoint = loop.checkpoint_of(checkpoint_dir, NETWORK, config, data, model=model, optimizer=optimizer.state())
    if checkpoint_dir is not None:  # the vocabulary beside the state, so that `twinnets generate` maps ids back
        charlm.save_vocabulary(checkpoint_dir, data.vocabulary)
    started = time.perf_counter()
    history, epochs_run = loop.run_epochs(
        epochs=config.epochs, train_step=train_step, train_batches=lambda: train_batches, validate=validate,
        verbose=verbose, checkpoint=checkpoint, summaries=loop.summaries_of(tensorboard_dir, optimizer),
    )
    seconds = time.perf_counter() - started
    if out_dir is not None:
        save_weights(out_dir, model.get_weights())  # portable: Keras order, read by either implementation
        tf.train.Checkpoint(model=model).write(os.path.join(out_dir, "checkpoint"))  # TensorFlow's own format
        charlm.save_vocabulary(out_dir, data.vocabulary)
    generated = None
    if data.grammar is not None:
        generated = charlm.acceptance_texts(*step_function(model), data, config)
    metrics = evaluate.language_model_scores(data, predict(data.test), generated)
    metric = registry.headline(NETWORK, metrics, "bits_per_character")
    return RunResult.scored(
        NETWORK, "tf", config, data, metric, metrics,
        history=history, epochs_run=epochs_run, seconds=seconds,
        model=model,
        model_input=(data.info.input_shape, "int32"),
    )


def restore(config, vocabulary_size, directory):
    """The model whose training state `twinnets train charlm --impl tf --checkpoint-dir DIR` saved last."""
    with layers.precision(config.precision):
        model = build(config, (None,), vocabulary_size)
    latest = tf.train.latest_checkpoint(directory)
    if latest is None:
        raise CheckpointError(f"{directory} holds no saved tf state of charlm yet (no checkpoint index)")
    try:
        tf.train.Checkpoint(model=model).read(latest).expect_partial().assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as error:
        raise CheckpointError(f"{latest} does not hold this charlm's weights ({type(error).__name__})") from None
    return model


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
