"""The embedded Reber grammar (common/data/tasks/reber.py): its strings, acceptor, exact distributions and optimum."""
import math

import numpy as np
import pytest

from common import data as data_module
from common import evaluate, registry
from common.data.tasks import reber
from common.vocabulary import Vocabulary


def test_reber_strings_their_acceptor_and_exact_distributions():
    grammar = reber.EmbeddedReber()
    train, val, test = reber.reber_strings()
    assert (len(train), len(val), len(test)) == reber.REBER_SIZES
    assert all(grammar.accepts(text) for text in train + val + test)
    assert all(text[1] == text[-2] and text[1] in "TP" for text in test)  # the long dependency
    for text in ("BTBTXSEPE", "BTBTXSET", "BTBTXSETEE", "TBTXSETE", "BTBTSETE", ""):
        assert not grammar.accepts(text), text
    assert grammar.accepts("BTBTXSETE") and grammar.accepts("BPBPVVEPE")
    for text in test[:50]:
        for index in range(len(text) + 1):
            probabilities = grammar.next_probabilities(text[:index])
            assert math.isclose(sum(probabilities.values()), 1.0)
    assert grammar.next_probabilities("BTBTXSE") == {"T": 1.0}  # the remembered symbol, certain
    assert grammar.next_probabilities("BTBTXSETE") == {None: 1.0}


def test_an_oracle_scores_the_optimum_and_a_forgetful_model_scores_worse():
    """Logits that are the grammar's own log-probabilities score exactly the optimum: the positions line up."""
    data = data_module.load("reber")
    grammar, vocabulary = data.grammar, data.vocabulary
    oracle = np.full((*data.y_test.shape, vocabulary.size), -1e9)
    for row, text in enumerate(data.texts_test):
        for index in range(len(text) + 1):
            for symbol, probability in grammar.next_probabilities(text[:index]).items():
                token = Vocabulary.END if symbol is None else int(vocabulary.encode(symbol)[0])
                oracle[row, index, token] = math.log(probability)
    scores = evaluate.language_model_scores(data, oracle, generated=list(data.texts_test[:10]))
    assert scores["ce_over_optimum"] == pytest.approx(1.0, abs=1e-9) and scores["acceptance"] == 1.0
    baselines = evaluate.reber_baselines(data)
    choices = sum(sum(len(grammar.next_probabilities(t[:i])) == 2 for i in range(len(t) + 1)) for t in data.texts_test)
    positions = int((data.y_test != 0).sum())
    assert baselines["optimum"] == pytest.approx(choices * math.log(2) / positions, rel=1e-12)
    assert 1.1 < baselines["forgetting_over_optimum"] < 1.2 and baselines["unigram_over_optimum"] > 5
    assert registry.get("charlm").floor < baselines["forgetting_over_optimum"]  # the floor asks for the long dependency



def test_the_data_is_start_and_end_around_every_string_padded_with_zero():
    data = data_module.load("reber")
    assert (data.info.n_train, data.info.n_val, data.info.n_test) == reber.REBER_SIZES
    assert data.info.task == "next_character" and data.info.num_classes == data.vocabulary.size == 10
    for row, text in enumerate(data.texts_test[:20]):
        ids = data.vocabulary.encode(text, start=True, end=True)
        assert list(data.x_test[row, :len(text) + 1]) == list(ids[:-1])
        assert list(data.y_test[row, :len(text) + 1]) == list(ids[1:])
        assert not data.y_test[row, len(text) + 1:].any()
    assert data.x_train.shape[1] == max(len(t) for t in reber.reber_strings()[0]) + 1
    assert np.array_equal(data.x_train, data_module.load("reber", seed=5).x_train)  # fixed strings for every run
