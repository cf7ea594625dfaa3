"""--tensorboard DIR: both implementations write the same scalars for the same epochs (issue 18).

The Keras side writes through keras.callbacks.TensorBoard, the tf_impl side through
tf.summary in its loop (tf_impl/loop.py Summaries); the event files are read back here
with tf.compat.v1.train.summary_iterator, as TensorBoard reads them.
"""
import glob
import importlib
import inspect
import os

import numpy as np
import pytest
import tensorflow as tf

from common import registry


def scalars(directory):
    """{(part, tag): {step: value}} of every event file under directory/part (train, validation)."""
    found = {}
    for path in glob.glob(os.path.join(directory, "*", "events.out.tfevents.*")):
        part = os.path.basename(os.path.dirname(path))
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                number = value.simple_value if value.HasField("simple_value") else float(tf.make_ndarray(value.tensor))
                found.setdefault((part, value.tag), {})[event.step] = number
    return found


def both(module_main, tmp_path, network, *flags):
    log_dir = tmp_path / "tb"
    for impl in ("keras", "tf"):
        code, _, err = module_main("common.twinnets", "train", network, "--impl", impl, "--quiet", "--tensorboard",
                                   str(log_dir), "--out", str(tmp_path / impl), *flags)
        assert code == 0, err
    return scalars(str(log_dir / "keras")), scalars(str(log_dir / "tf"))


def same_tags_and_epochs(keras_scalars, tf_scalars, epochs):
    assert sorted(keras_scalars) == sorted(tf_scalars)
    for key, values in keras_scalars.items():
        assert sorted(values) == sorted(tf_scalars[key]), key
        if key[1].startswith("epoch_"):
            assert sorted(values) == list(range(epochs)), key


def test_a_classifier_writes_the_same_scalars_and_learning_rates(module_main, tmp_path):
    """The mlp with a warm-up and a cosine decay: same tags, epochs and steps, and the same learning rate per epoch."""
    keras_scalars, tf_scalars = both(module_main, tmp_path, "mlp", "--epochs", "3", "--learning-rate-schedule",
                                     "cosine", "--warmup-epochs", "1")
    same_tags_and_epochs(keras_scalars, tf_scalars, 3)
    assert {("train", "epoch_loss"), ("train", "epoch_accuracy"), ("train", "epoch_learning_rate"),
            ("validation", "epoch_loss"), ("validation", "epoch_accuracy")} <= set(keras_scalars)
    rates = [keras_scalars[("train", "epoch_learning_rate")][epoch] for epoch in range(3)]
    np.testing.assert_allclose([tf_scalars[("train", "epoch_learning_rate")][epoch] for epoch in range(3)], rates,
                               rtol=1e-6)
    assert rates[0] == pytest.approx(1e-3, rel=1e-6) and rates[2] == pytest.approx(0.0, abs=1e-9)  # peak, then 0
    for part in ("train", "validation"):  # both learned: accuracy well above chance
        assert keras_scalars[(part, "epoch_accuracy")][2] > 0.5 and tf_scalars[(part, "epoch_accuracy")][2] > 0.5


@pytest.mark.parametrize("network", ["vae", "gan"])
def test_generative_networks_write_the_same_scalars(module_main, tmp_path, network):
    """The VAE's loss terms, and the GAN's two players without validation (and no learning rate: each has its own)."""
    keras_scalars, tf_scalars = both(module_main, tmp_path, network, "--epochs", "2")
    same_tags_and_epochs(keras_scalars, tf_scalars, 2)
    tags = {tag for _, tag in keras_scalars}
    assert ({"epoch_reconstruction_loss", "epoch_kl_loss"} if network == "vae" else {"epoch_g_loss"}) <= tags


def test_a_tensorboard_folder_that_is_a_file_is_refused(module_main, tmp_path):
    target = tmp_path / "taken"
    target.write_text("keep me")
    code, _, err = module_main("common.twinnets", "train", "mlp", "--impl", "tf", "--epochs", "1", "--tensorboard",
                               str(target), "--out", str(tmp_path / "out"))
    assert code == 2 and "--tensorboard" in err and err.count("\n") == 1
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("network", list(registry.NETWORKS))
def test_every_network_takes_a_tensorboard_folder(network):
    for impl in ("keras", "tf"):
        train = importlib.import_module(f"{impl}_impl.{network}").train
        assert "tensorboard_dir" in inspect.signature(train).parameters, (network, impl)
