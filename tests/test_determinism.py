"""--deterministic: the same command run twice gives bit-identical metrics, for every network and both implementations.

Op determinism is process-global, so two fresh processes (tests/determinism_worker.py)
each run every network once; their metrics.json files, timings left out, must be equal.
"""
import json
import os
import subprocess
import sys

from common import registry
from conftest import REPO

FAST = {  # few epochs, small models: this is about repeatability, not quality
    "transfer": ["--epochs", "1", "--head-epochs", "2", "--fine-tune-epochs", "1", "--filters", "4,8"],
    "deep_mlp": ["--epochs", "2", "--hidden-units", "32,32"],
    # The GANs: one epoch draws every random number a run draws (latents, noise, the judge's samples);
    # the reshuffle between epochs is exercised by every other network.
    "gan": ["--epochs", "1"],
    "cgan": ["--epochs", "1"],
    "wgan_gp": ["--epochs", "1", "--n-critic", "2"],  # every critic step draws its own z and eps: two show it
    # dbn: one epoch of each RBM and of both classifiers, a short sampling chain: every phase draws its numbers.
    "dbn": ["--epochs", "1", "--pretrain-epochs", "1", "--sample-steps", "5", "--hidden-units", "32,16"],
    # seq2seq: two epochs (the reshuffle), a small model on few pairs; greedy decoding of every test date.
    "seq2seq": ["--epochs", "2", "--train-pairs", "256", "--units", "16", "--max-output-length", "12"],
    # charlm: two epochs (the reshuffle), a small model; its acceptance samples draw the injected uniforms.
    "charlm": ["--epochs", "2", "--units", "16", "--samples", "50"],
    # forecaster: two epochs (the reshuffle), a small LSTM; every test window forecast and scored.
    "forecaster": ["--epochs", "2", "--units", "8"],
    # gesture: two epochs (the reshuffle), a small GRU over the padded traces; every test trace scored.
    "gesture": ["--epochs", "2", "--units", "8"],
    # tagger: two epochs (the reshuffle), a small BiLSTM; every test sentence tagged and scored by seqeval.
    "tagger": ["--epochs", "2", "--units", "8"],
    # detection: two epochs (the reshuffle), a small CenterNet; every test scene decoded and scored by pycocotools.
    "detection": ["--epochs", "2", "--filters", "4,8,8", "--head-filters", "4"],
    # segmentation: two epochs (the reshuffle), a one-pooling U-Net; every test pixel scored.
    "segmentation": ["--epochs", "2", "--filters", "4,8"],
    # speech: two epochs (the reshuffle), a small BiLSTM; every test clip decoded by the best path and a beam of 2.
    "speech": ["--epochs", "2", "--units", "8", "--beam-width", "2"],
}


def popen(argv):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen([sys.executable, *argv], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_deterministic_runs_are_bit_identical_for_every_network(tmp_path):
    """Two fresh processes run every network in both implementations with --deterministic; all metrics agree."""
    jobs = [(network, impl) for network in registry.NETWORKS for impl in ("keras", "tf")]
    worker = os.path.join(REPO, "tests", "determinism_worker.py")
    spec = json.dumps({"jobs": jobs, "fast": FAST})
    processes = [popen([worker, spec, str(tmp_path / f"run{index}")]) for index in range(2)]
    try:
        outputs = [process.communicate(timeout=600) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for process, (out, err) in zip(processes, outputs):
        assert process.returncode == 0, err[-3000:]
    first, second = (json.loads(out.strip().splitlines()[-1]) for out, _ in outputs)
    assert set(first) == {f"{network}/{impl}" for network, impl in jobs}
    different = [key for key in first if first[key] != second[key]]
    assert different == [], {key: (first[key]["metrics"], second[key]["metrics"]) for key in different}
