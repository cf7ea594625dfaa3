"""The shared decoding (common/decoding.py) and character vocabulary (common/vocabulary.py), on small
models whose answers are known: greedy and beam search against exhaustive search, sampling
against the distribution it draws from."""
import itertools

import numpy as np
import pytest
import tensorflow as tf

from common import decoding
from common.data import DataError
from common.vocabulary import Vocabulary

END, VOCABULARY = 0, 4


def second_order_model(seed):
    """A random second-order Markov chain over 4 tokens: p(next | previous two); token 0 ends.

    The state is the token before the previous one, (B,) int, so a search that reorders
    beams without reordering the state gets the probabilities wrong.
    """
    logits = np.random.default_rng(seed).normal(scale=2.0, size=(VOCABULARY, VOCABULARY, VOCABULARY))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))

    def step(ids, state):
        (before,) = state
        before = np.asarray(before)
        return log_probs[before, ids], (tf.constant(ids),)  # the state as a tensor: reordered by tf.gather

    def score(start, sequence):
        before, previous, total = start, start, 0.0
        for token in sequence:
            total += log_probs[before, previous, token]
            before, previous = previous, token
        return total

    return step, score


def exhaustive(score, start, max_length):
    """The best sequence ending in END within max_length tokens, or running to max_length without it."""
    best = None
    for length in range(1, max_length + 1):
        for body in itertools.product(range(1, VOCABULARY), repeat=length - 1):
            unended = [[*body, t] for t in range(1, VOCABULARY)] if length == max_length else []
            for sequence in [[*body, END], *unended]:
                candidate = (score(start, sequence), [t for t in sequence if t != END])
                if best is None or candidate[0] > best[0]:
                    best = candidate
    return best


@pytest.mark.parametrize("seed", range(6))
def test_a_wide_beam_finds_the_exhaustive_optimum(seed):
    step, score = second_order_model(seed)
    starts = [1, 2, 3]
    found = decoding.beam_search(step, (np.array(starts),), starts, END, width=VOCABULARY ** 4, max_length=5)
    for start, sequence in zip(starts, found):
        best_score, best = exhaustive(score, start, 5)
        got = score(start, sequence + ([END] if len(sequence) < 5 else []))
        assert got == pytest.approx(best_score, abs=1e-12), (start, sequence, best)


def test_width_one_is_greedy_and_a_beam_can_beat_greedy():
    beaten = 0
    for seed in range(20):
        step, score = second_order_model(seed)
        starts = [1, 2, 3]
        greedy = decoding.greedy(step, (np.array(starts),), starts, END, max_length=6)
        assert decoding.beam_search(step, (np.array(starts),), starts, END, width=1, max_length=6) == greedy
        wide = decoding.beam_search(step, (np.array(starts),), starts, END, width=4, max_length=6)
        for start, g, w in zip(starts, greedy, wide):
            def full(s):
                return score(start, s + ([END] if len(s) < 6 else []))
            assert full(w) >= full(g) - 1e-12
            beaten += full(w) > full(g) + 1e-9
    assert beaten > 0  # the model family has rows where greedy is not the best: the test can tell them apart


def test_beam_search_refuses_a_width_below_one():
    step, _ = second_order_model(0)
    with pytest.raises(ValueError, match="beam width"):
        decoding.beam_search(step, (np.array([1]),), [1], END, width=0, max_length=3)


def test_sampling_draws_from_the_tempered_distribution():
    log_probs = np.log(np.array([0.1, 0.2, 0.3, 0.4]))
    rows = 40000

    def step(ids, state):
        return np.tile(log_probs, (len(ids), 1)), state

    for temperature in (1.0, 0.5):
        drawn = decoding.sample(step, (), np.zeros(rows, np.int32), 1, temperature, decoding.uniforms(0, rows, 1))
        frequencies = np.bincount(np.array(drawn)[:, 0], minlength=4) / rows
        expected = np.exp(log_probs / temperature) / np.exp(log_probs / temperature).sum()
        # four standard errors of a binomial share over 40000 draws
        assert np.all(np.abs(frequencies - expected) <= 4 * np.sqrt(expected * (1 - expected) / rows)), (temperature, frequencies)


def test_sampling_feeds_the_prompt_stops_at_the_end_id_and_refuses_bad_temperatures():
    seen = []

    def step(ids, state):
        seen.append(ids.tolist())
        log_probs = np.full((len(ids), 3), -50.0)
        log_probs[np.arange(len(ids)), (ids + 1) % 3] = 0.0  # almost surely the next id
        return log_probs, state

    out = decoding.sample(step, (), np.array([[0, 1], [1, 1]]), 4, 1.0, decoding.uniforms(1, 2, 4), end_id=0)
    assert seen[:2] == [[0, 1], [1, 1]]  # the prompt, fed column by column
    assert out == [[2, 0], [2, 0]]  # the draw after the prompt's last token, then the end id, then stop
    for temperature in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="temperature"):
            decoding.sample(step, (), np.array([0]), 2, temperature, decoding.uniforms(0, 1, 2))


def test_vocabulary_round_trip_save_and_unknown_characters(tmp_path):
    vocabulary = Vocabulary.from_texts(["dec 4, 2026", "2026-12-04"])
    assert vocabulary.characters == " ,-01246cde"
    assert vocabulary.size == 3 + 11
    ids = vocabulary.encode("2026-12-04", start=True, end=True)
    assert ids.dtype == np.int32 and ids[0] == Vocabulary.START and ids[-1] == Vocabulary.END
    assert vocabulary.decode(ids) == "2026-12-04"
    assert vocabulary.decode([Vocabulary.PAD, *vocabulary.encode("dec"), Vocabulary.END, *vocabulary.encode("4")]) == "dec"
    with pytest.raises(DataError, match="'x' is not in the vocabulary"):
        vocabulary.encode("x4")
    padded = vocabulary.pad([vocabulary.encode("dec"), vocabulary.encode("4")])
    assert padded.shape == (2, 3) and padded[1].tolist() == [vocabulary.encode("4")[0], 0, 0]
    vocabulary.save(tmp_path / "vocabulary.json")
    assert Vocabulary.load(tmp_path / "vocabulary.json") == vocabulary
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not a twinnets vocabulary"):
        Vocabulary.load(tmp_path / "bad.json")
    with pytest.raises(DataError, match="no vocabulary"):
        Vocabulary.load(tmp_path / "missing.json")
