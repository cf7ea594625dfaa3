"""common.data.tasks.sine: the noisy sine with trend, its period known for the seasonal-naive baseline."""
import numpy as np
import pytest

from common import data as data_module
from common import evaluate
from common.data.tasks import sine


def test_sine_knows_its_period_and_trend():
    data = data_module.load("sine", window=24, horizon=10)
    assert data.period == sine.PERIOD == 12 and data.info.name == "sine" and data.info.task == "forecast"
    values = sine.sine()
    np.testing.assert_array_equal(values, sine.sine())  # a fixed seed: always the same series
    assert values[1600:].mean() - values[:1400].mean() == pytest.approx(0.55, abs=0.05)  # the trend: test lies higher
    assert data.x_test.mean() > 0.5  # normalised with the training statistics, so it shows
    residual = values - sine.TREND * np.arange(len(values)) - np.sin(2 * np.pi * np.arange(len(values)) / sine.PERIOD)
    assert abs(residual.std() - sine.NOISE) < 0.01  # what is left is the noise


def test_seasonal_naive_beats_persistence_on_it():
    """The period is right: the value one period back forecasts far better than the last value."""
    data = data_module.load("sine", window=24, horizon=10)
    scores = evaluate.forecasting(data.denormalise(data.y_test), data.denormalise(data.y_test),
                                  data.denormalise(data.x_test), period=data.period)
    assert scores["seasonal_naive_rmse"] < 0.5 * scores["persistence_rmse"]
