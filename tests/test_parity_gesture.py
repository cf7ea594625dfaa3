"""Parity for gesture, the masked LSTM/GRU over 3-axis motion traces (family "gesture": its build is the recurrent
classifier's with the cell chosen by config.cell, so every level is here; level 4 with tests/test_learning.py).

1. Shape: parameter counts equal, in the same Keras order, and pinned (PARAM_COUNTS): both cells, stacked and
   bidirectional.
2. Function: Keras weights transplanted into tf_impl give the same logits, loss and gradients (1e-5) on a batch of
   gesture traces of different lengths (30-80 real steps, zero-padded), both cells, one layer and two
   bidirectional ones. Padding changes nothing: a trace's logits are the same padded to 40 or to 80 steps and
   alone without padding, on both sides.
3. Optimisation: from the same weights, 20 optimizer steps on the same batches of mixed-length traces give the
   same losses and weights (1e-4), Adam (GRU) and SGD with momentum (bidirectional LSTM).
4. Learning: tests/test_learning.py (the generated gestures, seeds 0-2, floor 0.95); here, the same runs beat the
   majority class. The data and the .npz with lengths: tests/data/test_gestures.py.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from common import configs, registry
from common import data as data_module
from conftest import assert_same_steps, assert_twins_agree, learning_group
from keras_impl import gesture as keras_gesture
from tf_impl import optim, supervised
from tf_impl import gesture as tf_gesture

SPEC = registry.get("gesture")
SHAPE, CLASSES = (80, 3), 6

# Pinned: a change to the architecture must show here. On f features, u units: an LSTM layer 4 * (f*u + u*u + u),
# a GRU layer 3 * (f*u + u*u) + 2 * 3u (reset-after: two biases); bidirectional doubles a layer; the head u*6 + 6.
PARAM_COUNTS = {
    ("gru", (32,), False): 3 * (3 * 32 + 32 * 32) + 2 * 3 * 32 + 32 * 6 + 6,  # the default: 3360 + 192 + 198 = 3750
    ("lstm", (32,), False): 4 * (3 * 32 + 32 * 32 + 32) + 32 * 6 + 6,  # 4608 + 198 = 4806
    ("gru", (8, 4), True): 2 * (3 * (3 * 8 + 8 * 8) + 2 * 24) + 2 * (3 * (16 * 4 + 4 * 4) + 2 * 12) + 8 * 6 + 6,  # 1206
    ("lstm", (8, 4), True): 2 * 4 * (3 * 8 + 8 * 8 + 8) + 2 * 4 * (16 * 4 + 4 * 4 + 4) + 8 * 6 + 6,  # 768+672+54 = 1494
}
VARIANTS = {
    "gru": {"cell": "gru", "units": (8,)},
    "lstm": {"cell": "lstm", "units": (8,)},
    "gru_stacked_bidirectional": {"cell": "gru", "units": (8, 4), "bidirectional": True},
    "lstm_stacked_bidirectional": {"cell": "lstm", "units": (8, 4), "bidirectional": True},
}


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="module")
def gestures():
    return data_module.load("gestures")


def lengths_of(x):
    """Real steps of each padded trace: the index after its last non-zero step."""
    real = np.any(x != 0.0, axis=-1)  # (N, T)
    return x.shape[1] - np.argmax(real[:, ::-1], axis=1)


def transplanted(config, noise=0.0, shape=SHAPE):
    keras_model = keras_gesture.build(config, shape, CLASSES)
    tf_model = tf_gesture.build(config, shape, CLASSES)
    weights = keras_model.get_weights()
    if noise:  # away from the initial values: biases non-zero, the forget gate's 1 moved
        weights = [w + np.random.default_rng(i).normal(0, noise, w.shape).astype(w.dtype) for i, w in enumerate(weights)]
        keras_model.set_weights(weights)
    tf_model.set_weights(weights)
    return keras_model, tf_model


def mixed_batch(data, size=16, steps=80):
    """The shortest and the longest training trace and the first size - 2 that fit in `steps`, all cut to `steps`
    (the stacked bidirectional variants read 48: Keras runs its loop eagerly here, step by step)."""
    lengths = lengths_of(data.x_train)
    whole = np.flatnonzero(lengths <= steps)[:size - 2]  # not cut: each ends in its own padding (at 80: the first)
    rows = np.concatenate([[np.argmin(lengths), np.argmax(lengths)], whole])
    return data.x_train[rows, :steps], data.y_train[rows]


# --- level 1: shape ---


@pytest.mark.parametrize("cell,units,bidirectional", list(PARAM_COUNTS))
def test_level1_parameter_counts_pinned_and_equal(cell, units, bidirectional):
    config = configs.GestureConfig(cell=cell, units=units, bidirectional=bidirectional)
    keras_model = keras_gesture.build(config, SHAPE, CLASSES)
    tf_model = tf_gesture.build(config, SHAPE, CLASSES)
    assert keras_model.count_params() == tf_model.count_params() == PARAM_COUNTS[(cell, units, bidirectional)]
    assert [w.shape for w in tf_model.get_weights()] == [w.shape for w in keras_model.get_weights()]
    assert keras_model.output_shape == (None, CLASSES)


def test_default_config_is_pinned_above_and_unknown_cells_refused():
    config = SPEC.config_class()
    assert (config.cell, config.units, config.bidirectional) in PARAM_COUNTS
    with pytest.raises(configs.ConfigError, match="cell must be one of lstm, gru, got 'rnn'"):
        configs.GestureConfig(cell="rnn")


# --- level 2: function, masks, padding ---


@pytest.mark.parametrize("variant", ["gru", "lstm", "gru_stacked_bidirectional"])  # the LSTM's two-way stack: level 3
def test_level2_mixed_length_batch_after_transplant(variant, gestures):
    steps = 48 if "bidirectional" in variant else 80
    keras_model, tf_model = transplanted(configs.GestureConfig(**VARIANTS[variant]), noise=0.1, shape=(steps, 3))
    x, y = mixed_batch(gestures, steps=steps)
    lengths = lengths_of(x)
    assert lengths.min() == 30 and lengths.max() == steps and len(set(lengths)) > 5  # padding of many amounts
    assert_twins_agree(keras_model, tf_model, x, y)  # logits, loss, every gradient (each non-zero): 1e-5


@pytest.mark.parametrize("variant", ["lstm", "gru_stacked_bidirectional"])
def test_padding_does_not_change_the_logits(variant, gestures):
    """Traces of <= 40 steps padded to 40 and to 80, and each alone unpadded: the same logits, on both sides."""
    config = configs.GestureConfig(**VARIANTS[variant])
    keras_model, tf_model = transplanted(config, noise=0.1)
    short = np.flatnonzero(lengths_of(gestures.x_test) <= 40)[:8]
    x80 = gestures.x_test[short]  # (8, 80, 3), zeros after each end
    x40 = x80[:, :40]  # (8, 40, 3): the same traces, less padding
    assert np.all(x80[:, 40:] == 0.0)
    models = {"keras": keras_model, "tf": tf_model}
    # The models were built for 80 steps; one more of each for 40 steps holds the same weights.
    shorter = {"keras": keras_gesture.build(config, (40, 3), CLASSES), "tf": tf_gesture.build(config, (40, 3), CLASSES)}
    for impl in models:
        shorter[impl].set_weights(keras_model.get_weights())
    for impl, model in models.items():
        at80 = model(x80, training=False).numpy()
        at40 = shorter[impl](x40, training=False).numpy()
        np.testing.assert_allclose(at40, at80, atol=1e-5, err_msg=impl)
        length = int(lengths_of(x80)[0])  # the first trace alone, with no padding at all (one: each build traces anew)
        unpadded = (keras_gesture if impl == "keras" else tf_gesture).build(config, (length, 3), CLASSES)
        unpadded.set_weights(keras_model.get_weights())
        np.testing.assert_allclose(unpadded(x80[:1, :length], training=False).numpy()[0], at80[0], atol=1e-5,
                                   err_msg=impl)
    np.testing.assert_allclose(tf_model(x80).numpy(), keras_model(x80).numpy(), atol=1e-5)


def test_the_mask_matters_here(gestures):
    """Without masking the padding would change the logits: the invariance above is the mask's doing."""
    config = configs.GestureConfig(**VARIANTS["gru"], masking=False)
    keras_model, tf_model = transplanted(config, noise=0.1)
    short = np.flatnonzero(lengths_of(gestures.x_test) <= 40)[:4]
    x80 = gestures.x_test[short]
    shorter = tf_gesture.build(config, (40, 3), CLASSES)
    shorter.set_weights(keras_model.get_weights())
    assert np.abs(shorter(x80[:, :40]).numpy() - tf_model(x80).numpy()).max() > 1e-3
    np.testing.assert_allclose(tf_model(x80).numpy(), keras_model(x80).numpy(), atol=1e-5)


# --- level 3: optimisation ---


@pytest.mark.parametrize("optimizer,variant", [("adam", "gru"), ("sgd", "lstm_stacked_bidirectional")])
def test_level3_twenty_optimizer_steps_on_mixed_length_batches(optimizer, variant, gestures):
    settings = dict(VARIANTS[variant], optimizer=optimizer, learning_rate=1e-2)
    if optimizer == "sgd":
        settings.update(learning_rate=0.1, momentum=0.9)
    config = configs.GestureConfig(**settings)
    steps = 48 if "bidirectional" in variant else 80  # traces cut to 48 steps: lengths 30-48, padded or not
    keras_model, tf_model = transplanted(config, shape=(steps, 3))
    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    spec = (tf.TensorSpec([None, steps, 3], tf.float32), tf.TensorSpec([None], tf.int32))
    tf_step = supervised.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec, "classification")
    batches = [(gestures.x_train[step * 16:(step + 1) * 16, :steps], gestures.y_train[step * 16:(step + 1) * 16])
               for step in range(20)]
    assert_same_steps(keras_model, tf_model, tf_optimizer, tf_step, batches)


# --- level 4: what the learning runs of tests/test_learning.py also show ---


@pytest.mark.learning
@learning_group("gesture")
def test_learned_runs_beat_the_majority_class(learned, gestures):
    majority = np.bincount(gestures.y_test).max() / len(gestures.y_test)  # 1/6: the classes are balanced
    assert majority == pytest.approx(1 / 6)
    report = learned("gesture")
    for impl, summary in report["impls"].items():
        for run in summary["runs"]:
            assert run["metric"] >= SPEC.floor > 5 * majority, (impl, run["seed"], run["metric"])
