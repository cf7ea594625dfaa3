"""common/ctc.py, the CTC decoders both speech implementations are scored by: the best path, prefix beam search,
and the forward recursion they are checked against (itself checked against tf.nn.ctc_loss)."""
import itertools

import numpy as np
import pytest
import tensorflow as tf

from common import ctc


def collapse(path):
    """A frame path -> its labelling: repeats merged, blanks dropped (the CTC many-to-one map)."""
    return tuple(int(s) for s, _ in itertools.groupby(path) if s != ctc.BLANK)


def brute_force(log_probs):
    """{labelling: P(labelling)} by summing the probability of every one of the C**T frame paths."""
    probs = np.exp(log_probs)
    totals = {}
    for path in itertools.product(range(probs.shape[1]), repeat=len(probs)):
        labelling = collapse(path)
        totals[labelling] = totals.get(labelling, 0.0) + np.prod(probs[np.arange(len(probs)), path])
    return totals


def test_greedy_collapses_repeats_drops_blanks_and_reads_only_real_frames():
    paths = np.array([[1, 1, 0, 1, 2, 2, 3, 3],  # "1 1 2" then, past frame 6, padding that says 3
                      [0, 0, 0, 0, 0, 0, 0, 0],  # all blank: the empty transcript
                      [2, 0, 2, 2, 0, 0, 2, 1]])
    logits = np.full((3, 8, 4), -5.0)
    np.put_along_axis(logits, paths[..., None], 5.0, axis=-1)
    assert ctc.greedy(logits, [6, 8, 8]) == [[1, 1, 2], [], [2, 2, 2, 1]]
    assert ctc.greedy(logits, [0, 1, 3]) == [[], [], [2, 2]]
    with pytest.raises(FloatingPointError):
        ctc.log_softmax(np.full((1, 2, 3), np.nan))


def test_the_forward_recursion_is_the_sum_over_alignments_and_tf_nn_ctc_loss():
    rng = np.random.default_rng(0)
    log_probs = ctc.log_softmax(rng.normal(0, 2, (5, 3)))  # 5 frames, blank + 2 symbols: 3**5 = 243 paths
    totals = brute_force(log_probs)
    assert sum(totals.values()) == pytest.approx(1.0)
    for labelling in [(), (1,), (2, 1), (1, 1), (1, 2, 1), (2, 2, 2)]:
        expected = np.log(totals.get(labelling, 0.0))
        assert ctc.labelling_log_probability(log_probs, list(labelling)) == pytest.approx(expected, rel=1e-9)
    labels = tf.constant([[1, 2, 1]], tf.int32)
    loss = tf.nn.ctc_loss(labels=labels, logits=tf.constant(log_probs[None], tf.float32), label_length=[3],
                          logit_length=[5], logits_time_major=False, blank_index=0)
    assert float(loss[0]) == pytest.approx(-ctc.labelling_log_probability(log_probs, [1, 2, 1]), rel=1e-5)


def test_prefix_beam_finds_the_most_probable_labelling_where_the_best_path_does_not():
    """Three frames: the best single path is blank-blank-blank (P 0.216), but "1" collects 0.688 over its six
    alignments (1bb, b1b, bb1, 11b, b11, 111); a brute-force sum over all 27 paths agrees with the beam."""
    probs = np.array([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.6, 0.4, 0.0]]) + 1e-12
    log_probs = np.log(probs / probs.sum(-1, keepdims=True))
    totals = brute_force(log_probs)
    best = max(totals, key=totals.get)
    assert best == (1,) and totals[(1,)] > totals[()]
    assert ctc.greedy(log_probs[None], [3]) == [[]]
    assert ctc.prefix_beam(log_probs[None], [3], beam_width=4) == [[1]]


def test_prefix_beam_agrees_with_brute_force_on_random_tiny_inputs():
    rng = np.random.default_rng(1)
    for _ in range(20):
        log_probs = ctc.log_softmax(rng.normal(0, 1.5, (5, 3)))
        totals = brute_force(log_probs)
        beam = tuple(ctc.prefix_beam(log_probs[None], [5], beam_width=20)[0])  # wide enough to keep every prefix
        assert totals[beam] == pytest.approx(max(totals.values()), rel=1e-9)


def test_prefix_beam_equals_greedy_on_peaked_inputs_and_tf_beam_search_on_random_ones():
    rng = np.random.default_rng(2)
    paths = rng.integers(0, 5, size=(6, 12))
    peaked = np.full((6, 12, 5), -20.0)
    np.put_along_axis(peaked, paths[..., None], 0.0, axis=-1)  # one class per frame, almost surely
    counts = [12, 9, 12, 5, 12, 1]
    assert ctc.prefix_beam(peaked, counts, beam_width=3) == ctc.greedy(peaked, counts)
    logits = rng.normal(0, 1.0, (6, 12, 5))
    ours = ctc.prefix_beam(logits, counts, beam_width=16)
    # tf's decoder: time-major, the blank last (class 0 moved to the end: ids 1..4 become 0..3)
    inputs = tf.constant(np.transpose(np.roll(ctc.log_softmax(logits), -1, axis=-1), (1, 0, 2)), tf.float32)
    decoded, _ = tf.nn.ctc_beam_search_decoder(inputs, sequence_length=counts, beam_width=16, top_paths=1)
    dense = tf.sparse.to_dense(decoded[0], default_value=-1).numpy()
    theirs = [[int(s) + 1 for s in row if s >= 0] for row in dense]
    assert ours == theirs
    with pytest.raises(ValueError, match="beam_width must be at least 1"):
        ctc.prefix_beam(logits, counts, beam_width=0)
