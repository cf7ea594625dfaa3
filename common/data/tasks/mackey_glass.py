"""The Mackey-Glass series (Mackey & Glass 1977), generated: the forecaster's default data, `mackey_glass`.

    dx/dt = beta * x(t - tau) / (1 + x(t - tau)^n) - gamma * x(t),   tau 17, beta 0.2, gamma 0.1, n 10

At tau = 17 the series is chaotic (the classic forecasting benchmark, Lapedes & Farber 1987):
quasi-periodic with a cycle of about 50 time units, never repeating. Integration: Euler's
method with step DT = 0.1 (the delay is then exactly 170 steps), one value kept per time
unit (every 10th step: sampling interval 1). The initial history x(t), -tau <= t <= 0, is
uniform in [0.5, 1.5] from the fixed MACKEY_GLASS_SEED, and the first TRANSIENT time units
(the climb onto the attractor) are dropped. LENGTH values remain, split by time and cut into
windows by common/data/series.py.
"""
import numpy as np

from common.data import series

NAMES = ("mackey_glass",)
TAU, BETA, GAMMA, POWER = 17.0, 0.2, 0.1, 10  # the delay, production, decay and nonlinearity of the equation
DT = 0.1  # Euler step, in time units
SAMPLING = 1.0  # time units between kept values: every int(SAMPLING / DT) = 10th step
TRANSIENT = 500  # time units dropped at the start
LENGTH = 2000  # values kept: 1400 train, 200 validation, 400 test (series.FRACTIONS)
MACKEY_GLASS_SEED = 1234  # fixed, like SPLIT_SEED: every run sees the same series


def matches(name):
    return name == "mackey_glass"


def load(name, options):
    return series.windowed(name, mackey_glass(), options, period=0)


def mackey_glass(length=LENGTH, seed=MACKEY_GLASS_SEED):
    """`length` values of the series, one per time unit, after the transient."""
    delay = int(round(TAU / DT))  # 170 steps
    every = int(round(SAMPLING / DT))
    steps = (TRANSIENT + length) * every
    rng = np.random.default_rng(seed)
    x = np.empty(delay + 1 + steps)
    x[:delay + 1] = rng.uniform(0.5, 1.5, size=delay + 1)  # the history on [-tau, 0]
    for t in range(delay, delay + steps):  # x[t] is x at time (t - delay) * DT
        lagged = x[t - delay]
        x[t + 1] = x[t] + DT * (BETA * lagged / (1.0 + lagged ** POWER) - GAMMA * x[t])
    kept = x[delay + TRANSIENT * every::every]
    return kept[:length]
