"""Parity for seq2seq, the LSTM encoder-decoder with attention (DESIGN.md, "What parity means"), and its data.

1. Shape: parameter counts equal, in the same Keras order, and pinned (PARAM_COUNTS).
2. Function: Keras weights transplanted into tf_impl give the same teacher-forced logits, loss
   and gradients (1e-5), attention on and off, on a batch whose sources and targets have
   different lengths; the encoder's padding changes neither its final state nor attention.
3. Optimisation: 20 Adam steps from the same weights on the same batches of dates, same
   losses and weights (1e-4).
   Decoding: from transplanted weights, greedy decoding, beam search and sampling with an
   injected random stream give identical ids on both sides (common/decoding.py, each side's step).
4. Learning: tests/test_learning.py (dates, seeds 0-1: conftest.SUITE_SEEDS; exact match floor 0.95); the attention
   figure and translations of those same runs are checked here.
Also: the dates split, the .tsv source, the metrics, bad input, checkpoints and TensorBoard.
"""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import configs, decoding, evaluate, plots, registry, seq2seq
from common import data as data_module
from common.data.tasks import dates
from common.vocabulary import Vocabulary
from conftest import build_keras_optimizer, generated_pairs, learning_group, pairs_file, run_main
from keras_impl import seq2seq as keras_seq2seq
from tf_impl import optim
from tf_impl import seq2seq as tf_seq2seq

SOURCE_VOCABULARY, TARGET_VOCABULARY = 50, 14  # the dates task's: 47 source characters, 11 target ones, + 3 reserved

# Pinned: a change to the architecture must show here. Default config (units 64, embedding 16):
# embeddings 50*16 = 800 and 14*16 = 224; each LSTM 4*(16*64 + 64*64 + 64) = 20736;
# attention's combining layer (2*64)*64 + 64 = 8256; the logits 64*14 + 14 = 910.
PARAM_COUNTS = {True: 800 + 224 + 2 * 20736 + 8256 + 910, False: 800 + 224 + 2 * 20736 + 910}
TINY = {"units": 8, "embedding_dim": 4}


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(0)


def config(**overrides):
    return configs.Seq2SeqConfig(**{**TINY, **overrides})


def transplanted(config, source_vocabulary=12, target_vocabulary=9, noise=0.0):
    """(keras model, tf model) holding the same weights: Keras's, moved away from their initial values by `noise`."""
    keras_model = keras_seq2seq.build(config, source_vocabulary, target_vocabulary)
    tf_model = tf_seq2seq.build(config, source_vocabulary, target_vocabulary)
    weights = keras_model.get_weights()
    if noise:
        weights = [w + np.random.default_rng(i).normal(0, noise, w.shape).astype(w.dtype) for i, w in enumerate(weights)]
        keras_model.set_weights(weights)
    tf_model.set_weights(weights)
    return keras_model, tf_model


# Sources of 3, 6, 2 and 5 characters padded to 8; targets (ids, END, padding) of 2, 4, 1 and 3 characters.
SOURCES = np.array([[3, 4, 5, 0, 0, 0, 0, 0], [3, 4, 5, 6, 7, 8, 0, 0], [9, 10, 0, 0, 0, 0, 0, 0],
                    [11, 10, 9, 8, 7, 0, 0, 0]], np.int32)
TARGETS = np.array([[3, 4, 2, 0, 0], [3, 4, 5, 6, 2], [5, 2, 0, 0, 0], [8, 7, 6, 2, 0]], np.int32)


# --- level 1 ---


@pytest.mark.parametrize("attention", [True, False])
def test_level1_parameter_counts_pinned_and_equal(attention):
    keras_model, tf_model = transplanted(configs.Seq2SeqConfig(attention=attention), SOURCE_VOCABULARY,
                                         TARGET_VOCABULARY)
    assert keras_model.count_params() == tf_model.count_params() == PARAM_COUNTS[attention]
    assert [w.shape for w in keras_model.get_weights()] == [w.shape for w in tf_model.get_weights()]
    data = data_module.load("dates")
    assert (data.info.vocabulary_size, data.info.num_classes) == (SOURCE_VOCABULARY, TARGET_VOCABULARY)


# --- level 2 ---


@pytest.mark.parametrize("attention", [True, False])
def test_level2_logits_loss_and_gradients_after_transplant(attention):
    keras_model, tf_model = transplanted(config(attention=attention), noise=0.3)
    decoder_input = seq2seq.decoder_inputs(TARGETS).numpy()
    np.testing.assert_array_equal(decoder_input, [[1, 3, 4, 0, 0], [1, 3, 4, 5, 6], [1, 5, 0, 0, 0], [1, 8, 7, 6, 0]])
    keras_logits = keras_model([SOURCES, decoder_input], training=False)
    tf_logits = tf_model([SOURCES, decoder_input])
    np.testing.assert_allclose(tf_logits.numpy(), keras_logits.numpy(), atol=1e-5, rtol=1e-5)

    with tf.GradientTape() as tape:
        keras_loss = keras_model.compute_loss(x=[SOURCES, decoder_input], y=TARGETS,
                                              y_pred=keras_model([SOURCES, decoder_input], training=False))
    keras_grads = tape.gradient(keras_loss, keras_model.trainable_weights)
    with tf.GradientTape() as tape:
        tf_loss = tf_seq2seq.loss_fn(tf_model, SOURCES, TARGETS)
    tf_grads = tape.gradient(tf_loss, tf_model.trainable_weights)
    np.testing.assert_allclose(float(tf_loss), float(keras_loss), atol=1e-5, rtol=1e-5)
    # the loss is the mean over the 14 real target characters, padding excluded
    losses, mask = tf_seq2seq.token_losses(tf_model, SOURCES, TARGETS)
    assert float(tf.reduce_sum(mask)) == 14
    np.testing.assert_allclose(float(keras_loss), float(tf.reduce_sum(losses * mask)) / 14, rtol=1e-6)
    assert len(keras_grads) == len(tf_grads) == len(keras_model.trainable_weights)
    for keras_grad, tf_grad, weight in zip(keras_grads, tf_grads, keras_model.trainable_weights):
        keras_grad, tf_grad = tf.convert_to_tensor(keras_grad).numpy(), tf.convert_to_tensor(tf_grad).numpy()
        assert np.abs(keras_grad).max() > 0, f"{weight.path}: zero gradient proves nothing"
        np.testing.assert_allclose(tf_grad, keras_grad, atol=1e-5, rtol=1e-5, err_msg=weight.path)


def test_level2_source_padding_changes_nothing():
    """More padding after the sources: the same logits on both sides (the encoder's final state is its last real
    step's, attention gives padded steps weight 0); a real character in its place does change them."""
    keras_model, tf_model = transplanted(config(), noise=0.3)
    decoder_input = seq2seq.decoder_inputs(TARGETS).numpy()
    longer = np.pad(SOURCES, [(0, 0), (0, 5)])  # (4, 8) -> (4, 13), all padding
    for model in (keras_model, tf_model):
        np.testing.assert_allclose(np.asarray(model([longer, decoder_input])), np.asarray(model([SOURCES, decoder_input])),
                                   atol=1e-6)
        altered = SOURCES.copy()
        altered[0, 3] = 4  # the first source one character longer
        assert np.abs(np.asarray(model([altered, decoder_input]))[0] - np.asarray(model([SOURCES, decoder_input]))[0]).max() > 1e-4
    for attention in (keras_seq2seq.attention_weights(keras_model), tf_seq2seq.attention_weights(tf_model)):
        weights = attention(longer, decoder_input)  # (4, 5, 13)
        assert np.all(weights[:, :, 8:] == 0.0)
        assert np.all(weights[0, :, 3:] == 0.0) and np.all(weights[2, :, 2:] == 0.0)
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(tf_seq2seq.attention_weights(tf_model)(SOURCES, decoder_input),
                               keras_seq2seq.attention_weights(keras_model)(SOURCES, decoder_input), atol=1e-6)


# --- level 3 ---


def padded_batches(count=20, size=16, source_vocabulary=12, target_vocabulary=9):
    """Random (sources, targets) of 1-8 and 1-5 characters, padded: every step sees both masks at work."""
    rng = np.random.default_rng(4)
    batches = []
    for _ in range(count):
        source_lengths, target_lengths = rng.integers(1, 9, size=size), rng.integers(1, 6, size=size)
        sources = np.where(np.arange(8) < source_lengths[:, None], rng.integers(3, source_vocabulary, (size, 8)), 0)
        targets = np.where(np.arange(6) < target_lengths[:, None], rng.integers(3, target_vocabulary, (size, 6)), 0)
        targets[np.arange(size), target_lengths] = Vocabulary.END
        batches.append((sources.astype(np.int32), targets.astype(np.int32)))
    return batches


def test_level3_twenty_adam_steps_on_padded_pairs():
    batches = padded_batches()
    settings = config(learning_rate=3e-2)
    keras_model, tf_model = transplanted(settings)
    tf_optimizer = optim.from_config(settings)
    tf_optimizer.build(tf_model.trainable_weights)
    spec = tuple(tf.TensorSpec([None, array.shape[1]], tf.int32) for array in batches[0])
    tf_step = tf_seq2seq.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec)
    build_keras_optimizer(keras_model)  # traced once, as in fit
    initial = keras_model.get_weights()
    keras_losses, tf_losses = [], []
    for x, y in batches:
        keras_losses.append(keras_model.train_on_batch([x, seq2seq.decoder_inputs(y).numpy()], y, return_dict=True)["loss"])
        tf_losses.append(float(tf_step(x, y)[0]))
    moved = max(np.abs(a - b).max() for a, b in zip(keras_model.get_weights(), initial))
    assert moved > 1e-2, f"the weights barely moved ({moved:.1e}): the comparison would be vacuous"
    assert tf_losses[-1] < tf_losses[0]
    np.testing.assert_allclose(tf_losses, keras_losses, atol=1e-4, rtol=1e-4)
    for keras_weight, tf_weight in zip(keras_model.get_weights(), tf_model.get_weights()):
        np.testing.assert_allclose(tf_weight, keras_weight, atol=1e-4, rtol=1e-4)
    assert int(tf_optimizer.iterations) == int(keras_model.optimizer.iterations) == len(batches)


# --- decoding from transplanted weights ---


def decoders(attention):
    """(keras start, step), (tf start, step) of one model, its weights noisy and END made unlikely so that the
    decoded sequences are long and varied (an untrained model ends or repeats at once: nothing to compare)."""
    settings = config(attention=attention, units=16, max_output_length=12)
    keras_model, tf_model = transplanted(settings, noise=0.6)
    weights = keras_model.get_weights()
    weights[-1][Vocabulary.END] -= 3.0  # the logits' bias
    keras_model.set_weights(weights)
    tf_model.set_weights(weights)
    return settings, keras_seq2seq.inference(keras_model, settings), tf_seq2seq.inference(tf_model)


@pytest.mark.parametrize("attention", [True, False])
def test_greedy_beam_and_sampling_give_identical_ids(attention):
    settings, (keras_start, keras_step), (tf_start, tf_step) = decoders(attention)
    starts = np.full(len(SOURCES), Vocabulary.START, np.int32)
    found = {}
    for impl, start, step in (("keras", keras_start, keras_step), ("tf", tf_start, tf_step)):
        found[impl] = {
            "greedy": decoding.greedy(step, start(SOURCES), starts, Vocabulary.END, 12),
            "beam": decoding.beam_search(step, start(SOURCES), starts, Vocabulary.END, 3, 12),
            "sample": decoding.sample(step, start(SOURCES), starts, 12, 0.8, decoding.uniforms(5, len(SOURCES), 12),
                                      end_id=Vocabulary.END),
        }
    print(found)
    assert found["keras"] == found["tf"]
    for how, sequences in found["tf"].items():
        assert len({tuple(ids) for ids in sequences}) >= 2, f"{how}: every row decoded alike: a vacuous comparison"
        assert sum(map(len, sequences)) >= 8, f"{how}: too little decoded to compare"
    # seq2seq.translate is the search scored_result runs: greedy for beam_width 1, beam search otherwise
    assert seq2seq.translate(tf_start, tf_step, SOURCES, settings) == found["tf"]["greedy"]
    beam = seq2seq.translate(keras_start, keras_step, SOURCES, configs.Seq2SeqConfig(**TINY, attention=attention, beam_width=3,
                                                                                   max_output_length=12))
    assert beam == found["keras"]["beam"]


def test_beam_search_finds_a_higher_score_than_greedy():
    """Summed log-probabilities of each side's decoded sequences: the beam's are never below greedy's."""
    settings, _, (tf_start, tf_step) = decoders(attention=True)
    starts = np.full(len(SOURCES), Vocabulary.START, np.int32)
    greedy = decoding.greedy(tf_step, tf_start(SOURCES), starts, Vocabulary.END, 12)
    beam = decoding.beam_search(tf_step, tf_start(SOURCES), starts, Vocabulary.END, 4, 12)

    def score(row, ids):
        state, total, previous = tf_start(SOURCES[row:row + 1]), 0.0, Vocabulary.START
        for token in list(ids) + ([Vocabulary.END] if len(ids) < 12 else []):
            log_probs, state = tf_step(np.array([previous], np.int32), state)
            total, previous = total + float(log_probs[0, token]), token
        return total

    for row in range(len(SOURCES)):
        assert score(row, beam[row]) >= score(row, greedy[row]) - 1e-9


# --- level 4: what the learning runs of tests/test_learning.py also show ---


@pytest.mark.learning
@learning_group("seq2seq")
def test_learned_translations_and_attention_figure(learned, tmp_path):
    """The level-4 runs of test_learning: the figure `twinnets compare seq2seq` draws, from seed 0 of each side."""
    report = learned("seq2seq")
    figures = report["figures"]
    for impl in ("keras", "tf"):
        for source, reference, output in figures[impl]["translations"]:
            print(f"{impl}: {source!r} -> {output!r} (reference {reference!r})")
        examples = figures[impl]["attention"]
        assert len(examples) == 2
        for example in examples:
            weights = example["weights"]
            assert weights.shape == (len(example["output"]) + 1, len(example["source"]))
            np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)  # no weight left on the padding
        for run in report["impls"][impl]["runs"]:  # a few wrong characters among the few wrong dates
            assert 0.0 <= run["metrics"]["cer"] < 0.05
    path = plots.generative_figures(report, figures, str(tmp_path / "compare-seq2seq.png"))
    assert [p.rsplit("/", 1)[-1] for p in path] == ["compare-seq2seq-attention.png"]
    assert open(path[0], "rb").read(8) == b"\x89PNG\r\n\x1a\n"


# --- the dates task ---


def test_train_pairs_takes_the_first_pairs():
    from common import bench

    data = data_module.load("dates")
    cut = seq2seq.prepare(configs.Seq2SeqConfig(train_pairs=100), data)
    assert cut.info.n_train == len(cut.x_train) == 100 and np.array_equal(cut.x_train, data.x_train[:100])
    assert seq2seq.prepare(configs.Seq2SeqConfig(train_pairs=0), data) is data
    spec = registry.get("seq2seq")  # twinnets bench counts the pairs an epoch trains on
    assert bench.examples_per_epoch(spec, configs.Seq2SeqConfig(train_pairs=100), data) == 100
    assert bench.examples_per_epoch(spec, configs.Seq2SeqConfig(train_pairs=0), data) == dates.DATES_SIZES[0]


# --- metrics ---


def test_metrics():
    assert evaluate.edit_distance("kitten", "sitting") == 3 and evaluate.edit_distance("", "abc") == 3
    assert evaluate.edit_distance("2026-12-04", "2026-12-04") == 0
    references, hypotheses = ["2026-12-04", "1999-01-31"], ["2026-12-04", "1999-10-31"]
    assert evaluate.exact_match(references, hypotheses) == 0.5
    assert evaluate.character_error_rate(references, hypotheses) == pytest.approx(2 / 20)  # two substitutions
    assert evaluate.character_error_rate(["abc"], [""]) == 1.0
    assert evaluate.corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"]) == pytest.approx(100.0)
    assert evaluate.corpus_bleu(["the cat sat on the mat"], ["a dog ran"]) < 10
    assert set(evaluate.translation(references, hypotheses, bleu=True)) == {"exact_match", "cer", "bleu"}


# --- the .tsv source and bad input ---


BAD_PAIRS = {  # case: (file contents as bytes, a piece of the one-line message)
    "empty file": (b"", "holds no sentence pairs"),
    "only blank lines": (b"\n\n  \n", "holds no sentence pairs"),
    "a line without a tab": ("go\tva\nhello there\nhi\tsalut\n".encode(), "line 2: no tab"),
    "not UTF-8": ("go\tva\ncaf".encode() + b"\xe9\tcaf\xe9\n", "is not UTF-8 text: byte 0xe9 on line 2"),
    "an empty target": (b"go\tva\nhi\t\n", "line 2: an empty target"),
    "too few pairs": (b"go\tva\nhi\tsalut\n", "too few to split"),
}


def assert_refused(capsys, tmp_path, argv, message):
    out = tmp_path / "out"
    code, _, err = run_main(capsys, argv + ["--out", str(out)])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in err, err
    assert not out.exists() or list(out.iterdir()) == []


@pytest.mark.parametrize("case", list(BAD_PAIRS))
def test_bad_pairs_files_exit_2_with_one_line(capsys, tmp_path, case):
    contents, message = BAD_PAIRS[case]
    impl = ("keras", "tf")[list(BAD_PAIRS).index(case) % 2]
    assert_refused(capsys, tmp_path, ["train", "seq2seq", "--impl", impl, "--dataset",
                                      pairs_file(tmp_path, None, raw=contents)], message)


def test_a_test_character_unseen_in_training_is_named(capsys, tmp_path):
    lines = generated_pairs()
    data = data_module.load(pairs_file(tmp_path, lines))
    test_line = lines.index(next(line for line in lines if line.startswith(data.texts["test"][0][0] + "\t")))
    lines[test_line] = "zq" + lines[test_line]  # 'z' and 'q' nowhere else
    assert_refused(capsys, tmp_path, ["train", "seq2seq", "--impl", "tf", "--dataset", pairs_file(tmp_path, lines)],
                   f"line {test_line + 1}: 'z', 'q' are not in the vocabulary")
    with pytest.raises(data_module.DataError, match="cannot translate 'Dec 4, 2026!': '!' is not in the vocabulary"):
        seq2seq.encode_sources(data_module.load("dates"), ["Dec 4, 2026!"])


@pytest.mark.parametrize("argv,message", [
    (["--beam-width", "0"], "beam-width must be at least 1 (1: greedy decoding), got 0"),
    (["--train-pairs", "-5"], "train-pairs must be >= 0"),
    (["--max-output-length", "0"], "max-output-length must be at least 1"),
    (["--dataset", "digits"], "seq2seq translates sequence pairs (dates, a .tsv file); digits holds image data"),
    (["--precision", "mixed_float16"], "precision mixed_float16 is not available for seq2seq"),
])
def test_bad_settings_exit_2_with_one_line(capsys, tmp_path, argv, message):
    assert_refused(capsys, tmp_path, ["train", "seq2seq", "--impl", "keras", *argv], message)


def test_other_networks_refuse_pairs(capsys, tmp_path):
    assert_refused(capsys, tmp_path, ["train", "mlp", "--impl", "tf", "--dataset", "dates"],
                   "dates holds sequence pairs to translate: train seq2seq on it")


# --- a .tsv run end to end, checkpoints and TensorBoard ---

QUICK = ["--units", "8", "--embedding-dim", "4", "--max-output-length", "12"]


@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_tsv_run_resumes_from_its_checkpoint_and_writes_tensorboard(capsys, tmp_path, impl):
    """A .tsv trains and is scored with BLEU; one epoch, then a second resumed from the checkpoint, is the
    two-epoch history; the TensorBoard scalars are the ones both implementations write."""
    dataset = pairs_file(tmp_path, generated_pairs())
    common = ["train", "seq2seq", "--impl", impl, "--dataset", dataset, "--checkpoint-dir", str(tmp_path / "ckpt"),
              "--deterministic", *QUICK]
    code, _, err = run_main(capsys, common + ["--quiet", "--epochs", "1", "--out", str(tmp_path / "one"),
                                              "--tensorboard", str(tmp_path / "tb")])
    assert code == 0, err
    code, out, err = run_main(capsys, common + ["--epochs", "2", "--out", str(tmp_path / "two")])  # not quiet: says it resumes
    assert code == 0, err
    assert "resuming after epoch 1" in out
    one, two = (json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("one", "two"))
    assert one["metric"] == "bleu" and {"exact_match", "cer", "bleu"} <= set(two["metrics"])
    assert len(two["history"]["loss"]) == 2 and two["history"]["loss"][0] == one["history"]["loss"][0]
    from test_tensorboard import scalars

    tags = set(scalars(str(tmp_path / "tb" / impl)))
    assert {("train", "epoch_loss"), ("train", "epoch_learning_rate"), ("validation", "epoch_loss")} <= tags


# --- export: a greedy translator as a SavedModel ---


@pytest.mark.parametrize("attention", [True, False])
def test_both_exports_serve_the_same_translations(tmp_path, attention):
    """Each side's SavedModel (source ids -> greedy ids, padded after END) serves what common/decoding.py's greedy
    search finds with that side's step function: the same ids on both sides."""
    from keras_impl import export as keras_export
    from tf_impl import export as tf_export

    settings = config(attention=attention, units=16, max_output_length=12)
    keras_model, tf_model = transplanted(settings, noise=0.6)
    weights = keras_model.get_weights()
    weights[-1][Vocabulary.END] -= 3.0  # long, varied outputs (an untrained model ends at once)
    keras_model.set_weights(weights)
    tf_model.set_weights(weights)
    keras_export.export(keras_seq2seq.Translator(keras_model, settings), str(tmp_path / "keras"), (8,), "int32")
    tf_export.export(tf_seq2seq.Translator(tf_model, 12), str(tmp_path / "tf"), (8,), "int32")
    loaded = {impl: tf.saved_model.load(str(tmp_path / impl)) for impl in ("keras", "tf")}  # kept: its variables
    served = {impl: archive.serve(tf.constant(SOURCES)).numpy() for impl, archive in loaded.items()}
    start, step = tf_seq2seq.inference(tf_model)
    greedy = decoding.greedy(step, start(SOURCES), np.full(len(SOURCES), Vocabulary.START, np.int32), Vocabulary.END, 12)
    expected = Vocabulary("x").pad(greedy, 12)
    print(served["tf"])
    assert served["keras"].shape == (len(SOURCES), 12)
    np.testing.assert_array_equal(served["keras"], expected)
    np.testing.assert_array_equal(served["tf"], expected)
    assert len({tuple(row) for row in expected}) >= 2 and (expected > 0).sum() >= 8
