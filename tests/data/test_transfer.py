"""common.data.transfer: a source and a target task from one dataset or two."""
import numpy as np
import pytest

from common import data as data_module
from common.data import DataError


def test_digits_transfer_splits_the_classes_into_two_tasks():
    data = data_module.load("digits_transfer")
    assert data.info.name == "digits_transfer" and data.info.num_classes == 5 and data.source.info.num_classes == 5
    digits = data_module.load("digits")
    total = digits.info.n_train + digits.info.n_val + digits.info.n_test
    target = data.info.n_train + data.info.n_val + data.info.n_test
    source = data.source.info.n_train + data.source.info.n_val + data.source.info.n_test
    assert target + source == total
    assert data.info.n_test == target // 2  # TARGET_TEST_FRACTION of the target's examples
    for labels in (data.y_train, data.y_test, data.source.y_train):
        assert set(np.unique(labels)) == set(range(5))  # relabelled 0..4 on both sides


def test_few_shot_takes_the_same_examples_every_time():
    data = data_module.load("digits_transfer")
    first, again = data_module.few_shot(data, 3), data_module.few_shot(data_module.load("digits_transfer", seed=7), 3)
    np.testing.assert_array_equal(first.x_train, again.x_train)
    assert first.info.n_train == 15 and np.all(np.bincount(first.y_train) == 3)
    with pytest.raises(DataError, match="fewer than examples-per-class"):
        data_module.few_shot(data, 10_000)


@pytest.mark.parametrize("name,message", [("transfer:digits", "transfer:SOURCE:TARGET"),
                                          ("transfer:breast_cancer:breast_cancer", "must hold images"),
                                          ("transfer:digits:nope", "unknown dataset 'nope'")])
def test_bad_transfer_names_are_refused(name, message):
    with pytest.raises(DataError, match=message):
        data_module.load(name)
