"""common.data: embedded datasets, the user's .npz, tfds under mock data, and refusals."""
import re

import numpy as np
import pytest
import tensorflow as tf

from common import data as data_module
from common.data import DataError


def test_digits_split_is_fixed_disjoint_and_complete():
    first = data_module.load("digits", seed=0)
    other_seed = data_module.load("digits", seed=5)
    info = first.info
    assert (info.kind, info.input_shape, info.num_classes) == ("image", (8, 8, 1), 10)
    assert info.n_train + info.n_val + info.n_test == 1797
    np.testing.assert_array_equal(first.x_test, other_seed.x_test)  # the training seed never moves the test set
    rows = lambda x: {row.tobytes() for row in x.reshape(len(x), -1)}  # noqa: E731
    assert not rows(first.x_test) & rows(first.x_train) and not rows(first.x_val) & rows(first.x_train)
    assert 0.0 <= first.x_train.min() and first.x_train.max() <= 1.0


def test_breast_cancer_is_standardised_on_training_statistics():
    data = data_module.load("breast_cancer")
    assert data.info.kind == "table" and data.info.num_classes == 2 and data.info.input_shape == (30,)
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(data.x_train.std(axis=0), 1.0, atol=1e-4)
    assert abs(data.x_test.mean()) > 1e-4  # test statistics were not used


def labels_of_epochs(data, epochs):
    pipeline = data.train
    return [np.concatenate([y.numpy() for _, y in pipeline]) for _ in range(epochs)]


def test_training_pipeline_reshuffles_each_epoch_reproducibly():
    tf.random.set_seed(0)
    first = labels_of_epochs(data_module.load("digits", seed=3), 2)
    tf.random.set_seed(0)
    again = labels_of_epochs(data_module.load("digits", seed=3), 2)
    assert not np.array_equal(first[0], first[1]), "a new order every epoch"
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)  # the same seed gives the same orders
    assert sorted(first[0]) == sorted(first[1])


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def image_arrays(n=40, shape=(12, 12), classes=3, dtype=np.uint8):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(n, *shape)).astype(dtype)
    y = np.arange(n) % classes
    return x, y


def test_npz_images_get_a_channel_and_scaled_pixels(tmp_path):
    x, y = image_arrays()
    path = write_npz(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    data = data_module.load(path)
    assert data.info.kind == "image" and data.info.input_shape == (12, 12, 1) and data.info.num_classes == 3
    assert data.x_train.max() <= 1.0 and data.info.n_train + data.info.n_val == 40


def test_npz_with_its_own_validation_split(tmp_path):
    x, y = image_arrays()
    rgb = np.repeat(x[..., None], 3, axis=-1)
    path = write_npz(tmp_path / "d.npz", x_train=rgb, y_train=y, x_val=rgb[:6], y_val=y[:6], x_test=rgb[:9], y_test=y[:9])
    data = data_module.load(path)
    assert (data.info.n_train, data.info.n_val, data.info.n_test) == (40, 6, 9)
    assert data.info.input_shape == (12, 12, 3)


def test_npz_table(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 4))
    y = (x[:, 0] > 0).astype(np.int64)
    data = data_module.load(write_npz(tmp_path / "t.npz", x_train=x, y_train=y, x_test=x[:10], y_test=y[:10]))
    assert data.info.kind == "table" and data.info.input_shape == (4,) and data.info.num_classes == 2


BAD_NPZ = {
    "missing arrays": (dict(x_train=np.zeros((8, 3)), y_train=np.zeros(8, int)), "missing arrays x_test, y_test"),
    "NaN values": (dict(x_train=np.full((8, 3), np.nan), y_train=np.zeros(8, int), x_test=np.zeros((2, 3)),
                        y_test=np.zeros(2, int)), "NaN"),
    "negative labels": (dict(x_train=np.zeros((8, 3)), y_train=-np.ones(8, int), x_test=np.zeros((2, 3)),
                             y_test=np.zeros(2, int)), "negative labels"),
    "fractional labels": (dict(x_train=np.zeros((8, 3)), y_train=np.full(8, 0.5), x_test=np.zeros((2, 3)),
                               y_test=np.zeros(2, int)), "integer class labels"),
    "wrong rank": (dict(x_train=np.zeros((8, 2, 2, 2, 2)), y_train=np.zeros(8, int), x_test=np.zeros((2, 2, 2, 2, 2)),
                        y_test=np.zeros(2, int)), "expected (N, features)"),
    "empty": (dict(x_train=np.zeros((0, 3)), y_train=np.zeros(0, int), x_test=np.zeros((2, 3)),
                   y_test=np.zeros(2, int)), "is empty"),
    "length mismatch": (dict(x_train=np.zeros((8, 3)), y_train=np.zeros(7, int), x_test=np.zeros((2, 3)),
                             y_test=np.zeros(2, int)), "8 examples but y_train has 7"),
    "shapes differ across splits": (dict(x_train=np.zeros((8, 3)), y_train=np.arange(8) % 2, x_test=np.zeros((2, 4)),
                                         y_test=np.zeros(2, int)), "different shapes"),
    "test label out of range": (dict(x_train=np.zeros((8, 3)), y_train=np.arange(8) % 3, x_test=np.zeros((2, 3)),
                                     y_test=np.array([0, 7])), "y_test has label 7, but y_train's labels stop at 2"),
    "one class": (dict(x_train=np.zeros((8, 3)), y_train=np.zeros(8, int), x_test=np.zeros((2, 3)),
                       y_test=np.zeros(2, int)), "single class"),
}


@pytest.mark.parametrize("case", list(BAD_NPZ))
def test_bad_npz_is_refused_with_a_clear_message(tmp_path, case):
    arrays, message = BAD_NPZ[case]
    path = write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=re.escape(message)):
        data_module.load(path)


def test_truncated_and_missing_files(tmp_path):
    x, y = image_arrays()
    whole = write_npz(tmp_path / "whole.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(open(whole, "rb").read()[:300])
    with pytest.raises(DataError, match="not a readable .npz"):
        data_module.load(str(truncated))
    with pytest.raises(DataError, match="no such dataset file"):
        data_module.load(str(tmp_path / "absent.npz"))
    with pytest.raises(DataError, match="unknown dataset 'imagenet'"):
        data_module.load("imagenet")


def test_conv_net_refuses_tables():
    with pytest.raises(DataError, match="needs images"):
        data_module.require_image((30,), "cnn", halvings=2)
    with pytest.raises(DataError, match="too small"):
        data_module.require_image((2, 2, 1), "cnn", halvings=2)
    assert data_module.require_image((28, 28, 1), "cnn", halvings=2) == (7, 7)


@pytest.mark.parametrize("name,shape", [("mnist", (28, 28, 1)), ("fashion_mnist", (28, 28, 1)), ("cifar10", (32, 32, 3))])
def test_tfds_datasets_under_mock_data(name, shape):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=40):
        data = data_module.load(name, data_dir="/nonexistent")
    assert data.info.kind == "image" and data.info.input_shape == shape and data.info.num_classes <= 10
    assert data.info.n_train + data.info.n_val == 40 and data.info.n_test == 40
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0


def test_unprepared_tfds_fails_at_once_without_downloading(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    with pytest.raises(DataError, match=r"not prepared .*`twinnets prepare mnist --data-dir"):
        data_module.load("mnist", data_dir=str(tmp_path))
