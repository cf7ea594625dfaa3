"""Embedded datasets, no network needed: scikit-learn's bundled data.

- `digits`: 1,797 8x8 handwritten digits, as (8, 8, 1) images scaled to [0, 1];
- `breast_cancer`: 569 tumours x 30 features (standardised on training statistics by core);
- `digits_sequences`: the digits read row by row, 8 steps of 8 pixels, for the recurrent networks;
- `diabetes`: 442 patients x 10 features, the target a real number (disease progression after a year,
  25-346), a regression: features standardised by core, and the target too (training statistics;
  common.evaluate scores in the original units).

Each comes as one pool; TEST_FRACTION of it is the test split, by the fixed SPLIT_SEED.
"""
import numpy as np

from common.data.core import TEST_FRACTION, Arrays, split

NAMES = ("digits", "breast_cancer", "digits_sequences", "diabetes")
REGRESSIONS = ("diabetes",)  # real-valued targets


def matches(name):
    return name in NAMES


def load(name, options):
    x, y, kind = _pool(name)
    x_rest, x_test, y_rest, y_test = split(x, y, TEST_FRACTION)
    if name in REGRESSIONS:
        return Arrays(x_rest, y_rest, None, None, x_test, y_test, kind=kind, task="regression",
                      standardise_targets=True)
    return Arrays(x_rest, y_rest, None, None, x_test, y_test, kind=kind)


def _pool(name):
    from sklearn import datasets

    if name == "breast_cancer":
        bunch = datasets.load_breast_cancer()
        return bunch.data, bunch.target, "table"
    if name == "diabetes":
        bunch = datasets.load_diabetes(scaled=False)  # raw features: core standardises them, as breast cancer's
        return bunch.data, bunch.target.astype(np.float64), "table"
    bunch = datasets.load_digits()
    x = (bunch.images / 16.0)[..., np.newaxis]  # (N, 8, 8) in 0..16 -> (N, 8, 8, 1) in [0, 1]
    if name == "digits_sequences":
        return x[..., 0], bunch.target, "sequence"  # (N, 8, 8): 8 time steps (the rows) of 8 features (the pixels)
    return x, bunch.target, "image"
