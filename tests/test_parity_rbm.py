"""Parity for the restricted Boltzmann machine (family "energy": every level is here, level 4 with test_learning.py),
its scoring in common/evaluate.py, and scikit-learn's BernoulliRBM as a third, independent reference.

1. Shape: parameter counts equal and pinned; the weights are [kernel, hidden_bias, visible_bias] on both
   sides, the persistent chains kept beside them.
2. Function: Keras weights transplanted into tf_impl: hidden and visible probabilities, free energies, a Gibbs
   step with the same uniforms, and the gradient of the free-energy surrogate (Keras differentiates it,
   tf_impl writes the CD statistics out) agree to 1e-5.
3. Optimisation: from the same weights with the same injected uniforms, one CD-k or PCD update (k = 1 and 3)
   gives the same weights to 1e-6, and 20 updates (a short batch among them) to 1e-5, chains included.
4. Learning: test_learning.py (`learned("rbm")`, seeds 0-2) for the floor and the tolerance; here, on the same
   runs, PCD's exact test log-likelihood against scikit-learn's BernoulliRBM with the same budget.
Scoring: the exact log Z against brute force over the visible states, AIS against the exact value, the
exact log-likelihood normalised, and the switch to AIS beyond 20 hidden units.
"""
import dataclasses
import itertools
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import configs, energy, evaluate, registry
from common import data as data_module
from conftest import learning_group
from keras_impl import rbm as keras_rbm
from tf_impl import optim
from tf_impl import rbm as tf_rbm

N_VISIBLE = 64  # 8x8 digits, flattened
PARAM_COUNT = 1104  # default n_hidden 16: kernel 64*16 + hidden bias 16 + visible bias 64. Pinned.


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="module")
def digits():
    """The default data as the RBM sees it: binarised and flattened (energy.binary_data)."""
    return energy.binary_data(data_module.load("digits"), "rbm")


def twins(config=None, scale=0.3):
    """(Keras RBM, tf_impl RBM, weights): Keras's initial weights moved off N(0, 0.01) and zero biases, transplanted."""
    config = config or configs.RBMConfig()
    keras_model, tf_model = keras_rbm.build(config, (N_VISIBLE,)), tf_rbm.build(config, (N_VISIBLE,))
    weights = [w + np.random.default_rng(index).normal(0.0, scale, w.shape).astype(np.float32)
               for index, w in enumerate(keras_model.get_weights())]
    keras_model.set_weights(weights)
    tf_model.set_weights(weights)
    return keras_model, tf_model, weights


def uniforms(rows, k, seed, n_hidden=16):
    return np.random.default_rng(seed).uniform(size=(rows, k, n_hidden + N_VISIBLE)).astype(np.float32)


def largest_difference(first, second):
    return max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(first, second, strict=True))


# --- level 1: shape ---

def test_level1_parameter_counts_are_pinned_and_the_chains_are_not_weights():
    keras_model, tf_model, _ = twins()
    assert keras_model.count_params() == tf_model.count_params() == PARAM_COUNT
    for model in (keras_model, tf_model):
        assert [w.shape for w in model.get_weights()] == [(64, 16), (16,), (64,)]
    assert [w.path.split("/")[-1] for w in keras_model.weights] == ["kernel", "hidden_bias", "visible_bias"]
    assert {"chain", "chain_started"} <= {v.path.split("/")[-1] for v in keras_model.variables}  # saved by checkpoints
    assert tf_model.chain.shape == keras_model.chain.shape == (configs.RBMConfig().batch_size, N_VISIBLE)
    wider = configs.RBMConfig(n_hidden=40)
    assert keras_rbm.build(wider, (8, 8, 1)).count_params() == tf_rbm.build(wider, (8, 8, 1)).count_params() == 64 * 40 + 40 + 64


# --- level 2: function ---

def test_level2_probabilities_free_energies_and_a_gibbs_step_after_a_transplant(digits):
    keras_model, tf_model, weights = twins()
    v = digits.x_test[:50]
    pairs = {
        "hidden probs": (keras_model.hidden_probs(v), tf_model.hidden_probs(v)),
        "visible probs": (keras_model.visible_probs(keras_model.hidden_probs(v)), tf_model.visible_probs(tf_model.hidden_probs(v))),
        "free energy": (keras_model.free_energy(v), tf_model.free_energy(v)),
        "exported features": (keras_model(v), tf_model(v)),
    }
    noise = uniforms(50, 1, seed=1)[:, 0]
    pairs["gibbs step"] = (keras_model.gibbs_step(v, noise)[0], tf_model.gibbs_step(v, noise)[0])
    for name, (keras_value, tf_value) in pairs.items():
        np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_value), tf_value.numpy(), atol=1e-5, err_msg=name)
    # the shared scorer's float64 free energy is the same function
    np.testing.assert_allclose(evaluate.rbm_free_energy(v, *weights), tf_model.free_energy(v).numpy(), rtol=1e-6)
    assert 0.05 < float(np.mean(pairs["gibbs step"][1].numpy())) < 0.95  # a real sample, not all 0 or all 1


def test_level2_the_surrogate_gradient_is_the_written_out_cd_statistics(digits):
    """Keras's tape gradient of mean F(v) - mean F(v') = minus tf_impl's <v h>_data - <v h>_model, and tf_impl's
    own tape gradient of its free energies agrees with its written-out statistics."""
    keras_model, tf_model, _ = twins()
    v = tf.constant(digits.x_train[:40])
    v_model = tf_model.gibbs_chain(v, tf.constant(uniforms(40, 2, seed=2)))
    assert float(tf.reduce_mean(tf.abs(v_model - v))) > 0.05  # the chain moved: the two terms differ

    def surrogate_gradients(model):
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(model.free_energy(v)) - keras.ops.mean(model.free_energy(v_model))
        return loss, tape.gradient(loss, model.trainable_weights)

    keras_loss, keras_gradients = surrogate_gradients(keras_model)
    tf_loss, tf_tape_gradients = surrogate_gradients(tf_model)
    h_data, h_model = tf_model.hidden_probs(v), tf_model.hidden_probs(v_model)
    rows = 40.0
    written_out = [-(tf.matmul(v, h_data, transpose_a=True) - tf.matmul(v_model, h_model, transpose_a=True)) / rows,
                   -tf.reduce_sum(h_data - h_model, axis=0) / rows, -tf.reduce_sum(v - v_model, axis=0) / rows]
    assert abs(float(keras_loss) - float(tf_loss)) <= 1e-5 * max(1.0, abs(float(tf_loss)))
    assert largest_difference(keras_gradients, written_out) <= 1e-5
    assert largest_difference(tf_tape_gradients, written_out) <= 1e-5
    assert max(float(tf.reduce_max(tf.abs(g))) for g in written_out) > 1e-2  # not a vacuous zero gradient


# --- level 3: optimisation, with injected Gibbs noise ---

def batches_of(digits, steps=20, size=20, short=(5, 13)):
    """Consecutive training rows; batch short[0] has short[1] rows (PCD: the chains past them stay where they are)."""
    found, start = [], 0
    for step in range(steps):
        rows = short[1] if step == short[0] else size
        found.append(digits.x_train[start:start + rows])
        start += rows
    return found


@pytest.mark.parametrize("persistent,k", [(False, 1), (False, 3), (True, 1), (True, 3)],
                         ids=["cd1", "cd3", "pcd1", "pcd3"])
def test_level3_updates_with_the_same_uniforms_give_the_same_weights(digits, persistent, k):
    config = configs.RBMConfig(k=k, persistent=persistent, learning_rate_schedule="constant")
    keras_model, tf_model, start = twins(config)
    optimizer = optim.from_config(config)
    optimizer.build(tf_model.trainable_weights)
    step = tf_rbm.make_train_step(tf_model, optimizer, k, persistent)
    differences, keras_losses, tf_losses = [], [], []
    for index, v in enumerate(batches_of(digits)):
        noise = uniforms(len(v), k, seed=100 + index)
        keras_model.reset_metrics()  # train_on_batch reports the tracker's mean: this batch's alone
        keras_losses.append(keras_model.train_on_batch(v, noise, return_dict=True)["loss"])
        tf_losses.append(float(step(tf.constant(v), tf.constant(noise))[0]["loss"]))
        differences.append(largest_difference(keras_model.get_weights(), tf_model.get_weights()))
    assert differences[0] <= 1e-6, differences[0]
    assert max(differences) <= 1e-5, differences
    np.testing.assert_allclose(keras_losses, tf_losses, atol=1e-4)
    assert largest_difference(start, tf_model.get_weights()) > 0.1  # the weights moved
    if persistent:
        np.testing.assert_array_equal(keras_model.chain.numpy(), tf_model.chain.numpy())
        assert float(keras_model.chain_started.numpy()) == float(tf_model.chain_started.numpy()) == 1.0


def test_level3_the_noise_decides_the_update(digits):
    """Other uniforms, another update: the comparison above is not blind to the sampling."""
    config = configs.RBMConfig(learning_rate_schedule="constant")
    first, _, start = twins(config)
    second = keras_rbm.build(config, (N_VISIBLE,))
    second.set_weights(start)
    v = digits.x_train[:20]
    first.train_on_batch(v, uniforms(20, 1, seed=1))
    second.train_on_batch(v, uniforms(20, 1, seed=2))
    assert largest_difference(first.get_weights(), second.get_weights()) > 1e-3


def test_the_samplers_agree_from_the_same_seed():
    keras_model, tf_model, _ = twins()
    v0 = energy.sample_start(N_VISIBLE, chains=8)
    for start, from_hidden in ((v0, False), (v0[:, :16], True)):
        keras_sample, keras_probs = keras_model.gibbs_samples(start, 30, seed=3, from_hidden=from_hidden)
        tf_sample, tf_probs = tf_rbm.gibbs_samples(tf_model, start, 30, seed=3, from_hidden=from_hidden)
        np.testing.assert_array_equal(keras_sample, tf_sample)
        np.testing.assert_allclose(keras_probs, tf_probs, atol=1e-6)
    other, _ = tf_rbm.gibbs_samples(tf_model, v0, 30, seed=4)
    assert np.any(other != tf_sample)


def test_fit_rbm_trains_one_rbm_on_probabilities(digits):
    """The DBN's entry point: an RBM trained on an array of probabilities (here grey levels) by plain SGD."""
    grey = np.clip(digits.x_train[:200] * 0.8 + 0.1, 0.0, 1.0)
    model = tf_rbm.RBM(N_VISIBLE, 8, seed=0, chains=20)
    before = evaluate.rbm_reconstruction_error(grey, *model.get_weights())
    history = tf_rbm.fit_rbm(model, grey, epochs=3, batch_size=20, learning_rate=0.1, k=1, persistent=True, seed=0)
    assert len(history["loss"]) == 3 and evaluate.rbm_reconstruction_error(grey, *model.get_weights()) < before
    with pytest.raises(ValueError, match="one chain per row of a batch"):
        tf_rbm.fit_rbm(model, grey, epochs=1, batch_size=40, learning_rate=0.1, k=1, persistent=True, seed=0)


# --- scikit-learn's BernoulliRBM, a third implementation ---

def sklearn_rbm(weights):
    from sklearn.neural_network import BernoulliRBM

    kernel, hidden_bias, visible_bias = (np.asarray(w, np.float64) for w in weights)
    reference = BernoulliRBM(n_components=kernel.shape[1], random_state=7)
    reference.components_, reference.intercept_hidden_, reference.intercept_visible_ = kernel.T, hidden_bias, visible_bias
    reference.h_samples_ = np.zeros((reference.batch_size, kernel.shape[1]))
    reference.n_features_in_ = kernel.shape[0]
    return reference


def test_sklearn_gets_the_same_hidden_probs_free_energies_and_pseudo_likelihood(digits):
    """Same weights in all three. The shared scorer (float64) matches scikit-learn to 1e-6 (in fact ~1e-12);
    the models compute in float32, so their hidden probabilities are held to 1e-6 and their free energies
    (about 10-60 here) to 1e-6 relative, float32's own resolution."""
    keras_model, tf_model, weights = twins()
    reference = sklearn_rbm(weights)
    v = digits.x_test.astype(np.float64)
    hidden = reference.transform(v)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(keras_model.hidden_probs(digits.x_test)), hidden, atol=1e-6)
    np.testing.assert_allclose(tf_model.hidden_probs(digits.x_test).numpy(), hidden, atol=1e-6)
    np.testing.assert_allclose(evaluate.rbm_hidden_probs(v, weights[0], weights[1]), hidden, atol=1e-6)
    free_energy = reference._free_energy(v)
    np.testing.assert_allclose(evaluate.rbm_free_energy(v, *weights), free_energy, atol=1e-6)
    for model in (keras_model, tf_model):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(model.free_energy(digits.x_test)), free_energy, rtol=1e-6)
    indices = evaluate.pseudo_likelihood_indices(len(v), N_VISIBLE, seed=7)  # the units scikit-learn flips
    ours = evaluate.rbm_pseudo_likelihood(v, *weights, indices, per_example=True)
    np.testing.assert_allclose(ours, reference.score_samples(v), atol=1e-6)
    assert evaluate.rbm_pseudo_likelihood(v, *weights, indices) == pytest.approx(float(np.mean(ours)))
    flipped_elsewhere = evaluate.rbm_pseudo_likelihood(v, *weights, (indices + 1) % N_VISIBLE, per_example=True)
    assert np.abs(flipped_elsewhere - ours).max() > 1e-2  # the indices matter: matching them is the test


# --- scoring: exact log Z, AIS, the log-likelihood ---

def random_rbm(n_visible, n_hidden, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return (rng.normal(0.0, scale, (n_visible, n_hidden)), rng.normal(0.0, 1.0, n_hidden),
            rng.normal(0.0, 1.0, n_visible))


def all_states(units):
    return np.array(list(itertools.product((0.0, 1.0), repeat=units)))


def test_exact_log_partition_against_brute_force_over_visible_states():
    """10 visible, 4 hidden: log Z by the hidden-state sum (in chunks of 4 states here) = log sum over all 1024
    visible states of exp(-F(v)); and the log-likelihoods of all visible states sum to probability 1."""
    weights = random_rbm(10, 4, seed=0)
    brute = float(np.logaddexp.reduce(-evaluate.rbm_free_energy(all_states(10), *weights)))
    chunk = evaluate.HIDDEN_CHUNK
    try:
        evaluate.HIDDEN_CHUNK = 4  # several chunks, combined by the running log-sum-exp
        chunked = evaluate.rbm_log_partition(*weights)
    finally:
        evaluate.HIDDEN_CHUNK = chunk
    assert chunked == pytest.approx(brute, abs=1e-10) and evaluate.rbm_log_partition(*weights) == pytest.approx(brute, abs=1e-10)
    per_state = evaluate.rbm_log_likelihood(all_states(10), *weights)
    assert per_state["method"] == "exact" and per_state["log_partition_stderr"] == 0.0
    assert 1024 * np.exp(per_state["log_likelihood"]) <= 1.0  # a mean of logs: Jensen
    log_p = -evaluate.rbm_free_energy(all_states(10), *weights) - per_state["log_partition"]
    assert float(np.exp(log_p).sum()) == pytest.approx(1.0, abs=1e-12)


def test_ais_against_the_exact_log_partition():
    """A 64 x 12 RBM with digit-like weights: AIS (100 chains, 2,000 temperatures, from zero and from base-rate
    visible biases) within 3 of its own standard errors of the exact log Z (AIS's log of a mean weight is also
    biased low by about stderr^2 / 2, far below that), and the standard error small enough to say something."""
    weights = random_rbm(64, 12, seed=1, scale=0.3)
    exact = evaluate.rbm_log_partition(*weights)
    base = evaluate.rbm_base_rate_bias(np.random.default_rng(2).uniform(size=(100, 64)) < 0.3)
    for base_visible_bias in (None, base):
        estimate = evaluate.rbm_ais(*weights, betas=2000, base_visible_bias=base_visible_bias)
        print(f"exact {exact:.4f}, AIS {estimate.log_z:.4f} +- {estimate.stderr:.4f}")
        assert 0.0 < estimate.stderr < 0.05
        assert abs(estimate.log_z - exact) <= 3 * estimate.stderr
    too_short = evaluate.rbm_ais(*weights, betas=10, chains=20, seed=3)  # AIS can fail: a schedule of 10 temperatures
    assert abs(too_short.log_z - exact) > abs(estimate.log_z - exact)


def test_more_than_20_hidden_units_switch_to_ais(monkeypatch):
    assert evaluate.EXACT_HIDDEN_LIMIT == 20
    with pytest.raises(ValueError, match="use rbm_ais_log_partition"):
        evaluate.rbm_log_partition(*random_rbm(64, 21, seed=4, scale=0.1))
    monkeypatch.setattr(evaluate, "EXACT_HIDDEN_LIMIT", 6)  # the switch itself, where the exact sum is cheap
    exact = evaluate.rbm_log_likelihood(np.zeros((3, 64)), *random_rbm(64, 6, seed=4, scale=0.1))
    sampled = evaluate.rbm_log_likelihood(np.zeros((3, 64)), *random_rbm(64, 7, seed=4, scale=0.1), betas=300, chains=20)
    assert exact["method"] == "exact" and exact["log_partition_stderr"] == 0.0
    assert sampled["method"] == "ais" and sampled["log_partition_stderr"] > 0.0


def test_independent_pixels_baseline_is_the_rbm_without_hidden_units(digits):
    bias = evaluate.rbm_base_rate_bias(digits.x_train)
    no_hidden = (np.zeros((N_VISIBLE, 1)), np.array([-50.0]), bias)  # one hidden unit that is never on
    baseline = evaluate.independent_pixels_log_likelihood(digits.x_test, digits.x_train)
    assert evaluate.rbm_log_likelihood(digits.x_test, *no_hidden)["log_likelihood"] == pytest.approx(baseline, abs=1e-9)


# --- data: binary, in [0, 1] ---

def test_binary_data_refuses_values_outside_the_unit_interval():
    data = data_module.load("digits")
    binary = energy.binary_data(data, "rbm")
    assert binary.x_train.shape == (data.info.n_train, 64) and binary.info.input_shape == (64,)
    assert set(np.unique(binary.x_train)) == {0.0, 1.0}
    np.testing.assert_array_equal(binary.x_test, (data.x_test.reshape(-1, 64) > 0.5).astype(np.float32))
    for scale, message in ((255.0, r"values from 0 to 255 \(raw 0-255 pixels\? divide them by 255\)"),
                           (-1.0, "values from -1 to 0$")):
        raw = dataclasses.replace(data, x_val=data.x_val * scale)
        with pytest.raises(data_module.DataError, match=r"rbm needs inputs in \[0, 1\].*x_val of digits holds " + message):
            energy.binary_data(raw, "rbm")


@pytest.mark.parametrize("scale,shown", [(255.0, "values from 0 to 255"), (-1.0, "values from -1 to 0")])
def test_the_cli_refuses_unscaled_or_negative_images_in_one_line(capsys, tmp_path, scale, shown):
    from common import twinnets

    rng = np.random.default_rng(0)
    x = np.round(rng.uniform(size=(40, 8, 8)) * 255.0) / 255.0 * scale  # floats: npz.py scales only 8-bit integers
    path = tmp_path / "raw.npz"
    np.savez(path, x_train=x, y_train=np.arange(40) % 3, x_test=x[:12], y_test=np.arange(12) % 3)
    out = tmp_path / "out"
    code = twinnets.main(["train", "rbm", "--impl", "tf" if scale > 0 else "keras", "--dataset", str(path),
                          "--epochs", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "rbm needs inputs in [0, 1]" in lines[0] and shown in lines[0], err
    assert not (out / "metrics.json").exists()


def test_a_wide_rbm_is_scored_by_ais_and_says_so(capsys, tmp_path, monkeypatch):
    from common import twinnets

    monkeypatch.setattr(evaluate, "AIS_BETAS", 1000)  # a tenth of the default: this is about the switch, not accuracy
    code = twinnets.main(["train", "rbm", "--impl", "tf", "--n-hidden", "24", "--epochs", "1", "--quiet",
                          "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "24 hidden units are more than the 20" in out and "annealed importance sampling" in out and "1,000 temp" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert 0.0 < metrics["log_partition_stderr"] < 0.5 and metrics["log_likelihood"] > -64 * np.log(2.0)


# --- checkpoints: a resumed run is the uninterrupted one ---

@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_a_resumed_pcd_run_matches_an_uninterrupted_one(tmp_path, impl):
    """1 epoch, then the same command with 2 on the same --checkpoint-dir, against 2 at once: the weights, the
    persistent chains and the Gibbs noise all resume (constant rate: the cosine's epochs are in the fingerprint)."""
    module = keras_rbm if impl == "keras" else tf_rbm
    config = configs.RBMConfig(epochs=2, learning_rate_schedule="constant")
    data = data_module.load("digits", seed=0, batch_size=config.batch_size)
    whole = module.train(config, data, verbose=0)
    module.train(dataclasses.replace(config, epochs=1), data, verbose=0, checkpoint_dir=str(tmp_path))
    resumed = module.train(config, data, verbose=0, checkpoint_dir=str(tmp_path))
    assert resumed.epochs_run == whole.epochs_run == 2
    assert largest_difference(resumed.model.get_weights(), whole.model.get_weights()) == 0.0
    assert resumed.history["loss"] == whole.history["loss"]


# --- level 4: learning, on the runs test_learning.py trains (learned) ---

@pytest.mark.learning
@learning_group("rbm")
def test_pcd_is_no_worse_than_sklearn_with_the_same_budget(learned):
    """scikit-learn's BernoulliRBM (PCD, k = 1, constant rate) with our n_components, learning rate, batch size
    and epochs as n_iter, seeds 0-2, on the same binarised digits: our PCD (both implementations, mean over
    the same seeds) reaches an exact test log-likelihood at least as high."""
    from sklearn.neural_network import BernoulliRBM

    config = registry.get("rbm").config_class()
    assert config.persistent and config.k == 1
    data = energy.binary_data(data_module.load("digits"), "rbm")
    theirs = []
    for seed in range(3):
        reference = BernoulliRBM(n_components=config.n_hidden, learning_rate=config.learning_rate,
                                 batch_size=config.batch_size, n_iter=config.epochs, random_state=seed).fit(data.x_train)
        weights = (reference.components_.T, reference.intercept_hidden_, reference.intercept_visible_)
        theirs.append(evaluate.rbm_log_likelihood(data.x_test, *weights)["log_likelihood"])
    report = learned("rbm", seeds=3)
    ours = {impl: summary["metric_mean"] for impl, summary in report["impls"].items()}
    print(f"test log-likelihood, seeds 0-2: sklearn {np.mean(theirs):.4f} ({np.round(theirs, 4)}), ours {ours}")
    for impl, mean in ours.items():
        assert mean >= np.mean(theirs), (impl, mean, theirs)
    baseline = report["impls"]["tf"]["runs"][0]["metrics"]["log_likelihood_independent_pixels"]
    assert np.mean(theirs) > baseline  # scikit-learn's RBM learns too: the comparison is against a real model
