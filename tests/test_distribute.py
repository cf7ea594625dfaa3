"""The same training under tf.distribute: MirroredStrategy on two logical CPU devices
(always available) gives the same losses and weights as one device on the same global
batches, for every network and both implementations; multi-worker training on two real
processes matches one process; GPU/TPU checks skip cleanly when those devices are absent.
"""
import json
import os

import pytest
import tensorflow as tf

from common import devices, registry

# float32 sums split across two replicas, then all-reduced: the order of additions changes, nothing else.
# Measured worst (TF 2.21 CPU): weights 1.3e-6 (rnn), losses 3.8e-6 on a VAE loss of ~40 (1e-7 relative).
TOLERANCE = 1e-5  # weights: absolute; losses: relative to the loss


def check_report(done, networks, tolerance_of):
    """tolerance_of(network) -> the tolerance for its weights (absolute) and losses (relative)."""
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) == {f"{network}/{impl}" for network in networks for impl in ("tf", "keras")}
    for key, figures in report.items():
        print(key, figures)
        tolerance = tolerance_of(key.split("/")[0])
        assert figures["steps"] == (11 if key.endswith("/tf") else 10), key
        assert figures["moved"] > 1e-3, f"{key}: the weights barely moved; the comparison would be vacuous"
        assert figures["loss_difference"] <= tolerance * max(1.0, figures["loss_scale"]), (key, figures)
        assert figures["weight_difference"] <= tolerance, (key, figures)


def test_mirrored_two_cpus_matches_one_device(cli):
    """Every network, both implementations: 10 steps of 64 (32 per replica), and for tf_impl a last
    batch of 11 split 6 + 5, on two logical CPUs = the same steps on one device (tests/mirrored_worker.py)."""
    worker = os.path.join(os.path.dirname(__file__), "mirrored_worker.py")
    networks = list(registry.NETWORKS)
    check_report(cli(worker, *networks, timeout=900), networks, lambda network: TOLERANCE)


# The same steps on an accelerator against the CPU, every network, both implementations.
# Not measured here (no GPU or TPU on this machine); set for the kernels each device runs:
# GPU: float32 cuDNN convolutions and other reduction orders, TensorFloat-32 turned off in the
# worker; Keras's LSTM and GRU take cuDNN's fused kernels there (tf_impl keeps its loop), so the
# recurrent networks get 10x more; TPU: XLA, whose float32 matmuls default to bfloat16 passes.
ACCELERATOR_TOLERANCE = {"gpu": 1e-4, "tpu": 1e-2}
CUDNN_RECURRENT_FACTOR = 10
HAS_GPU = bool(tf.config.list_physical_devices("GPU"))


@pytest.mark.parametrize("accelerator", [
    pytest.param("gpu", marks=[pytest.mark.gpu, pytest.mark.skipif(
        not HAS_GPU, reason="no GPU on this machine: the distribute and parity checks ran on CPU only")]),
    pytest.param("tpu", marks=[pytest.mark.tpu, pytest.mark.skipif(
        not devices._tpu_configured(), reason="no TPU configured (TPU_NAME, COLAB_TPU_ADDR or /dev/accel0)")]),
])
def test_accelerator_matches_cpu(cli, accelerator):
    worker = os.path.join(os.path.dirname(__file__), "mirrored_worker.py")
    networks = list(registry.NETWORKS)
    def tolerance_of(network):
        recurrent = registry.get(network).family in ("recurrent", "charlm", "gesture", "tagger", "speech") and accelerator == "gpu"  # Keras: cuDNN
        return ACCELERATOR_TOLERANCE[accelerator] * (CUDNN_RECURRENT_FACTOR if recurrent else 1)

    check_report(cli(worker, "--strategy", accelerator, *networks, timeout=1800), networks, tolerance_of)


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
@pytest.mark.skipif(not HAS_GPU, reason="no GPU on this machine")
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
    the cnn, autoencoder and GAN as one process does on the same global batches, in both implementations,
    and in one process Keras agrees with tf_impl. Keras's `fit` driver cannot run multi-worker in Keras
    3.15, so the cluster runs fit's own step, `train_step`, through strategy.run: see multiworker_worker.py."""
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
    def gap(first, second):
        return max(np.abs(np.array(a) - np.array(b)).max() for a, b in zip(first, second))

    for network in ("cnn", "autoencoder", "gan"):
        np.testing.assert_allclose(cluster[network]["tf"]["losses"], single[network]["tf"]["losses"], atol=TOLERANCE)
        figures = {
            "tf: two workers vs one process": gap(cluster[network]["tf"]["weights"], single[network]["tf"]["weights"]),
            "keras: two workers vs one process": gap(cluster[network]["keras"]["weights"],
                                                     single[network]["keras"]["weights"]),
            "one process: tf vs keras": gap(single[network]["tf"]["weights"], single[network]["keras"]["weights"]),
        }
        print(network, figures)
        for what, difference in figures.items():
            assert difference <= TOLERANCE, f"{network}, {what}: weights differ by {difference:.1e}"


def test_keras_refuses_multiworker_with_a_reason(capsys):
    from common import twinnets

    code = twinnets.main(["train", "mlp", "--impl", "keras", "--strategy", "multiworker", "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "keras-team/keras#20585" in err and len(err.strip().splitlines()) == 1
