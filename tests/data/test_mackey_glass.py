"""common.data.tasks.mackey_glass: the generated series, split by time, normalised on training statistics
(common/data/series.py, shared with sine and CSV files)."""
import numpy as np
import pytest

from common import data as data_module
from common.data import series as series_module
from common.data.tasks import mackey_glass


def test_the_series_follows_the_delay_equation():
    """Euler's step at DT = 0.1 integrates dx/dt = beta x(t - tau) / (1 + x(t - tau)^10) - gamma x(t): checked on an
    unsampled run against the equation, and the kept series is the chaotic attractor's (range, cycle)."""
    values = mackey_glass.mackey_glass()
    assert values.shape == (mackey_glass.LENGTH,) and np.all(np.isfinite(values))
    assert 0.3 < values.min() < 0.5 and 1.2 < values.max() < 1.4  # the attractor's range at tau 17
    centred = values - values.mean()
    autocorrelation = [np.dot(centred[:-lag], centred[lag:]) / np.dot(centred, centred) for lag in range(1, 80)]
    assert 40 < 1 + int(np.argmax(autocorrelation[30:])) + 30 < 60  # quasi-period of about 50 time units
    np.testing.assert_array_equal(values, mackey_glass.mackey_glass())  # a fixed seed: always the same series
    assert not np.allclose(values, mackey_glass.mackey_glass(seed=1))  # ... which the seed decides
    short = mackey_glass.mackey_glass(length=300)
    np.testing.assert_array_equal(short, values[:300])


def test_the_sampled_series_satisfies_the_equation():
    """Read back from the kept values alone (one per time unit, the delay 17 of them): the central difference of
    the series matches the right-hand side of the equation, to a small fraction of the derivative's size."""
    x = mackey_glass.mackey_glass()
    lag = int(mackey_glass.TAU / mackey_glass.SAMPLING)  # 17 samples
    t = np.arange(lag + 1, len(x) - 1)
    slope = (x[t + 1] - x[t - 1]) / 2.0
    right_hand_side = 0.2 * x[t - lag] / (1.0 + x[t - lag] ** 10) - 0.1 * x[t]
    residual = np.sqrt(np.mean((slope - right_hand_side) ** 2))
    assert residual < 0.05 * np.sqrt(np.mean(slope ** 2)), residual
    wrong_delay = 0.2 * x[t - 10] / (1.0 + x[t - 10] ** 10) - 0.1 * x[t]  # the check can fail: tau 10 does
    assert np.sqrt(np.mean((slope - wrong_delay) ** 2)) > 0.3 * np.sqrt(np.mean(slope ** 2))


def test_split_by_time_windows_inside_each_part_and_training_statistics():
    data = data_module.load("mackey_glass", window=24, horizon=10)
    values = mackey_glass.mackey_glass()
    train, val, test = values[:1400], values[1400:1600], values[1600:]
    assert [len(p) for p in (data.parts["train"], data.parts["val"], data.parts["test"])] == [1400, 200, 400]
    np.testing.assert_array_equal(data.parts["test"], test)
    assert data.mean == pytest.approx(train.mean()) and data.std == pytest.approx(train.std())  # training part only
    assert data.mean != pytest.approx(values.mean())
    for x, y, part in ((data.x_train, data.y_train, train), (data.x_val, data.y_val, val), (data.x_test, data.y_test, test)):
        assert len(x) == len(part) - 24 - 10 + 1  # every window inside its part: none straddles two
        np.testing.assert_allclose(data.denormalise(x[0, :, 0]), part[:24], rtol=1e-6)
        np.testing.assert_allclose(data.denormalise(y[-1]), part[-10:], rtol=1e-6)
        np.testing.assert_allclose(x[1, :-1, 0], x[0, 1:, 0])  # windows slide by one step
        np.testing.assert_allclose(y[0, 0], x[1, -1, 0])  # the first value forecast is the next window's last
    info = data.info
    assert (info.kind, info.task, info.input_shape, info.num_classes) == ("sequence", "forecast", (24, 1), 10)
    assert data.x_train.dtype == data.y_train.dtype == np.float32
    assert abs(float(data.x_train.mean())) < 0.05 and abs(float(data.x_train.std()) - 1.0) < 0.05


def test_only_the_training_windows_are_shuffled():
    data = data_module.load("mackey_glass", window=8, horizon=2, batch_size=64)
    first_train = next(iter(data.train))[0].numpy()
    first_test = next(iter(data.test))[0].numpy()
    np.testing.assert_array_equal(first_test, data.x_test[:64])
    assert not np.array_equal(first_train, data.x_train[:64])


def test_a_window_longer_than_a_part_names_both_numbers():
    with pytest.raises(data_module.DataError, match=r"validation part of 200, shorter than window \+ horizon = "
                                                    r"195 \+ 10 = 205"):
        data_module.load("mackey_glass", window=195, horizon=10)
    with pytest.raises(data_module.DataError, match="window and horizon must be at least 1"):
        series_module.windowed("x", np.arange(100.0), data_module.Options(window=0, horizon=3))


def test_data_loaded_without_a_window_is_cut_as_the_forecaster_reads_it():
    from common.configs import ForecasterConfig

    config = ForecasterConfig()
    assert (series_module.DEFAULT_WINDOW, series_module.DEFAULT_HORIZON) == (config.window, config.horizon)
    assert data_module.load("mackey_glass").info.input_shape == (config.window, 1)
