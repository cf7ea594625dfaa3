"""Parity level 4, learning: for every network in the registry, both implementations
trained independently with seeds 0, 1, 2 on the default data clear the network's floor,
and their mean metrics differ by no more than its tolerance.

This runs `twinnets compare` itself (common.compare), so the report a user sees is the
one tested here; the runs are shared (conftest.learned) with the other learning tests of
the same network (the transfer claims in test_parity_transfer.py). The same runs show that neither implementation retraces its compiled
training function after the first epoch (history["train_traces"], recorded per epoch).
"""
import pytest

from common import compare, registry
from conftest import learning_group

SEEDS = 3


@pytest.mark.learning
@pytest.mark.parametrize("network", [pytest.param(network, marks=learning_group(network)) for network in registry.NETWORKS])
def test_level4_both_learn_and_agree(network, learned):
    spec = registry.get(network)
    report = learned(network, seeds=SEEDS)
    print("\n" + compare.table(report))
    for impl, summary in report["impls"].items():
        values = [run["metric"] for run in summary["runs"]]
        assert len(values) == SEEDS
        assert summary["clears_floor"], f"{impl}: {spec.metric} {values} does not clear the floor {spec.floor}"
    for impl, summary in report["impls"].items():
        for run in summary["runs"]:
            traces = run["history"]["train_traces"]
            assert traces[0] >= 1 and traces == [traces[0]] * len(traces), f"{impl} seed {run['seed']} retraced: {traces}"
    assert report["parity"]["passed"], (
        f"mean {spec.metric} differs by {report['parity']['difference']:+.4f} > {spec.tolerance}"
    )
