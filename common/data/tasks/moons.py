"""Two moons (scikit-learn's make_moons): two interleaved half circles in the plane, with noise: `moons`.

A task a straight line cannot solve and one hidden layer can: on this fixed draw
(1,000 points, noise 0.2) scikit-learn's LogisticRegression scores 0.885 on the test
split (tests/data/test_moons.py), the `backprop` network with 32 tanh units 0.96
(common/registry.py). Its default task.
"""
from common.data.core import TEST_FRACTION, Arrays, split

NAMES = ("moons",)
MOONS_POINTS = 1000  # 720 train, 80 validation, 200 test after the fixed splits
MOONS_NOISE = 0.2  # standard deviation of the Gaussian noise added to every point
MOONS_SEED = 7  # fixed, like SPLIT_SEED: every run sees the same points


def matches(name):
    return name == "moons"


def load(name, options):
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=MOONS_POINTS, noise=MOONS_NOISE, random_state=MOONS_SEED)  # x (N, 2), y in {0, 1}
    x_rest, x_test, y_rest, y_test = split(x, y, TEST_FRACTION)
    return Arrays(x_rest, y_rest, None, None, x_test, y_test, kind="table")
