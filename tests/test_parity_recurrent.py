"""Parity levels 1-3 for the recurrent networks rnn, lstm and gru (DESIGN.md, "What parity means").

1. Shape: parameter counts equal, and pinned in PARAM_COUNTS below.
2. Function: Keras weights transplanted into the tf_impl model give the same outputs,
   loss and gradients (1e-5), for several sequence lengths, for a batch whose
   sequences have different padded lengths (the mask), stacked and bidirectional,
   token input through an embedding, and for a single layer returning its whole
   sequence (forwards, backwards, bidirectional). Gradients through time (BPTT):
   every weight's gradient and the gradient with respect to every input step.
3. Optimisation: from the same weights, 20 optimizer steps on the same batches give the
   same losses and weights (1e-4), Adam and SGD with momentum, classification and the
   adding problem's regression.
Level 4 (learning): tests/test_learning.py (digits as sequences, via common.compare) and
tests/test_adding_problem.py.
"""
import importlib

import numpy as np
import pytest
import tensorflow as tf

from common import data as data_module
from common import registry
from conftest import build_keras_optimizer
from tf_impl import layers, optim, supervised

RECURRENT = [name for name, spec in registry.NETWORKS.items() if spec.family == "recurrent"]

# Configurations beyond the default, as config overrides.
VARIANTS = {
    "default": {},
    "stacked": {"units": (16, 8), "bidirectional": True},  # two layers, each reading both ways
    "small": {"units": (16,)},
}
VOCABULARY_SIZE = 100  # token input (the imdb_reviews form): ids 0 (padding), 1 .. 99

# (network, variant, input_shape, num_classes) -> parameters. Pinned: a change to an architecture must show here.
# A recurrent layer of u units on f input features holds g*(f*u + u*u) weights and g*u biases,
# g = 1 (rnn), 4 (lstm: gates i, f, c, o), 3 (gru: z, r, h; its bias is (2, 3u), so 2*g*u biases).
# Bidirectional doubles a layer. num_classes 1: one real-valued output (regression).
PARAM_COUNTS = {
    ("rnn", "default", (8, 8), 10): 5322,  # 8*64+64*64+64 = 4672; dense 64*10+10 = 650
    ("lstm", "default", (8, 8), 10): 19338,  # 4*4672 = 18688; dense 650
    ("gru", "default", (8, 8), 10): 14858,  # 3*(8*64+64*64) + 2*3*64 = 14208; dense 650
    ("rnn", "stacked", (8, 8), 10): 1626,  # 2*(8*16+16*16+16) = 800; 2*(32*8+8*8+8) = 656; dense 16*10+10 = 170
    ("lstm", "stacked", (8, 8), 10): 5994,  # 4*800 = 3200; 4*656 = 2624; dense 170
    ("gru", "stacked", (8, 8), 10): 4682,  # 2*(3*(8*16+16*16) + 2*48) = 2496; 2*(3*(32*8+8*8) + 2*24) = 2016; dense 170
    ("rnn", "default", (28, 28, 1), 10): 6602,  # an image read by row: 28*64+64*64+64 = 5952; dense 650
    ("lstm", "small", (30, 2), 1): 1233,  # adding problem: 4*(2*16+16*16+16) = 1216; dense 16*1+1 = 17
    ("gru", "small", (30, 2), 1): 977,  # 3*(2*16+16*16) = 864; biases 2*3*16 = 96; dense 17
    ("lstm", "default", (20,), 2): 28097,  # tokens: embedding 100*32 = 3200; 4*(32*64+64*64+64) = 24832; dense 64+1
}


@pytest.fixture(autouse=True)
def seeded():
    """Keras draws initial weights from its global seed: fix it, so no test depends on the ones before it."""
    import keras

    keras.utils.set_random_seed(0)


def modules(network):
    return importlib.import_module(f"keras_impl.{network}"), importlib.import_module(f"tf_impl.{network}")


def config_for(network, variant="default", **overrides):
    return registry.get(network).config_class(**VARIANTS[variant], **overrides)


def transplanted(network, config, input_shape, num_classes, vocabulary_size=0):
    keras_module, tf_module = modules(network)
    keras_model = keras_module.build(config, input_shape, num_classes, vocabulary_size)
    tf_model = tf_module.build(config, input_shape, num_classes, vocabulary_size)
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model


def digit_batches(count, batch_size=32):
    """Consecutive training batches of digits as sequences: (batch, 8 steps, 8 pixels)."""
    data = data_module.load("digits_sequences")
    return [(data.x_train[i * batch_size:(i + 1) * batch_size], data.y_train[i * batch_size:(i + 1) * batch_size])
            for i in range(count)]


def padded_batch(rng, batch_size, time_steps, features, lengths=None):
    """Random sequences of different lengths in one (batch, time, features) array, zero-padded at the end.

    Features are drawn away from 0 so that only the padding is masked (keras.layers.Masking(0.0)).
    """
    if lengths is None:
        lengths = rng.integers(1, time_steps + 1, size=batch_size)
        lengths[:2] = (time_steps, 1)  # the longest and the shortest possible, in every batch
    values = rng.uniform(0.1, 1.0, size=(batch_size, time_steps, features)) * rng.choice([-1.0, 1.0], size=(1, 1, features))
    steps = np.arange(time_steps)[np.newaxis, :, np.newaxis]  # (1, time, 1)
    return np.where(steps < np.asarray(lengths)[:, np.newaxis, np.newaxis], values, 0.0).astype(np.float32), lengths


def assert_same_function(keras_model, tf_model, x, y):
    """Outputs, loss, every weight's gradient and the gradient with respect to the input, all to 1e-5."""
    keras_out = keras_model(x, training=False)
    tf_out = tf_model(x, training=False)
    assert keras_out.shape == tf_out.shape
    np.testing.assert_allclose(tf_out.numpy(), keras_out.numpy(), atol=1e-5, rtol=1e-5)

    task = "regression" if keras_out.shape[-1] == 1 and y.dtype == np.float32 else "classification"
    is_tokens = x.dtype == np.int32
    x_variable = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        if not is_tokens:
            tape.watch(x_variable)
        keras_loss = keras_model.compute_loss(x=x, y=y, y_pred=keras_model(x_variable, training=False), training=False)
    keras_grads = tape.gradient(keras_loss, keras_model.trainable_weights)
    keras_input_grad = None if is_tokens else tape.gradient(keras_loss, x_variable)
    with tf.GradientTape(persistent=True) as tape:
        if not is_tokens:
            tape.watch(x_variable)
        tf_loss = supervised.loss_fn(tf_model, x_variable, y, training=False, task=task)
    tf_grads = tape.gradient(tf_loss, tf_model.trainable_weights)
    tf_input_grad = None if is_tokens else tape.gradient(tf_loss, x_variable)

    np.testing.assert_allclose(float(tf_loss), float(keras_loss), atol=1e-5, rtol=1e-5)
    assert len(tf_grads) == len(keras_grads)
    for keras_grad, tf_grad, weight in zip(keras_grads, tf_grads, keras_model.trainable_weights):
        keras_grad, tf_grad = tf.convert_to_tensor(keras_grad).numpy(), tf.convert_to_tensor(tf_grad).numpy()
        assert np.abs(keras_grad).max() > 0, f"{weight.path}: zero gradient proves nothing"
        np.testing.assert_allclose(tf_grad, keras_grad, atol=1e-5, rtol=1e-5, err_msg=weight.path)
    if keras_input_grad is not None:  # back through time to every input step
        np.testing.assert_allclose(tf_input_grad.numpy(), keras_input_grad.numpy(), atol=1e-5, rtol=1e-5)
    return tf_out.numpy(), (None if tf_input_grad is None else tf_input_grad.numpy())


# --- level 1: shape -----------------------------------------------------------------------------------


def test_every_recurrent_network_is_pinned():
    assert set(RECURRENT) == {"rnn", "lstm", "gru"}
    pinned = {(network, variant) for network, variant, _, _ in PARAM_COUNTS}
    assert {(network, variant) for network in RECURRENT for variant in ("default", "stacked")} <= pinned


@pytest.mark.parametrize("network,variant,input_shape,num_classes", list(PARAM_COUNTS))
def test_level1_parameter_counts(network, variant, input_shape, num_classes):
    keras_module, tf_module = modules(network)
    config = config_for(network, variant)
    vocabulary_size = VOCABULARY_SIZE if len(input_shape) == 1 else 0
    keras_model = keras_module.build(config, input_shape, num_classes, vocabulary_size)
    tf_model = tf_module.build(config, input_shape, num_classes, vocabulary_size)
    assert keras_model.count_params() == PARAM_COUNTS[(network, variant, input_shape, num_classes)]
    assert tf_model.count_params() == keras_model.count_params()
    assert [w.shape for w in tf_model.get_weights()] == [w.shape for w in keras_model.get_weights()]


def test_initial_weights_follow_keras_initializers():
    """Glorot-uniform kernels, orthogonal recurrent kernels, zero biases but the LSTM forget gate's 1."""
    units = 16
    cell = layers.LSTMCell(8, units, rng=np.random.default_rng(0))
    recurrent = cell.recurrent_kernel.numpy()  # (units, 4*units): orthonormal rows
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(units), atol=1e-5)
    bias = cell.bias.numpy().reshape(4, units)  # gates i, f, c, o
    np.testing.assert_array_equal(bias[1], np.ones(units))
    np.testing.assert_array_equal(bias[[0, 2, 3]], np.zeros((3, units)))
    limit = np.sqrt(6.0 / (8 + 4 * units))
    assert np.abs(cell.kernel.numpy()).max() <= limit
    gru = layers.GRUCell(8, units, rng=np.random.default_rng(0))
    assert gru.bias.shape == (2, 3 * units) and not gru.bias.numpy().any()


# --- level 2: function --------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["default", "stacked"])
@pytest.mark.parametrize("network", RECURRENT)
def test_level2_digits_after_transplant(network, variant):
    keras_model, tf_model = transplanted(network, config_for(network, variant), (8, 8), 10)
    (x, y), = digit_batches(1, batch_size=64)
    assert_same_function(keras_model, tf_model, x, y)


@pytest.mark.parametrize("time_steps", [2, 5, 17, 40])  # 1 step: the recurrent kernel gets no gradient
@pytest.mark.parametrize("network", RECURRENT)
def test_level2_several_sequence_lengths(network, time_steps):
    """One model definition for any length; BPTT over 40 steps still agrees."""
    rng = np.random.default_rng(time_steps)
    x, _ = padded_batch(rng, 12, time_steps, 5, lengths=[time_steps] * 12)
    y = rng.integers(0, 3, size=12).astype(np.int32)
    keras_model, tf_model = transplanted(network, config_for(network, "small"), (time_steps, 5), 3)
    assert_same_function(keras_model, tf_model, x, y)


@pytest.mark.parametrize("variant", ["small", "stacked"])
@pytest.mark.parametrize("network", RECURRENT)
def test_level2_mask_parity_with_different_padded_lengths(network, variant):
    """One batch, sequences of 1..12 real steps padded to 12: Keras's masking semantics, exactly."""
    rng = np.random.default_rng(1)
    x, lengths = padded_batch(rng, 16, 12, 4)
    y = rng.integers(0, 3, size=16).astype(np.int32)
    keras_model, tf_model = transplanted(network, config_for(network, variant), (12, 4), 3)
    _, input_grad = assert_same_function(keras_model, tf_model, x, y)
    for row, length in enumerate(lengths):  # a padded step influences nothing
        assert not input_grad[row, length:].any()


@pytest.mark.parametrize("variant", ["small", "stacked"])
@pytest.mark.parametrize("network", RECURRENT)
def test_padded_steps_leave_the_state_unchanged(network, variant):
    """A padded sequence gives what the same sequence gives unpadded (tf_impl alone: the semantics)."""
    rng = np.random.default_rng(2)
    x, lengths = padded_batch(rng, 6, 10, 4)
    _, tf_module = modules(network)
    model = tf_module.build(config_for(network, variant), (10, 4), 3)
    padded = model(x).numpy()
    for row, length in enumerate(lengths):
        alone = model(x[row:row + 1, :length]).numpy()  # (1, length, 4): no padding at all
        np.testing.assert_allclose(padded[row:row + 1], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("network", RECURRENT)
def test_level2_tokens_through_an_embedding_with_mask_zero(network):
    """The imdb_reviews form: int ids, 0 is padding (keras.layers.Embedding(mask_zero=True))."""
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 21, size=16)
    ids = rng.integers(1, VOCABULARY_SIZE, size=(16, 20))
    x = np.where(np.arange(20)[np.newaxis, :] < lengths[:, np.newaxis], ids, 0).astype(np.int32)
    y = rng.integers(0, 2, size=16).astype(np.int32)
    keras_model, tf_model = transplanted(network, config_for(network, "small"), (20,), 2, VOCABULARY_SIZE)
    assert_same_function(keras_model, tf_model, x, y)


@pytest.mark.parametrize("network", RECURRENT)
def test_level2_adding_problem_regression(network):
    data = data_module.load("adding:30")
    keras_model, tf_model = transplanted(network, config_for(network, "small"), (30, 2), 1)
    assert_same_function(keras_model, tf_model, data.x_train[:32], data.y_train[:32])


KERAS_LAYERS = {"rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
CELLS = {"rnn": layers.SimpleRNNCell, "lstm": layers.LSTMCell, "gru": layers.GRUCell}


@pytest.mark.parametrize("direction", ["forwards", "backwards", "bidirectional"])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("network", RECURRENT)
def test_level2_single_layer_sequences_and_directions(network, return_sequences, direction):
    """One layer on a masked batch: the whole sequence or the last output, forwards, backwards or both."""
    import keras

    rng = np.random.default_rng(4)
    x, _ = padded_batch(rng, 8, 9, 3)
    mask = np.any(x != 0.0, axis=-1)  # (batch, time)
    keras_layer = getattr(keras.layers, KERAS_LAYERS[network])(
        6, return_sequences=return_sequences, go_backwards=direction == "backwards"
    )
    cell_rng = np.random.default_rng(0)
    tf_layers = [
        layers.Recurrent(CELLS[network](3, 6, rng=cell_rng), return_sequences, go_backwards=direction == "backwards")
        for _ in range(2 if direction == "bidirectional" else 1)
    ]
    if direction == "bidirectional":
        keras_layer = keras.layers.Bidirectional(keras_layer)
        tf_layer = layers.Bidirectional(*tf_layers)
    else:
        tf_layer = tf_layers[0]
    x_tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tensor)
        keras_out = keras_layer(x_tensor, mask=tf.constant(mask))
        keras_sum = tf.reduce_sum(keras_out * keras_out)
    keras_input_grad = tape.gradient(keras_sum, x_tensor)
    for variable, array in zip(tf_layer.weights, keras_layer.get_weights()):
        variable.assign(array)
    with tf.GradientTape() as tape:
        tape.watch(x_tensor)
        tf_out = tf_layer(x_tensor, mask=tf.constant(mask))
        tf_sum = tf.reduce_sum(tf_out * tf_out)
    tf_input_grad = tape.gradient(tf_sum, x_tensor)
    assert tf_out.shape == keras_out.shape
    np.testing.assert_allclose(tf_out.numpy(), keras_out.numpy(), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(tf_input_grad.numpy(), keras_input_grad.numpy(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("network", RECURRENT)
def test_recurrence_is_a_loop_traced_once_for_every_length(network):
    """A tf.while_loop inside one tf.function: a trace with an unknown time dimension serves lengths 2, 9 and 31."""
    keras_model, tf_model = transplanted(network, config_for(network, "stacked"), (None, 3), 4)
    forward = tf.function(lambda x: tf_model(x), input_signature=[tf.TensorSpec([None, None, 3], tf.float32)])
    rng = np.random.default_rng(5)
    for time_steps in (2, 9, 31):
        x, _ = padded_batch(rng, 5, time_steps, 3)
        np.testing.assert_allclose(forward(x).numpy(), keras_model(x).numpy(), atol=1e-5, rtol=1e-5)
    assert forward.experimental_get_tracing_count() == 1


# --- level 3: optimisation ----------------------------------------------------------------------------


def twenty_steps(network, config, input_shape, num_classes, batches, vocabulary_size=0):
    keras_model, tf_model = transplanted(network, config, input_shape, num_classes, vocabulary_size)
    task = "regression" if num_classes == 1 else "classification"
    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    x, y = batches[0]
    spec = (tf.TensorSpec([None, *input_shape], tf.as_dtype(x.dtype)), tf.TensorSpec([None], tf.as_dtype(y.dtype)))
    tf_step = supervised.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec, task)

    build_keras_optimizer(keras_model)  # traced once, as in fit
    initial = keras_model.get_weights()
    keras_losses, tf_losses = [], []
    for x, y in batches:
        keras_losses.append(keras_model.train_on_batch(x, y, return_dict=True)["loss"])
        tf_losses.append(float(tf_step(x, y)[0]))

    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    assert moved > 1e-3, f"the weights barely moved ({moved:.1e}): the comparison would be vacuous"
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-4, rtol=1e-4)
    for keras_weight, tf_weight in zip(keras_model.get_weights(), tf_model.get_weights()):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=1e-4, rtol=1e-4)
    assert int(tf_optimizer.iterations) == int(keras_model.optimizer.iterations) == len(batches)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("network", RECURRENT)
def test_level3_twenty_optimizer_steps_on_digits(network, optimizer):
    overrides = {"optimizer": optimizer}
    if optimizer == "sgd":
        overrides.update(learning_rate=0.05, momentum=0.9)
    twenty_steps(network, config_for(network, **overrides), (8, 8), 10, digit_batches(20))


@pytest.mark.parametrize("network", RECURRENT)
def test_level3_twenty_steps_stacked_bidirectional_on_padded_batches(network):
    rng = np.random.default_rng(6)
    batches = []
    for _ in range(20):
        x, _ = padded_batch(rng, 16, 12, 4)
        batches.append((x, rng.integers(0, 3, size=16).astype(np.int32)))
    twenty_steps(network, config_for(network, "stacked", learning_rate=1e-2), (12, 4), 3, batches)


@pytest.mark.parametrize("network", RECURRENT)
def test_level3_twenty_steps_on_the_adding_problem(network):
    data = data_module.load("adding:30")
    batches = [(data.x_train[i * 32:(i + 1) * 32], data.y_train[i * 32:(i + 1) * 32]) for i in range(20)]
    twenty_steps(network, config_for(network, "small", learning_rate=1e-2), (30, 2), 1, batches)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("network", RECURRENT)
def test_level3_twenty_steps_on_padded_tokens(network, optimizer):
    """Embedding gradients reach only the ids in the batch, once per occurrence (tf.IndexedSlices).

    Ids repeat within a batch: Keras's Adam squares the slices before summing repeated rows,
    and tf_impl.optim must do the same (with a dense g^2 this test fails).
    """
    rng = np.random.default_rng(7)
    batches = []
    for _ in range(20):
        lengths = rng.integers(1, 21, size=16)
        ids = rng.integers(1, VOCABULARY_SIZE, size=(16, 20))
        x = np.where(np.arange(20)[np.newaxis, :] < lengths[:, np.newaxis], ids, 0).astype(np.int32)
        batches.append((x, rng.integers(0, 2, size=16).astype(np.int32)))
    overrides = {"optimizer": optimizer, "learning_rate": 1e-2}
    if optimizer == "sgd":
        overrides.update(learning_rate=0.5, momentum=0.9)  # embedding gradients are small: a large step moves them
    twenty_steps(network, config_for(network, "small", **overrides), (20,), 2, batches, vocabulary_size=VOCABULARY_SIZE)
