"""common/data/tasks/gestures.py (the gesture network's generated traces) and .npz files of padded sequences with
lengths (common/data/npz.py), with every refusal of a lengths array that cannot be used (one DataError; exit 2)."""
import numpy as np
import pytest

from common import data as data_module
from common.data import DataError
from common.data.tasks import gestures
from conftest import run_main


def test_gestures_shapes_lengths_padding_and_balance():
    data = data_module.load("gestures")
    assert data.info.kind == "sequence" and data.info.input_shape == (80, 3) and data.info.num_classes == 6
    assert (data.info.n_train, data.info.n_val, data.info.n_test) == gestures.GESTURE_SIZES
    for x, y in [(data.x_train, data.y_train), (data.x_val, data.y_val), (data.x_test, data.y_test)]:
        real = np.any(x != 0.0, axis=-1)  # (N, T)
        lengths = real.sum(axis=1)
        assert lengths.min() >= 30 and lengths.max() <= 80 and len(np.unique(lengths)) > 40  # varying speed
        steps = np.arange(80)[np.newaxis, :]
        assert np.array_equal(real, steps < lengths[:, np.newaxis])  # real steps first, then only zeros
        assert np.bincount(y, minlength=6).max() - np.bincount(y, minlength=6).min() <= 1  # balanced


def test_gestures_are_fixed_and_the_splits_differ():
    first, second = gestures.gestures(), gestures.gestures()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    x_train, x_test = first[0], first[6]
    assert not any(np.array_equal(x_test[0], x) for x in x_train)


def test_each_gesture_is_what_its_name_says():
    """Clean shapes (no noise, no rotation): a right swipe pushes +x first, a left one -x; a tap is on z only."""
    t = np.arange(60) / 60
    rng = np.random.default_rng(0)
    left, right = gestures.gesture_shape(1, t, rng), gestures.gesture_shape(2, t, rng)
    assert left[:15, 0].mean() < 0 < right[:15, 0].mean()
    np.testing.assert_allclose(left, -right)
    tap = gestures.gesture_shape(5, t, rng)
    assert np.all(tap[:, :2] == 0) and tap[:, 2].max() > 1.0
    rotation = gestures.rotation(rng)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)  # a rotation: lengths kept


def sequence_file(tmp_path, name="seq.npz", **changes):
    """A small .npz of padded traces with lengths (the generated gestures' form), with `changes` applied."""
    x, y, lengths = gestures.draw(60, np.random.default_rng(0))
    arrays = dict(x_train=x[:48], y_train=y[:48], lengths_train=lengths[:48],
                  x_test=x[48:], y_test=y[48:], lengths_test=lengths[48:])
    arrays.update(changes)
    arrays = {key: value for key, value in arrays.items() if value is not None}
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def test_npz_sequences_with_lengths_are_read_and_padded_with_zeros(tmp_path):
    x, y, lengths = gestures.draw(60, np.random.default_rng(0))
    noisy = x + 5.0  # what a user's padding may hold: anything after each length
    path = sequence_file(tmp_path, x_train=noisy[:48], x_test=noisy[48:])
    data = data_module.load(path)
    assert data.info.kind == "sequence" and data.info.input_shape == (80, 3) and data.info.num_classes == 6
    test_lengths = np.any(data.x_test != 0.0, axis=-1).sum(axis=1)
    np.testing.assert_array_equal(test_lengths, lengths[48:])  # zeros after each length, whatever was there
    np.testing.assert_allclose(data.x_test[0, :lengths[48]], noisy[48, :lengths[48]], rtol=1e-6)


BAD_LENGTHS = {
    "missing": ({"lengths_test": None}, "has lengths arrays but no lengths_test"),
    "wrong count": ({"lengths_test": np.full(5, 40)}, "lengths_test has shape (5,) but x_test holds 12 sequences"),
    "zero": ({"lengths_train": np.r_[0, np.full(47, 40)]}, "lengths_train[0] is 0: a length must be 1..80"),
    "too long": ({"lengths_test": np.r_[np.full(11, 40), 81]}, "lengths_test[11] is 81: a length must be 1..80"),
    "not integers": ({"lengths_test": np.full(12, 40.5)}, "lengths_test must hold integer step counts"),
    "not sequences": ({"x_test": np.ones((12, 80))}, "x_test has shape (12, 80): sequences with lengths are"),
}


@pytest.mark.parametrize("case", list(BAD_LENGTHS))
def test_bad_lengths_are_one_clear_data_error(case, tmp_path):
    changes, message = BAD_LENGTHS[case]
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]").replace(".", r"\.")):
        data_module.load(sequence_file(tmp_path, **changes))


def test_an_all_zero_step_inside_a_length_is_refused(tmp_path):
    x, y, lengths = gestures.draw(60, np.random.default_rng(0))
    x[3, 5] = 0.0
    with pytest.raises(DataError, match=r"x_train\[3\] has an all-zero step at 5"):
        data_module.load(sequence_file(tmp_path, x_train=x[:48]))


@pytest.mark.parametrize("case", ["missing", "zero", "too long"])
def test_bad_lengths_exit_2_from_the_cli(case, tmp_path, capsys):
    changes, message = BAD_LENGTHS[case]
    path = sequence_file(tmp_path, **changes)
    code, out, err = run_main(capsys, ["train", "gesture", "--impl", "tf", "--dataset", path, "--epochs", "1",
                                       "--out", str(tmp_path / "out")])
    assert code == 2 and message in err and "Traceback" not in err
