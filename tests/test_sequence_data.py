"""common.data for the recurrent networks: digits as sequences, the adding problem, imdb_reviews text."""
import dataclasses

import numpy as np
import pytest

from common import data as data_module
from common import registry
from common.data import DataError


def test_digits_as_sequences_are_the_digits_read_row_by_row():
    sequences, images = data_module.load("digits_sequences"), data_module.load("digits")
    assert (sequences.info.kind, sequences.info.input_shape, sequences.info.num_classes) == ("sequence", (8, 8), 10)
    np.testing.assert_array_equal(sequences.x_test, images.x_test[..., 0])  # same split, (N, 8, 8, 1) -> (N, 8, 8)
    assert sequences.info.task == "classification" and sequences.y_train.dtype == np.int32


def test_adding_problem():
    data = data_module.load("adding:20")
    info = data.info
    assert (info.kind, info.task, info.input_shape, info.num_classes) == ("sequence", "regression", (20, 2), 1)
    assert data.y_train.dtype == np.float32 and data.x_train.dtype == np.float32
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        markers = x[:, :, 1]
        assert np.all(markers.sum(axis=1) == 2)
        assert np.all(markers[:, :10].sum(axis=1) == 1)  # one marker in each half
        np.testing.assert_allclose((x[:, :, 0] * markers).sum(axis=1), y, rtol=1e-6)
    baseline = float(np.mean((data.y_test - 1.0) ** 2))  # always predicting 1.0
    assert 0.15 < baseline < 0.185  # Var(u1 + u2) = 2/12
    assert data_module.load("adding").info.input_shape == (data_module.ADDING_LENGTH, 2) == (30, 2)
    np.testing.assert_array_equal(data_module.load("adding:20").x_test, data.x_test)  # generated from a fixed seed


@pytest.mark.parametrize("name", ["adding:", "adding:1", "adding:ten"])
def test_adding_problem_refuses_a_bad_length(name):
    with pytest.raises(DataError, match="adding:T"):
        data_module.load(name)


def test_recurrent_networks_refuse_tables():
    with pytest.raises(DataError, match="reads sequences"):
        data_module.require_sequence((30,), "lstm")
    assert data_module.require_sequence((28, 28, 1), "lstm") == (28, 28)  # rows as steps
    assert data_module.require_sequence((200,), "lstm", vocabulary_size=10) == (200, None)


def test_tokenizer_and_vocabulary_with_tf_ops():
    texts = np.array([b"The cat<br />sat. The END", b"the dog", b"A cat, the cat!"])
    tokens = data_module.tokenize(texts)
    assert [[t.decode() for t in row] for row in tokens.to_list()] == [
        ["the", "cat", "sat", "the", "end"], ["the", "dog"], ["a", "cat", "the", "cat"]
    ]
    table, size = data_module.build_vocabulary(tokens, size=4)  # room for 2 words besides padding and unknown
    assert size == 4
    ids = data_module.to_ids(data_module.tokenize(np.array([b"cat the zebra", b"the cat the cat the cat"])), table, 5)
    # "the" (4 times) -> 2, "cat" (4 times, seen later) -> 3, unknown -> 1, padding -> 0, cut at 5 tokens
    np.testing.assert_array_equal(ids, [[3, 2, 1, 0, 0], [2, 3, 2, 3, 2]])


def test_imdb_reviews_under_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        data = data_module.load("imdb_reviews", data_dir="/nonexistent")
    info = data.info
    assert (info.kind, info.input_shape, info.num_classes) == ("tokens", (data_module.IMDB_LENGTH,), 2)
    assert data.x_train.dtype == np.int32 and 2 < info.vocabulary_size <= data_module.IMDB_VOCABULARY_SIZE
    assert data.x_train.max() < info.vocabulary_size and data.x_test.min() == 0  # 0: padding
    assert info.n_train + info.n_val == 40 and info.n_test == 40


@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_an_lstm_trains_on_imdb_reviews_under_mock_data(impl):
    import importlib

    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        data = data_module.load("imdb_reviews", data_dir="/nonexistent", batch_size=16)
    config = dataclasses.replace(registry.get("lstm").config_class(), dataset="imdb_reviews", epochs=1, units=(8,),
                                 embedding_size=4, batch_size=16)
    result = importlib.import_module(f"{impl}_impl.lstm").train(config, data, verbose=0)
    assert result.metric == "accuracy" and 0.0 <= result.value <= 1.0 and result.dataset == "imdb_reviews"


def test_unprepared_imdb_reviews_fails_at_once_without_downloading(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    with pytest.raises(DataError, match=r"not prepared .*`twinnets prepare imdb_reviews --data-dir"):
        data_module.load("imdb_reviews", data_dir=str(tmp_path))
