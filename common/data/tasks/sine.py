"""A noisy sine with a linear trend, generated: the forecaster's second task, `sine`.

    s_t = TREND t + sin(2 pi t / PERIOD) + noise_t,   noise_t ~ N(0, NOISE^2) from the fixed SINE_SEED

Its period is known (PERIOD steps), so common.evaluate also scores the seasonal-naive
forecast (the value one period earlier) beside persistence. The trend lifts the test part
about 0.55 above the training part's mean, which the normalisation (training statistics
only) leaves in place: the forecaster must carry a level a little beyond what it was
trained on. A steeper trend makes that extrapolation, and an LSTM's saturating units fail
it: at 0.01 a step (test values 10 training standard deviations up), both implementations'
RMSE was 2.3-2.4x persistence's (`twinnets train forecaster --dataset sine`, seed 0).
Split by time and cut into windows by common/data/series.py.
"""
import numpy as np

from common.data import series

NAMES = ("sine",)
PERIOD = 12  # steps per cycle; at most the forecaster's window (16), so the seasonal-naive forecast is inside it
TREND = 0.0005  # per step: 1.0 over the series
NOISE = 0.1  # standard deviation of the Gaussian noise
LENGTH = 2000  # values: 1400 train, 200 validation, 400 test (series.FRACTIONS)
SINE_SEED = 1234  # fixed: every run sees the same series


def matches(name):
    return name == "sine"


def load(name, options):
    return series.windowed(name, sine(), options, period=PERIOD)


def sine(length=LENGTH, seed=SINE_SEED):
    t = np.arange(length, dtype=np.float64)
    noise = np.random.default_rng(seed).normal(0.0, NOISE, size=length)
    return TREND * t + np.sin(2.0 * np.pi * t / PERIOD) + noise
