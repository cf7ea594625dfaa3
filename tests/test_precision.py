"""Mixed precision (--precision mixed_bfloat16 | mixed_float16): low-precision compute, float32 variables,
for every network, in both implementations.

Both implementations run the same TensorFlow ops in the same order, so outputs, losses and
gradients come out bit-identical in bfloat16 and in float16 (measured, every network and
case below). That took: a vector bias added with BiasAdd, as Keras's ops.add does (before,
the bias gradients, a sum over the batch in another order, were off by up to 0.8% of their
scale in bfloat16 and 0.2% in float16); and the recurrent loop written as Keras's (weights
cast and the input projected inside the loop, the output and the state masked apart; before,
kernel gradients were up to 4e-3 off in float16 and a GRU's bias gradient up to 20% where padded
steps cancel). The tolerances allow one unit in the last place of the compute type at each
gradient tensor's largest entry: room for hardware that sums in another order, well below
what a different computation shows.

mixed_float16 adds dynamic loss scaling (tf_impl/optim.py LossScaleOptimizer, Keras's
LossScaleOptimizer that `compile` wraps around the optimizer by itself): checked against
Keras's rule directly, over optimizer steps from the same weights (with and without
overflows), under MirroredStrategy (tests/precision_worker.py) and through a checkpoint.
"""
import contextlib
import importlib
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from common import checkpoints
from common import twinnets as cli_module
from common import registry
from common import data as data_module
from common.configs import ConfigError
from conftest import build_keras_optimizer

PRECISIONS = ["mixed_bfloat16", "mixed_float16"]
COMPUTE_DTYPES = {"mixed_bfloat16": tf.bfloat16, "mixed_float16": tf.float16}
ULP = {"mixed_bfloat16": 2**-7, "mixed_float16": 2**-10}  # spacing of the type's numbers in [1, 2)
CLASSIFIERS = [name for name, spec in registry.NETWORKS.items()
               if spec.family == "classifier" and set(PRECISIONS) <= set(spec.precisions)]
# as in test_parity.py: every part exercised (an L2 penalty), no dropout where training steps are compared
FUNCTION_OVERRIDES = {"logistic_regression": {"l2": 1e-2}}
STEP_OVERRIDES = {"logistic_regression": {"l2": 1e-2}, "deep_mlp": {"dropout": 0.0}, "cnn": {"dropout": 0.0}}


def build_both(network, config, *shape):
    """The Keras model (seeded) and the tf_impl model, each built under the config's precision, same weights.

    shape: what the network's build takes after the config ((input_shape, num_classes[, vocabulary_size]),
    or the autoencoder's input_shape).
    """
    import keras

    from keras_impl import supervised as keras_supervised
    from tf_impl import layers

    keras.utils.set_random_seed(0)
    with keras_supervised.precision(config.precision):
        keras_model = importlib.import_module(f"keras_impl.{network}").build(config, *shape)
    with layers.precision(config.precision):
        tf_model = importlib.import_module(f"tf_impl.{network}").build(config, *shape)
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model


def dense(gradient):
    return np.float32(tf.convert_to_tensor(gradient))  # an embedding's gradient is tf.IndexedSlices on both sides


def gradient_gaps(keras_grads, tf_grads, weights, precision):
    """Each float32 gradient within one unit in the last place of the compute type at its largest entry."""
    assert len(tf_grads) == len(keras_grads) == len(weights)
    for keras_grad, tf_grad, weight in zip(keras_grads, tf_grads, weights):
        assert tf_grad.dtype == tf.float32  # the gradient of a float32 variable
        scale = np.abs(dense(keras_grad)).max()
        assert scale > 0, f"{weight.path}: zero gradient proves nothing"
        gap = np.abs(dense(tf_grad) - dense(keras_grad)).max()
        assert gap <= ULP[precision] * scale, (weight.path, gap / scale)


def assert_same_function(keras_model, tf_model, x, y, tf_loss, precision):
    """Outputs bit-identical in the compute dtype, float32 losses alike, every float32 gradient within
    one unit in the last place of the compute type at its largest entry. tf_loss() -> tf_impl's loss."""
    assert all(w.dtype == np.float32 for w in tf_model.get_weights())  # variables stay float32
    keras_out, tf_out = keras_model(x, training=False), tf_model(x, training=False)
    assert keras_out.dtype == tf_out.dtype == COMPUTE_DTYPES[precision]
    np.testing.assert_array_equal(np.float32(tf_out), np.float32(keras_out))

    with tf.GradientTape() as tape:
        keras_loss = keras_model.compute_loss(x=x, y=y, y_pred=keras_model(x, training=False), training=False)
    keras_grads = tape.gradient(keras_loss, keras_model.trainable_weights)
    with tf.GradientTape() as tape:
        loss = tf_loss()
    tf_grads = tape.gradient(loss, tf_model.trainable_weights)
    assert loss.dtype == keras_loss.dtype == tf.float32
    np.testing.assert_allclose(float(loss), float(keras_loss), rtol=1e-6)  # float32, from the same outputs
    gradient_gaps(keras_grads, tf_grads, keras_model.trainable_weights, precision)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("network", CLASSIFIERS)
def test_function_parity_after_transplant(network, precision):
    from tf_impl import supervised as tf_supervised

    spec = registry.get(network)
    config = spec.config_class(precision=precision, **FUNCTION_OVERRIDES.get(network, {}))
    data = data_module.load(spec.default_dataset)
    x, y = data.x_train[:64], data.y_train[:64]
    keras_model, tf_model = build_both(network, config, data.info.input_shape, data.info.num_classes)
    assert_same_function(keras_model, tf_model, x, y, lambda: tf_supervised.loss_fn(tf_model, x, y, training=False),
                         precision)


# Recurrent inputs, each exercising another part: digits read row by row (Masking: an all-zero row is a
# padded step), random sequences padded to different lengths through two stacked bidirectional layers
# (zero outputs for masked steps, reading backwards), token ids through an Embedding (mask_zero; sparse
# gradients). -> (x, y, config overrides, build arguments after the config)
def recurrent_case(case):
    rng = np.random.default_rng(0)
    if case == "digits":
        data = data_module.load("digits_sequences")
        return data.x_train[:64], data.y_train[:64], {}, (data.info.input_shape, data.info.num_classes)
    if case == "padded_stacked_bidirectional":
        steps, features = 12, 3
        lengths = rng.integers(1, steps + 1, size=32)
        lengths[:2] = (steps, 1)  # the longest and the shortest possible
        values = rng.uniform(0.1, 1.0, size=(32, steps, features)) * rng.choice([-1.0, 1.0], size=(1, 1, features))
        x = np.where(np.arange(steps)[None, :, None] < lengths[:, None, None], values, 0.0).astype(np.float32)
        return x, rng.integers(0, 4, size=32).astype(np.int32), {"units": (16, 8), "bidirectional": True}, \
            ((steps, features), 4)
    ids = rng.integers(1, 100, size=(32, 20)).astype(np.int32)  # vocabulary of 100, id 0 is padding
    ids[:, 15:], ids[0, 3:] = 0, 0
    return ids, rng.integers(0, 2, size=32).astype(np.int32), {}, ((20,), 2, 100)


RECURRENT = [name for name, spec in registry.NETWORKS.items()
             if spec.family == "recurrent" and set(PRECISIONS) <= set(spec.precisions)]


@pytest.mark.parametrize("case", ["digits", "padded_stacked_bidirectional", "tokens"])
@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("network", RECURRENT)
def test_recurrent_function_parity_after_transplant(network, precision, case):
    """tf_impl's loop is Keras's written out (the weights cast inside the loop, the bias added where Keras adds
    it, the output and the state masked apart): measured bit-identical outputs and gradients in both types."""
    from tf_impl import supervised as tf_supervised

    x, y, overrides, shape = recurrent_case(case)
    config = registry.get(network).config_class(precision=precision, **overrides)
    keras_model, tf_model = build_both(network, config, *shape)
    assert_same_function(keras_model, tf_model, x, y, lambda: tf_supervised.loss_fn(tf_model, x, y, training=False),
                         precision)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("convolutional", [False, True], ids=["dense", "convolutional"])
def test_autoencoder_function_parity_after_transplant(convolutional, precision):
    from tf_impl import autoencoder

    config = registry.get("autoencoder").config_class(precision=precision, convolutional=convolutional)
    data = data_module.load("digits")
    x = data.x_train[:64]
    keras_model, tf_model = build_both("autoencoder", config, data.info.input_shape)
    assert_same_function(keras_model, tf_model, x, x, lambda: autoencoder.loss_fn(tf_model, tf.constant(x), False),
                         precision)


# --- dynamic loss scaling (mixed_float16) ---

# (kernel gradient, bias gradient): finite, inf, NaN, then finite steps enough to grow twice with growth_steps=3
GRADIENTS = [
    ([[1e-3, 2e-3], [3e-3, 4e-3]], [1.0, -1.0]),
    ([[np.inf, 2e-3], [3e-3, 4e-3]], [1.0, -1.0]),
    ([[1e-3, 2e-3], [3e-3, 4e-3]], [1.0, np.nan]),
    ([[-1e-3, 2e-3], [3e-3, 4e-3]], [0.5, -1.0]),
    ([[1e-3, 5e-3], [3e-3, 4e-3]], [1.0, -1.0]),
    ([[1e-3, 2e-3], [3e-3, 4e-3]], [1.0, -2.0]),
    ([[2e-3, 2e-3], [3e-3, 1e-3]], [1.0, -1.0]),
    ([[1e-3, 2e-3], [-3e-3, 1e-3]], [-1.0, 1.0]),
    ([[1e-3, 4e-3], [3e-3, 1e-3]], [1.0, 1.0]),
]


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "tf.function"])
def test_loss_scaling_follows_keras_rule(compiled):
    """Scale, growth counter, step count and weights after every step equal Keras's LossScaleOptimizer's."""
    import keras

    from tf_impl import optim

    initial = [np.array([[1.0, -2.0], [0.5, 3.0]], np.float32), np.array([0.1, -0.1], np.float32)]
    theirs = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-2), dynamic_growth_steps=3)
    keras_variables = [keras.Variable(w) for w in initial]
    theirs.build(keras_variables)
    ours = optim.LossScaleOptimizer(optim.Adam(1e-2), growth_steps=3)
    tf_variables = [tf.Variable(w) for w in initial]
    ours.build(tf_variables)
    apply = tf.function(ours.apply) if compiled else ours.apply
    assert float(ours.scale) == float(theirs.dynamic_scale) == 2.0**15  # the defaults agree ...
    assert optim.LossScaleOptimizer(optim.Adam()).growth_steps == \
        keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam()).dynamic_growth_steps == 2000  # ... all of them

    scales = []
    for kernel, bias in GRADIENTS:
        gradients = [tf.constant(kernel, tf.float32), tf.constant(bias, tf.float32)]
        before = [v.numpy() for v in tf_variables]
        theirs.apply(gradients, keras_variables)
        apply(gradients, tf_variables)
        assert float(ours.scale) == float(theirs.dynamic_scale)
        assert int(ours.counter) == int(theirs.step_counter)
        assert int(ours.iterations) == int(theirs.iterations)
        for mine, keras_variable in zip(tf_variables, keras_variables):
            np.testing.assert_array_equal(mine.numpy(), keras_variable.numpy())
        if not all(np.isfinite(g).all() for g in (kernel, bias)):  # skipped: weights and slots untouched
            assert all(np.array_equal(b, v.numpy()) for b, v in zip(before, tf_variables))
        scales.append(float(ours.scale))
    # halved twice (inf, NaN), then doubled after every 3 finite steps
    assert scales == [2.0**15, 2.0**14, 2.0**13, 2.0**13, 2.0**13, 2.0**14, 2.0**14, 2.0**14, 2.0**15]
    assert int(ours.iterations) == len(GRADIENTS) - 2


def test_float16_wraps_the_optimizer_in_both():
    import keras

    from tf_impl import optim

    spec = registry.get("mlp")
    data = data_module.load(spec.default_dataset)
    for precision, wrapped in (("float32", False), ("mixed_bfloat16", False), ("mixed_float16", True)):
        config = spec.config_class(precision=precision)
        keras_model, _ = build_both("mlp", config, data.info.input_shape, data.info.num_classes)
        assert isinstance(keras_model.optimizer, keras.optimizers.LossScaleOptimizer) == wrapped  # by compile
        assert isinstance(optim.from_config(config), optim.LossScaleOptimizer) == wrapped


# 20 steps of 32: with the default scale nothing overflows; with 2**20 and growth after 3 steps, the float16
# backward pass overflows now and then (measured: 2-6 of 20 steps skipped, every network and case).
SCALINGS = {"default": None, "overflowing": (2.0**20, 3)}


def loss_scaling(keras_model, config, scaling):
    """tf_impl's optimizer for this scaling; for "overflowing", Keras recompiled with the same explicit one."""
    import keras

    from tf_impl import optim

    if SCALINGS[scaling] is None:
        return optim.from_config(config)  # Keras: what compile wrapped by itself
    initial_scale, growth_steps = SCALINGS[scaling]
    keras_model.compile(  # the same loss, with an explicit LossScaleOptimizer, which compile keeps
        optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(config.learning_rate), initial_scale,
                                                      dynamic_growth_steps=growth_steps),
        loss=keras_model.loss, jit_compile=False)
    return optim.LossScaleOptimizer(optim.Adam(config.learning_rate), initial_scale, growth_steps)


@contextlib.contextmanager
def unfused():
    """Grappler's remapper off while the step functions are first traced and optimised, then restored.

    On a CPU with float16 arithmetic (AVX512-FP16: Intel Sapphire Rapids), the remapper fuses a matmul with
    what follows it into one oneDNN kernel that rounds its float16 intermediates differently, and it fuses
    Keras's graph and tf_impl's differently (their ops differ where the values do not: tensordot, add vs
    bias_add). Measured on such a CPU, TF 2.21: the VAE's weights 1e-3 and charlm's 2e-4 apart after 20
    steps with it, within 1e-4 without it (bit-identical for charlm), as they were with it on the AMD EPYC
    machines (no float16 arithmetic). The same arithmetic is compared; only the fusion that rounds
    differently on some CPUs is left out, on both sides."""
    saved = tf.config.optimizer.get_experimental_options().get("remapping", True)
    tf.config.optimizer.set_experimental_options({"remapping": False})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"remapping": saved})


def assert_same_float16_steps(keras_model, tf_model, tf_optimizer, tf_step, batches, scaling):
    """Keras's train_on_batch and tf_impl's step (each -> the batch loss) over `batches`, from the same weights:
    the same losses and weights (1e-4), the same loss scale after every step, the same step count. Both steps
    traced and run unfused() (see there)."""
    build_keras_optimizer(keras_model)  # traced once, as in fit (its LossScaleOptimizer and the inner one)
    initial = keras_model.get_weights()
    keras_losses, tf_losses, keras_scales, tf_scales = [], [], [], []
    with unfused():
        for x, y in batches:
            keras_losses.append(keras_model.train_on_batch(x, y, return_dict=True)["loss"])
            tf_losses.append(float(tf_step(x, y)))
            keras_scales.append(float(keras_model.optimizer.dynamic_scale))
            tf_scales.append(float(tf_optimizer.scale))

    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    weight_gap = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), tf_model.get_weights()))
    print(f"loss gap {np.abs(np.subtract(tf_losses, keras_losses)).max():.1e}, weight gap {weight_gap:.1e} "
          f"(moved {moved:.1e}), {int(tf_optimizer.iterations)}/{len(batches)} steps applied, scales {tf_scales}")
    assert moved > 1e-3, f"the weights barely moved ({moved:.1e}): the comparison would be vacuous"
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-4, rtol=1e-4)  # unscaled: the loss itself
    for keras_weight, tf_weight in zip(keras_model.get_weights(), tf_model.get_weights()):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=1e-4, rtol=1e-4)
    assert tf_scales == keras_scales
    assert int(tf_optimizer.iterations) == int(keras_model.optimizer.iterations)
    steps = len(batches)
    if scaling == "overflowing":  # both branches taken, or the comparison would be vacuous
        assert int(tf_optimizer.iterations) < steps
        assert max(tf_scales[i + 1] / tf_scales[i] for i in range(steps - 1)) == 2.0
    else:
        assert int(tf_optimizer.iterations) == steps and set(tf_scales) == {2.0**15}


def windows(x, y, steps=20, batch_size=32):
    """`steps` consecutive batches, wrapping around the end."""
    for step in range(steps):
        window = np.arange(step * batch_size, (step + 1) * batch_size)
        yield np.take(x, window, axis=0, mode="wrap"), np.take(y, window, mode="wrap")


@pytest.mark.parametrize("scaling", list(SCALINGS))
@pytest.mark.parametrize("network", CLASSIFIERS)
def test_float16_optimizer_steps_match_keras(network, scaling):
    """From the same weights, 20 steps of Keras's train_on_batch and of tf_impl's train step under
    mixed_float16 give the same losses, weights, loss scale after every step and step count.

    Tolerance: test_parity.py's float32 one (1e-4). The float16 parts are the same ops on the
    same values on both sides, so they round alike (measured: weights bit-identical after 20
    steps for all four, losses within 5e-7, from float32 sums of the L2 terms); a float16
    rounding of its own on either side would show as ~1e-3 in the weights (Adam steps are
    ~lr = 1e-3 whatever the gradient's size) and fail.
    """
    from tf_impl import supervised as tf_supervised

    spec = registry.get(network)
    config = spec.config_class(precision="mixed_float16", **STEP_OVERRIDES.get(network, {}))
    data = data_module.load(spec.default_dataset)
    keras_model, tf_model = build_both(network, config, data.info.input_shape, data.info.num_classes)
    tf_optimizer = loss_scaling(keras_model, config, scaling)
    tf_optimizer.build(tf_model.trainable_weights)
    element_spec = (tf.TensorSpec([None, *data.info.input_shape], tf.float32), tf.TensorSpec([None], tf.int32))
    tf_step = tf_supervised.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), element_spec)
    assert_same_float16_steps(keras_model, tf_model, tf_optimizer, lambda x, y: tf_step(x, y)[0],
                              list(windows(data.x_train, data.y_train)), scaling)


@pytest.mark.parametrize("scaling", list(SCALINGS))
@pytest.mark.parametrize("case", ["lstm_tokens", "gru_stacked_bidirectional", "autoencoder", "conv_autoencoder"])
def test_float16_steps_of_recurrent_and_autoencoder_match_keras(case, scaling):
    """As above (same tolerance, same reasons), for token ids through an embedding (its sparse gradient
    unscaled as Keras does), two stacked bidirectional layers, and the autoencoder's own train step."""
    from tf_impl import autoencoder
    from tf_impl import supervised as tf_supervised

    if case.endswith("autoencoder"):
        config = registry.get("autoencoder").config_class(precision="mixed_float16",
                                                          convolutional=case == "conv_autoencoder")
        data = data_module.load("digits")
        keras_model, tf_model = build_both("autoencoder", config, data.info.input_shape)
        tf_optimizer = loss_scaling(keras_model, config, scaling)
        tf_optimizer.build(tf_model.trainable_weights)
        step = autoencoder.make_train_step(tf_model, tf_optimizer, tf.TensorSpec([None, *data.info.input_shape]))
        batches = [(x, x) for x, _ in windows(data.x_train, data.y_train)]  # the image is its own target
        assert_same_float16_steps(keras_model, tf_model, tf_optimizer, lambda x, _: step(x)[0], batches, scaling)
        return
    network, recurrent = case.split("_", 1)
    x, y, overrides, shape = recurrent_case("tokens" if recurrent == "tokens" else "padded_stacked_bidirectional")
    config = registry.get(network).config_class(precision="mixed_float16", **overrides)
    keras_model, tf_model = build_both(network, config, *shape)
    tf_optimizer = loss_scaling(keras_model, config, scaling)
    tf_optimizer.build(tf_model.trainable_weights)
    element_spec = (tf.TensorSpec([None, *x.shape[1:]], tf.as_dtype(x.dtype)), tf.TensorSpec([None], tf.int32))
    tf_step = tf_supervised.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), element_spec)
    orders = [np.random.default_rng(step).permutation(len(x)) for step in range(20)]  # the batch, reshuffled
    batches = [(x[order], y[order]) for order in orders]
    assert_same_float16_steps(keras_model, tf_model, tf_optimizer, lambda x, y: tf_step(x, y)[0], batches, scaling)


# Under MirroredStrategy each replica sums its 32 examples' float16 gradients, one device sums 64: the
# gradients differ by float16 rounding (measured at step 1: up to 3.1e-3 of a tensor's largest entry, cnn's
# second convolution; 6e-7 in float32), and that compounds over 12 SGD steps with momentum (measured: weights
# 3.9e-3 apart after moving 6.6e-2, losses 9.5e-4 apart; mlp 3e-5; autoencoder 1.2e-5). Allowed: a tenth of how
# far the weights moved, and 1e-2 in the loss; a missing all-reduce (half the gradient on each device) or a
# missing unscaling misses by half or more.
MIRRORED_WEIGHT_FRACTION, MIRRORED_LOSS_TOLERANCE = 0.1, 1e-2
MIRRORED_NETWORKS = ("mlp", "cnn", "autoencoder")  # the autoencoder through its own (strategy-aware) step


def test_mirrored_loss_scaling_matches_one_device(cli):
    worker = os.path.join(os.path.dirname(__file__), "precision_worker.py")
    done = cli(worker, *MIRRORED_NETWORKS, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps({key: {k: v for k, v in figures.items() if k != "weights"} for key, figures in report.items()
                      if key != "injected"}, indent=1))

    one, two = report["injected"]["one"], report["injected"]["two"]  # the optimizer alone: exactly one device's
    assert two["replicas_agree"]
    for name in ("scales", "counters", "iterations", "weights"):
        assert two[name] == one[name], name
    assert one["scales"] == [2.0**15, 2.0**14, 2.0**14, 2.0**13, 2.0**13, 2.0**13, 2.0**14, 2.0**14]

    for network in MIRRORED_NETWORKS:
        figures = report[f"{network}/sgd"]
        assert figures["replicas_agree"]
        assert figures["scales_one"] == figures["scales_two"] and figures["iterations_one"] == figures["iterations_two"]
        assert figures["moved"] > 1e-2, figures
        assert figures["weight_difference"] <= MIRRORED_WEIGHT_FRACTION * figures["moved"], figures
        assert figures["loss_difference"] <= MIRRORED_LOSS_TOLERANCE, figures
    # Overflow depends on each replica's own float16 sums, so when a step is skipped can differ from one device
    # (measured: mlp and cnn skip 2-3 of 12 steps either way, at other steps; the autoencoder's scale only grows,
    # 2**20 -> 2**24, on two replicas). What must hold: every replica takes the same branch, the scale moves.
    overflowing = [report[f"{network}/overflowing"] for network in MIRRORED_NETWORKS]
    for figures in overflowing:
        assert figures["replicas_agree"], figures
        assert 2 * min(figures["scales_two"]) <= max(figures["scales_two"]), figures
    assert any(figures["iterations_two"] < len(figures["scales_two"]) for figures in overflowing)  # steps skipped


def test_checkpoints_keep_the_loss_scale(tmp_path):
    """tf_impl's optimizer state holds the scale and the counter; the Keras Checkpoints callback saves them."""
    from keras_impl import supervised as keras_supervised
    from tf_impl import optim

    config = registry.get("mlp").config_class(precision="mixed_float16")
    saved = optim.from_config(config)
    saved.scale.assign(1234.0)
    saved.counter.assign(7)
    saved.iterations.assign(5)
    path = tf.train.Checkpoint(optimizer=saved.state()).write(str(tmp_path / "tf" / "ckpt"))
    restored = optim.from_config(config)
    tf.train.Checkpoint(optimizer=restored.state()).read(path).assert_existing_objects_matched()
    assert (float(restored.scale), int(restored.counter), int(restored.iterations)) == (1234.0, 7, 5)

    data = data_module.load("digits")
    keras_model, _ = build_both("mlp", config, data.info.input_shape, data.info.num_classes)
    fingerprint = checkpoints.fingerprint("mlp", "keras", config, data)
    callback = keras_supervised.Checkpoints(str(tmp_path / "keras"), fingerprint,
                                            [(keras_model.optimizer, keras_model.trainable_variables)],
                                            keras_supervised.EpochStats())
    callback.set_model(keras_model)
    keras_model.optimizer.build(keras_model.trainable_variables)
    kept = {id(variable) for variable in callback.state_variables()}
    assert id(keras_model.optimizer.dynamic_scale) in kept and id(keras_model.optimizer.step_counter) in kept


@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_float16_run_resumes_from_its_checkpoint(capsys, tmp_path, impl):
    argv = ["train", "mlp", "--impl", impl, "--precision", "mixed_float16", "--hidden-units", "8", "--quiet",
            "--checkpoint-dir", str(tmp_path / "ckpt")]
    outcomes = []
    for epochs in ("2", "3"):
        try:
            code = cli_module.main(argv + ["--epochs", epochs, "--out", str(tmp_path / epochs)])
        except SystemExit as exit_:
            code = exit_.code
        outcomes.append((code, capsys.readouterr().err))
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    two = json.loads((tmp_path / "2" / "metrics.json").read_text())
    three = json.loads((tmp_path / "3" / "metrics.json").read_text())
    assert len(three["history"]["loss"]) == 3 and three["history"]["loss"][:2] == two["history"]["loss"]
    assert three["config"]["precision"] == "mixed_float16"


# The cnn trained in 16 bits, in a fresh process: with mixed_float16, TensorFlow's oneDNN custom operations off.
# On a CPU with float16 arithmetic (AVX512-FP16: Intel Sapphire Rapids) oneDNN computes a float16 convolution's
# gradient about 115x slower than float32's (measured, TF 2.21: 77 ms against 0.67 ms for a 64x8x8x16 batch and a
# 3x3x16x32 kernel), and this test took 438 s there instead of ~30 s; with TF_ENABLE_ONEDNN_OPTS=0, TensorFlow's
# own kernels: `twinnets train cnn --impl tf --precision mixed_float16 --epochs 2` 6.2 s instead of 14.1 s (start-up
# included). Learning is what is checked here; the float16 steps of both sides, oneDNN on, are compared above.
CNN_LEARNING = """
import json, sys
from common import compare
report = compare.compare("cnn", seeds=2, overrides={"precision": sys.argv[1]}, verbose=False)
print(compare.table(report), file=sys.stderr)
json.dump({"metrics": {impl: [run["metric"] for run in summary["runs"]] for impl, summary in report["impls"].items()},
           "clears_floor": {impl: summary["clears_floor"] for impl, summary in report["impls"].items()},
           "passed": report["parity"]["passed"]}, sys.stdout)
"""


@pytest.mark.learning
@pytest.mark.parametrize("precision", PRECISIONS)
def test_cnn_learns_in_both(precision, cli):
    """Measured (2 seeds, 30 epochs, digits): float16 Keras 0.982 +- 0.001, tf 0.979 +- 0.001; floor 0.97. ~30 s."""
    spec = registry.get("cnn")
    env = {"TF_ENABLE_ONEDNN_OPTS": "0"} if precision == "mixed_float16" else {}
    result = cli("-c", CNN_LEARNING, precision, env=env, timeout=900)
    print(result.stderr[-2000:])
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    for impl, clears in report["clears_floor"].items():
        assert clears, f"{impl}: {report['metrics'][impl]} < {spec.floor}"
    assert report["passed"], report["metrics"]


def test_unsupported_precision_is_refused_clearly():
    import dataclasses

    float32_only = dataclasses.replace(registry.get("gan"), precisions=("float32",))  # as a future network may be
    with pytest.raises(ConfigError, match="not available for gan"):
        float32_only.check(float32_only.config_class(precision="mixed_bfloat16"))
    for network, spec in registry.NETWORKS.items():  # every network: the precisions it names run, the rest are refused
        for precision in PRECISIONS:
            if precision in spec.precisions:
                assert spec.check(spec.config_class(precision=precision)).precision == precision
            else:  # backprop: float32 only (common/registry.py says why)
                with pytest.raises(ConfigError, match=f"precision {precision} is not available for {network}"):
                    spec.check(spec.config_class(precision=precision))
    assert registry.get("backprop").precisions == ("float32",)
    with pytest.raises(ConfigError, match="precision must be one of"):
        registry.get("cnn").config_class(precision="float8")


# ---- the VAE, the GAN and transfer: their own losses and steps --------------------------------------------

def gradients_of(loss_fn, weights):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    return loss, tape.gradient(loss, weights)


def noise(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_vae_function_parity_after_transplant(precision):
    """Decoder outputs bit-identical; the -ELBO (float32, from float32 casts of the code and the logits)
    and its gradients through the reparameterisation, with the same injected noise."""
    from tf_impl import vae

    config = registry.get("vae").config_class(precision=precision)
    x = data_module.load("digits").x_train[:64]
    epsilon = noise((64, config.latent_dim), seed=3)
    keras_model, tf_model = build_both("vae", config, x.shape[1:])
    z = noise((64, config.latent_dim), seed=4)
    keras_out, tf_out = keras_model.decoder(z, training=False), tf_model.decoder(tf.constant(z), training=False)
    assert keras_out.dtype == tf_out.dtype == COMPUTE_DTYPES[precision]
    np.testing.assert_array_equal(np.float32(tf_out), np.float32(keras_out))
    keras_loss, keras_grads = gradients_of(lambda: keras_model.negative_elbo(x, epsilon, training=True)[0],
                                           keras_model.trainable_weights)
    tf_loss, tf_grads = gradients_of(lambda: vae.negative_elbo(tf_model, tf.constant(x), tf.constant(epsilon), True)[0],
                                     tf_model.trainable_weights)
    assert tf_loss.dtype == keras_loss.dtype == tf.float32
    np.testing.assert_allclose(float(tf_loss), float(keras_loss), rtol=1e-6)
    gradient_gaps(keras_grads, tf_grads, keras_model.trainable_weights, precision)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_gan_function_parity_after_transplant(precision):
    """Generated images bit-identical (batch-norm statistics in float32, as Keras computes them); both
    players' float32 losses and gradients, the discriminator's on real and generated images."""
    from tf_impl import gan

    config = registry.get("gan").config_class(precision=precision)
    real = data_module.load("digits").x_train[:64]
    z = noise((64, config.latent_dim), seed=5)
    keras_model, tf_model = build_both("gan", config, real.shape[1:])
    for training in (False, True):
        keras_fake = keras_model.generator(z, training=training)
        tf_fake = tf_model.generator(tf.constant(z), training=training)
        assert keras_fake.dtype == tf_fake.dtype == COMPUTE_DTYPES[precision]
        np.testing.assert_array_equal(np.float32(tf_fake), np.float32(keras_fake))
    fake = np.float32(keras_fake)
    players = [
        (lambda: keras_model.discriminator_loss(real, fake), keras_model.discriminator.trainable_weights,
         lambda: gan.discriminator_loss(tf_model, tf.constant(real), tf.constant(fake)),
         tf_model.discriminator.trainable_weights),
        (lambda: keras_model.generator_loss(z), keras_model.generator.trainable_weights,
         lambda: gan.generator_loss(tf_model, tf.constant(z)), tf_model.generator.trainable_weights),
    ]
    for keras_loss_fn, keras_weights, tf_loss_fn, tf_weights in players:
        keras_loss, keras_grads = gradients_of(keras_loss_fn, keras_weights)
        tf_loss, tf_grads = gradients_of(tf_loss_fn, tf_weights)
        assert tf_loss.dtype == keras_loss.dtype == tf.float32
        np.testing.assert_allclose(float(tf_loss), float(keras_loss), rtol=1e-6)
        gradient_gaps(keras_grads, tf_grads, keras_weights, precision)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_transfer_function_parity_after_transplant(precision):
    """The fine-tuning phase's model (frozen base in inference mode, new head): outputs, loss and the
    gradients of the variables that phase trains."""
    from keras_impl import transfer as keras_transfer
    from tf_impl import supervised as tf_supervised
    from tf_impl import transfer as tf_transfer

    config = registry.get("transfer").config_class(precision=precision)
    data = data_module.load("digits_transfer")
    x, y = data.x_train[:64], data.y_train[:64]
    keras_model, tf_model = build_both("transfer", config, data.info.input_shape, data.info.num_classes)
    with __import__("keras_impl.supervised", fromlist=["precision"]).precision(precision):
        keras_transfer.set_phase(keras_model, config, "fine_tuning")
    tf_transfer.phase_optimizer(tf_model, config, "fine_tuning")
    assert_same_function(keras_model, tf_model, x, y, lambda: tf_supervised.loss_fn(tf_model, x, y, training=False),
                         precision)


def gan_loss_scaling(keras_model, config, scaling):
    """Both players' tf_impl optimizers for this scaling; for "overflowing", Keras recompiled to match."""
    import keras

    from tf_impl import gan, optim

    if SCALINGS[scaling] is None:
        return gan.optimizer(config), gan.optimizer(config)  # Keras: keras_impl.gan.optimizer's own wrapping
    initial_scale, growth_steps = SCALINGS[scaling]
    keras_model.compile(*[keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(
        config.learning_rate, beta_1=config.adam_beta_1), initial_scale, dynamic_growth_steps=growth_steps)
        for _ in range(2)])
    return tuple(optim.LossScaleOptimizer(optim.Adam(config.learning_rate, beta_1=config.adam_beta_1), initial_scale,
                                          growth_steps) for _ in range(2))


def assert_same_float16_gan_steps(keras_model, tf_model, d_optimizer, g_optimizer, step, feeds):
    """Two players, each with its own LossScaleOptimizer: feeds are (Keras x, Keras y, tf step arguments), one per
    batch, the same injected noise on both sides. Every batch's losses agree (1e-4), both players' scales after every
    batch are equal, the weights end 1e-4 apart having moved, and the players applied as many steps on both sides.
    Returns those steps applied (discriminator or critic, generator)."""
    initial = keras_model.get_weights()
    scales = {"keras": [], "tf": []}
    with unfused():  # as assert_same_float16_steps
        for keras_x, keras_y, tf_arguments in feeds:
            keras_logs = keras_model.train_on_batch(keras_x, keras_y, return_dict=True)
            d_loss, g_loss, _ = step(*tf_arguments)
            np.testing.assert_allclose([float(d_loss), float(g_loss)], [keras_logs["loss"], keras_logs["g_loss"]],
                                       atol=1e-4, rtol=1e-4)
            scales["keras"].append([float(keras_model.d_optimizer.dynamic_scale),
                                    float(keras_model.g_optimizer.dynamic_scale)])
            scales["tf"].append([float(d_optimizer.scale), float(g_optimizer.scale)])
    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    gap = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), tf_model.get_weights()))
    applied = (int(d_optimizer.iterations), int(g_optimizer.iterations))
    print(f"weight gap {gap:.1e} (moved {moved:.1e}), steps applied (D, G) {applied}, scales {scales['tf']}")
    assert moved > 1e-3 and gap <= 1e-4, (moved, gap)
    assert scales["tf"] == scales["keras"]
    assert applied == (int(keras_model.d_optimizer.iterations), int(keras_model.g_optimizer.iterations))
    return applied


@pytest.mark.parametrize("scaling", list(SCALINGS))
@pytest.mark.parametrize("network", ["vae", "gan"])
def test_float16_steps_of_vae_and_gan_match_keras(network, scaling):
    """Their overridden train_steps scale the loss themselves (the GAN once per player, each with its own
    LossScaleOptimizer): 20 steps from the same weights with the same injected noise, as the classifiers'
    test above, with the same tolerance and for the same reasons. For the GAN, both players' scales."""
    from tf_impl import gan, vae

    config = registry.get(network).config_class(precision="mixed_float16")
    images = data_module.load("digits").x_train
    keras_model, tf_model = build_both(network, config, images.shape[1:])
    image_spec = tf.TensorSpec([None, *images.shape[1:]], tf.float32)
    batches = [(x, noise((len(x), config.latent_dim), seed=100 + step))
               for step, (x, _) in enumerate(windows(images, np.zeros(len(images))))]
    if network == "vae":
        tf_optimizer = loss_scaling(keras_model, config, scaling)
        # Keras's *compiled* VAE step rounds its float16 encoder gradients differently from its own eager
        # step (measured: 6e-3 of a gradient's scale at the first step in bfloat16, weights 1e-2 apart after
        # 20 float16 steps, having moved 4.2e-2), a rewrite of Keras's train-function graph; tf_impl's compiled
        # step equals the eager one (traced unfused(); with the remapper, on a CPU with float16 arithmetic, not).
        # So the reference is Keras's step run eagerly (measured against it: weights 1.7e-6 and 2.6e-6 apart
        # after 20 steps, default and overflowing scaling).
        keras_model.run_eagerly = True
        tf_optimizer.build(tf_model.trainable_weights)
        step = vae.make_train_step(tf_model, tf_optimizer, image_spec, config.latent_dim)
        assert_same_float16_steps(keras_model, tf_model, tf_optimizer, lambda x, e: step(x, e)[0], batches, scaling)
        return
    d_optimizer, g_optimizer = gan_loss_scaling(keras_model, config, scaling)
    d_optimizer.build(tf_model.discriminator.trainable_weights)
    g_optimizer.build(tf_model.generator.trainable_weights)
    step = gan.make_train_step(tf_model, d_optimizer, g_optimizer, image_spec, config.latent_dim)
    applied = assert_same_float16_gan_steps(keras_model, tf_model, d_optimizer, g_optimizer, step,
                                            [(x, z, (x, z)) for x, z in batches])
    if scaling == "overflowing":
        assert min(applied) < len(batches)
    else:
        assert applied == (len(batches), len(batches))


# ---- the WGAN-GP: the critic's penalty is the norm of an input gradient taken in 16 bits (second order) ----

@pytest.mark.parametrize("precision", PRECISIONS)
def test_wgan_gp_function_parity_after_transplant(precision):
    """Generated images bit-identical; the penalised critic loss, the gradient penalty alone (whose weight
    gradients exist only through the inner tape's input gradient) and the generator's loss, in float32,
    with their gradients, from the same injected z and eps. (Measured: bit-identical in both types.)"""
    from tf_impl import wgan_gp

    config = registry.get("wgan_gp").config_class(precision=precision)
    real = data_module.load("digits").x_train[:64]
    z, epsilon = noise((64, config.latent_dim), seed=5), np.random.default_rng(6).uniform(size=64).astype(np.float32)
    keras_model, tf_model = build_both("wgan_gp", config, real.shape[1:])
    keras_fake, tf_fake = keras_model.generator(z, training=False), tf_model.generator(tf.constant(z), training=False)
    assert keras_fake.dtype == tf_fake.dtype == COMPUTE_DTYPES[precision]
    np.testing.assert_array_equal(np.float32(tf_fake), np.float32(keras_fake))
    fake = np.float32(keras_fake)
    critic_weights = [w for w in keras_model.critic.trainable_weights if w.path.endswith("kernel")]  # biases: no
    tf_critic_weights = [w for w in tf_model.critic.trainable_weights if w.name.startswith("kernel")]  # penalty grad
    terms = [
        (lambda: keras_model.critic_loss(real, fake, epsilon)[0], keras_model.critic.trainable_weights[:-1],
         lambda: wgan_gp.critic_loss(tf_model, tf.constant(real), tf.constant(fake), tf.constant(epsilon))[0],
         tf_model.critic.trainable_weights[:-1]),  # the last bias: no gradient (D(fake) - D(real))
        (lambda: keras_model.critic_loss(real, fake, epsilon)[2], critic_weights,
         lambda: wgan_gp.critic_loss(tf_model, tf.constant(real), tf.constant(fake), tf.constant(epsilon))[2],
         tf_critic_weights),
        (lambda: keras_model.generator_loss(z), keras_model.generator.trainable_weights,
         lambda: wgan_gp.generator_loss(tf_model, tf.constant(z)), tf_model.generator.trainable_weights),
    ]
    for keras_loss_fn, keras_weights, tf_loss_fn, tf_weights in terms:
        assert len(keras_weights) == len(tf_weights)
        keras_loss, keras_grads = gradients_of(keras_loss_fn, keras_weights)
        tf_loss, tf_grads = gradients_of(tf_loss_fn, tf_weights)
        assert tf_loss.dtype == keras_loss.dtype == tf.float32
        np.testing.assert_allclose(float(tf_loss), float(keras_loss), rtol=1e-6)
        gradient_gaps(keras_grads, tf_grads, keras_weights, precision)


@pytest.mark.parametrize("scaling", list(SCALINGS))
def test_float16_steps_of_wgan_gp_match_keras(scaling):
    """n_critic critic steps and a generator step per batch, each player with its own LossScaleOptimizer (the
    critic's scaled loss is differentiated through the unscaled inner input gradient): 10 batches from the same
    weights with the same injected noise, as the GAN's test above, with the same tolerance; both players' scales."""
    from tf_impl import wgan_gp

    config = registry.get("wgan_gp").config_class(precision="mixed_float16", n_critic=2)
    images = data_module.load("digits").x_train
    keras_model, tf_model = build_both("wgan_gp", config, images.shape[1:])
    d_optimizer, g_optimizer = gan_loss_scaling(keras_model, config, scaling)
    d_optimizer.build(tf_model.critic.trainable_weights)
    g_optimizer.build(tf_model.generator.trainable_weights)
    step = wgan_gp.make_train_step(tf_model, d_optimizer, g_optimizer, tf.TensorSpec([None, *images.shape[1:]]),
                                   config.latent_dim)
    batches = [x for x, _ in windows(images, np.zeros(len(images)), steps=10)]
    feeds = []
    for index, x in enumerate(batches):
        rng = np.random.default_rng(100 + index)
        injected = (rng.standard_normal((len(x), config.n_critic, config.latent_dim)).astype(np.float32),
                    rng.uniform(size=(len(x), config.n_critic)).astype(np.float32),
                    rng.standard_normal((len(x), config.latent_dim)).astype(np.float32))
        feeds.append((x, injected, (x, *injected)))
    applied = assert_same_float16_gan_steps(keras_model, tf_model, d_optimizer, g_optimizer, step, feeds)
    full = (config.n_critic * len(batches), len(batches))
    if scaling == "overflowing":
        assert applied[0] < full[0] or applied[1] < full[1]
    else:
        assert applied == full


# ---- the regression network: one real-valued output, squared error (float32, from the low-precision output) ----

REGRESSORS = [name for name, spec in registry.NETWORKS.items()
              if spec.family == "regression" and set(PRECISIONS) <= set(spec.precisions)]


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("network", REGRESSORS)
def test_regression_function_parity_after_transplant(network, precision):
    """As the classifiers': predictions bit-identical in the compute type, the squared error plus the L2
    penalty in float32, every gradient within one unit in the last place of the compute type."""
    from tf_impl import supervised as tf_supervised

    spec = registry.get(network)
    config = spec.config_class(precision=precision)
    data = data_module.load(spec.default_dataset)
    x, y = data.x_train[:64], data.y_train[:64]
    assert y.dtype == np.float32  # real-valued targets
    keras_model, tf_model = build_both(network, config, data.info.input_shape, data.info.num_classes)
    assert_same_function(keras_model, tf_model, x, y,
                         lambda: tf_supervised.loss_fn(tf_model, x, y, training=False, task="regression"), precision)


@pytest.mark.parametrize("scaling", list(SCALINGS))
@pytest.mark.parametrize("network", REGRESSORS)
def test_float16_steps_of_regression_match_keras(network, scaling):
    """As test_float16_optimizer_steps_match_keras (same tolerance, same reasons), with float targets."""
    from tf_impl import supervised as tf_supervised

    spec = registry.get(network)
    config = spec.config_class(precision="mixed_float16")
    data = data_module.load(spec.default_dataset)
    keras_model, tf_model = build_both(network, config, data.info.input_shape, data.info.num_classes)
    tf_optimizer = loss_scaling(keras_model, config, scaling)
    tf_optimizer.build(tf_model.trainable_weights)
    element_spec = (tf.TensorSpec([None, *data.info.input_shape], tf.float32), tf.TensorSpec([None], tf.float32))
    tf_step = tf_supervised.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), element_spec,
                                            "regression")
    assert_same_float16_steps(keras_model, tf_model, tf_optimizer, lambda x, y: tf_step(x, y)[0],
                              list(windows(data.x_train, data.y_train)), scaling)
