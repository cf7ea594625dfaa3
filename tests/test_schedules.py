"""Learning-rate schedules of tf_impl/schedules.py (and their use in tf_impl/optim.py) against keras.optimizers.schedules (issue 18).

The schedules' values step by step; then parity level 3 with a schedule in the loop: from
the same weights, 20 steps on the same batches give the same losses, weights and final
rate (1e-5), and a schedule that differs on one side is caught. Then the plumbing: the
supervised trainers of both sides follow the config's schedule, a checkpoint fingerprint
names it, and the networks that train at a constant rate refuse one.
"""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from common import checkpoints, registry
from common.configs import ConfigError, MLPConfig
from tf_impl import optim, schedules, supervised

from test_optimizers import TOLERANCE, mlp_problem, weight_gap

STEPS_PER_EPOCH = 5  # so that 20 steps run through 4 epochs of the schedule

# name -> config overrides (epochs 4: the cosine ends at step 20)
CASES = {
    "exponential": {"learning_rate_schedule": "exponential", "decay_rate": 0.5, "epochs": 4},
    "cosine": {"learning_rate_schedule": "cosine", "epochs": 4},
    "cosine_warmup": {"learning_rate_schedule": "cosine", "warmup_epochs": 1, "epochs": 4},
}


def both_schedules(config, steps_per_epoch=STEPS_PER_EPOCH):
    from keras_impl.supervised import schedule_from_config

    return schedule_from_config(config, steps_per_epoch), schedules.schedule_from_config(config, steps_per_epoch)


@pytest.mark.parametrize("case", list(CASES))
def test_schedule_values_match_keras(case):
    """Every step of the run and past its end (where Keras holds the last value): the same float32."""
    config = MLPConfig(learning_rate=0.01, **CASES[case])
    keras_schedule, tf_schedule = both_schedules(config)
    steps = range(0, config.epochs * STEPS_PER_EPOCH + 6)
    keras_rates = np.array([float(keras_schedule(step)) for step in steps])
    tf_rates = np.array([float(tf_schedule(tf.constant(step, tf.int64))) for step in steps])
    np.testing.assert_allclose(tf_rates, keras_rates, rtol=1e-7, atol=0)
    assert keras_rates.max() - keras_rates.min() > 0.004  # the rate does move


def test_schedule_shapes():
    """What the config fields mean: the warm-up starts at 0 and peaks at learning_rate after warmup_epochs,
    the cosine ends at 0 on the last step, the exponential multiplies by decay_rate per epoch."""
    _, warm = both_schedules(MLPConfig(learning_rate=0.01, **CASES["cosine_warmup"]))
    assert float(warm(0)) == 0.0
    assert np.isclose(float(warm(STEPS_PER_EPOCH)), 0.01)
    assert np.isclose(float(warm(4 * STEPS_PER_EPOCH)), 0.0, atol=1e-9)
    _, exponential = both_schedules(MLPConfig(learning_rate=0.01, **CASES["exponential"]))
    assert np.isclose(float(exponential(2 * STEPS_PER_EPOCH)), 0.01 * 0.5**2)
    assert schedules.schedule_from_config(MLPConfig(), STEPS_PER_EPOCH) is None


def steps_with_schedules(overrides, keras_schedule=None, tf_schedule=None):
    """20 steps of Keras's train_on_batch and tf_impl's step, each optimizer following a schedule."""
    config = MLPConfig(**overrides)
    keras_model, tf_model, batches, spec = mlp_problem(config)
    default_keras, default_tf = both_schedules(config)
    keras_model.optimizer.learning_rate = keras_schedule or default_keras
    tf_optimizer = optim.from_config(config, steps_per_epoch=STEPS_PER_EPOCH)
    if tf_schedule is not None:
        tf_optimizer.schedule = tf_schedule
    tf_optimizer.build(tf_model.trainable_weights)
    step = supervised.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec)
    initial = keras_model.get_weights()
    keras_losses = [float(keras_model.train_on_batch(x, y, return_dict=True)["loss"]) for x, y in batches]
    tf_losses = [float(step(x, y)[0]) for x, y in batches]
    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    rates = float(keras_model.optimizer.learning_rate), float(tf_optimizer.current_learning_rate())
    return keras_losses, tf_losses, keras_model.get_weights(), tf_model.get_weights(), moved, rates


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("case", list(CASES))
def test_level3_steps_with_a_schedule_match_keras(case, optimizer):
    overrides = dict(CASES[case], optimizer=optimizer, learning_rate=0.05 if optimizer == "sgd" else 2e-3,
                     momentum=0.9 if optimizer == "sgd" else 0.0)
    keras_losses, tf_losses, keras_weights, tf_weights, moved, (keras_rate, tf_rate) = steps_with_schedules(overrides)
    assert moved > 1e-3
    np.testing.assert_allclose(tf_losses, keras_losses, atol=TOLERANCE, rtol=TOLERANCE)
    assert weight_gap(keras_weights, tf_weights) <= TOLERANCE
    assert np.isclose(tf_rate, keras_rate, rtol=1e-7, atol=0)  # the rate the 21st step would use


def test_a_different_schedule_is_caught():
    """The level-3 comparison can fail: without the warm-up on the tf side only, the weights part by far more."""
    overrides = dict(CASES["cosine_warmup"], optimizer="adam", learning_rate=2e-3)
    no_warmup = schedules.CosineDecay(2e-3, 3 * STEPS_PER_EPOCH)
    _, _, keras_weights, tf_weights, _, _ = steps_with_schedules(overrides, tf_schedule=no_warmup)
    assert weight_gap(keras_weights, tf_weights) > 10 * TOLERANCE


def test_a_loss_scaled_optimizer_follows_the_inner_steps():
    """mixed_float16: the schedule counts the applied steps; an overflowing (skipped) step does not advance it."""
    config = MLPConfig(precision="mixed_float16", optimizer="sgd", learning_rate=0.1, **CASES["exponential"])
    optimizer = optim.from_config(config, steps_per_epoch=1)
    variable = tf.Variable([1.0])
    optimizer.build([variable])
    optimizer.apply([tf.constant([np.inf])], [variable])  # overflow: skipped
    assert int(optimizer.iterations) == 0 and float(optimizer.current_learning_rate()) == pytest.approx(0.1)
    optimizer.apply([tf.constant([1.0]) * optimizer.scale], [variable])  # applied at schedule(0) = 0.1
    optimizer.apply([tf.constant([1.0]) * optimizer.scale], [variable])  # applied at schedule(1) = 0.05
    np.testing.assert_allclose(variable.numpy(), [1.0 - 0.1 - 0.05], rtol=1e-6)
    assert float(optimizer.current_learning_rate()) == pytest.approx(0.025)


@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_supervised_training_follows_the_schedule(impl):
    """`train` itself: after a cosine run the rate has come down to 0 (Keras: the optimizer's; tf: the rate variable,
    last set for the last step) and the run learned."""
    import importlib

    from common import data as data_module

    config = MLPConfig(epochs=3, learning_rate_schedule="cosine", warmup_epochs=1, learning_rate=0.01)
    data = data_module.load(config.dataset, seed=config.seed, batch_size=config.batch_size)
    result = importlib.import_module(f"{impl}_impl.mlp").train(config, data, verbose=0)
    steps = 3 * int(data.train.cardinality())
    if impl == "keras":
        assert int(result.model.optimizer.iterations) == steps
        assert float(result.model.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)
    assert result.value > 0.8


def test_fingerprint_names_the_schedule_and_only_where_it_acts():
    class Info:
        name, input_shape, num_classes, n_train, n_val, n_test = "digits", (8, 8, 1), 10, 1, 1, 1

    class Data:
        info = Info()

    def settings(**overrides):
        return checkpoints.fingerprint("mlp", "tf", MLPConfig(**overrides), Data())["config"]

    plain = settings()
    assert "learning_rate_schedule" not in plain and "decay_rate" not in plain and "warmup_epochs" not in plain
    assert settings(decay_rate=0.5) == plain  # inert without the exponential schedule
    assert settings(learning_rate_schedule="exponential", decay_rate=0.5)["decay_rate"] == 0.5
    cosine = settings(learning_rate_schedule="cosine", warmup_epochs=2)
    assert cosine["warmup_epochs"] == 2 and cosine["epochs"] == MLPConfig().epochs  # a cosine run's length is part of it
    assert "epochs" not in plain


@pytest.mark.parametrize("overrides,message", [
    ({"learning_rate_schedule": "step"}, "learning-rate-schedule must be one of constant, exponential, cosine, got 'step'"),
    ({"learning_rate_schedule": "exponential", "decay_rate": 0.0}, "decay-rate must be in (0, 1], got 0.0"),
    ({"learning_rate_schedule": "exponential", "decay_rate": 1.5}, "decay-rate must be in (0, 1], got 1.5"),
    ({"learning_rate_schedule": "cosine", "warmup_epochs": -1}, "warmup-epochs must be >= 0, got -1"),
    ({"learning_rate_schedule": "exponential", "warmup_epochs": 2},
     "warmup-epochs is the cosine schedule's warm-up: use it with --learning-rate-schedule cosine, not 'exponential'"),
    ({"learning_rate_schedule": "cosine", "warmup_epochs": 30, "epochs": 30},
     "a warm-up of 30 epochs is longer than training (30 epochs): the rate would never decay"),
])
def test_bad_schedules_are_refused(overrides, message):
    with pytest.raises(ConfigError) as raised:
        MLPConfig(**overrides)
    assert str(raised.value) == message


def test_networks_at_a_constant_rate_refuse_a_schedule():
    for name, spec in registry.NETWORKS.items():
        config = dataclasses.replace(spec.config_class(), learning_rate_schedule="exponential")
        if spec.family in registry.SCHEDULED_FAMILIES:
            assert spec.check(config) is config
        else:
            with pytest.raises(ConfigError, match=f"{name} trains at a constant rate"):
                spec.check(config)
