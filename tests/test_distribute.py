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


def free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def test_multiworker_on_two_processes_matches_one_process(tmp_path):
    """MultiWorkerMirroredStrategy across two worker processes on 127.0.0.1 (TF_CONFIG each) trains
    tf_impl's cnn and autoencoder as one process does on the same global batches (and there, Keras
    agrees with tf_impl). keras_impl cannot run multi-worker in Keras 3.15: see multiworker_worker.py."""
    import subprocess
    import sys

    import numpy as np

    from conftest import REPO

    worker = os.path.join(os.path.dirname(__file__), "multiworker_worker.py")
    env = dict(os.environ, PYTHONPATH=REPO)
    env.pop("TF_CONFIG", None)
    reference = tmp_path / "single.json"
    subprocess.run([sys.executable, worker, str(reference), "single"], env=env, check=True, timeout=300,
                   capture_output=True)
    cluster_out = tmp_path / "cluster.json"
    ports = [str(port) for port in free_ports(2)]
    workers = [subprocess.Popen([sys.executable, worker, str(cluster_out), str(index), *ports], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for index in (0, 1)]
    try:
        for process in workers:
            _, err = process.communicate(timeout=300)
            assert process.returncode == 0, err[-3000:]
    finally:
        for process in workers:  # never leave a worker behind, whatever failed
            if process.poll() is None:
                process.kill()
                process.wait()
    single = json.loads(reference.read_text())
    cluster = json.loads(cluster_out.read_text())
    assert (single["replicas"], cluster["replicas"]) == (1, 2)
    for network in ("cnn", "autoencoder"):
        np.testing.assert_allclose(cluster[network]["tf"]["losses"], single[network]["tf"]["losses"], atol=TOLERANCE)
        for ours, reference_weight in zip(cluster[network]["tf"]["weights"], single[network]["tf"]["weights"]):
            np.testing.assert_allclose(ours, reference_weight, atol=TOLERANCE, err_msg=network)
        gap = max(np.abs(np.array(a) - np.array(b)).max()
                    for a, b in zip(single[network]["tf"]["weights"], single[network]["keras"]["weights"]))
        assert gap <= TOLERANCE, f"{network}: tf and keras disagree after the same steps ({gap})"


def test_keras_refuses_multiworker_with_a_reason(capsys):
    from common import cli

    code = cli.main(["train", "mlp", "--impl", "keras", "--strategy", "multiworker", "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "keras-team/keras#20585" in err and len(err.strip().splitlines()) == 1
