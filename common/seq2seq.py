"""What both seq2seq implementations share: teacher forcing's inputs, the training pairs, decoding and scoring.

keras_impl/seq2seq.py and tf_impl/seq2seq.py each hand in what only they can build, from
their own model: start(source ids) -> the decoder's first state (the encoder's final h, c
and its outputs and padding mask, which attention reads), and step(ids, state) ->
(log-probabilities of the next character, state), the decoder one character at a time.
Everything after that is this module's and common/decoding.py's, the same code for both:
the search (greedy or beam), the texts, the scores (common/evaluate.py), the figure.
"""
import dataclasses

import numpy as np
import tensorflow as tf

from common import decoding, evaluate
from common.data import DataError
from common.data.pairs import TranslationData
from common.results import RunResult
from common.vocabulary import Vocabulary

FIGURE_EXAMPLES = (0, 1)  # the test pairs whose attention `twinnets compare seq2seq` draws


def decoder_inputs(targets):
    """Teacher forcing: the decoder reads START, then the target shifted right by one; END is never read.

    targets (batch, T): a target's ids, END, PAD... -> (batch, T): START, the target's ids, PAD...
    so position t of the decoder predicts targets[:, t], and the input is padding exactly where the
    target is (the mask that Keras's Embedding(mask_zero=True) hands to the loss is the target's).
    """
    targets = tf.cast(targets, tf.int32)
    starts = tf.fill([tf.shape(targets)[0], 1], Vocabulary.START)
    shifted = tf.concat([starts, targets[:, :-1]], axis=1)  # (batch, 1) + (batch, T - 1) -> (batch, T)
    return tf.where(tf.equal(shifted, Vocabulary.END), tf.zeros_like(shifted) + Vocabulary.PAD, shifted)


def prepare(config, data):
    """The pairs a run trains on: data's first config.train_pairs training pairs (0: all); refuses other data."""
    if not isinstance(data, TranslationData):
        raise DataError(f"seq2seq translates sequence pairs; {data.info.name} holds {data.info.kind} data: use "
                        "dates or a path/to/pairs.tsv file (source<TAB>target per line)")
    if not config.train_pairs or config.train_pairs >= data.info.n_train:
        return data
    kept = config.train_pairs
    return dataclasses.replace(data, x_train=data.x_train[:kept], y_train=data.y_train[:kept],
                               info=dataclasses.replace(data.info, n_train=kept))


def translate(start, step, source_ids, config, end_id=Vocabulary.END):
    """Id lists of the translations of source_ids (batch, T): greedy for beam_width 1, else beam search."""
    state = start(source_ids)
    starts = np.full(len(source_ids), Vocabulary.START, dtype=np.int32)
    if config.beam_width == 1:
        return decoding.greedy(step, state, starts, end_id, config.max_output_length)
    return decoding.beam_search(step, state, starts, end_id, config.beam_width, config.max_output_length)


def encode_sources(data, texts):
    """Source texts -> padded ids for the trained model; a character the training split never showed is an error."""
    ids = []
    for text in texts:
        try:
            ids.append(data.source_vocabulary.encode(text))
        except DataError as error:
            raise DataError(f"cannot translate {text!r}: {error}") from None
    return data.source_vocabulary.pad(ids)


def scored_result(network, impl, config, data, *, start, step, attention, history, epochs_run, seconds):
    """The RunResult of a trained seq2seq model: the test sources decoded (config.beam_width) and scored.

    attention(source_ids, decoder_input_ids) -> (batch, output steps, source steps) weights, or None
    without attention: for the figure of FIGURE_EXAMPLES.
    """
    hypotheses = [data.target_vocabulary.decode(ids) for ids in translate(start, step, data.x_test, config)]
    sources, references = data.texts["test"]
    metrics = evaluate.translation(references, hypotheses, bleu=data.bleu)
    metric = "bleu" if data.bleu else "exact_match"  # sentences: BLEU first; dates: the registry's exact match
    figures = {"translations": [(sources[i], references[i], hypotheses[i]) for i in range(min(8, len(sources)))]}
    if attention is not None:
        examples = [i for i in FIGURE_EXAMPLES if i < len(sources)]
        outputs = [data.target_vocabulary.encode(hypotheses[i], start=True) for i in examples]  # START + its output
        weights = np.asarray(attention(data.x_test[examples], data.target_vocabulary.pad(outputs)))
        figures["attention"] = [
            {"source": sources[i], "output": hypotheses[i],
             # (output characters + END, source characters): what each output step read
             "weights": weights[row, :len(hypotheses[i]) + 1, :len(sources[i])]}
            for row, i in enumerate(examples)]
    return RunResult.scored(
        network, impl, config, data, metric, metrics,
        history=history, epochs_run=epochs_run, seconds=seconds,
        figures=figures,  # model: each implementation sets its greedy Translator, what --export serves
    )
