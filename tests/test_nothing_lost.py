"""Nothing lost: resume after SIGKILL, refused foreign checkpoints, NaN guards, determinism, exports.

- A training process killed with SIGKILL mid-run and started again with the same command
  finishes with exactly the metrics of an uninterrupted run (determinism on).
- A checkpoint of another network, implementation or config is refused in one line.
- A loss that becomes NaN stops training; the last good checkpoint stays the latest.
(Determinism for every network: tests/test_determinism.py.)
- Both implementations' SavedModels, holding the same weights, serve the same outputs.
"""
import dataclasses
import glob
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from common import registry
from conftest import REPO, run_main

TIMING = ("epoch_seconds", "train_traces", "train_seconds", "samples_per_second", "versions")


def comparable(metrics_path):
    """metrics.json without what depends on the clock: what must match between runs."""
    payload = json.loads(open(metrics_path).read())
    for key in TIMING:
        payload.pop(key, None)

    def strip(history):
        return {name: values for name, values in history.items() if name not in TIMING}

    payload["history"] = {name: strip(value) if isinstance(value, dict) else value
                          for name, value in payload["history"].items() if name not in TIMING}
    return payload


def saved_states(directory):
    """Checkpoint files written so far (tf: the CheckpointManager index; Keras: the state .npz), any phase."""
    return glob.glob(os.path.join(directory, "**", "checkpoint"), recursive=True) + \
        glob.glob(os.path.join(directory, "**", "keras_state.npz"), recursive=True)


def saved_epoch(directory):
    """The epoch of the latest complete save in a single-phase checkpoint folder (0: none)."""
    keras_state = os.path.join(directory, "keras_state.npz")
    if os.path.exists(keras_state):
        with np.load(keras_state) as archive:
            return json.loads(str(archive["meta"]))["epochs_done"]
    latest = tf.train.latest_checkpoint(directory)
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def popen(argv):
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen([sys.executable, *argv], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


# --- checkpoint and resume: SIGKILL mid-run, then the same command again ---

# A supervised network and a GAN (two optimizers, latents from a generator); cgan and wgan_gp keep their
# state through the same resumable_fit / loop.Checkpoint as gan (wgan_gp's own resume: test_parity_wgan_gp.py).
# Epochs: enough that the kill (right after the first save) lands mid-run and the resumed run crosses
# at least one more epoch boundary (the reshuffle, the optimizer state and the latents all carry over).
KILL_CASES = {
    "cnn": ["--epochs", "4", "--filters", "8,16", "--dense-units", "32"],
    "gan": ["--epochs", "3"],
}
KILL_RUNS = [(network, impl) for network in KILL_CASES for impl in ("keras_impl", "tf_impl")]


def run_commands(commands):
    """`python -m MODULE ARGV` for each (module, argv), in order, in one fresh process (tests/commands_worker.py):
    TensorFlow starts once for all of them."""
    worker = os.path.join(REPO, "tests", "commands_worker.py")
    return popen([worker, json.dumps(commands)])


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    """Every case of KILL_RUNS: killed with SIGKILL right after its first save, then run again with the same
    command; alongside, the same commands uninterrupted. Fresh processes throughout: one runs the
    uninterrupted commands, one per case is killed, one resumes every case. -> {(network, impl): outcome}."""
    root = tmp_path_factory.mktemp("sigkill")
    cases = {}
    for network, impl in KILL_RUNS:
        base = root / f"{network}-{impl}"
        command = [*KILL_CASES[network], "--deterministic", "--quiet"]
        cases[network, impl] = {
            "module": f"{impl}.{network}", "checkpoint_dir": base / "ckpt", "resumed_out": base / "resumed",
            "whole_out": base / "whole",
            "resumable": command + ["--checkpoint-dir", str(base / "ckpt"), "--out", str(base / "resumed")],
            "whole": command + ["--out", str(base / "whole")],
        }
    processes = []
    try:
        whole = run_commands([(case["module"], case["whole"]) for case in cases.values()])
        processes.append(whole)
        for case in cases.values():  # one victim at a time, so that each is watched until its first save
            victim = popen(["-m", case["module"], *case["resumable"]])
            processes.append(victim)
            deadline = time.monotonic() + 120
            while not saved_states(str(case["checkpoint_dir"])) and victim.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            case["ended_before_kill"] = victim.poll() is not None and victim.communicate()
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            case["returncode"] = victim.returncode
            case["finished_before_resume"] = (case["resumed_out"] / "metrics.json").exists()
            case["killed_after"] = saved_epoch(str(case["checkpoint_dir"]))
        again = run_commands([(case["module"], case["resumable"]) for case in cases.values()])
        processes.append(again)
        for process in (again, whole):
            _, err = process.communicate(timeout=600)
            assert process.returncode == 0, err[-3000:]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return cases


@pytest.mark.xdist_group("sigkill")  # one worker: the fixture above runs once for the four
@pytest.mark.parametrize("impl", ["keras_impl", "tf_impl"])
@pytest.mark.parametrize("network", list(KILL_CASES))
def test_sigkill_then_resume_matches_an_uninterrupted_run(killed_and_resumed, network, impl):
    case = killed_and_resumed[network, impl]
    assert not case["ended_before_kill"], f"the run ended before it could be killed: {case['ended_before_kill']}"
    assert case["returncode"] == -signal.SIGKILL
    assert not case["finished_before_resume"], "killed before it finished"
    killed_after = case["killed_after"]
    epochs = int(KILL_CASES[network][KILL_CASES[network].index("--epochs") + 1])
    assert 1 <= killed_after < epochs, f"killed after epoch {killed_after} of {epochs}: not mid-run"
    resumed, uninterrupted = comparable(case["resumed_out"] / "metrics.json"), comparable(case["whole_out"] / "metrics.json")
    print(f"{network} ({impl}): killed after epoch {killed_after}/{epochs}; resumed {resumed['metric']} "
          f"{resumed['value']!r}, uninterrupted {uninterrupted['value']!r}")
    assert resumed["epochs_run"] == uninterrupted["epochs_run"] == epochs
    assert resumed == uninterrupted  # determinism on: bit for bit, history included


@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_a_crash_during_a_save_leaves_the_previous_checkpoint(capsys, tmp_path, impl):
    """The debris a save interrupted by SIGKILL leaves (partial files under temporary names) is ignored."""
    checkpoint_dir = tmp_path / "ckpt"
    argv = ["train", "mlp", "--impl", impl, "--hidden-units", "8", "--checkpoint-dir", str(checkpoint_dir)]
    code, _, err = run_main(capsys, argv + ["--epochs", "2", "--quiet", "--out", str(tmp_path / "two")])
    assert code == 0, err
    if impl == "tf":  # what tf.train.Checkpoint has written when it is killed before its final renames
        (checkpoint_dir / "ckpt-3_temp").mkdir()
        (checkpoint_dir / "ckpt-3_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\x00" * 100)
        (checkpoint_dir / "ckpt-3.data-00000-of-00001").write_bytes(b"\x00" * 10)
    else:  # Keras: the new state is written under a temporary name, then renamed over the old one
        (checkpoint_dir / ".tmp-interrupted.npz").write_bytes(b"PK\x03\x04 half a zip")
    code, out, err = run_main(capsys, argv + ["--epochs", "3", "--out", str(tmp_path / "three")])
    assert code == 0, err
    assert "resuming after epoch 2" in out
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())["history"]["loss"]
    three = json.loads((tmp_path / "three" / "metrics.json").read_text())["history"]["loss"]
    assert len(three) == 3 and three[:2] == two
    assert not (checkpoint_dir / ".tmp-interrupted.npz").exists()  # Keras: the debris is cleared


def test_resume_of_a_multi_phase_network(tmp_path, capsys):
    """transfer: one checkpoint sub-folder per phase; a rerun after it finished changes nothing."""
    argv = ["train", "transfer", "--impl", "tf", "--epochs", "1", "--head-epochs", "1", "--fine-tune-epochs", "1",
            "--filters", "4,8", "--dense-units", "16", "--quiet", "--checkpoint-dir", str(tmp_path / "ckpt")]
    code, _, err = run_main(capsys, argv + ["--out", str(tmp_path / "first")])
    assert code == 0, err
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["feature_extraction", "fine_tuning", "fingerprint.json",
                                                    "pretrain", "scratch"]
    code, out, err = run_main(capsys, argv + ["--out", str(tmp_path / "again")])
    assert code == 0, err
    assert out.count("resuming after epoch") == 0  # --quiet
    assert comparable(tmp_path / "first" / "metrics.json") == comparable(tmp_path / "again" / "metrics.json")


@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_a_foreign_checkpoint_is_refused(capsys, tmp_path, impl):
    checkpoint_dir = str(tmp_path / "ckpt")
    base = ["--epochs", "1", "--quiet", "--checkpoint-dir", checkpoint_dir]
    code, _, err = run_main(capsys, ["train", "mlp", "--impl", impl, "--hidden-units", "8", *base,
                                     "--out", str(tmp_path / "a")])
    assert code == 0, err
    other_impl = "tf" if impl == "keras" else "keras"
    refusals = {
        "another network": (["train", "logistic_regression", "--impl", impl], "holds a checkpoint of mlp"),
        "another implementation": (["train", "mlp", "--impl", other_impl, "--hidden-units", "8"], "impl"),
        "another config": (["train", "mlp", "--impl", impl, "--hidden-units", "16"], "config hidden_units: 8 there, 16 here"),
        "another dataset": (["train", "mlp", "--impl", impl, "--hidden-units", "8", "--dataset", "breast_cancer"],
                            "config dataset"),
    }
    for case, (argv, message) in refusals.items():
        out_dir = tmp_path / case.replace(" ", "-")
        code, _, err = run_main(capsys, argv + base + ["--out", str(out_dir)])
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and message in lines[0], (case, err)
        assert not (out_dir / "metrics.json").exists()
    # more epochs of the same run are not a different run: it resumes
    code, _, err = run_main(capsys, ["train", "mlp", "--impl", impl, "--hidden-units", "8", "--epochs", "2", "--quiet",
                                     "--checkpoint-dir", checkpoint_dir, "--out", str(tmp_path / "b")])
    assert code == 0, err
    assert len(json.loads((tmp_path / "b" / "metrics.json").read_text())["history"]["loss"]) == 2


def test_a_folder_of_other_files_is_not_taken_for_a_checkpoint(capsys, tmp_path):
    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "notes.txt").write_text("mine")
    code, _, err = run_main(capsys, ["train", "mlp", "--impl", "tf", "--epochs", "1", "--quiet",
                                     "--checkpoint-dir", str(tmp_path / "ckpt"), "--out", str(tmp_path / "out")])
    assert code == 2 and "not a twinnets checkpoint" in err
    assert os.listdir(tmp_path / "ckpt") == ["notes.txt"]


# --- numerical faults: the last good checkpoint is kept ---

@pytest.mark.parametrize("impl", ["keras_impl", "tf_impl"])
def test_huge_learning_rate_stops_and_saves_no_nan_checkpoint(module_main, tmp_path, impl):
    out, checkpoint_dir = tmp_path / "out", tmp_path / "ckpt"
    code, _, err = module_main(f"{impl}.mlp", "--optimizer", "sgd", "--learning-rate", "1e12", "--epochs", "3",
                               "--checkpoint-dir", str(checkpoint_dir), "--out", str(out))
    assert code == 2 and "Traceback" not in err
    assert "the training loss " in err and "of epoch 1;" in err
    assert not (out / "metrics.json").exists()
    assert saved_states(str(checkpoint_dir)) == []  # the NaN epoch was never saved


POISONS = {"nan": (np.nan, "became nan"), "explosion": (1e6, "exploded to 1e+06")}  # the loss starts at 1.0


@pytest.mark.parametrize("poison", list(POISONS))
def test_tf_loop_keeps_the_last_good_checkpoint(tmp_path, poison):
    """A loss that becomes NaN, or 1e6x its start, in epoch 3: epochs 1 and 2 are saved, 3 is not, and 2 restores whole."""
    from common.checkpoints import fingerprint
    from common.evaluate import TrainingDiverged
    from tf_impl import loop

    weight = tf.Variable(1.0)
    epoch_number = tf.Variable(0.0)

    def step(x, y):
        weight.assign_add(1.0)
        return tf.where(epoch_number >= 2.0, POISONS[poison][0], 1.0) * tf.reduce_mean(x), tf.shape(x)[0]

    batches = tf.data.Dataset.from_tensor_slices((np.ones((8, 1), np.float32), np.zeros(8))).batch(4)

    def validate():
        epoch_number.assign_add(1.0)
        return {"val_loss": 0.0}

    config = dataclasses.make_dataclass("Config", [("epochs", int, 3)])()  # a stand-in for the fingerprint
    data = type("Data", (), {"info": registry_info()})()
    checkpoint = loop.Checkpoint(str(tmp_path), fingerprint("toy", "tf", config, data), weight=weight)
    with pytest.raises(TrainingDiverged, match=re.escape(POISONS[poison][1]) + ".* at step 1 of epoch 3"):
        loop.run_epochs(epochs=3, train_step=step, train_batches=lambda: batches, validate=validate, verbose=0,
                        checkpoint=checkpoint)
    assert checkpoint.manager.latest_checkpoint.endswith("ckpt-2")
    weight.assign(-5.0)
    state = checkpoint.restore()
    assert state["epochs_done"] == 2 and state["history"]["loss"] == [1.0, 1.0]
    assert float(weight) == 5.0  # 1 + two epochs of two steps


def registry_info():
    from common.data import DataInfo

    return DataInfo(name="toy", kind="table", input_shape=(1,), num_classes=2, n_train=8, n_val=0, n_test=0)


@pytest.mark.parametrize("poison", list(POISONS))
def test_keras_fit_keeps_the_last_good_checkpoint(tmp_path, poison):
    import keras

    from common.evaluate import TrainingDiverged
    from keras_impl import supervised

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")

    class PoisonAtEpoch3(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                self.model.set_weights([np.full((1, 1), POISONS[poison][0], np.float32), np.zeros(1, np.float32)])

    batches = tf.data.Dataset.from_tensor_slices((np.ones((8, 1), np.float32), np.ones((8, 1), np.float32))).batch(4)
    stats = supervised.EpochStats()
    with pytest.raises(TrainingDiverged, match=POISONS[poison][1].split()[0] + ".* at step 1 of epoch 3"):
        supervised.resumable_fit(model, batches, epochs=4, callbacks=[PoisonAtEpoch3(), supervised.StopOnDivergence(), stats],
                                 stats=stats, verbose=0, checkpoint_dir=str(tmp_path), fingerprint={"toy": 1})
    with np.load(tmp_path / "keras_state.npz") as archive:
        meta = json.loads(str(archive["meta"]))
        assert meta["epochs_done"] == 2
        assert all(np.all(np.isfinite(archive[f"arr_{index}"])) for index in range(meta["variables"]))


# --- export and serving parity ---

EXPORTED = {  # network -> (what the export serves, how to build both models with the same weights)
    "logistic_regression": "classifier", "mlp": "classifier", "deep_mlp": "classifier", "cnn": "classifier",
    "backprop": "classifier",  # its hand-written forward pass (tf_impl/backprop.py forward) is what serves
    "rnn": "recurrent", "lstm": "recurrent", "gru": "recurrent",
    "autoencoder": "autoencoder", "vae": "decoder", "gan": "generator", "wgan_gp": "generator",
    "cgan": "generator",  # its input: [z, one_hot(label)]
    "regression": "regressor",  # one real-valued output per example, standardised units (common.data)
    "dbn": "classifier",  # the fine-tuned classifier, the stack unrolled (its build: random weights)
    "rbm": "features",  # visible units (the flattened binary image) -> hidden probabilities
    "charlm": "characters",  # character ids (batch, time) -> next-character logits (batch, time, vocabulary)
    "forecaster": "forecast",  # windows in the series' units (batch, window, 1) -> forecasts in them (batch, H)
    "gesture": "recurrent",  # the recurrent classifier (its default GRU), padded traces read as sequences
    "tagger": "tags",  # word ids (batch, time) -> tag logits (batch, time, tags)
    "detection": "boxes",  # images (batch, H, W, 3) -> heatmap logits, sizes, offsets (batch, H / 4, W / 4, C + 4)
    "segmentation": "masks",  # images (batch, 21, 30, 3), padded inside to 24 x 32 -> logits (batch, 21, 30, 4)
    "speech": "recurrent",  # log-mel frames (batch, frames, bins) -> per-frame logits (batch, frames, blank + symbols)
}


def twin_models(network):
    """(keras model, tf model, input shape) holding the same weights: the exported parts, Keras's weights transplanted."""
    spec = registry.get(network)
    config = spec.config_class()
    keras_module = importlib.import_module(f"keras_impl.{network}")
    tf_module = importlib.import_module(f"tf_impl.{network}")
    kind = EXPORTED[network]
    if kind == "classifier":
        shape = (30,) if network == "logistic_regression" else (8, 8, 1)
        keras_model, tf_model = (module.build(config, shape, 10) for module in (keras_module, tf_module))
    elif kind == "recurrent":
        shape = (8, 8)
        keras_model, tf_model = (module.build(config, shape, 10) for module in (keras_module, tf_module))
    elif kind == "regressor":
        shape = (10,)  # diabetes' features
        keras_model, tf_model = (module.build(config, shape, 1) for module in (keras_module, tf_module))
    elif kind == "characters":
        shape = (12,)  # 12 ids of reber's vocabulary of 10 (3 reserved ids, 7 symbols)
        keras_model, tf_model = (module.build(config, shape, 10) for module in (keras_module, tf_module))
    elif kind == "tags":
        shape = (12,)  # 12 word ids of a vocabulary of 20, 8 tags (padding's 0 included)
        keras_model, tf_model = (module.build(config, shape, 8, 20) for module in (keras_module, tf_module))
    elif kind == "boxes":
        shape = (32, 48, 3)  # any H, W that are multiples of 8; 3 classes
        keras_model, tf_model = (module.build(config, shape, 3) for module in (keras_module, tf_module))
    elif kind == "masks":
        shape = (21, 30, 3)  # sides the encoder's stride (4) does not divide: the padding and the crop exported too
        keras_model, tf_model = (module.build(config, shape, 4) for module in (keras_module, tf_module))
    elif kind == "forecast":
        shape = (config.window, 1)
        keras_model, tf_model = (module.build(config) for module in (keras_module, tf_module))
    elif kind == "features":
        shape = (64,)  # 8x8 digits, binarised and flattened (common/energy.py)
        keras_model, tf_model = (module.build(config, shape) for module in (keras_module, tf_module))
    else:
        classes = (10,) if network == "cgan" else ()  # the conditional generator is built for the classes too
        keras_whole, tf_whole = (module.build(config, (8, 8, 1), *classes) for module in (keras_module, tf_module))
        if kind == "autoencoder":
            keras_model, tf_model, shape = keras_whole, tf_whole, (8, 8, 1)
        else:
            part = "decoder" if kind == "decoder" else "generator"
            keras_model, tf_model = getattr(keras_whole, part), getattr(tf_whole, part)
            shape = (config.latent_dim + sum(classes),)
    weights = keras_model.get_weights()
    noisy = [w + np.random.default_rng(index).normal(0, 0.05, w.shape).astype(w.dtype) for index, w in enumerate(weights)]
    keras_model.set_weights(noisy)  # not the initial values: moving statistics and biases away from 0 and 1
    tf_model.set_weights(noisy)
    if kind == "forecast":  # the trained model's wrapper: normalised with a series' mean and std, and back
        keras_model, tf_model = keras_module.Forecast(keras_model, 0.9, 0.2), tf_module.Forecast(tf_model, 0.9, 0.2)
    return keras_model, tf_model, shape


@pytest.mark.parametrize("network", list(EXPORTED))
def test_both_exports_serve_the_same_outputs(tmp_path, network):
    from keras_impl import export as keras_export
    from tf_impl import export as tf_export

    keras_model, tf_model, shape = twin_models(network)
    dtype = "int32" if EXPORTED[network] in ("characters", "tags") else "float32"
    keras_export.export(keras_model, str(tmp_path / "keras"), shape, dtype)
    tf_export.export(tf_model, str(tmp_path / "tf"), shape, dtype)
    x = np.random.default_rng(1).uniform(size=(5, *shape)).astype(np.float32)
    if dtype == "int32":  # ids, some rows padded
        x = np.random.default_rng(1).integers(1, 10, size=(5, *shape)).astype(np.int32)
        x[0, 5:] = 0
    served = {}
    for impl in ("keras", "tf"):
        loaded = tf.saved_model.load(str(tmp_path / impl))
        served[impl] = loaded.serve(tf.constant(x)).numpy()
        signature = loaded.signatures["serving_default"]
        assert np.allclose(next(iter(signature(tf.constant(x)).values())).numpy(), served[impl], atol=1e-6)
    assert served["keras"].shape == served["tf"].shape
    np.testing.assert_allclose(served["keras"], served["tf"], atol=1e-5)


def test_cli_export_after_training(capsys, tmp_path):
    outputs = {}
    for impl in ("keras", "tf"):
        code, out, err = run_main(capsys, ["train", "mlp", "--impl", impl, "--epochs", "1", "--hidden-units", "8",
                                           "--quiet", "--out", str(tmp_path / impl),
                                           "--export", str(tmp_path / f"{impl}-model")])
        assert code == 0, err
        assert f"exported {tmp_path / f'{impl}-model'}" in out
        loaded = tf.saved_model.load(str(tmp_path / f"{impl}-model"))
        outputs[impl] = loaded.serve(tf.zeros((3, 8, 8, 1))).numpy()
        assert outputs[impl].shape == (3, 10)
