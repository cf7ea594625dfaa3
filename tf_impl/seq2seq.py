"""Sequence to sequence: an LSTM encoder-decoder with Luong attention, in raw TensorFlow.

    source ids -> embedding -> LSTM over the real steps -> outputs H (batch, S, units), final (h, c)
    START + target -> embedding -> LSTM from (h, c) -> decoder outputs s_t (batch, T, units), padding read too
    attention (Luong et al. 2015, dot):  scores = s_t . H   (no scale, as keras.layers.Attention)
                                         padded source steps: scores - 1e9;  a_t = softmax(scores)
                                         c_t = a_t H, and 0 where the decoder input is padding
    h~_t = tanh(W_c [c_t; s_t] + b_c)    (no attention: h~_t = s_t)
    logits = W h~_t + b

The encoder's final state starts the decoder (Sutskever, Vinyals & Le 2014). Training is
teacher forcing: the decoder reads the target shifted right (common/seq2seq.py), and the
loss is the cross-entropy averaged over the real (unpadded) target characters, as Keras
averages a masked loss. The recurrences are tf_impl.layers.Recurrent over LSTMCells (a
tf.while_loop; a padded step keeps the state, so the encoder ends in each source's last
real step). Translating runs the encoder once, then the decoder's cell one character at
a time, searched by the shared common/decoding.py, as the twin does.
Hyperparameters: common.configs.Seq2SeqConfig. Twin: keras_impl/seq2seq.py.
"""
import os
import sys
import time

import numpy as np
import tensorflow as tf

from common import cli, seq2seq
from common.vocabulary import Vocabulary
from common.results import save_weights
from tf_impl import layers, loop, optim, replicas

NETWORK = "seq2seq"
MASKED_SCORE = 1.0e9  # keras.layers.Attention subtracts this from the scores of padded steps (65504 in float16)


def attend(query, values, value_mask, query_mask=None):
    """Luong's dot attention, as keras.layers.Attention computes it: (context (batch, T, units), weights (batch, T, S))."""
    scores = tf.matmul(query, values, transpose_b=True)  # (batch, T, units) x (batch, S, units) -> (batch, T, S)
    padding = tf.logical_not(value_mask)[:, tf.newaxis, :]  # (batch, S) -> (batch, 1, S)
    weights = tf.nn.softmax(tf.where(padding, scores - MASKED_SCORE, scores), axis=-1)
    context = tf.matmul(weights, values)  # (batch, T, S) x (batch, S, units) -> (batch, T, units)
    if query_mask is not None:
        context = tf.where(query_mask[:, :, tf.newaxis], context, 0.0)  # padded decoder steps: no context
    return context, weights


class Seq2Seq(layers.Sequential):
    """Encoder and decoder; weights in Keras order: the two embeddings, encoder, decoder, attentional layer, logits."""

    def __init__(self, config, source_vocabulary_size, target_vocabulary_size):
        rng = np.random.default_rng(config.seed)
        units, width = config.units, config.embedding_dim
        source_embedding = layers.Embedding(source_vocabulary_size, width, rng=rng)
        target_embedding = layers.Embedding(target_vocabulary_size, width, rng=rng)
        encoder = layers.Recurrent(layers.LSTMCell(width, units, rng=rng), return_sequences=True, return_state=True)
        decoder = layers.Recurrent(layers.LSTMCell(width, units, rng=rng), return_sequences=True)
        attentional = layers.Dense(2 * units, units, activation="tanh", rng=rng) if config.attention else None
        output_layer = layers.Dense(units, target_vocabulary_size, rng=rng)
        parts = [source_embedding, target_embedding, encoder, decoder, attentional, output_layer]
        super().__init__([part for part in parts if part is not None], name=NETWORK)
        self.source_embedding, self.target_embedding = source_embedding, target_embedding
        self.encoder, self.decoder = encoder, decoder
        self.attentional, self.output_layer = attentional, output_layer

    def encode(self, source):
        """source ids (batch, S) -> (outputs (batch, S, units), (h, c) of the last real step, mask (batch, S))."""
        mask = tf.not_equal(source, 0)  # id 0 is padding
        outputs, h, c = self.encoder(self.source_embedding(source), mask=mask)
        return outputs, (h, c), mask

    def head(self, decoder_outputs, encoder_outputs, source_mask, target_mask=None):
        """Decoder outputs (batch, T, units) -> logits (batch, T, characters), through attention when it is on."""
        hidden = decoder_outputs
        if self.attentional is not None:
            context, _ = attend(decoder_outputs, encoder_outputs, source_mask, target_mask)
            hidden = self.attentional(tf.concat([context, decoder_outputs], axis=-1))  # (batch, T, 2 units)
        return self.output_layer(hidden)

    def __call__(self, inputs, training=False):
        """[source ids (batch, S), decoder input ids (batch, T)] -> logits (batch, T, characters)."""
        source, decoder_input = inputs
        encoder_outputs, state, source_mask = self.encode(source)
        target_mask = tf.not_equal(decoder_input, 0)
        # The decoder reads its padding too, unmasked, as Keras's does: Keras 3 hands a layer its inputs' mask
        # only when the inputs are its one tensor argument, and initial_state is a second one. The padding
        # trails the real characters, so no real output changes; the loss and attention mask it out.
        decoder_outputs = self.decoder(self.target_embedding(decoder_input), initial_state=state)
        return self.head(decoder_outputs, encoder_outputs, source_mask, target_mask)


def build(config, source_vocabulary_size, target_vocabulary_size):
    return Seq2Seq(config, source_vocabulary_size, target_vocabulary_size)


def token_losses(model, x, y, training=False):
    """(cross-entropy per target position (batch, T), mask of the real positions): teacher forced."""
    decoder_input = seq2seq.decoder_inputs(y)
    logits = model([x, decoder_input], training=training)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(y, tf.int32), logits=logits)
    return losses, tf.cast(tf.not_equal(decoder_input, 0), losses.dtype)


def loss_fn(model, x, y, training=False):
    """The batch's loss: the mean cross-entropy over its real target characters (Keras's masked mean)."""
    losses, mask = token_losses(model, x, y, training)
    return tf.math.divide_no_nan(tf.reduce_sum(losses * mask), tf.reduce_sum(mask))


def make_train_step(model, optimizer, strategy, element_spec):
    """train_step(x, y) -> (batch loss, batch size), on every replica; the mean over the global batch's characters."""
    def replica_step(x, y):
        with tf.GradientTape() as tape:
            losses, mask = token_losses(model, x, y, training=True)
            characters = tf.reduce_sum(mask)
            context = tf.distribute.get_replica_context()
            if context.num_replicas_in_sync > 1:  # every replica divides by the global batch's count
                characters = context.all_reduce(tf.distribute.ReduceOp.SUM, characters)
            loss = tf.math.divide_no_nan(tf.reduce_sum(losses * mask), characters)
        gradients = tape.gradient(loss, model.trainable_weights)
        optimizer.apply(gradients, model.trainable_weights)
        return loss, tf.shape(x)[0]

    return replicas.compiled_step(replica_step, strategy, element_spec)


def inference(model):
    """(start, step) for common/decoding.py: the encoder once, then the decoder's cell one character at a time."""
    def start(source_ids):
        encoder_outputs, (h, c), mask = model.encode(tf.constant(source_ids))
        return {"h": h, "c": c, "encoder_outputs": encoder_outputs, "source_mask": mask}

    def step(ids, state):
        output, c = model.decoder.cell.step(model.target_embedding(ids), (state["h"], state["c"]))  # (batch, units)
        hidden = model.head(output[:, tf.newaxis, :], state["encoder_outputs"], state["source_mask"])  # (batch, 1, V)
        log_probs = tf.nn.log_softmax(hidden[:, 0, :], axis=-1)
        return log_probs.numpy(), {**state, "h": output, "c": c}

    return start, step


class Translator(tf.Module):
    """What --export serves: source ids (batch, S) -> greedy translations (batch, max_output_length) of target ids,
    padded with 0 after the end token (the search of common/decoding.py greedy, in tf ops, for a SavedModel)."""

    def __init__(self, model, max_output_length):
        super().__init__(name="translator")
        self.model, self.max_output_length = model, max_output_length

    def __call__(self, source, training=False):
        encoder_outputs, (h, c), source_mask = self.model.encode(tf.cast(source, tf.int32))
        ids = tf.fill([tf.shape(source)[0]], Vocabulary.START)
        done = tf.zeros([tf.shape(source)[0]], tf.bool)
        written = []
        for _ in range(self.max_output_length):  # unrolled when traced: one SavedModel graph, no Python at serving
            h, c = self.model.decoder.cell.step(self.model.target_embedding(ids), (h, c))
            logits = self.model.head(h[:, tf.newaxis, :], encoder_outputs, source_mask)[:, 0, :]
            ids = tf.argmax(logits, axis=-1, output_type=tf.int32)  # ties: the lower id, as decoding.greedy
            done = done | tf.equal(ids, Vocabulary.END)
            written.append(tf.where(done, Vocabulary.PAD, ids))  # (batch,): nothing after the end token
        return tf.stack(written, axis=1)  # (batch, max_output_length)


def attention_weights(model):
    """(source ids, decoder input ids) -> the attention weights (batch, T, S) of the teacher-forced model."""
    def attention(source_ids, decoder_input_ids):
        encoder_outputs, state, source_mask = model.encode(tf.constant(source_ids))
        target_mask = tf.not_equal(decoder_input_ids, 0)
        decoder_outputs = model.decoder(model.target_embedding(decoder_input_ids), initial_state=state)  # unmasked
        return attend(decoder_outputs, encoder_outputs, source_mask, target_mask)[1].numpy()

    return attention


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    data = seq2seq.prepare(config, data)
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = build(config, data.info.vocabulary_size, data.info.num_classes)
        optimizer = optim.from_config(config, steps_per_epoch=loop.steps_of(data.train))
        optimizer.build(model.trainable_weights)
    train_batches = strategy.experimental_distribute_dataset(data.train)  # reshuffled per pass
    train_step = make_train_step(model, optimizer, strategy, train_batches.element_spec)
    evaluate_loss = tf.function(lambda x, y: loss_fn(model, x, y), reduce_retracing=True)

    def validate():
        """val_loss as Keras's evaluate reports it: the batches' losses averaged, weighted by batch size."""
        total = sum(float(evaluate_loss(x, y)) * int(tf.shape(x)[0]) for x, y in data.val)
        return {"val_loss": total / data.info.n_val}

    started = time.perf_counter()
    history, epochs_run = loop.run_epochs(
        epochs=config.epochs, train_step=train_step, train_batches=lambda: train_batches, validate=validate,
        verbose=verbose,
        checkpoint=loop.checkpoint_of(checkpoint_dir, NETWORK, config, data, model=model, optimizer=optimizer.state()),
        summaries=loop.summaries_of(tensorboard_dir, optimizer),
    )
    seconds = time.perf_counter() - started
    if out_dir is not None:
        save_weights(out_dir, model.get_weights())  # portable: Keras order, read by either implementation
        tf.train.Checkpoint(model=model).write(os.path.join(out_dir, "checkpoint"))  # TensorFlow's own format
    start, step = inference(model)
    result = seq2seq.scored_result(
        NETWORK, "tf", config, data, start=start, step=step,
        attention=attention_weights(model) if config.attention else None,
        history=history, epochs_run=epochs_run, seconds=seconds,
    )
    result.model, result.model_input = Translator(model, config.max_output_length), (data.info.input_shape, "int32")
    return result


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
