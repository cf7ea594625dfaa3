"""Mixed precision (--precision mixed_bfloat16): bfloat16 compute, float32 variables, both implementations.

Tolerances are those of the type: bfloat16 keeps 8 significant bits, so a gradient summed
over a 64-example batch in bfloat16 can be off by about 64 * 2**-9 = 12% of its scale
(measured here: up to 5%). Outputs and losses come out bit-identical in both.
"""
import importlib

import numpy as np
import pytest
import tensorflow as tf

from common import compare, registry
from common import data as data_module
from common.configs import ConfigError

BF16 = [name for name, spec in registry.NETWORKS.items() if "mixed_bfloat16" in spec.precisions]
GRADIENT_TOLERANCE = 2**-3  # of each gradient tensor's largest entry


@pytest.mark.parametrize("network", BF16)
def test_bfloat16_function_parity_after_transplant(network):
    import keras

    from keras_impl import supervised as keras_supervised
    from tf_impl import layers
    from tf_impl import supervised as tf_supervised

    spec = registry.get(network)
    config = spec.config_class(precision="mixed_bfloat16", **({"l2": 1e-2} if network == "logistic_regression" else {}))
    data = data_module.load(spec.default_dataset)
    x, y = data.x_train[:64], data.y_train[:64]
    keras.utils.set_random_seed(0)
    with keras_supervised.precision(config.precision):
        keras_model = importlib.import_module(f"keras_impl.{network}").build(config, data.info.input_shape, data.info.num_classes)
    with layers.precision(config.precision):
        tf_model = importlib.import_module(f"tf_impl.{network}").build(config, data.info.input_shape, data.info.num_classes)
    tf_model.set_weights(keras_model.get_weights())
    assert all(w.dtype == np.float32 for w in tf_model.get_weights())  # variables stay float32

    keras_out, tf_out = keras_model(x, training=False), tf_model(x, training=False)
    assert keras_out.dtype == tf_out.dtype == tf.bfloat16
    np.testing.assert_array_equal(np.float32(tf_out), np.float32(keras_out))

    with tf.GradientTape() as tape:
        keras_loss = keras_model.compute_loss(x=x, y=y, y_pred=keras_model(x, training=False), training=False)
    keras_grads = tape.gradient(keras_loss, keras_model.trainable_weights)
    with tf.GradientTape() as tape:
        tf_loss = tf_supervised.loss_fn(tf_model, x, y, training=False)
    tf_grads = tape.gradient(tf_loss, tf_model.trainable_weights)
    assert tf_loss.dtype == tf.float32
    np.testing.assert_allclose(float(tf_loss), float(keras_loss), rtol=2**-8)
    for keras_grad, tf_grad in zip(keras_grads, tf_grads):
        scale = np.abs(np.float32(keras_grad)).max()
        assert scale > 0
        assert np.abs(np.float32(tf_grad) - np.float32(keras_grad)).max() <= GRADIENT_TOLERANCE * scale


@pytest.mark.slow
def test_cnn_learns_in_bfloat16_in_both():
    spec = registry.get("cnn")
    report = compare.compare("cnn", seeds=2, overrides={"precision": "mixed_bfloat16"}, verbose=False)
    print("\n" + compare.table(report))
    for impl, summary in report["impls"].items():
        assert summary["clears_floor"], f"{impl}: {[run['metric'] for run in summary['runs']]} < {spec.floor}"
    assert report["parity"]["passed"]


def test_unsupported_precision_is_refused_clearly():
    with pytest.raises(ConfigError, match="not available for lstm"):
        registry.get("lstm").check(registry.get("lstm").config_class(precision="mixed_bfloat16"))
    with pytest.raises(ConfigError, match="not available for cnn"):
        registry.get("cnn").check(registry.get("cnn").config_class(precision="mixed_float16"))
    with pytest.raises(ConfigError, match="precision must be one of"):
        registry.get("cnn").config_class(precision="float8")
