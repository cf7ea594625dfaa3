"""Parity levels 1-3 for every classifier in the registry (DESIGN.md, "What parity means").

1. Shape: parameter counts equal, and pinned in PARAM_COUNTS below.
2. Function: Keras weights transplanted into the tf_impl model give the same logits,
   the same loss and the same gradients (1e-5), in inference mode.
3. Optimisation: from the same weights, 20 optimizer steps on the same batches give the
   same losses and weights (1e-4), for Adam and for SGD with momentum.
Level 4 (learning) is in test_learning.py.
"""
import importlib

import numpy as np
import pytest
import tensorflow as tf

from common import data as data_module
from common import registry
from tf_impl import optim, supervised

from conftest import assert_twins_agree, build_keras_optimizer

CLASSIFIERS = [name for name, spec in registry.NETWORKS.items() if spec.family == "classifier"]

# (network, input_shape, num_classes) -> parameters. Pinned: a change to an architecture must show here.
PARAM_COUNTS = {
    ("logistic_regression", (30,), 2): 31,  # 30 weights + 1 bias
    ("logistic_regression", (8, 8, 1), 10): 650,  # 64*10 + 10
    ("mlp", (8, 8, 1), 10): 4810,  # 64*64+64 + 64*10+10
    ("deep_mlp", (8, 8, 1), 10): 79114,  # 64*256+256 + 256*128+128 + 128*128+128 + 128*64+64 + 64*64+64 + 64*10+10
    ("cnn", (8, 8, 1), 10): 53002,  # conv 9*1*32+32, conv 9*32*64+64, dense (2*2*64)*128+128, 128*10+10
    ("cnn", (28, 28, 1), 10): 421642,  # as above with (7*7*64)*128+128
    ("cnn", (32, 32, 3), 10): 545098,  # conv 9*3*32+32, conv 9*32*64+64, (8*8*64)*128+128, 128*10+10
    ("backprop", (2,), 2): 129,  # moons: 2*32+32 + 32*1+1 (one logit for two classes)
    ("backprop", (8, 8, 1), 10): 2410,  # digits: 64*32+32 + 32*10+10
}

# Values that make each level exercise every part: an L2 penalty for logistic regression
# (off by default), and no dropout where training-mode steps are compared (masks differ).
FUNCTION_OVERRIDES = {"logistic_regression": {"l2": 1e-2}}
STEP_OVERRIDES = {"logistic_regression": {"l2": 1e-2}, "deep_mlp": {"dropout": 0.0}, "cnn": {"dropout": 0.0}}


@pytest.fixture(autouse=True)
def seeded():
    """Keras draws initial weights from its global seed: fix it, so no test depends on the ones before it."""
    import keras

    keras.utils.set_random_seed(0)


def modules(network):
    return importlib.import_module(f"keras_impl.{network}"), importlib.import_module(f"tf_impl.{network}")


def default_shape(network):
    info = data_module.load(registry.get(network).default_dataset).info
    return info.input_shape, info.num_classes


def transplanted(network, config, input_shape, num_classes):
    keras_module, tf_module = modules(network)
    keras_model = keras_module.build(config, input_shape, num_classes)
    tf_model = tf_module.build(config, input_shape, num_classes)
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model


def batches(network, count, batch_size=32):
    data = data_module.load(registry.get(network).default_dataset, batch_size=batch_size)
    x, y = data.x_train, data.y_train
    assert count * batch_size <= 2 * len(x)
    windows = [np.arange(i * batch_size, (i + 1) * batch_size) for i in range(count)]  # wraps past the end
    return [(np.take(x, w, axis=0, mode="wrap"), np.take(y, w, mode="wrap")) for w in windows]


def test_every_classifier_has_pinned_counts():
    pinned = {network for network, _, _ in PARAM_COUNTS}
    assert set(CLASSIFIERS) <= pinned, f"pin parameter counts for {set(CLASSIFIERS) - pinned}"


@pytest.mark.parametrize("network,input_shape,num_classes", list(PARAM_COUNTS))
def test_level1_parameter_counts(network, input_shape, num_classes):
    keras_module, tf_module = modules(network)
    config = registry.get(network).config_class()
    keras_model = keras_module.build(config, input_shape, num_classes)
    tf_model = tf_module.build(config, input_shape, num_classes)
    assert keras_model.count_params() == PARAM_COUNTS[(network, input_shape, num_classes)]
    assert tf_model.count_params() == keras_model.count_params()
    assert [w.shape for w in tf_model.get_weights()] == [w.shape for w in keras_model.get_weights()]


@pytest.mark.parametrize("network,input_shape,num_classes", list(PARAM_COUNTS))
def test_level2_outputs_loss_and_gradients_after_transplant(network, input_shape, num_classes):
    config = registry.get(network).config_class(**FUNCTION_OVERRIDES.get(network, {}))
    keras_model, tf_model = transplanted(network, config, input_shape, num_classes)
    if (input_shape, num_classes) == default_shape(network):
        x, y = batches(network, 1, batch_size=64)[0]
    else:  # shapes the default data does not have (28x28x1, 32x32x3): random images
        rng = np.random.default_rng(0)
        x = rng.uniform(size=(16, *input_shape)).astype(np.float32)
        y = rng.integers(0, num_classes, size=16).astype(np.int32)

    assert_twins_agree(keras_model, tf_model, x, y)


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("network", CLASSIFIERS)
def test_level3_twenty_optimizer_steps(network, optimizer):
    overrides = dict(STEP_OVERRIDES.get(network, {}), optimizer=optimizer)
    if optimizer == "sgd":
        overrides.update(learning_rate=0.05, momentum=0.9)
    config = registry.get(network).config_class(**overrides)
    input_shape, num_classes = default_shape(network)
    keras_model, tf_model = transplanted(network, config, input_shape, num_classes)
    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    spec = (tf.TensorSpec([None, *input_shape], tf.float32), tf.TensorSpec([None], tf.int32))
    # a network with a step of its own (backprop: gradients by hand, no tape) is checked through that step
    make_step = getattr(modules(network)[1], "make_train_step", supervised.make_train_step)
    tf_step = make_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec)

    build_keras_optimizer(keras_model)  # traced once, as in fit
    initial = keras_model.get_weights()
    keras_losses, tf_losses = [], []
    for x, y in batches(network, 20):
        keras_losses.append(keras_model.train_on_batch(x, y, return_dict=True)["loss"])
        tf_losses.append(float(tf_step(x, y)[0]))

    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    assert moved > 1e-3, f"the weights barely moved ({moved:.1e}): the comparison would be vacuous"
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-4, rtol=1e-4)
    for keras_weight, tf_weight in zip(keras_model.get_weights(), tf_model.get_weights()):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=1e-4, rtol=1e-4)
    assert int(tf_optimizer.iterations) == int(keras_model.optimizer.iterations) == 20


def test_train_step_traces_once_for_every_batch_size():
    network = "mlp"
    config = registry.get(network).config_class()
    input_shape, num_classes = default_shape(network)
    _, tf_module = modules(network)
    model = tf_module.build(config, input_shape, num_classes)
    optimizer = optim.from_config(config)
    optimizer.build(model.trainable_weights)
    spec = (tf.TensorSpec([None, *input_shape], tf.float32), tf.TensorSpec([None], tf.int32))
    step = supervised.make_train_step(model, optimizer, tf.distribute.get_strategy(), spec)
    (x, y), = batches(network, 1, batch_size=50)
    for size in (32, 17, 50, 1):  # the last, partial batch of an epoch has another size
        step(x[:size], y[:size])
    assert step.experimental_get_tracing_count() == 1


def test_dropout_matches_keras_semantics():
    """Inverted dropout: a fraction `rate` zeroed, survivors scaled by 1/(1-rate), identity at inference."""
    import keras

    from tf_impl import layers

    rate = 0.25
    x = tf.ones((200, 500))
    ours = layers.Dropout(rate, seed=3)
    theirs = keras.layers.Dropout(rate, seed=3)
    for dropped in (ours(x, training=True).numpy(), theirs(x, training=True).numpy()):
        assert abs((dropped == 0).mean() - rate) < 0.01
        np.testing.assert_allclose(dropped[dropped != 0], 1.0 / (1.0 - rate), rtol=1e-6)
    np.testing.assert_array_equal(ours(x, training=False).numpy(), x.numpy())
    first, second = ours(x, training=True).numpy(), ours(x, training=True).numpy()
    assert (first != second).any(), "a new mask every call"


def test_early_stopping_follows_keras():
    """Same val_loss sequence -> same stopping epoch and restored weights as keras.callbacks.EarlyStopping."""
    import keras

    from tf_impl.loop import EarlyStopping

    val_losses = [1.0, 0.8, 0.85, 0.7, 0.75, 0.72, 0.71, 0.9, 0.6]
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    callback = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    callback.set_model(model)
    model.stop_training = False  # fit sets this before training
    callback.on_train_begin()
    keras_stop = None
    for epoch, value in enumerate(val_losses):
        model.set_weights([np.full((1, 1), epoch, np.float32), np.zeros(1, np.float32)])
        callback.on_epoch_end(epoch, {"val_loss": value})
        if model.stop_training:
            keras_stop = epoch
            break
    callback.on_train_end()

    state = {"epoch": None}
    ours = EarlyStopping(3, get_weights=lambda: state["epoch"], set_weights=lambda w: state.update(restored=w))
    our_stop = None
    for epoch, value in enumerate(val_losses):
        state["epoch"] = epoch
        if ours.should_stop(epoch, value):
            our_stop = epoch
            break
    ours.restore()
    assert our_stop == keras_stop == 6
    assert state["restored"] == int(model.get_weights()[0][0, 0]) == 3


def test_fit_and_the_tf_loop_see_the_same_batches_every_epoch():
    """Each epoch, Keras fit (with keras_impl's epoch options) and tf_impl's loop draw the same shuffle."""
    import keras

    from common.data import Data, DataInfo
    from keras_impl.supervised import epoch_options
    from tf_impl.loop import run_epochs

    x = np.arange(20, dtype=np.float32).reshape(20, 1)
    y = np.arange(20, dtype=np.int32)  # each label names its example
    data = Data(x, y, x[:2], y[:2], x[:2], y[:2], info=DataInfo("toy", "table", (1,), 20, 20, 2, 2), batch_size=5, seed=7)

    class Recorder(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)
            self.seen = []

        def call(self, inputs):
            return self.dense(inputs)

        def train_step(self, batch):
            self.seen.append(batch[1].numpy())
            return {"batches": tf.constant(0.0)}

    epochs = 4
    tf.random.set_seed(7)
    recorder = Recorder()
    recorder.compile(run_eagerly=True)
    pipeline = data.train
    recorder.fit(pipeline, epochs=epochs, verbose=0, **epoch_options(pipeline))
    keras_epochs = np.concatenate(recorder.seen).reshape(epochs, 20)

    tf.random.set_seed(7)
    batches = tf.distribute.get_strategy().experimental_distribute_dataset(data.train)  # as tf_impl.supervised
    seen = []

    def record(labels):
        seen.append(labels.numpy())
        return np.float32(0.0)

    def recording_step(x, labels):  # traced into tf_impl's compiled epoch; py_function reports the batch
        return tf.reshape(tf.py_function(record, [labels], tf.float32), []), tf.shape(labels)[0]

    run_epochs(epochs=epochs, train_step=recording_step, train_batches=lambda: batches, validate=dict, verbose=0)
    tf_epochs = np.concatenate(seen).reshape(epochs, 20)

    assert len({tuple(order) for order in tf_epochs}) == epochs, "every epoch is a new shuffle"
    np.testing.assert_array_equal(keras_epochs, tf_epochs)
