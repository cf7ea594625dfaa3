"""Sequence to sequence: an LSTM encoder-decoder with Luong attention, in Keras.

    source ids -> Embedding(mask_zero) -> LSTM(return_sequences, return_state) -> outputs H, final (h, c)
    START + target -> Embedding(mask_zero) -> LSTM(initial_state=[h, c]) -> decoder outputs s_t
    attention (Luong et al. 2015, dot):  a_t = softmax(s_t . H) over the real source steps,  c_t = a_t H
                                         keras.layers.Attention: unscaled dot product, padding masked
    h~_t = tanh(W_c [c_t; s_t] + b_c)    Concatenate -> Dense(units, tanh)   (--no-attention: h~_t = s_t)
    logits = W h~_t + b                  Dense(target characters)

The encoder's final state starts the decoder (Sutskever, Vinyals & Le 2014); training is
teacher forcing, as in keras-io's lstm_seq2seq (`fit` on [source, decoder input] -> target,
the decoder input being the target shifted right, common/seq2seq.py), with the padding
masked out of the loss by the mask the Embedding starts. Translating is the keras-io
inference models' way: the encoder once, then the decoder's layers one character at a
time (its LSTM's cell), searched greedily or by beam by the shared common/decoding.py.
Hyperparameters: common.configs.Seq2SeqConfig. Twin: tf_impl/seq2seq.py.
"""
import os
import sys
import time

import keras
import tensorflow as tf

from common import checkpoints, cli, seq2seq
from common.results import save_weights
from common.vocabulary import Vocabulary
from keras_impl import supervised

NETWORK = "seq2seq"


def build(config, source_vocabulary_size, target_vocabulary_size):
    """The teacher-forced model, [source ids (batch, S), decoder input ids (batch, T)] -> logits (batch, T, characters)."""
    source = keras.Input(shape=(None,), dtype="int32", name="source")
    decoder_input = keras.Input(shape=(None,), dtype="int32", name="decoder_input")
    source_embedding = keras.layers.Embedding(source_vocabulary_size, config.embedding_dim, mask_zero=True,
                                              name="source_embedding")
    target_embedding = keras.layers.Embedding(target_vocabulary_size, config.embedding_dim, mask_zero=True,
                                              name="target_embedding")
    encoder = keras.layers.LSTM(config.units, return_sequences=True, return_state=True, name="encoder")
    decoder = keras.layers.LSTM(config.units, return_sequences=True, name="decoder")

    encoder_outputs, h, c = encoder(source_embedding(source))  # (batch, S, units), and the last real step's h, c
    # (batch, T, units). Called with initial_state, the LSTM gets no mask (Keras 3 passes a mask on by itself only
    # to a layer with one tensor argument): it reads the padding after each target, which changes no real output.
    decoder_outputs = decoder(target_embedding(decoder_input), initial_state=[h, c])
    hidden = decoder_outputs
    if config.attention:
        # (batch, T, units), and the weights (batch, T, S) for the attention figure
        context, _ = keras.layers.Attention(name="attention")([decoder_outputs, encoder_outputs],
                                                             return_attention_scores=True)
        combined = keras.layers.Concatenate(name="context_and_output")([context, decoder_outputs])  # (batch, T, 2 units)
        hidden = keras.layers.Dense(config.units, activation="tanh", name="attentional")(combined)
    logits = keras.layers.Dense(target_vocabulary_size, name="logits")(hidden)
    model = keras.Model([source, decoder_input], logits, name=NETWORK)
    # The loss reads the logits' mask (the decoder input's padding): the mean over the real target characters.
    model.compile(optimizer=supervised.optimizer_from_config(config),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False,
                  steps_per_execution=1)
    return model


def inference(model, config):
    """(start, step) for common/decoding.py, from the trained layers (keras-io's encoder and decoder models).

    start(source ids) -> the state: the encoder's final h, c, its outputs and its padding mask.
    step(ids, state) -> (log-probabilities of the next character, state): the decoder's layers called on one
    character, its LSTM through the layer's own cell.
    """
    encoder_model = keras.Model(model.inputs[0], model.get_layer("encoder").output)  # [outputs, h, c]
    embedding, cell = model.get_layer("target_embedding"), model.get_layer("decoder").cell
    output_layer = model.get_layer("logits")

    def start(source_ids):
        encoder_outputs, h, c = encoder_model(source_ids, training=False)
        return {"h": h, "c": c, "encoder_outputs": encoder_outputs, "source_mask": tf.not_equal(source_ids, 0)}

    def step(ids, state):
        # The embedding's own call: its __call__ would attach a padding mask, which a cell cannot take (and warns).
        output, (h, c) = cell(embedding.call(ids), [state["h"], state["c"]])  # (batch,) ids -> (batch, units)
        hidden = output
        if config.attention:
            query = keras.ops.expand_dims(output, 1)  # (batch, units) -> (batch, 1, units)
            context = model.get_layer("attention")([query, state["encoder_outputs"]], mask=[None, state["source_mask"]])
            combined = model.get_layer("context_and_output")([context, query])
            hidden = model.get_layer("attentional")(combined)[:, 0]  # (batch, 1, units) -> (batch, units)
        log_probs = keras.ops.log_softmax(output_layer(hidden), axis=-1)
        return log_probs.numpy(), {**state, "h": h, "c": c}

    return start, step


class Translator(keras.Model):
    """What --export serves: source ids (batch, S) -> greedy translations (batch, max_output_length) of target ids,
    padded with 0 after the end token: the inference models' loop (common/decoding.py greedy) as one Keras model."""

    def __init__(self, model, config):
        super().__init__(name="translator")
        self.seq2seq, self.config = model, config
        self.encoder_model = keras.Model(model.inputs[0], model.get_layer("encoder").output)
        self.built = True  # no weights of its own: the trained model's layers, built already

    def call(self, source):
        encoder_outputs, h, c = self.encoder_model(source)
        source_mask = keras.ops.not_equal(source, 0)
        embedding, cell = self.seq2seq.get_layer("target_embedding"), self.seq2seq.get_layer("decoder").cell
        ids = keras.ops.full([keras.ops.shape(source)[0]], Vocabulary.START, dtype="int32")
        done = keras.ops.zeros([keras.ops.shape(source)[0]], dtype="bool")
        written = []
        for _ in range(self.config.max_output_length):  # unrolled when traced: one SavedModel graph
            hidden, (h, c) = cell(embedding.call(ids), [h, c])
            if self.config.attention:
                query = keras.ops.expand_dims(hidden, 1)  # (batch, units) -> (batch, 1, units)
                context = self.seq2seq.get_layer("attention")([query, encoder_outputs], mask=[None, source_mask])
                combined = self.seq2seq.get_layer("context_and_output")([context, query])
                hidden = self.seq2seq.get_layer("attentional")(combined)[:, 0]
            ids = keras.ops.cast(keras.ops.argmax(self.seq2seq.get_layer("logits")(hidden), axis=-1), "int32")
            done = keras.ops.logical_or(done, keras.ops.equal(ids, Vocabulary.END))
            written.append(keras.ops.where(done, Vocabulary.PAD, ids))  # nothing after the end token
        return keras.ops.stack(written, axis=1)  # (batch, max_output_length)


def attention_weights(model):
    """(source ids, decoder input ids) -> the attention weights (batch, T, S) of the teacher-forced model."""
    weights_model = keras.Model(model.inputs, model.get_layer("attention").output[1])

    def attention(source_ids, decoder_input_ids):
        return weights_model([source_ids, decoder_input_ids], training=False).numpy()

    return attention


def teacher_forced(x, y):
    """(source, target) -> ([source, decoder input], target): what fit trains on."""
    return (x, seq2seq.decoder_inputs(y)), y


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    data = seq2seq.prepare(config, data)
    keras.utils.set_random_seed(config.seed)
    model = build(config, data.info.vocabulary_size, data.info.num_classes)
    schedule = supervised.schedule_from_config(config, steps_per_epoch=int(data.train.cardinality()))
    if schedule is not None:  # build compiled the constant rate: the steps per epoch are known only here
        model.optimizer.learning_rate = schedule
    stats = supervised.EpochStats()
    started = time.perf_counter()
    fitted = supervised.resumable_fit(
        model, data.train.map(teacher_forced), validation_data=data.val.map(teacher_forced), epochs=config.epochs,
        callbacks=[supervised.StopOnDivergence(), stats], stats=stats, verbose=verbose, checkpoint_dir=checkpoint_dir,
        tensorboard_dir=tensorboard_dir, fingerprint=checkpoints.fingerprint(NETWORK, "keras", config, data),
    )
    seconds = time.perf_counter() - started
    if out_dir is not None:
        save_weights(out_dir, model.get_weights())  # portable: Keras order, read by either implementation
        model.save_weights(os.path.join(out_dir, "model.weights.h5"))  # Keras's own format
    start, step = inference(model, config)
    result = seq2seq.scored_result(
        NETWORK, "keras", config, data, start=start, step=step,
        attention=attention_weights(model) if config.attention else None,
        history=supervised.keras_history(fitted, stats), epochs_run=len(fitted.history["loss"]), seconds=seconds,
    )
    result.model, result.model_input = Translator(model, config), (data.info.input_shape, "int32")
    return result


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
