"""common.data.tasks.xor: a noisy XOR cloud around the corners of a square, generated from a fixed seed."""
import numpy as np

from common import data as data_module
from common.data.tasks import xor


def test_xor_cloud_labels_each_point_by_its_corner():
    x, y = xor.xor_cloud()
    assert x.shape == (xor.XOR_POINTS, 2) and np.bincount(y).tolist() == [xor.XOR_POINTS // 2] * 2
    near = np.abs(np.abs(x) - 1.0).max(axis=1) < 0.5  # points still in their corner's quadrant, well inside
    np.testing.assert_array_equal(y[near], (x[near, 0] * x[near, 1] < 0).astype(int))
    np.testing.assert_array_equal(xor.xor_cloud()[0], x)  # generated from a fixed seed


def test_xor():
    data = data_module.load("xor")
    info = data.info
    assert (info.kind, info.task, info.input_shape, info.num_classes) == ("table", "classification", (2,), 2)
    assert (info.n_train, info.n_val, info.n_test) == (576, 64, 160)


def test_a_line_does_not_separate_xor():
    from sklearn.linear_model import LogisticRegression

    data = data_module.load("xor")
    assert LogisticRegression().fit(data.x_train, data.y_train).score(data.x_test, data.y_test) < 0.6
