"""Motion-sensor gestures, for the gesture network: `gestures`.

Six gestures drawn as 3-axis accelerometer traces sampled at a fixed rate (one step = one
sample), the label the gesture:

    0 circle       a_x, a_y = cos, sin of one turn                  (the hand goes round once)
    1 swipe_left   a_x = -sin of one period: push left, then brake
    2 swipe_right  a_x = +sin of one period: push right, then brake
    3 shake        a_x = sin of 4-6 periods                           (fast back and forth)
    4 zigzag       a_x = a square-ish wave of 2 periods, a_y = +sin(pi t): down-and-across
    5 tap          a_z = two short pulses, at a quarter and three quarters of the trace

Each trace is drawn with a random speed (its length, 30-80 steps: the same gesture done
faster or slower), amplitude (x0.6-1.4), a small random 3-D rotation of the sensor
(up to 20 degrees about each axis, orientation jitter), a random phase shift (up to 5% of the
trace), and Gaussian sensor noise (std 0.1); gravity (0, 0, 1), rotated with the sensor, is
added to every real step, so no real step is all zeros. Traces are zero-padded after their
end to 80 steps: (N, 80, 3), and a zero step is padding (the network's mask).
Classes are balanced; the seed is fixed (GESTURE_SEED), so every run sees the same traces.
"""
import numpy as np

from common.data.core import Arrays

NAMES = ("gestures",)
CLASSES = ("circle", "swipe_left", "swipe_right", "shake", "zigzag", "tap")
GESTURE_SIZES = (1500, 300, 600)  # train, validation, test traces, generated
MIN_LENGTH, MAX_LENGTH = 30, 80  # steps per trace (the sampling rate is fixed: length is speed)
NOISE = 0.1  # sensor noise std, in units of g
MAX_ANGLE = np.deg2rad(20.0)  # orientation jitter: a rotation of up to 20 degrees about each axis
GESTURE_SEED = 4321  # fixed, like SPLIT_SEED


def matches(name):
    return name == "gestures"


def load(name, options):
    x_train, y_train, _, x_val, y_val, _, x_test, y_test, _ = gestures()
    return Arrays(x_train, y_train, x_val, y_val, x_test, y_test, kind="sequence")


def gesture_shape(label, t, rng):
    """The clean acceleration (len(t), 3) of gesture `label` at normalised times t in [0, 1)."""
    zero = np.zeros_like(t)
    if label == 0:
        return np.stack([np.cos(2 * np.pi * t), np.sin(2 * np.pi * t), zero], axis=-1)
    if label in (1, 2):
        sign = -1.0 if label == 1 else 1.0
        return np.stack([sign * np.sin(2 * np.pi * t), zero, zero], axis=-1)
    if label == 3:
        cycles = rng.uniform(4.0, 6.0)
        return np.stack([np.sin(2 * np.pi * cycles * t), zero, zero], axis=-1)
    if label == 4:
        return np.stack([np.tanh(3 * np.sin(4 * np.pi * t)), np.sin(np.pi * t), zero], axis=-1)
    pulses = np.exp(-((t - 0.25) / 0.04) ** 2) + np.exp(-((t - 0.75) / 0.04) ** 2)
    return np.stack([zero, zero, 1.5 * pulses], axis=-1)


def rotation(rng):
    """A random 3x3 rotation of up to MAX_ANGLE about each of x, y and z."""
    ax, ay, az = rng.uniform(-MAX_ANGLE, MAX_ANGLE, size=3)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def draw(n, rng):
    """n traces: x (n, MAX_LENGTH, 3) zero-padded after each end, labels (n,), lengths (n,)."""
    labels = np.arange(n) % len(CLASSES)  # balanced
    rng.shuffle(labels)
    lengths = rng.integers(MIN_LENGTH, MAX_LENGTH + 1, size=n)
    x = np.zeros((n, MAX_LENGTH, 3))
    for i, (label, length) in enumerate(zip(labels, lengths)):
        t = (np.arange(length) + rng.uniform(-0.05, 0.05) * length) / length  # phase shift
        signal = rng.uniform(0.6, 1.4) * gesture_shape(label, t, rng) + np.array([0.0, 0.0, 1.0])  # + gravity
        x[i, :length] = signal @ rotation(rng).T + rng.normal(0.0, NOISE, size=(length, 3))
    return x, labels.astype(np.int64), lengths


def gestures(sizes=GESTURE_SIZES, seed=GESTURE_SEED):
    """(x, y, lengths) of the train, validation and test splits, one after another (9 arrays)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for n in sizes:
        arrays += draw(n, rng)
    return tuple(arrays)
