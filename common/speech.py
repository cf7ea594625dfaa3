"""What both speech implementations share: the data check, the CTC loss's conventions, decoding, scoring, baselines.

keras_impl/speech.py and tf_impl/speech.py each hand in their own model's logits on the test clips,
(N, T, 1 + symbols), class 0 the CTC blank; from there on it is this module's code for both:

    decode:  common/ctc.py over each clip's real frames (data.frame_counts; padding never read): the best
             path (greedy) and prefix beam search (config.beam_width), symbol ids -> digit strings
    score:   the label error rate, LER = summed edit distances / summed reference lengths (jiwer's cer over
             these space-free strings; common.evaluate.character_error_rate), of the greedy transcripts (the
             headline, lower is better) and of the beam's; the sequence (utterance) accuracy of both

The loss both sides train with: keras.ops.ctc_loss / tf.nn.ctc_loss (the same op: Keras's TensorFlow backend
calls tf.nn.ctc_loss with logits_time_major=False and blank_index=mask_index=0) on logits, every clip with its
own frame count (its real frames: the frames not all zero, the networks' mask) and its own label count (y != 0),
averaged over the clips of the global batch (keras.losses.CTC's "sum_over_batch_size").

The baselines (`baselines`): the empty transcript for every clip (LER 1.0: every symbol deleted) and the most
common training transcript for every clip.
"""
import collections

import numpy as np

from common import ctc, evaluate
from common.data import DataError
from common.data.speech import SpeechData
from common.results import RunResult

METRIC = "ler"


def require_speech(network, data):
    if not isinstance(data, SpeechData):
        raise DataError(f"{network} transcribes audio clips; {data.info.name} holds {data.info.kind} data: use "
                        "digit_sequences or spoken_digit")
    return data


def frame_counts(x):
    """Real frames of each clip of x (N, T, F): the frames not all zero (the networks' mask), counted (N,)."""
    return np.any(np.asarray(x) != 0, axis=-1).sum(axis=-1)


def to_text(ids, alphabet):
    return "".join(alphabet[i - 1] for i in ids)


def transcribe(logits, x, alphabet, beam_width=0):
    """The transcripts of clips x from their logits: the best path's (beam_width 0) or prefix beam search's."""
    counts = frame_counts(x)
    ids = ctc.greedy(ctc.log_softmax(logits), counts) if beam_width == 0 else ctc.prefix_beam(logits, counts,
                                                                                               beam_width)
    return [to_text(row, alphabet) for row in ids]


def scores(data, logits, beam_width):
    """{ler, sequence_accuracy} of the greedy transcripts, and beam_ler, beam_sequence_accuracy of the beam's."""
    references = data.transcripts["test"]
    metrics = {}
    for prefix, width in (("", 0), ("beam_", beam_width)):
        hypotheses = transcribe(logits, data.x_test, data.alphabet, width)
        metrics[f"{prefix}ler"] = evaluate.character_error_rate(references, hypotheses)
        metrics[f"{prefix}sequence_accuracy"] = evaluate.exact_match(references, hypotheses)
    return metrics


def baselines(data):
    """Test LER of two transcribers that do not listen: the empty transcript (empty_ler, 1.0) and the most common
    training transcript, ties broken by the first met (majority_ler), with its sequence accuracy."""
    references = data.transcripts["test"]
    common = collections.Counter(data.transcripts["train"]).most_common(1)[0][0]
    return {"empty_ler": evaluate.character_error_rate(references, [""] * len(references)),
            "majority_ler": evaluate.character_error_rate(references, [common] * len(references)),
            "majority_sequence_accuracy": evaluate.exact_match(references, [common] * len(references))}


def scored_result(network, impl, config, data, logits, *, history, epochs_run, seconds, model):
    """The RunResult of a trained speech network from its test logits (N, T, 1 + symbols)."""
    return RunResult.scored(
        network, impl, config, data, METRIC, scores(data, logits, config.beam_width),
        history=history, epochs_run=epochs_run, seconds=seconds,
        model=model,
        model_input=(data.info.input_shape, "float32"),
    )
