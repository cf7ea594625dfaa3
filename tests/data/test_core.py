"""common.data.core: the contract every source goes through — load's dispatch, assembly, class labels."""
import re
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from common import data as data_module
from common.data import DataError, core, tasks


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


def test_unknown_dataset_lists_every_source():
    with pytest.raises(DataError, match="unknown dataset 'imagenet'") as refused:
        data_module.load("imagenet")
    for name in ("digits", "mnist", "adding:T", "digits_transfer", "path/to/file.npz"):
        assert name in str(refused.value)


def test_adding_a_task_is_adding_a_file(tmp_path, monkeypatch):
    """A module dropped into tasks/ is found by load() without being listed anywhere."""
    (tmp_path / "constant_pairs.py").write_text(textwrap.dedent('''
        import numpy as np
        from common.data.core import Arrays

        NAMES = ("constant_pairs",)

        def matches(name):
            return name == "constant_pairs"

        def load(name, options):
            x = np.repeat(np.arange(40.0)[:, None], 3, axis=1)  # (40, 3): a table
            y = np.arange(40) % 2
            return Arrays(x, y, None, None, x[:10], y[:10], kind="table")
    '''))
    monkeypatch.setattr(tasks, "__path__", [*tasks.__path__, str(tmp_path)])
    data = data_module.load("constant_pairs", batch_size=8)
    assert (data.info.kind, data.info.input_shape, data.info.num_classes) == ("table", (3,), 2)
    assert data.info.n_train + data.info.n_val == 40 and data.x_train.dtype == np.float32
    assert "constant_pairs" in core.known_names()


def test_sources_are_asked_in_order_with_paths_last():
    names = [module.__name__ for module in core.source_modules()]
    assert names[:3] == ["common.data.embedded", "common.data.tfds", "common.data.transfer"]
    assert names[-1] == "common.data.npz" and "common.data.tasks.adding" in names


LABELS = {
    # labels of (train, val, test), --num-classes, and what load says (None: accepted, K classes)
    "every class occurs": (([0, 1, 2, 2], [1], [0]), None, 3),
    "all 99": (([99] * 4, [99], [99]), None, "labels run up to 99, but 99 of the classes 0..99 never occur"),
    "a gap": (([0, 2, 2, 0], [0], [2]), None, "1 of the classes 0..2 never occur (1)"),
    "a gap, declared": (([0, 2, 2, 0], [0], [2]), 3, 3),
    "more classes declared": (([0, 1, 1, 0], [0], [1]), 10, 10),
    "a label past the declared count": (([0, 1, 5, 0], [0], [1]), 4, "label 5 is out of range for --num-classes 4"),
    "one class in training": (([1, 1, 1, 1], [1], [0]), None, "training labels hold a single class"),
}


@pytest.mark.parametrize("case", list(LABELS))
def test_class_labels_are_0_to_k_minus_1(case):
    splits, declared, expected = LABELS[case]
    splits = [np.array(labels) for labels in splits]
    if isinstance(expected, int):
        assert core.class_count("x", splits, declared) == expected
    else:
        with pytest.raises(DataError, match=re.escape(expected)):
            core.class_count("x", splits, declared)


def test_num_classes_below_two_is_refused():
    with pytest.raises(DataError, match="--num-classes must be at least 2"):
        data_module.load("digits", num_classes=1)


def test_num_classes_widens_the_output_of_embedded_data():
    assert data_module.load("breast_cancer", num_classes=3).info.num_classes == 3
