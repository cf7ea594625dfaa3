"""common.data.tfds: tensorflow-datasets images and text under mock data; never an implicit download."""
import dataclasses
import importlib

import numpy as np
import pytest

from common import data as data_module
from common import registry
from common.data import DataError


@pytest.mark.parametrize("name,shape", [("mnist", (28, 28, 1)), ("fashion_mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_tfds_datasets_under_mock_data(name, shape):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        data = data_module.load(name, data_dir="/nonexistent", num_classes=10)
    assert data.info.kind == "image" and data.info.input_shape == shape and data.info.num_classes == 10
    assert data.info.n_train + data.info.n_val == 40 and data.info.n_test == 40
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0


@pytest.mark.parametrize("name", ["mnist", "imdb_reviews"])
def test_unprepared_tfds_fails_at_once_without_downloading(tmp_path, monkeypatch, name):
    import tensorflow_datasets as tfds

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    with pytest.raises(DataError, match=rf"not prepared .*`twinnets prepare {name} --data-dir"):
        data_module.load(name, data_dir=str(tmp_path))


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
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        data = data_module.load("imdb_reviews", data_dir="/nonexistent", batch_size=16)
    config = dataclasses.replace(registry.get("lstm").config_class(), dataset="imdb_reviews", epochs=1, units=(8,),
                                 embedding_size=4, batch_size=16)
    result = importlib.import_module(f"{impl}_impl.lstm").train(config, data, verbose=0)
    assert result.metric == "accuracy" and 0.0 <= result.value <= 1.0 and result.dataset == "imdb_reviews"


def test_prepare_refuses_what_is_not_a_tfds_dataset():
    with pytest.raises(DataError, match="only tfds datasets need preparing"):
        data_module.prepare("digits")
