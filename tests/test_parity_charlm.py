"""charlm, the character-level language model: parity at all four levels, decoding, its data and its commands.

1. Shape: parameter counts equal, and pinned in PARAM_COUNTS (each cell, one and two layers).
2. Function: Keras weights transplanted into the tf_impl model give the same logits at every
   step, the same loss (the mean over real characters) and the same gradients (1e-5), on a
   batch of strings of different lengths (padding masked); in bfloat16 and float16 too.
3. Optimisation: from the same weights, 20 Adam steps on the same padded batches give the same
   losses and weights (1e-4); in mixed_float16 through both LossScaleOptimizers too (with overflows).
   Decoding: each side's step function gives its own teacher-forced logits one character at a time,
   and from transplanted weights greedy decoding, beam search and sampling with the same injected
   uniforms give the same ids on both sides.
4. Learning: tests/test_learning.py runs `twinnets compare charlm` (ce_over_optimum within 3% of the
   exact optimum, the registry's floor); here the same runs must generate strings the grammar accepts
   (ACCEPTANCE_FLOOR) on both sides.
Plus training on text, `twinnets generate` after `twinnets train --checkpoint-dir`, and bad input. The data:
tests/data/test_reber.py (the grammar, its acceptor and optimum), tests/data/test_characters.py (text files,
tiny_shakespeare).
"""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import charlm, decoding, evaluate, registry
from common import data as data_module
from common import twinnets
from common.data.tasks import reber
from common.vocabulary import Vocabulary
from conftest import build_keras_optimizer, learning_group, run_main
from keras_impl import charlm as keras_charlm
from keras_impl import supervised as keras_supervised
from tf_impl import charlm as tf_charlm
from tf_impl import layers, optim

SPEC = registry.get("charlm")
ACCEPTANCE_FLOOR = 0.98  # the issue's: both sides' generated strings, the share the grammar accepts
VOCABULARY = 10  # reber's 7 symbols and the 3 reserved ids

VARIANTS = {
    "lstm": {},
    "gru": {"cell": "gru"},
    "rnn": {"cell": "rnn"},
    "two_lstm": {"layers": 2, "units": 16},
}
# (variant, vocabulary size) -> parameters. Embedding V*E; a layer of u units on f inputs: g*(f*u + u*u) weights and
# g*u biases (g = 4 lstm, 3 gru with a (2, 3u) bias, 1 rnn); the head u*V + V.
PARAM_COUNTS = {
    ("lstm", VOCABULARY): 10 * 8 + 4 * (8 * 64 + 64 * 64 + 64) + 64 * 10 + 10,  # 19,418: the default on reber
    ("gru", VOCABULARY): 10 * 8 + 3 * (8 * 64 + 64 * 64) + 2 * 3 * 64 + 64 * 10 + 10,  # 14,938
    ("rnn", VOCABULARY): 10 * 8 + (8 * 64 + 64 * 64 + 64) + 64 * 10 + 10,  # 5,402
    ("two_lstm", VOCABULARY): 10 * 8 + 4 * (8 * 16 + 16 * 16 + 16) + 4 * (16 * 16 + 16 * 16 + 16) + 16 * 10 + 10,
    ("lstm", 65): 65 * 8 + 4 * (8 * 64 + 64 * 64 + 64) + 64 * 65 + 65,  # tiny_shakespeare's 65 characters: 23,433
}


def config_of(variant="lstm", **fields):
    return SPEC.config_class(**{**VARIANTS[variant], **fields})


def transplanted(config, vocabulary=VOCABULARY, noise=0.0):
    """The Keras model (seeded) and the tf_impl model holding its weights (plus noise: peaked distributions)."""
    keras.utils.set_random_seed(0)
    with keras_supervised.precision(config.precision):
        keras_model = keras_charlm.build(config, (None,), vocabulary)
    with layers.precision(config.precision):
        tf_model = tf_charlm.build(config, (None,), vocabulary)
    if noise:
        rng = np.random.default_rng(1)
        keras_model.set_weights([w + rng.normal(0, noise, w.shape).astype(np.float32) for w in keras_model.get_weights()])
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model


def reber_batch(count=16, offset=0):
    data = data_module.load("reber")
    return data.x_train[offset:offset + count], data.y_train[offset:offset + count]


# --- level 1: shape ---


@pytest.mark.parametrize("variant,vocabulary", list(PARAM_COUNTS))
def test_level1_parameter_counts(variant, vocabulary):
    keras_model, tf_model = transplanted(config_of(variant), vocabulary)
    assert keras_model.count_params() == tf_model.count_params() == PARAM_COUNTS[(variant, vocabulary)]
    assert [w.shape for w in keras_model.get_weights()] == [w.shape for w in tf_model.get_weights()]


# --- level 2: function ---


def test_the_loss_is_the_mean_over_real_characters():
    """Both losses equal the hand-computed mean over y != 0 (padding in neither the sum nor the count)."""
    x, y = reber_batch()
    assert (y == 0).sum() > 0 and len({int((row != 0).sum()) for row in y}) > 3  # padded, of different lengths
    keras_model, tf_model = transplanted(config_of())
    logits = keras_model(x).numpy().astype(np.float64)
    log_probs = logits - logits.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    picked = np.take_along_axis(log_probs, y[..., None].astype(int), -1)[..., 0]
    expected = -picked[y != 0].mean()
    keras_loss = float(keras_model.compute_loss(x=x, y=y, y_pred=keras_model(x), training=False))
    tf_loss = float(tf_charlm.loss_fn(tf_model, x, y))
    np.testing.assert_allclose([keras_loss, tf_loss], [expected, expected], rtol=1e-6)


def function_parity(keras_model, tf_model, x, y, exact_dtype=None):
    keras_logits, tf_logits = keras_model(x, training=False), tf_model(x, training=False)
    assert keras_logits.shape == tf_logits.shape == (*x.shape, keras_logits.shape[-1])
    if exact_dtype is None:
        np.testing.assert_allclose(tf_logits.numpy(), keras_logits.numpy(), atol=1e-5, rtol=1e-5)
    else:  # mixed precision: the same ops in the same order, bit-identical in the compute dtype
        assert keras_logits.dtype == tf_logits.dtype == exact_dtype
        np.testing.assert_array_equal(np.float32(tf_logits), np.float32(keras_logits))
    with tf.GradientTape() as tape:
        keras_loss = keras_model.compute_loss(x=x, y=y, y_pred=keras_model(x, training=False), training=False)
    keras_grads = tape.gradient(keras_loss, keras_model.trainable_weights)
    with tf.GradientTape() as tape:
        tf_loss = tf_charlm.loss_fn(tf_model, x, y)
    tf_grads = tape.gradient(tf_loss, tf_model.trainable_weights)
    assert tf_loss.dtype == keras_loss.dtype == tf.float32
    np.testing.assert_allclose(float(tf_loss), float(keras_loss), atol=1e-5, rtol=1e-5)
    assert len(tf_grads) == len(keras_grads)
    ulp = {None: 0.0, tf.bfloat16: 2**-7, tf.float16: 2**-10}[exact_dtype]
    for keras_grad, tf_grad, weight in zip(keras_grads, tf_grads, keras_model.trainable_weights):
        keras_grad, tf_grad = np.float32(tf.convert_to_tensor(keras_grad)), np.float32(tf.convert_to_tensor(tf_grad))
        scale = np.abs(keras_grad).max()
        assert scale > 0, f"{weight.path}: zero gradient proves nothing"
        if exact_dtype is None:
            np.testing.assert_allclose(tf_grad, keras_grad, atol=1e-5, rtol=1e-5, err_msg=weight.path)
        else:
            assert np.abs(tf_grad - keras_grad).max() <= ulp * scale, weight.path


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_level2_padded_strings_after_transplant(variant):
    x, y = reber_batch()
    function_parity(*transplanted(config_of(variant), noise=0.1), x, y)


@pytest.mark.parametrize("precision,dtype", [("mixed_bfloat16", tf.bfloat16), ("mixed_float16", tf.float16)])
def test_level2_mixed_precision(precision, dtype):
    x, y = reber_batch()
    function_parity(*transplanted(config_of(precision=precision), noise=0.1), x, y, exact_dtype=dtype)


# --- level 3: optimisation ---


@pytest.mark.parametrize("variant", ["lstm"])  # the GRU's and the simple RNN's steps: tests/test_parity_recurrent.py
def test_level3_twenty_adam_steps_on_padded_batches(variant):
    config = config_of(variant, learning_rate_schedule="constant")  # the steps (the schedules: tests/test_schedules.py)
    keras_model, tf_model = transplanted(config)
    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    spec = (tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.int32))
    tf_step = tf_charlm.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec)
    build_keras_optimizer(keras_model)  # traced once, as in fit
    initial = keras_model.get_weights()
    keras_losses, tf_losses = [], []
    for index in range(20):
        x, y = reber_batch(16, offset=16 * index)
        keras_losses.append(keras_model.train_on_batch(x, y, return_dict=True)["loss"])
        tf_losses.append(float(tf_step(x, y)[0]))
    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    assert moved > 1e-2, f"the weights barely moved ({moved:.1e}): the comparison would be vacuous"
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-4, rtol=1e-4)
    for keras_weight, tf_weight in zip(keras_model.get_weights(), tf_model.get_weights()):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("scaling", ["overflowing"])  # steps skipped on overflow and applied, the scale halved and grown
def test_level3_float16_steps_with_loss_scaling(scaling):
    """mixed_float16: 20 steps through each side's LossScaleOptimizer, the float16 gradients of the embedding (sparse)
    and the LSTM unscaled alike; the same losses, weights and loss scales (tests/test_precision.py's check; measured:
    bit-identical weights after 20 steps, once the head's matmul is Keras's tensordot, tf_impl/charlm.py)."""
    from test_precision import assert_same_float16_steps, loss_scaling

    config = config_of(precision="mixed_float16", learning_rate_schedule="constant", units=16)
    keras_model, tf_model = transplanted(config)
    tf_optimizer = loss_scaling(keras_model, config, scaling)
    tf_optimizer.build(tf_model.trainable_weights)
    spec = (tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.int32))
    tf_step = tf_charlm.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec)
    batches = [reber_batch(16, offset=16 * index) for index in range(20)]
    assert_same_float16_steps(keras_model, tf_model, tf_optimizer, lambda x, y: tf_step(x, y)[0], batches, scaling)


# --- decoding: step functions, greedy, beam search, sampling ---


@pytest.mark.parametrize("variant", ["lstm", "two_lstm", "gru"])
def test_step_functions_replay_the_teacher_forced_logits(variant):
    """Fed a string one character at a time, each side's step gives the log-softmax of its own full-sequence logits."""
    x, _ = reber_batch(8)
    keras_model, tf_model = transplanted(config_of(variant), noise=0.1)
    keras_steps = keras_charlm.step_function(keras_model)
    for model, (step, initial_state) in ((keras_model, keras_steps), (tf_model, tf_charlm.step_function(tf_model))):
        expected = tf.nn.log_softmax(tf.cast(model(x), tf.float32)).numpy()  # (batch, time, vocabulary)
        state = initial_state(len(x))
        for t in range(8):  # every row is real for 8 steps at least
            log_probs, state = step(x[:, t], state)
            np.testing.assert_allclose(log_probs, expected[:, t], atol=1e-5)


def test_greedy_beam_and_sampling_give_the_same_ids_on_both_sides():
    keras_model, tf_model = transplanted(config_of(), noise=0.5)
    steps = [keras_charlm.step_function(keras_model), tf_charlm.step_function(tf_model)]
    starts = np.array([Vocabulary.START, 3, 4, 5, 6, 7], np.int32)
    greedy = [decoding.greedy(step, initial(6), starts, Vocabulary.END, 25) for step, initial in steps]
    beams = [decoding.beam_search(step, initial(6), starts, Vocabulary.END, 3, 25) for step, initial in steps]
    uniforms = decoding.uniforms(7, 6, 40)
    samples = [decoding.sample(step, initial(6), starts, 40, 0.8, uniforms, end_id=Vocabulary.END)
               for step, initial in steps]
    assert greedy[0] == greedy[1] and beams[0] == beams[1] and samples[0] == samples[1]
    assert len({tuple(row) for row in samples[0]}) > 3  # not one string over and over: the comparison means something
    assert beams[0] != greedy[0] or any(len(row) > 1 for row in beams[0])


def test_sampled_texts_and_acceptance_agree_from_transplanted_weights():
    data = data_module.load("reber")
    keras_model, tf_model = transplanted(config_of(), noise=0.5)
    config = config_of(samples=20)
    texts = [charlm.acceptance_texts(*module.step_function(model), data, config)
             for module, model in ((keras_charlm, keras_model), (tf_charlm, tf_model))]
    assert texts[0] == texts[1] and all(text.startswith("B") for text in texts[0])


# --- level 4: what the learning runs generate ---


@pytest.mark.learning
@learning_group("charlm")
def test_level4_both_generate_strings_the_grammar_accepts(learned):
    """The runs of test_learning.py's level 4 (shared): the acceptance floor on every seed of both sides."""
    report = learned("charlm")
    for impl, summary in report["impls"].items():
        shares = [run["metrics"]["acceptance"] for run in summary["runs"]]
        print(impl, "acceptance", shares, "ce_over_optimum", [run["metric"] for run in summary["runs"]])
        assert min(shares) >= ACCEPTANCE_FLOOR, f"{impl}: acceptance {shares} under {ACCEPTANCE_FLOOR}"


# --- the metrics (the grammar and its optimum: tests/data/test_reber.py) ---


def test_generated_texts_stop_at_the_end_id_and_mark_what_no_grammar_accepts():
    vocabulary = Vocabulary("BEPSTVX")
    assert charlm.text_of(vocabulary, [3, 4, Vocabulary.END, 5]) == ("BE", True)
    assert charlm.text_of(vocabulary, [3, Vocabulary.PAD, 4]) == ("B" + charlm.UNREADABLE + "E", False)
    assert evaluate.acceptance(reber.EmbeddedReber(), ["BTBTXSETE", "BTBTXSETE" + charlm.UNREADABLE]) == 0.5


# --- real text (its loading: tests/data/test_characters.py) ---


def test_a_short_training_on_text_reports_bits_per_character(capsys, tmp_path):
    path = tmp_path / "song.txt"
    path.write_text("la la land, la la la. " * 40, encoding="utf-8")
    for impl in ("keras", "tf"):
        code = twinnets.main(["train", "charlm", "--impl", impl, "--dataset", str(path), "--sequence-length", "20",
                              "--units", "8", "--epochs", "1", "--quiet", "--out", str(tmp_path / impl)])
        assert code == 0, capsys.readouterr().err
        written = json.loads((tmp_path / impl / "metrics.json").read_text())
        assert written["metric"] == "bits_per_character" and written["floor"] is None
        assert set(written["metrics"]) == {"cross_entropy", "bits_per_character"}
        assert Vocabulary.load(str(tmp_path / impl / charlm.VOCABULARY_FILE)).characters == "".join(sorted(set("la land,.")))


# --- train --checkpoint-dir, resume, TensorBoard, generate ---


TRAINED = pytest.mark.xdist_group("charlm-trained")  # the tests of the module's `trained` fixture: one worker trains


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Both sides trained 1 epoch into checkpoint dirs with TensorBoard logs, then resumed for a second."""
    from test_tensorboard import scalars

    root = tmp_path_factory.mktemp("charlm")
    for impl in ("keras", "tf"):
        for epochs in ("1", "2"):
            # constant rate: a cosine's checkpoint is tied to its number of epochs (common/checkpoints.py)
            code = twinnets.main(["train", "charlm", "--impl", impl, "--epochs", epochs, "--learning-rate-schedule",
                                  "constant", "--samples", "20", "--quiet", "--checkpoint-dir",
                                  str(root / f"ckpt-{impl}"), "--tensorboard", str(root / f"tb{epochs}"),
                                  "--out", str(root / f"{impl}-{epochs}")])
            assert code == 0
    return root, scalars


@TRAINED
def test_checkpoints_resume_and_tensorboard_match(trained):
    root, scalars = trained
    for impl in ("keras", "tf"):
        one = json.loads((root / f"{impl}-1" / "metrics.json").read_text())["history"]["loss"]
        two = json.loads((root / f"{impl}-2" / "metrics.json").read_text())["history"]["loss"]
        assert len(two) == 2 and two[:1] == one  # resumed after epoch 1, not retrained
    keras_scalars, tf_scalars = scalars(str(root / "tb1" / "keras")), scalars(str(root / "tb1" / "tf"))
    assert sorted(keras_scalars) == sorted(tf_scalars)
    assert {("train", "epoch_loss"), ("validation", "epoch_loss")} <= set(keras_scalars)


@TRAINED
def test_generate_after_train_prints_text_from_both(capsys, trained):
    root, _ = trained
    for impl in ("keras", "tf"):
        argv = ["generate", "charlm", "--impl", impl, "--checkpoint-dir", str(root / f"ckpt-{impl}"), "--prompt", "BT",
                "--length", "30", "--temperature", "0.8", "--seed", "1"]
        code, out, err = run_main(capsys, argv)
        assert code == 0, err
        assert out.startswith("BT") and set(out.strip()) <= set(reber.SYMBOLS)
        assert run_main(capsys, argv)[1] == out  # the seed fixes the text
        assert run_main(capsys, argv[:-1] + ["2"])[0] == 0


@TRAINED
def test_the_checkpoint_holds_the_trained_model(trained):
    """The Keras and tf models restored by generate hold the weights each training run ended with."""
    from common.results import load_weights

    root, _ = trained
    config = SPEC.config_class()
    for module, impl in ((keras_charlm, "keras"), (tf_charlm, "tf")):
        restored = module.restore(config, VOCABULARY, str(root / f"ckpt-{impl}"))
        for saved, weight in zip(load_weights(str(root / f"{impl}-2" / "weights.npz")), restored.get_weights()):
            np.testing.assert_array_equal(saved, weight)


def not_utf8(tmp):
    path = tmp / "latin1.txt"
    path.write_bytes("café crème brûlée, ".encode("latin-1") * 5)
    return str(path)


def text_file(tmp, name, content):
    path = tmp / name
    path.write_text(content, encoding="utf-8")
    return str(path)


BAD_TRAINING = {
    "empty text file": (lambda tmp: ["--dataset", text_file(tmp, "empty.txt", "")], "empty.txt holds 0 characters"),
    "one-character text file": (lambda tmp: ["--dataset", text_file(tmp, "one.txt", "a")], "one.txt holds 1 character:"),
    "text that is not UTF-8": (lambda tmp: ["--dataset", not_utf8(tmp)], "latin1.txt is not UTF-8 text (byte 0xe9"),
    "missing text file": (lambda tmp: ["--dataset", str(tmp / "absent.txt")], "no such text file"),
    "another network's data": (lambda tmp: ["--dataset", "digits"], "charlm models text"),
    "unknown cell": (lambda tmp: ["--cell", "transformer"], "cell must be one of lstm, gru, rnn"),
    "three layers": (lambda tmp: ["--layers", "3"], "layers must be 1 or 2"),
    "zero temperature": (lambda tmp: ["--temperature", "0"], "temperature must be positive"),
    "windows of one character": (lambda tmp: ["--sequence-length", "1"], "sequence-length must be at least 2"),
    "no acceptance samples": (lambda tmp: ["--samples", "0"], "samples must be at least 1"),
}


@pytest.mark.parametrize("case", list(BAD_TRAINING))
def test_bad_training_input_exits_2_with_one_line(capsys, tmp_path, case):
    make, message = BAD_TRAINING[case]
    out_dir = tmp_path / "out"
    code, _, err = run_main(capsys, ["train", "charlm", "--impl", "tf", *make(tmp_path), "--out", str(out_dir)])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not (out_dir / "metrics.json").exists()


def test_text_for_charlm_is_refused_by_other_networks(capsys, tmp_path):
    code, _, err = run_main(capsys, ["train", "lstm", "--impl", "tf", "--dataset", "reber", "--out", str(tmp_path)])
    assert code == 2 and "reber is text for the character-level language model: train charlm on it" in err


BAD_GENERATION = {
    "a prompt outside the vocabulary": (["--prompt", "BTQ"], "'Q' is not in the vocabulary"),
    "zero temperature": (["--temperature", "0"], "temperature must be positive"),
    "negative temperature": (["--temperature", "-1"], "temperature must be positive"),
    "zero length": (["--length", "0"], "length must be at least 1"),
    "negative length": (["--length", "-5"], "length must be at least 1"),
    "the other implementation's checkpoint": (["--other-impl"], "holds a charlm checkpoint of --impl"),
    "no checkpoint": (["--empty-dir"], "holds no charlm checkpoint"),
}


@TRAINED
@pytest.mark.parametrize("case", list(BAD_GENERATION))
def test_bad_generation_input_exits_2_with_one_line(capsys, tmp_path, trained, case):
    root, _ = trained
    extra, message = BAD_GENERATION[case]
    directory, impl = str(root / "ckpt-tf"), "tf"
    if extra == ["--other-impl"]:
        extra, impl = [], "keras"
    if extra == ["--empty-dir"]:
        extra, directory = [], str(tmp_path)
    code, out, err = run_main(capsys, ["generate", "charlm", "--impl", impl, "--checkpoint-dir", directory, *extra])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in err, err
    assert out == ""
