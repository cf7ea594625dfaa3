"""A noisy XOR cloud: points around the four corners of a square, labelled by XOR: `xor`.

The four XOR points alone cannot be split into train, validation and test, so each
corner (+-1, +-1) is a Gaussian cloud of XOR_POINTS / 4 points (standard deviation
XOR_NOISE) labelled by its corner: 1 where exactly one coordinate is positive. No line
separates the classes (a linear model scores about one half); a hidden layer does.
"""
import numpy as np

from common.data.core import TEST_FRACTION, Arrays, split

NAMES = ("xor",)
XOR_POINTS = 800  # 200 per corner (a multiple of 4): 576 train, 64 validation, 160 test after the fixed splits
XOR_NOISE = 0.3  # standard deviation of each corner's cloud; corners are 2 apart, so the clouds barely touch
XOR_SEED = 11  # fixed, like SPLIT_SEED: every run sees the same points


def matches(name):
    return name == "xor"


def load(name, options):
    x, y = xor_cloud()
    x_rest, x_test, y_rest, y_test = split(x, y, TEST_FRACTION)
    return Arrays(x_rest, y_rest, None, None, x_test, y_test, kind="table")


def xor_cloud(points=XOR_POINTS, noise=XOR_NOISE, seed=XOR_SEED):
    """(x, y): x (points, 2) around the corners (+-1, +-1), y = [x1 > 0] XOR [x2 > 0] of the point's corner."""
    rng = np.random.default_rng(seed)
    square = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    corners = np.repeat(square, points // 4, axis=0)  # (points, 2): points / 4 at each corner, in order
    x = corners + rng.normal(0.0, noise, size=(points, 2))
    y = (corners[:, 0] * corners[:, 1] < 0).astype(np.int64)  # opposite signs: exactly one coordinate positive
    return x, y
