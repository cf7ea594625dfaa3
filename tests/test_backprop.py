"""backprop: the gradients tf_impl/backprop.py writes out by hand, checked three ways, and its twin parity.

- The hand-written gradients equal tf.GradientTape's on the same computation (float64, 1e-6),
  for every activation x loss, two classes (one sigmoid output) and four (softmax), one and
  two hidden layers; and central finite differences of the loss (float64, 1e-6).
- The compiled training step holds no gradient op at all: no tape differentiates it.
- Level 2 against Keras for every activation x loss: transplanted weights give the same
  logits and loss, and Keras's automatic gradients equal the hand-written ones (1e-5).
- Level 3 for each activation and each loss: 20 optimizer steps of Keras's train_on_batch and of the
  hand-written step from the same weights, same losses and weights (1e-4).
  (tests/test_parity.py runs levels 1-3 on the defaults too, through backprop's own step.)
- Learning (level 4 on moons is tests/test_learning.py, on the same shared runs): moons needs
  the hidden layer, and both implementations clear the digits floor and agree there.
"""
import ast
import inspect
import itertools

import numpy as np
import pytest
import tensorflow as tf

from common import configs, registry
from common import data as data_module
from conftest import learning_group
from tf_impl import backprop, optim
from tf_impl import supervised as tf_supervised

ACTIVATIONS = configs.ACTIVATIONS
LOSSES = configs.BACKPROP_LOSSES
# (input features, hidden units, classes): one sigmoid output and one hidden layer; softmax over 4, two hidden
SHAPES = {"binary-1-hidden": (2, (8,), 2), "softmax-2-hidden": (3, (5, 4), 4)}


def float64_problem(activation, loss, shape, seed=0):
    """Weights (the network's own initial ones, moved off their zero biases), inputs and labels, in float64."""
    features, hidden, classes = SHAPES[shape]
    config = configs.BackpropConfig(hidden_units=hidden, activation=activation, loss=loss, seed=seed)
    rng = np.random.default_rng(seed)
    initial = backprop.build(config, (features,), classes).get_weights()
    weights = [tf.Variable(w.astype(np.float64) + rng.normal(0.0, 0.3, w.shape)) for w in initial]
    x = tf.constant(rng.normal(size=(16, features)))
    y = tf.constant(np.arange(16) % classes)  # every class present
    return weights, x, y


def taped(weights, x, y, activation, loss):
    """The same loss differentiated by automatic differentiation."""
    with tf.GradientTape() as tape:
        pre_activations, _ = backprop.forward(weights, x, activation)
        value = tf.reduce_mean(backprop.per_example_loss(pre_activations[-1], y, loss))
    return value, tape.gradient(value, weights)


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("activation,loss", list(itertools.product(ACTIVATIONS, LOSSES)))
def test_hand_gradients_equal_gradient_tape(activation, loss, shape):
    weights, x, y = float64_problem(activation, loss, shape)
    hand_loss, hand = backprop.loss_and_gradients(weights, x, y, activation, loss)
    tape_loss, tape = taped(weights, x, y, activation, loss)
    assert hand_loss.dtype == tf.float64
    np.testing.assert_allclose(float(hand_loss), float(tape_loss), rtol=1e-12)
    assert len(hand) == len(tape) == len(weights)
    for index, (mine, automatic) in enumerate(zip(hand, tape)):
        assert mine.shape == automatic.shape
        assert np.abs(automatic.numpy()).max() > 1e-4, f"weight {index}: a vanishing gradient proves nothing"
        np.testing.assert_allclose(mine.numpy(), automatic.numpy(), atol=1e-6, rtol=1e-6, err_msg=f"weight {index}")


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("activation,loss", list(itertools.product(ACTIVATIONS, LOSSES)))
def test_hand_gradients_equal_finite_differences(activation, loss, shape):
    """dL/dw ~ (L(w + h) - L(w - h)) / 2h, every entry of every weight, float64, h = 1e-6.

    Central differences err by O(h^2) plus rounding ~1e-16 / h = 1e-10: far below 1e-6. A relu kink
    within h of a pre-activation would break the check; none of these random inputs comes that close
    (checked below, not assumed).
    """
    weights, x, y = float64_problem(activation, loss, shape, seed=1)
    if activation == "relu":
        pre_activations, _ = backprop.forward(weights, x, activation)
        assert min(float(tf.reduce_min(tf.abs(z))) for z in pre_activations[:-1]) > 1e-4
    _, hand = backprop.loss_and_gradients(weights, x, y, activation, loss)
    h = 1e-6

    def loss_at(arrays):
        pre_activations, _ = backprop.forward([tf.constant(a) for a in arrays], x, activation)
        return float(tf.reduce_mean(backprop.per_example_loss(pre_activations[-1], y, loss)))

    arrays = [w.numpy() for w in weights]
    for index, array in enumerate(arrays):
        numeric = np.zeros_like(array)
        for position in np.ndindex(array.shape):
            saved = array[position]
            array[position] = saved + h
            above = loss_at(arrays)
            array[position] = saved - h
            below = loss_at(arrays)
            array[position] = saved
            numeric[position] = (above - below) / (2 * h)
        assert np.abs(numeric).max() > 1e-4, f"weight {index}: a vanishing gradient proves nothing"
        np.testing.assert_allclose(hand[index].numpy(), numeric, atol=1e-6, rtol=1e-6, err_msg=f"weight {index}")


def gradient_op_types(step, spec):
    """The op types of a compiled step's graph, functions it calls included, that compute gradients."""
    graph = step.get_concrete_function(*spec).graph
    types = {op.type for op in graph.get_operations()}
    for function in graph.as_graph_def().library.function:
        types |= {node.op for node in function.node_def}
    return sorted(t for t in types if t.endswith("Grad") or "Gradient" in t)


def test_the_training_step_computes_no_automatic_gradient():
    """No tape anywhere in the module, and its compiled step holds no gradient op (TanhGrad, BiasAddGrad, ...):
    every derivative in it is the forward ops of the hand-written formulas. tf_impl.supervised's taped step,
    the control, does hold them, so the check can fail."""
    calls = [node for node in ast.walk(ast.parse(inspect.getsource(backprop)))
             if isinstance(node, ast.Attribute) and node.attr in ("GradientTape", "gradients", "gradient")]
    assert calls == [], [node.lineno for node in calls]
    config = configs.BackpropConfig(hidden_units=(8, 8))
    spec = (tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None], tf.int32))
    steps = {}
    for name, make_step in (("hand", backprop.make_train_step), ("taped", tf_supervised.make_train_step)):
        model = backprop.build(config, (2,), 2)
        optimizer = optim.from_config(config)
        optimizer.build(model.trainable_weights)
        steps[name] = gradient_op_types(make_step(model, optimizer, tf.distribute.get_strategy(), spec), spec)
    assert steps["hand"] == []
    assert {"TanhGrad", "BiasAddGrad"} <= set(steps["taped"]), steps["taped"]


# --- parity with the Keras twin, for every activation and loss ---


def twins(config, input_shape, num_classes):
    import keras

    from keras_impl import backprop as keras_backprop

    keras.utils.set_random_seed(0)
    keras_model = keras_backprop.build(config, input_shape, num_classes)
    tf_model = backprop.build(config, input_shape, num_classes)
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model


DATASETS = {"moons": "moons", "digits": "digits"}  # one sigmoid output; softmax over ten


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("activation,loss", list(itertools.product(ACTIVATIONS, LOSSES)))
def test_level2_keras_autodiff_equals_hand_gradients(activation, loss, dataset):
    config = configs.BackpropConfig(activation=activation, loss=loss, hidden_units=(16, 8))
    data = data_module.load(dataset)
    x, y = data.x_train[:64], data.y_train[:64]
    keras_model, tf_model = twins(config, data.info.input_shape, data.info.num_classes)
    np.testing.assert_allclose(tf_model(x).numpy(), keras_model(x, training=False).numpy(), atol=1e-5, rtol=1e-5)
    with tf.GradientTape() as tape:
        keras_loss = keras_model.compute_loss(x=x, y=y, y_pred=keras_model(x, training=False), training=False)
    keras_grads = tape.gradient(keras_loss, keras_model.trainable_weights)
    tf_loss, hand = backprop.loss_and_gradients(tf_model.trainable_weights, x, y, activation, loss)
    np.testing.assert_allclose(float(tf_loss), float(keras_loss), atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(float(backprop.loss_fn(tf_model, x, y)), float(keras_loss), atol=1e-6, rtol=1e-5)
    for keras_grad, mine, weight in zip(keras_grads, hand, keras_model.trainable_weights):
        assert np.abs(keras_grad.numpy()).max() > 0, f"{weight.path}: zero gradient proves nothing"
        np.testing.assert_allclose(mine.numpy(), keras_grad.numpy(), atol=1e-5, rtol=1e-5, err_msg=weight.path)


def windows(x, y, steps=20, batch_size=32):
    return [(np.take(x, np.arange(i * batch_size, (i + 1) * batch_size), axis=0, mode="wrap"),
             np.take(y, np.arange(i * batch_size, (i + 1) * batch_size), mode="wrap")) for i in range(steps)]


@pytest.mark.parametrize("activation,loss,dataset", [("relu", "cross_entropy", "digits"), ("sigmoid", "squared_error", "moons"),
                                                      ("tanh", "squared_error", "digits")])
def test_level3_twenty_steps_of_the_hand_written_step(activation, loss, dataset):
    """Keras's train_on_batch (autodiff + Adam) and backprop's step (hand gradients + tf_impl Adam), same batches.

    Every activation once, each loss, both outputs (sigmoid on moons, softmax on digits); the default
    (tanh, cross-entropy, moons) with Adam and SGD is tests/test_parity.py's level 3, through the same step.
    Every activation x loss has its gradients checked against Keras's above: the steps add the optimizer.
    """
    config = configs.BackpropConfig(activation=activation, loss=loss, hidden_units=(16, 8))
    data = data_module.load(dataset)
    keras_model, tf_model = twins(config, data.info.input_shape, data.info.num_classes)
    optimizer = optim.from_config(config)
    optimizer.build(tf_model.trainable_weights)
    spec = (tf.TensorSpec([None, *data.info.input_shape], tf.float32), tf.TensorSpec([None], tf.int32))
    step = backprop.make_train_step(tf_model, optimizer, tf.distribute.get_strategy(), spec)
    initial = keras_model.get_weights()
    keras_losses, tf_losses = [], []
    for x, y in windows(data.x_train, data.y_train):
        keras_losses.append(keras_model.train_on_batch(x, y, return_dict=True)["loss"])
        tf_losses.append(float(step(x, y)[0]))
    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    assert moved > 1e-3, f"the weights barely moved ({moved:.1e}): the comparison would be vacuous"
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-4, rtol=1e-4)
    for keras_weight, tf_weight in zip(keras_model.get_weights(), tf_model.get_weights()):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=1e-4, rtol=1e-4)


# --- configuration and bad input ---


@pytest.mark.parametrize("overrides,message", [
    ({"hidden_units": ()}, "hidden-units must name one or two hidden layers, got 0"),
    ({"hidden_units": (8, 8, 8)}, "hidden-units must name one or two hidden layers, got 3"),
    ({"hidden_units": (8, 0)}, "hidden-units must hold positive sizes"),
    ({"loss": "hinge"}, "loss must be one of cross_entropy, squared_error, got 'hinge'"),
    ({"activation": "gelu"}, "activation must be one of relu, tanh, sigmoid"),
])
def test_bad_config_is_refused(overrides, message):
    with pytest.raises(configs.ConfigError, match=message):
        configs.BackpropConfig(**overrides)


@pytest.mark.parametrize("impl", ["keras", "tf"])
@pytest.mark.parametrize("argv,message", [
    (["--loss", "hinge"], "loss must be one of cross_entropy, squared_error"),
    (["--hidden-units", "8,8,8"], "hidden-units must name one or two hidden layers"),
    (["--precision", "mixed_float16"], "precision mixed_float16 is not available for backprop"),
    (["--dataset", "adding:5"], "backprop classifies"),
])
def test_cli_bad_input_is_one_line_and_exit_2(capsys, tmp_path, impl, argv, message):
    from common import twinnets

    out = tmp_path / "out"
    try:
        code = twinnets.main(["train", "backprop", "--impl", impl, "--epochs", "1", *argv, "--out", str(out)])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err and "Traceback" not in err, err
    assert not out.exists() or list(out.iterdir()) == []


def test_a_resumed_run_ends_as_an_uninterrupted_one(capsys, tmp_path):
    """tf_impl: 2 epochs with --checkpoint-dir, then the same command for 3: the weights, the optimizer's moments and
    the data order come back, so history and test metrics are those of 3 epochs in one go. (Keras's side is fit's
    shared checkpoint callback, keras_impl/supervised.py, checked with the other networks.)"""
    import json

    from common import twinnets

    argv = ["train", "backprop", "--impl", "tf", "--hidden-units", "8,8", "--quiet"]
    for epochs, folder, checkpoint in (("2", "first", ["--checkpoint-dir", str(tmp_path / "ckpt")]),
                                       ("3", "resumed", ["--checkpoint-dir", str(tmp_path / "ckpt")]),
                                       ("3", "whole", [])):
        assert twinnets.main(argv + ["--epochs", epochs, *checkpoint, "--out", str(tmp_path / folder)]) == 0
    capsys.readouterr()
    resumed, whole = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("resumed", "whole"))
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(resumed["history"][name]) == 3
        np.testing.assert_allclose(resumed["history"][name], whole["history"][name], rtol=1e-6, err_msg=name)
    np.testing.assert_allclose(resumed["metrics"]["log_loss"], whole["metrics"]["log_loss"], rtol=1e-6)


class BenchCalled(Exception):
    pass


@pytest.mark.parametrize("precision,expected", [("float32", True), ("mixed_bfloat16", False)])
def test_bench_all_leaves_backprop_out_only_where_it_cannot_run(monkeypatch, capsys, tmp_path, precision, expected):
    """`twinnets bench all --precision mixed_bfloat16` benches every other network, and says backprop is left out."""
    from common import bench, twinnets

    def record(networks, **options):
        raise BenchCalled(networks)

    monkeypatch.setattr(bench, "bench", record)
    with pytest.raises(BenchCalled) as called:
        twinnets.main(["bench", "all", "--precision", precision, "--json", str(tmp_path / "b.json"),
                       "--plot", str(tmp_path / "b.png")])
    (networks,) = called.value.args
    assert ("backprop" in networks) == expected
    assert set(networks) == {name for name, spec in registry.NETWORKS.items() if precision in spec.precisions}
    left_out = [line for line in capsys.readouterr().out.splitlines() if "left out:" in line]
    assert ("backprop" in "".join(left_out)) != expected


# --- learning (shared runs) ---


@pytest.mark.learning
@learning_group("backprop")
def test_moons_needs_the_hidden_layer(learned):
    """The best line (scikit-learn's logistic regression, fitted to convergence) scores 0.885 on the moons test
    split; every run of both implementations beats it by more than the floor's margin."""
    from sklearn.linear_model import LogisticRegression

    data = data_module.load("moons")
    linear = LogisticRegression().fit(data.x_train, data.y_train).score(data.x_test, data.y_test)
    spec = registry.get("backprop")
    assert linear < spec.floor
    report = learned("backprop", seeds=3)
    for impl, summary in report["impls"].items():
        worst = min(run["metric"] for run in summary["runs"])
        assert worst >= linear + 0.04, (impl, worst, linear)  # 8 of the 200 test points more than any line


@pytest.mark.learning
@learning_group("backprop")
def test_both_learn_digits_and_agree(learned):
    spec = registry.get("backprop")
    report = learned("backprop", seeds=3, dataset="digits")
    assert report["floor"] == spec.other_floors["digits"]
    for impl, summary in report["impls"].items():
        assert summary["clears_floor"], (impl, [run["metric"] for run in summary["runs"]])
    assert report["parity"]["passed"], report["parity"]
