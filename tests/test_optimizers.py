"""Every optimizer of tf_impl/optim.py against its keras.optimizers twin, at parity level 3 (DESIGN.md).

From the same weights, 20 steps on the same batches give the same losses and weights (1e-5):
on the mlp (dense gradients) and on an LSTM reading token ids (its embedding's gradient is
tf.IndexedSlices with repeated rows, which Keras's optimizers treat specially). Then the
checks that these comparisons can fail: a deliberately different hyperparameter, or a sparse
gradient densified before the update, moves the weights apart by far more than the tolerance.
Last, TrainConfig's refusals of optimizer settings that cannot work.
"""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from common import data as data_module
from common import registry
from common.configs import ConfigError, MLPConfig
from tf_impl import optim, supervised

TOLERANCE = 1e-5
STEPS = 20

# name -> TrainConfig overrides. Learning rates where 20 steps move the weights well past the tolerance;
# AdamW's decay raised from 0.004 so that it alone moves a weight ~1e-4 (and the plumbing of the field shows).
CASES = {
    "sgd": {"optimizer": "sgd", "learning_rate": 0.05},
    "sgd_momentum": {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9},
    "sgd_nesterov": {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
    "adam": {"optimizer": "adam", "learning_rate": 1e-3},
    "rmsprop": {"optimizer": "rmsprop", "learning_rate": 1e-3},
    "rmsprop_momentum": {"optimizer": "rmsprop", "learning_rate": 1e-3, "momentum": 0.5},
    "adagrad": {"optimizer": "adagrad", "learning_rate": 0.05},
    "adamw": {"optimizer": "adamw", "learning_rate": 1e-3, "weight_decay": 0.1},
}


@pytest.fixture(autouse=True)
def seeded():
    import keras

    keras.utils.set_random_seed(0)


def mlp_problem(config):
    """(keras model, tf model with the same weights, batches, element spec) for the mlp on its default data."""
    from keras_impl import mlp as keras_mlp
    from tf_impl import mlp as tf_mlp

    data = data_module.load(registry.get("mlp").default_dataset)
    info = data.info
    keras_model = keras_mlp.build(config, info.input_shape, info.num_classes)
    tf_model = tf_mlp.build(config, info.input_shape, info.num_classes)
    tf_model.set_weights(keras_model.get_weights())
    windows = [np.arange(i * 32, (i + 1) * 32) for i in range(STEPS)]
    batches = [(np.take(data.x_train, w, axis=0, mode="wrap"), np.take(data.y_train, w, mode="wrap")) for w in windows]
    spec = (tf.TensorSpec([None, *info.input_shape], tf.float32), tf.TensorSpec([None], tf.int32))
    return keras_model, tf_model, batches, spec


def token_problem(config):
    """The same for an LSTM over token ids (vocabulary 100, 0 = padding): every batch repeats tokens."""
    from keras_impl import lstm as keras_lstm
    from tf_impl import lstm as tf_lstm

    rng = np.random.default_rng(0)
    ids = rng.integers(1, 100, size=(32, 20)).astype(np.int32)
    ids[:, 15:], ids[0, 3:] = 0, 0  # padding: a short review and a common tail
    labels = rng.integers(0, 2, size=32).astype(np.int32)
    assert np.unique(ids, return_counts=True)[1].max() > 100  # repeated rows, many times over
    keras_model = keras_lstm.build(config, (20,), 2, 100)
    tf_model = tf_lstm.build(config, (20,), 2, 100)
    tf_model.set_weights(keras_model.get_weights())
    batches = [(ids[order], labels[order]) for order in (rng.permutation(32) for _ in range(STEPS))]
    spec = (tf.TensorSpec([None, 20], tf.int32), tf.TensorSpec([None], tf.int32))
    return keras_model, tf_model, batches, spec


PROBLEMS = {"mlp": (MLPConfig, mlp_problem), "lstm_tokens": (registry.get("lstm").config_class, token_problem)}


def steps_of_both(problem, overrides, tf_optimizer=None, keras_optimizer=None, other_tf_optimizers=()):
    """20 steps of Keras's train_on_batch and of tf_impl's train step from the same weights.

    The optimizers are those the config names (optimizer_from_config, from_config) unless given.
    Returns (keras losses, tf losses, keras weights, tf weights, how far the weights moved, tf optimizer),
    and with other_tf_optimizers, a last item: for each of them, the tf weights after the same 20 steps
    from the same initial weights (what a variant does, against the one Keras run).
    """
    config_class, make = PROBLEMS[problem]
    config = config_class(**overrides)
    keras_model, tf_model, batches, spec = make(config)
    if keras_optimizer is not None:
        keras_model.compile(optimizer=keras_optimizer, loss=keras_model.loss, jit_compile=False)
    initial = keras_model.get_weights()

    def tf_steps(optimizer):
        tf_model.set_weights(initial)
        optimizer.build(tf_model.trainable_weights)
        tf_step = supervised.make_train_step(tf_model, optimizer, tf.distribute.get_strategy(), spec)
        losses = [float(tf_step(x, y)[0]) for x, y in batches]
        assert int(optimizer.iterations) == STEPS
        return losses, tf_model.get_weights()

    keras_losses = [float(keras_model.train_on_batch(x, y, return_dict=True)["loss"]) for x, y in batches]
    assert int(keras_model.optimizer.iterations) == STEPS
    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    tf_optimizer = tf_optimizer or optim.from_config(config)
    tf_losses, tf_weights = tf_steps(tf_optimizer)
    outcome = (keras_losses, tf_losses, keras_model.get_weights(), tf_weights, moved, tf_optimizer)
    if other_tf_optimizers:
        outcome += ([tf_steps(optimizer)[1] for optimizer in other_tf_optimizers],)
    return outcome


def weight_gap(keras_weights, tf_weights):
    return max(np.abs(a - b).max() for a, b in zip(keras_weights, tf_weights))


def assert_same_steps(keras_losses, tf_losses, keras_weights, tf_weights, moved):
    print(f"moved {moved:.2e}, weight gap {weight_gap(keras_weights, tf_weights):.2e}, "
          f"loss gap {np.abs(np.subtract(tf_losses, keras_losses)).max():.2e}")
    assert moved > 1e-3, f"the weights barely moved ({moved:.1e}): the comparison would be vacuous"
    np.testing.assert_allclose(tf_losses, keras_losses, atol=TOLERANCE, rtol=TOLERANCE)
    for keras_weight, tf_weight in zip(keras_weights, tf_weights):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=TOLERANCE, rtol=TOLERANCE)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_level3_optimizer_steps_match_keras(problem, case):
    keras_losses, tf_losses, keras_weights, tf_weights, moved, _ = steps_of_both(problem, CASES[case])
    assert_same_steps(keras_losses, tf_losses, keras_weights, tf_weights, moved)


def test_level3_centered_rmsprop_matches_keras():
    """RMSprop's centered variant, which no config field reaches: built explicitly on both sides.

    On the mlp only: with the token LSTM, Keras 3.15's own step fails (InvalidArgumentError from the
    union-of-indices branch of keras/src/backend/tensorflow/sparse.py's divide, taken on a sparse
    gradient when the divisor holds a zero or a NaN), so there is nothing to compare against.
    """
    import keras

    settings = {"learning_rate": 1e-3, "momentum": 0.5, "centered": True}
    outcome = steps_of_both("mlp", {"optimizer": "rmsprop"}, tf_optimizer=optim.RMSprop(**settings),
                            keras_optimizer=keras.optimizers.RMSprop(**settings))
    assert_same_steps(*outcome[:5])


# case -> the tf_impl optimizer with one hyperparameter changed (or nesterov/decay switched off)
DIFFERENT = {
    "sgd": lambda: optim.SGD(0.045),
    "sgd_momentum": lambda: optim.SGD(0.05, momentum=0.8),
    "sgd_nesterov": lambda: optim.SGD(0.05, momentum=0.9, nesterov=False),
    "adam": lambda: optim.Adam(1e-3, beta_2=0.99),
    "rmsprop": lambda: optim.RMSprop(1e-3, rho=0.8),
    "rmsprop_momentum": lambda: optim.RMSprop(1e-3, momentum=0.0),
    "adagrad": lambda: optim.Adagrad(0.05, initial_accumulator_value=0.2),
    "adamw": lambda: optim.AdamW(1e-3, weight_decay=0.0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_different_hyperparameter_is_caught(case):
    """The parity test can fail: one hyperparameter changed on the tf_impl side only puts the weights
    more than ten times the tolerance apart (AdamW's weight decay, nesterov, RMSprop's momentum included)."""
    keras_losses, tf_losses, keras_weights, tf_weights, moved, _ = steps_of_both("mlp", CASES[case],
                                                                                  tf_optimizer=DIFFERENT[case]())
    gap = weight_gap(keras_weights, tf_weights)
    print(f"{case}: weight gap {gap:.2e} with a different hyperparameter")
    assert gap > 10 * TOLERANCE


def densified(optimizer_class):
    """optimizer_class with every sparse gradient made dense first (the rows of a repeated token summed)."""
    class Densified(optimizer_class):
        def _update(self, variable, gradient, slots):
            return super()._update(variable, tf.convert_to_tensor(gradient), slots)

    return Densified


# name -> (keras class, tf_impl class, settings). Adagrad's accumulator starts at 1e-6 here: from Keras's 0.1, an
# embedding's squared gradients (~1e-8) hardly move it, and the way repeated rows are squared would not show.
SPARSE_CASES = {
    "adam": ("Adam", optim.Adam, {"learning_rate": 1e-3}),
    "rmsprop": ("RMSprop", optim.RMSprop, {"learning_rate": 1e-3}),
    "adagrad": ("Adagrad", optim.Adagrad, {"learning_rate": 0.05, "initial_accumulator_value": 1e-6}),
    "adamw": ("AdamW", optim.AdamW, {"learning_rate": 1e-3, "weight_decay": 0.1}),
}


@pytest.mark.parametrize("case", list(SPARSE_CASES))
def test_repeated_embedding_rows_are_caught(case):
    """The token test can fail where it matters: with the embedding's gradient densified before the update
    (a repeated token's rows summed, then squared: not the sum of their squares, as Keras takes it) the
    weights end far more than the tolerance apart, while the optimizer as written matches. (For SGD the
    two orders differ only by rounding: lr * g_i scattered row by row, or lr * their sum.)"""
    import keras

    keras_name, tf_class, settings = SPARSE_CASES[case]
    keras_optimizer = getattr(keras.optimizers, keras_name)(**settings)
    _, _, keras_weights, as_written, moved, _, (densified_first,) = steps_of_both(
        "lstm_tokens", {"optimizer": case}, tf_optimizer=tf_class(**settings), keras_optimizer=keras_optimizer,
        other_tf_optimizers=[densified(tf_class)(**settings)])
    assert moved > 1e-3  # the weights moved
    gaps = weight_gap(keras_weights, as_written), weight_gap(keras_weights, densified_first)
    print(f"{case}: weight gap {gaps[0]:.2e} as written, {gaps[1]:.2e} densified first")
    assert gaps[0] <= TOLERANCE
    assert gaps[1] > 10 * TOLERANCE


def test_the_embedding_gradient_is_sparse():
    """What the token tests rely on: the optimizers do receive tf.IndexedSlices with repeated indices."""
    config = registry.get("lstm").config_class()
    _, tf_model, batches, _ = token_problem(config)
    x, y = batches[0]
    with tf.GradientTape() as tape:
        loss = supervised.loss_fn(tf_model, x, y, training=True)
    gradients = tape.gradient(loss, tf_model.trainable_weights)
    sparse = [g for g in gradients if isinstance(g, tf.IndexedSlices)]
    assert len(sparse) == 1
    indices = sparse[0].indices.numpy()
    assert len(np.unique(indices)) < len(indices)


def test_optimizer_names_map_alike():
    """optimizer_from_config and from_config pick the same optimizer with the same hyperparameters."""
    import keras

    from keras_impl.supervised import optimizer_from_config

    expected = {"sgd": (keras.optimizers.SGD, optim.SGD), "adam": (keras.optimizers.Adam, optim.Adam),
                "rmsprop": (keras.optimizers.RMSprop, optim.RMSprop),
                "adagrad": (keras.optimizers.Adagrad, optim.Adagrad), "adamw": (keras.optimizers.AdamW, optim.AdamW)}
    for name, (keras_class, tf_class) in expected.items():
        config = MLPConfig(optimizer=name, learning_rate=0.02, momentum=0.5 if name in ("sgd", "rmsprop") else 0.0,
                           nesterov=name == "sgd", weight_decay=0.01)
        keras_optimizer, tf_optimizer = optimizer_from_config(config), optim.from_config(config)
        assert type(keras_optimizer) is keras_class and type(tf_optimizer) is tf_class
        assert np.isclose(float(keras_optimizer.learning_rate), float(tf_optimizer.learning_rate))
        for attribute in ("momentum", "nesterov", "rho", "epsilon", "centered", "beta_1", "beta_2",
                          "initial_accumulator_value", "weight_decay"):
            if hasattr(tf_optimizer, attribute):
                assert getattr(keras_optimizer, attribute) == getattr(tf_optimizer, attribute), (name, attribute)
    gan = registry.get("gan").config_class(optimizer="adamw")
    from keras_impl import gan as keras_gan
    from tf_impl import gan as tf_gan

    assert keras_gan.optimizer(gan).beta_1 == tf_gan.optimizer(gan).beta_1 == gan.adam_beta_1


def test_adagrad_accumulators_start_at_keras_value():
    variable = tf.Variable(tf.ones([3, 2]))
    optimizer = optim.Adagrad()
    optimizer.build([variable])
    np.testing.assert_array_equal(optimizer._slots[variable.ref()]["accumulator"].numpy(), np.full([3, 2], 0.1, np.float32))


@pytest.mark.parametrize("overrides,message", [
    ({"optimizer": "adam", "nesterov": True}, "nesterov is SGD's momentum: use it with optimizer sgd, not 'adam'"),
    ({"optimizer": "rmsprop", "nesterov": True}, "nesterov is SGD's momentum: use it with optimizer sgd, not 'rmsprop'"),
    ({"optimizer": "adamw", "weight_decay": -0.1}, "weight-decay must be >= 0, got -0.1"),
    ({"optimizer": "lion"}, "optimizer must be one of sgd, adam, rmsprop, adagrad, adamw, got 'lion'"),
])
def test_bad_optimizer_settings_are_refused(overrides, message):
    with pytest.raises(ConfigError) as raised:
        MLPConfig(**overrides)
    assert str(raised.value) == message


def test_good_optimizer_settings_are_accepted():
    assert MLPConfig(optimizer="sgd", momentum=0.9, nesterov=True).nesterov
    assert MLPConfig(optimizer="adamw", weight_decay=0.0).weight_decay == 0.0
    for name in ("sgd", "adam", "rmsprop", "adagrad", "adamw"):
        assert dataclasses.replace(MLPConfig(), optimizer=name).optimizer == name
