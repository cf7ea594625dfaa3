"""common.data.npz: a user's own arrays, and every refusal of arrays that cannot be used."""
import re

import numpy as np
import pytest

from common import data as data_module
from common.data import DataError


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
                               y_test=np.zeros(2, int)), "not whole numbers"),
    "wrong rank": (dict(x_train=np.zeros((8, 2, 2, 2, 2)), y_train=np.zeros(8, int), x_test=np.zeros((2, 2, 2, 2, 2)),
                        y_test=np.zeros(2, int)), "expected (N, features)"),
    "empty": (dict(x_train=np.zeros((0, 3)), y_train=np.zeros(0, int), x_test=np.zeros((2, 3)),
                   y_test=np.zeros(2, int)), "is empty"),
    "length mismatch": (dict(x_train=np.zeros((8, 3)), y_train=np.zeros(7, int), x_test=np.zeros((2, 3)),
                             y_test=np.zeros(2, int)), "8 examples but y_train has 7"),
    "shapes differ across splits": (dict(x_train=np.zeros((8, 3)), y_train=np.arange(8) % 2, x_test=np.zeros((2, 4)),
                                         y_test=np.zeros(2, int)), "different shapes"),
    "test label out of range": (dict(x_train=np.zeros((8, 3)), y_train=np.arange(8) % 3, x_test=np.zeros((2, 3)),
                                     y_test=np.array([0, 7])), "y_test has label 7, which y_train never shows"),
    "test class missing from training": (dict(x_train=np.zeros((8, 3)), y_train=np.arange(8) % 2 * 2,
                                              x_test=np.zeros((2, 3)), y_test=np.array([0, 1])),
                                         "y_test has label 1, which y_train never shows"),
    "all labels 99": (dict(x_train=np.zeros((8, 3)), y_train=np.full(8, 99), x_test=np.zeros((2, 3)),
                           y_test=np.full(2, 99)), "labels run up to 99, but 99 of the classes 0..99 never occur"),
    "labels skip classes": (dict(x_train=np.zeros((8, 3)), y_train=np.arange(8) % 2 * 5, x_test=np.zeros((2, 3)),
                                 y_test=np.array([0, 5])), "4 of the classes 0..5 never occur"),
    "float labels, not whole": (dict(x_train=np.zeros((8, 3)), y_train=np.arange(8) % 2 + 0.25,
                                     x_test=np.zeros((2, 3)), y_test=np.zeros(2)), "not whole numbers (e.g. 0.25)"),
    "string labels": (dict(x_train=np.zeros((8, 3)), y_train=np.array(["a", "b"] * 4), x_test=np.zeros((2, 3)),
                           y_test=np.zeros(2, int)), "must hold integer class labels"),
    "test labels too short": (dict(x_train=np.zeros((8, 3)), y_train=np.arange(8) % 2, x_test=np.zeros((3, 3)),
                                   y_test=np.zeros(2, int)), "x_test has 3 examples but y_test has 2"),
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


def regression_arrays(n=40, features=3):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(n, features))
    return x, 200.0 + 50.0 * x[:, 0] + rng.normal(size=n)  # real-valued, far from standardised


def test_npz_with_real_valued_targets_is_a_regression(tmp_path):
    x, y = regression_arrays()
    path = write_npz(tmp_path / "r.npz", x_train=x, y_train=y, x_test=x[:10], y_test=y[:10, None])  # (N, 1) too
    data = data_module.load(path, task="regression")
    info = data.info
    assert (info.task, info.num_classes, info.kind) == ("regression", 1, "table")
    assert data.y_train.dtype == np.float32 and abs(data.y_train.mean()) < 1e-5  # standardised on training statistics
    np.testing.assert_allclose(data.y_test * info.target_std + info.target_mean, y[:10], rtol=1e-5)
    whole = write_npz(tmp_path / "whole.npz", x_train=x, y_train=np.round(y), x_test=x[:10], y_test=np.round(y[:10]))
    assert data_module.load(whole, task="regression").info.task == "regression"  # whole numbers: still real values
    assert data_module.load(write_npz(tmp_path / "int.npz", x_train=x, y_train=np.arange(40) % 7, x_test=x[:10],
                                      y_test=np.arange(10) % 7), task="regression").info.task == "regression"


def test_class_labels_are_not_a_regression(tmp_path):
    x, y = image_arrays()
    path = write_npz(tmp_path / "c.npz", x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    assert data_module.load(path).info.task == "classification"  # read as labels unless a regression is asked for
    with pytest.raises(DataError, match="digits holds class labels, not real-valued targets"):
        data_module.load("digits", task="regression")


BAD_REGRESSION_NPZ = {
    "NaN targets": (dict(y_train=np.where(np.arange(40) == 3, np.nan, 1.0 * np.arange(40))),
                    "y_train contains NaN or infinite values"),
    "infinite test targets": (dict(y_test=np.full(10, np.inf)), "y_test contains NaN or infinite values"),
    "constant targets": (dict(y_train=np.full(40, 7.0)), "y_train holds a single value (7): nothing to regress"),
    "several targets per example": (dict(y_train=np.zeros((40, 2))), "expected one real-valued target per example"),
    "string targets": (dict(y_train=np.array(["a"] * 40)), "must hold real-valued targets"),
    "length mismatch": (dict(y_test=np.zeros(9)), "x_test has 10 examples but y_test has 9"),
}


@pytest.mark.parametrize("case", list(BAD_REGRESSION_NPZ))
def test_bad_regression_npz_is_refused_with_a_clear_message(tmp_path, case):
    x, y = regression_arrays()
    changes, message = BAD_REGRESSION_NPZ[case]
    arrays = {**dict(x_train=x, y_train=y, x_test=x[:10], y_test=y[:10]), **changes}
    with pytest.raises(DataError, match=re.escape(message)):
        data_module.load(write_npz(tmp_path / "bad.npz", **arrays), task="regression")


def test_labels_that_skip_classes_load_with_num_classes(tmp_path):
    x = np.random.default_rng(0).normal(size=(20, 3))
    y = np.arange(20) % 2 * 3  # classes 0 and 3 only
    path = write_npz(tmp_path / "gap.npz", x_train=x, y_train=y, x_test=x[:4], y_test=y[:4])
    with pytest.raises(DataError, match="--num-classes K"):
        data_module.load(path)
    assert data_module.load(path, num_classes=4).info.num_classes == 4
    with pytest.raises(DataError, match="out of range for --num-classes 3"):
        data_module.load(path, num_classes=3)
