"""Learning on the adding problem (Hochreiter & Schmidhuber 1997): gates carry a number across time.

Each of T steps carries (value, marker); the target is the sum of the two marked values
(common.data.adding_problem). Always predicting 1.0 scores MSE ~0.167. At the
documented T = common.data.ADDING_LENGTH (30) and the budget ADDING below (~8 s a run
on one CPU core; the table against T is in common/data/tasks/adding.py):

- lstm and gru reach test MSE < 0.01 in both implementations (the suite checks seeds 0 and 1),
  and their mean MSEs agree (parity level 4 on this task). Measured (seeds 0-2): lstm keras 0.0016 ± 0.0004,
  tf 0.0013 ± 0.0003; gru keras 0.0003 ± 0.0002, tf 0.0002 ± 0.0001. The slowest of them
  (lstm keras, seed 1) is below 0.01 from the fourth epoch (validation MSE 0.0041, then 0.0017);
- the simple RNN, same budget, stays far above (median of seeds 0-2 above 0.1; no seed
  below 0.01): its gradient through 30 steps of tanh vanishes. Measured: keras 0.159-0.191,
  tf 0.064-0.157.
"""
import pytest

from common import compare
from common.data import ADDING_LENGTH

# 5 epochs: every seed of both gated networks is below 0.01 from the fourth (measured above).
ADDING = {"dataset": f"adding:{ADDING_LENGTH}", "units": (32,), "epochs": 5, "learning_rate": 1e-2, "batch_size": 64}
SOLVED = 0.01  # test MSE: 1/16 of the baseline's
TOLERANCE = 0.005  # largest allowed |mean_keras - mean_tf| of the test MSE over GATED_SEEDS seeds
FAR_ABOVE = 0.1  # ten times SOLVED


@pytest.fixture(autouse=True)
def seeded():
    import keras

    keras.utils.set_random_seed(0)


# Seeds 0 and 1 for the gated networks: every seed of 0-2 measured (above) is 20 or more standard deviations below
# SOLVED, the rule of conftest.SUITE_SEEDS; three for the simple RNN, whose check is a median.
GATED_SEEDS = 2


@pytest.mark.learning
@pytest.mark.parametrize("network", ["lstm", "gru"])
def test_gated_networks_solve_the_adding_problem_and_agree(network):
    report = compare.compare(network, seeds=GATED_SEEDS, overrides=ADDING, verbose=False)
    means = {}
    for impl, summary in report["impls"].items():
        values = [run["metric"] for run in summary["runs"]]
        assert all(run["epochs_run"] == ADDING["epochs"] for run in summary["runs"])
        assert max(values) < SOLVED, f"{network} ({impl}): test MSE {values}, not all below {SOLVED}"
        means[impl] = summary["metric_mean"]
    assert abs(means["keras"] - means["tf"]) <= TOLERANCE, f"mean test MSE differ: {means}"


@pytest.mark.learning
def test_simple_rnn_stays_far_above_with_the_same_budget():
    """Over seeds 0-2: the median test MSE stays far above, and no seed solves the task.

    The median, not one seed: a seed in eight or so finds a partial solution (0.04-0.06), on
    either implementation, and which seed does moves with float32 rounding (6 epochs, seeds 0-15,
    tf: 0.0385-0.178, two below 0.1; keras 0.126-0.211; 5 epochs, seeds 0-2: tf seed 0 at 0.064)."""
    report = compare.compare("rnn", seeds=3, overrides=ADDING, verbose=False)
    for impl, summary in report["impls"].items():
        values = sorted(run["metric"] for run in summary["runs"])
        assert values[1] > FAR_ABOVE, f"rnn ({impl}): test MSE {values}: the task is too easy at T={ADDING_LENGTH}"
        assert values[0] > SOLVED, f"rnn ({impl}): a seed solved the task ({values})"
        baseline = summary["runs"][0]["metrics"]["mse_mean_baseline"]
        assert values[-1] < 2 * baseline, f"rnn ({impl}): {values}: diverged, not near the baseline {baseline:.3f}"
