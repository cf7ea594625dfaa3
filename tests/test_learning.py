"""Parity level 4, learning: for every network in the registry, both implementations
trained independently with seeds 0, 1, 2 (0, 1 for conftest.SUITE_SEEDS) on the default data clear the network's floor,
and their mean metrics differ by no more than its tolerance. Default hyperparameters,
except for the few networks conftest.SUITE_EPOCHS trains for fewer epochs (the same floor
and tolerance, asked of less training).

This runs `twinnets compare` itself (common.compare), so the report a user sees is the
one tested here; the runs are shared (conftest.learned) with the other learning tests of
the same network (the transfer claims in test_parity_transfer.py). The same runs show that neither implementation
traces its compiled training function more than once (history["train_traces"], recorded per epoch): tf_impl's is one
tf.function, Keras fit's two (the loop over the iterator and the step), each traced once, in the first epoch.
"""
import pytest

from common import compare, registry
from conftest import learning_group, seeds_of, train_from

@pytest.mark.learning
@pytest.mark.parametrize("network", [pytest.param(network, marks=learning_group(network)) for network in registry.NETWORKS])
def test_level4_both_learn_and_agree(network, learned):
    spec = registry.get(network)
    report = learned(network)  # seeds 0-2 (0-1 where conftest.SUITE_SEEDS says)
    print("\n" + compare.table(report))
    for impl, summary in report["impls"].items():
        values = [run["metric"] for run in summary["runs"]]
        assert len(values) == seeds_of(network)
        assert summary["clears_floor"], f"{impl}: {spec.metric} {values} does not clear the floor {spec.floor}"
    once = {"keras": 2, "tf": 1}  # an optimizer built inside the first trace makes Keras trace its step twice
    for impl, summary in report["impls"].items():
        for run in summary["runs"]:
            traces = run["history"]["train_traces"]
            assert traces == [once[impl]] * len(traces), f"{impl} seed {run['seed']} retraced: {traces}"
    assert report["parity"]["passed"], (
        f"mean {spec.metric} differs by {report['parity']['difference']:+.4f} > {spec.tolerance}"
    )


@pytest.mark.learning
@learning_group("rnn")
def test_whole_trainings_from_the_same_initial_weights_end_alike():
    """Level 4's spread is the initial weights', not the implementations': from the same start, both end alike.

    Found by `python -m common.report --seeds 8`: tf_impl's rnn seed 5 ended at 0.9306, under
    the 0.95 floor (Keras's eight seeds: 0.964-0.983). Trained from those same initial weights,
    Keras ends at 0.9306 too, and from Keras's seed-5 weights both end at 0.9694: the draw
    decides, and 30 epochs of the two implementations from one start agree. Checked here on
    tf_impl's seed-5 draw, with the same data order.
    """
    import dataclasses

    import keras

    from common import data as data_module
    from keras_impl import rnn as keras_rnn
    from tf_impl import rnn as tf_rnn

    config = dataclasses.replace(registry.get("rnn").config_class(), seed=5)
    data = data_module.load(config.dataset, seed=config.seed, batch_size=config.batch_size)
    keras.utils.set_random_seed(config.seed)
    start = tf_rnn.build(config, data.info.input_shape, data.info.num_classes).get_weights()

    keras_value, tf_value = (train_from(module, start, config, data).value for module in (keras_rnn, tf_rnn))
    assert abs(keras_value - tf_value) <= 2 / data.info.n_test, (keras_value, tf_value)  # two test digits at most
