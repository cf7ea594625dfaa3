"""What both tagger implementations share: the data check, decoding, scoring and the baselines.

keras_impl/tagger.py and tf_impl/tagger.py each hand in their own model's logits on the test
sentences, (N, T, tags); from there on it is this module's code for both:

    decode:  per real token (x != 0; the padding after a sentence's end is never read), the
             arg-max over the real tags (ids 1..: tag 0 is padding, never a target, so never an answer)
    score:   common.evaluate.tagging on the tag names: entity-level F1 (seqeval), precision, recall,
             token accuracy

The loss both sides train with is charlm's: the cross-entropy summed over the real tokens (y != 0)
and divided by the real tokens of the global batch (common/charlm.py says why the global count),
which on one device is keras.losses.SparseCategoricalCrossentropy(from_logits=True) with the
Embedding's padding mask propagated into it (tests/test_parity_tagger.py checks that equality).

The baselines (`baselines`): tagging every test token "O" (F1 0: no entity found), and a lookup
of each word's most frequent training tag (unseen words "O"), scored by the same seqeval.
"""
import collections

import numpy as np

from common import evaluate
from common.data import DataError
from common.data.conll import PAD, TaggingData
from common.results import RunResult

METRIC = "f1"


def require_tagged(network, data):
    if not isinstance(data, TaggingData):
        raise DataError(f"{network} tags the tokens of sentences; {data.info.name} holds {data.info.kind} data: use "
                        "entities or path/to/file.conll")
    return data


def decode(logits, x, tags):
    """Tag names of every real token (x != 0): one list per sentence, the arg-max over the real tags 1.."""
    logits = np.asarray(logits)
    if not np.all(np.isfinite(logits)):
        raise FloatingPointError("the model's outputs contain NaN or infinite values")
    ids = np.argmax(logits[..., 1:], axis=-1) + 1  # (N, T): tag 0 is padding
    return [[tags[i] for i in row[np.asarray(sentence) != PAD]] for row, sentence in zip(ids, x)]


def true_tags(data, split="test"):
    """The tag names of a split's real tokens, one list per sentence (from y: the same tokens as x != 0)."""
    y = getattr(data, f"y_{split}")
    return [[data.tags[i] for i in row[row != PAD]] for row in y]


def scores(data, logits):
    """common.evaluate.tagging of the test sentences' logits (N, T, tags)."""
    return evaluate.tagging(true_tags(data), decode(logits, data.x_test, data.tags))


def majority_tags(data):
    """{word: its most frequent tag in the training sentences} (ties: the tag met first)."""
    counts = collections.defaultdict(collections.Counter)
    for tokens, sentence_tags in zip(*data.sentences["train"]):
        for token, tag in zip(tokens, sentence_tags):
            counts[token][tag] += 1
    return {word: tags.most_common(1)[0][0] for word, tags in counts.items()}


def baselines(data):
    """Test scores of two taggers without context: every token "O" (all_o_*), and each word's most frequent training
    tag, unseen words "O" (majority_*): what a memory of the training words alone reaches."""
    tokens, gold = data.sentences["test"]
    lookup = majority_tags(data)
    all_o = evaluate.tagging(gold, [["O"] * len(sentence) for sentence in tokens])
    majority = evaluate.tagging(gold, [[lookup.get(token, "O") for token in sentence] for sentence in tokens])
    return {**{f"all_o_{name}": value for name, value in all_o.items()},
            **{f"majority_{name}": value for name, value in majority.items()}}


def scored_result(network, impl, config, data, logits, *, history, epochs_run, seconds, model):
    """The RunResult of a trained tagger from its test logits (N, T, tags)."""
    metrics = scores(data, logits)
    return RunResult.scored(
        network, impl, config, data, METRIC, metrics,
        history=history, epochs_run=epochs_run, seconds=seconds,
        model=model,
        model_input=(data.info.input_shape, "int32"),
    )
