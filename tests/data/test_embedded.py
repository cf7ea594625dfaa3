"""common.data.embedded: scikit-learn's digits and breast cancer, and the digits read row by row."""
import numpy as np

from common import data as data_module


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


def test_digits_as_sequences_are_the_digits_read_row_by_row():
    sequences, images = data_module.load("digits_sequences"), data_module.load("digits")
    assert (sequences.info.kind, sequences.info.input_shape, sequences.info.num_classes) == ("sequence", (8, 8), 10)
    np.testing.assert_array_equal(sequences.x_test, images.x_test[..., 0])  # same split, (N, 8, 8, 1) -> (N, 8, 8)
    assert sequences.info.task == "classification" and sequences.y_train.dtype == np.int32


def test_diabetes_is_a_regression_with_targets_standardised_on_training_statistics():
    from sklearn import datasets

    data, other_seed = data_module.load("diabetes", seed=0), data_module.load("diabetes", seed=3)
    info = data.info
    assert (info.kind, info.task, info.input_shape, info.num_classes) == ("table", "regression", (10,), 1)
    assert (info.n_train, info.n_val, info.n_test) == (317, 36, 89)  # 442 = 80% (train + val) + 20% test
    np.testing.assert_array_equal(data.y_test, other_seed.y_test)  # a fixed split
    assert data.y_train.dtype == np.float32
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0.0, atol=1e-5)  # features, as breast cancer's
    np.testing.assert_allclose([data.y_train.mean(), data.y_train.std()], [0.0, 1.0], atol=1e-5)  # targets too
    assert abs(data.y_test.mean()) > 1e-3 and abs(data.y_val.mean()) > 1e-3  # with training statistics only
    raw = datasets.load_diabetes().target
    original = np.concatenate([data.y_train, data.y_val, data.y_test]) * info.target_std + info.target_mean
    np.testing.assert_allclose(np.sort(original), np.sort(raw), atol=1e-3)  # every target, back in its own units
    assert 100 < info.target_mean < 200 and 50 < info.target_std < 100  # progression points, 25-346
