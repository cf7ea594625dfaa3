"""common.data.tasks.adding: the adding problem, generated."""
import numpy as np
import pytest

from common import data as data_module
from common.data import DataError


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
