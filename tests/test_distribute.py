"""The same training under tf.distribute: MirroredStrategy on two logical CPU devices
(always available) gives the same losses and weights as one device on the same global
batches, for every classifier and both implementations; GPU/TPU checks skip cleanly
when those devices are absent.
"""
import json
import os

import pytest
import tensorflow as tf

from common import devices, registry

TOLERANCE = 1e-5  # float32 sums split across two replicas, then all-reduced: rounding only
CLASSIFIERS = [name for name, spec in registry.NETWORKS.items() if spec.family == "classifier"]




def test_mirrored_two_cpus_matches_one_device(cli):
    worker = os.path.join(os.path.dirname(__file__), "mirrored_worker.py")
    done = cli(worker, *CLASSIFIERS, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) == {f"{network}/{impl}" for network in CLASSIFIERS for impl in ("tf", "keras")}
    for key, figures in report.items():
        assert figures["moved"] > 1e-3, f"{key}: the weights barely moved; the comparison would be vacuous"
        assert figures["loss_difference"] <= TOLERANCE, (key, figures)
        assert figures["weight_difference"] <= TOLERANCE, (key, figures)


def test_strategy_choice_on_this_machine():
    strategy, description = devices.make_strategy("cpu")
    assert strategy.num_replicas_in_sync == 1 and "CPU" in description
    if not tf.config.list_logical_devices("GPU") and not devices._tpu_configured():
        assert devices.make_strategy("auto")[1] == "CPU (one device)"
        with pytest.raises(devices.DeviceError, match="no GPU"):
            devices.make_strategy("gpu")
    with pytest.raises(devices.DeviceError, match="needs TF_CONFIG"):
        if "TF_CONFIG" in os.environ:
            pytest.skip("TF_CONFIG is set here")
        devices.make_strategy("multiworker")
    with pytest.raises(devices.DeviceError, match="unknown strategy"):
        devices.make_strategy("quantum")


@pytest.mark.gpu
@pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="no GPU on this machine")
def test_gpu_strategy_has_replicas():
    strategy, _ = devices.make_strategy("gpu")
    assert strategy.num_replicas_in_sync >= 1
