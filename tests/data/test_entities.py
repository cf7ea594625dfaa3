"""The generated entities (common/data/tasks/entities.py): unseen names at test time, valid IOB2, fixed by a seed."""
import collections

import numpy as np
import pytest

from common import data as data_module
from common import tagging
from common.data.conll import OUT_OF_VOCABULARY, TaggingData
from common.data.tasks import entities


@pytest.fixture(scope="module")
def loaded():
    return data_module.load("entities")


def names_of(token_lists, tag_lists):
    """The name tokens of entities: every token of an entity but its affixes (New, City, Bank, of, ...)."""
    return {token for tokens, tags in zip(token_lists, tag_lists) for token, tag in zip(tokens, tags)
            if tag != "O" and token not in entities.AFFIXES}


def test_the_name_pools_are_disjoint_and_the_test_names_never_occur_in_training(loaded):
    pools = entities.name_pools()
    for kind in entities.POOL_SIZES:
        parts = [set(pools[split][kind]) for split in entities.SPLITS]
        assert all(len(part) > 100 for part in parts)
        assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2]), kind
    every_name = [set(name for names in pools[split].values() for name in names) for split in entities.SPLITS]
    assert not (every_name[0] & every_name[2]) and not (every_name[0] & every_name[1])  # nor across kinds
    training_words = {token for tokens in loaded.sentences["train"][0] for token in tokens}
    for split in ("val", "test"):
        names = names_of(*loaded.sentences[split])
        assert len(names) > 200 and names <= every_name[entities.SPLITS.index(split)]
        assert not (names & training_words), split  # not one test name is a training word, in any role
    assert names_of(*loaded.sentences["train"]) <= every_name[0]


def test_every_test_name_and_most_training_names_are_out_of_vocabulary(loaded):
    """min_count 2: a training name met once is read as the unknown id, as every test name is."""
    def name_ids(split):
        x, (token_lists, tag_lists) = getattr(loaded, f"x_{split}"), loaded.sentences[split]
        return np.asarray([x[row, column] for row, (tokens, tags) in enumerate(zip(token_lists, tag_lists))
                           for column, (token, tag) in enumerate(zip(tokens, tags))
                           if tag != "O" and token not in entities.AFFIXES])
    assert np.all(name_ids("test") == OUT_OF_VOCABULARY)
    assert 0.4 < np.mean(name_ids("train") == OUT_OF_VOCABULARY) < 0.9  # some names are known, most are not
    context = entities.TEMPLATE_WORDS | entities.AFFIXES | set(entities.TITLES + entities.DAYS + entities.MONTHS)
    assert all(word in loaded.vocabulary for word in context)  # the context is never unknown


def test_tags_are_valid_iob2_with_multi_token_and_several_entities(loaded):
    tag_set = set()
    shapes = collections.Counter()
    for split in entities.SPLITS:
        for tokens, tags in zip(*loaded.sentences[split]):
            assert len(tokens) == len(tags)
            previous = "O"
            for tag in tags:
                tag_set.add(tag)
                if tag.startswith("I-"):  # IOB2: an entity starts with B-, and I- continues one of the same type
                    assert previous != "O" and previous[2:] == tag[2:], tags
                previous = tag
            starts = sum(tag.startswith("B-") for tag in tags)
            shapes["two or more entities" if starts >= 2 else "one" if starts else "none"] += 1
            shapes["multi-token entity"] += any(tag.startswith("I-") for tag in tags)
    assert tag_set == {"O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"}
    assert all(shapes[kind] > 100 for kind in ("two or more entities", "one", "none", "multi-token entity")), shapes
    assert loaded.tags == ("<pad>", "O", "B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER")


def test_templates_are_varied_and_each_kind_has_its_own_contexts():
    assert len(entities.TEMPLATES) >= 50 and len(set(entities.TEMPLATES)) == len(entities.TEMPLATES)
    for slot in ("{PER}", "{LOC}", "{ORG}"):
        assert sum(slot in template for template in entities.TEMPLATES) >= 12, slot


def test_arrays_padding_and_sizes(loaded):
    assert isinstance(loaded, TaggingData)
    info = loaded.info
    assert (info.kind, info.task, info.num_classes) == ("tokens", "tagging", 8)
    assert (info.n_train, info.n_val, info.n_test) == entities.ENTITY_SIZES
    assert info.vocabulary_size == loaded.vocabulary.size
    for split in entities.SPLITS:
        x, y = getattr(loaded, f"x_{split}"), getattr(loaded, f"y_{split}")
        assert x.dtype == y.dtype == np.int32 and x.shape == y.shape == (len(x), info.input_shape[0])
        np.testing.assert_array_equal(x != 0, y != 0)  # the same real tokens in both
        lengths = (x != 0).sum(axis=1)
        np.testing.assert_array_equal(lengths, [len(tokens) for tokens in loaded.sentences[split][0]])
        assert np.all(x[np.arange(x.shape[1]) >= lengths[:, None]] == 0)  # padding only after each end
        assert len(set(lengths.tolist())) >= 8  # sentences of many lengths
        assert tagging.true_tags(loaded, split) == loaded.sentences[split][1]


def test_a_fixed_seed_gives_the_same_sentences_and_another_seed_others():
    first, second = entities.entity_sentences(), entities.entity_sentences()
    assert first == second
    other = entities.entity_sentences(seed=entities.ENTITIES_SEED + 1)
    assert other["test"][0][:20] != first["test"][0][:20]


def test_baselines_memory_of_training_words_finds_no_unseen_name(loaded):
    """All "O": F1 0. Each word's most frequent training tag: the test names are unseen, so it finds (almost) none."""
    scores = tagging.baselines(loaded)
    assert scores["all_o_f1"] == 0.0 and scores["all_o_recall"] == 0.0
    assert 0.75 < scores["all_o_token_accuracy"] < 0.9  # most tokens are O
    assert scores["majority_f1"] < 0.05 and scores["majority_token_accuracy"] > scores["all_o_token_accuracy"]
    print(scores)
