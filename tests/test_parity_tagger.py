"""Parity for tagger, the BiLSTM named-entity tagger (family "tagger": every level is here; level 4 with
tests/test_learning.py).

1. Shape: parameter counts equal, in the same Keras order, and pinned (PARAM_COUNTS).
2. Function: Keras weights transplanted into tf_impl give the same logits at every token, the same loss (the mean
   over real tokens, which is also Keras's own SparseCategoricalCrossentropy(from_logits=True) with the propagated
   padding mask) and the same gradients (1e-5), on a batch of sentences of different lengths. Padding changes
   nothing: a sentence's logits on its real tokens are the same padded to two lengths and unpadded, on both sides,
   and without the mask they would not be. The decoded tags and their seqeval scores are identical on both sides.
3. Optimisation: from the same weights, 20 Adam steps on the same batches of mixed-length sentences give the same
   losses and weights (1e-4).
4. Learning: tests/test_learning.py (entities, floor F1 0.90); here, the same runs beat the context-free baselines.
Plus a short training on a CoNLL file through the command line. The data: tests/data/test_entities.py and
tests/data/test_conll.py (bad input).
"""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import configs, registry, tagging
from common import data as data_module
from common.data.tasks import entities
from conftest import assert_same_steps, assert_twins_agree, learning_group, run_main
from keras_impl import tagger as keras_tagger
from tf_impl import optim
from tf_impl import tagger as tf_tagger

SPEC = registry.get("tagger")
SMALL = {"embedding_size": 8, "units": 6}  # small enough to be quick, wide enough that every weight matters
# Pinned: a change to the architecture must show here. Embedding V*E; each direction's LSTM 4 * (E*u + u*u + u);
# the tag layer (2u)*K + K, K tags with padding's 0.
PARAM_COUNTS = {  # (embedding_size, units, vocabulary, tags) -> parameters
    (32, 32, 100, 8): 100 * 32 + 2 * 4 * (32 * 32 + 32 * 32 + 32) + 64 * 8 + 8,  # the default's layers: 20,360
    (8, 6, 50, 8): 50 * 8 + 2 * 4 * (8 * 6 + 6 * 6 + 6) + 12 * 8 + 8,  # SMALL: 400 + 720 + 104 = 1,224
    (32, 32, 100, 10): 100 * 32 + 2 * 4 * (32 * 32 + 32 * 32 + 32) + 64 * 10 + 10,  # CoNLL-2003's 9 tags: 20,490
}


@pytest.fixture(scope="module")
def tagged():
    return data_module.load("entities")


def config_of(**fields):
    return SPEC.config_class(**{**SMALL, **fields})


def transplanted(config, data, noise=0.0):
    """The Keras model (seeded) and the tf_impl model holding its weights (plus noise: biases away from 0, sharper
    distributions)."""
    keras.utils.set_random_seed(0)
    sizes = (data.info.input_shape, data.info.num_classes, data.info.vocabulary_size)
    keras_model, tf_model = keras_tagger.build(config, *sizes), tf_tagger.build(config, *sizes)
    if noise:
        rng = np.random.default_rng(1)
        keras_model.set_weights([w + rng.normal(0, noise, w.shape).astype(np.float32) for w in keras_model.get_weights()])
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model


def mixed_batch(data, size=12):
    """Test sentences of `size` different lengths (shortest and longest among them), padded to the data's length."""
    lengths = (data.x_test != 0).sum(axis=1)
    rows = [int(np.flatnonzero(lengths == length)[0]) for length in np.unique(lengths)]
    rows = sorted(rows, key=lambda row: lengths[row])
    chosen = rows[:size // 2] + rows[-(size - size // 2):]
    return data.x_test[chosen], data.y_test[chosen]


# --- level 1: shape ---


@pytest.mark.parametrize("embedding_size,units,vocabulary,tags", list(PARAM_COUNTS))
def test_level1_parameter_counts_pinned_and_equal(embedding_size, units, vocabulary, tags):
    config = SPEC.config_class(embedding_size=embedding_size, units=units)
    keras_model = keras_tagger.build(config, (20,), tags, vocabulary)
    tf_model = tf_tagger.build(config, (20,), tags, vocabulary)
    assert keras_model.count_params() == tf_model.count_params() == PARAM_COUNTS[(embedding_size, units, vocabulary, tags)]
    assert [w.shape for w in tf_model.get_weights()] == [w.shape for w in keras_model.get_weights()]
    assert keras_model.output_shape == (None, None, tags)


def test_default_config_is_pinned_above():
    config = SPEC.config_class()
    assert (config.embedding_size, config.units) in {key[:2] for key in PARAM_COUNTS}
    with pytest.raises(configs.ConfigError, match="min-count must be at least 1, got 0"):
        SPEC.config_class(min_count=0)


# --- level 2: function, the loss, padding, decoding ---


def test_level2_mixed_length_batch_after_transplant(tagged):
    keras_model, tf_model = transplanted(config_of(), tagged, noise=0.1)
    x, y = mixed_batch(tagged)
    lengths = (x != 0).sum(axis=1)
    assert len(set(lengths.tolist())) == len(x) and (x == 0).mean() > 0.2  # every length differs; much padding
    assert keras_model(x).shape == (*x.shape, tagged.info.num_classes)
    grads = assert_twins_agree(keras_model, tf_model, x, y, tf_loss=tf_tagger.loss_fn)  # per-token logits, loss, grads
    assert len(grads) == 9  # the embedding, each direction's 3 LSTM weights, the head's 2


def test_the_loss_is_keras_masked_cross_entropy_the_mean_over_real_tokens(tagged):
    """On one device the loss both sides train with is keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    applied to the model's output, which carries the Embedding's padding mask (Keras 3 turns it into a mean over
    the real tokens), and the hand-computed mean over the real tokens; the plain mean over every position is not."""
    keras_model, tf_model = transplanted(config_of(), tagged, noise=0.1)
    x, y = mixed_batch(tagged)
    assert (x == 0).mean() > 0.2  # much padding: a mean over every position would be far off
    outputs = keras_model(x, training=False)
    from keras.src.backend.common.masking import get_keras_mask  # what keras.losses.Loss reads (no public name)

    np.testing.assert_array_equal(get_keras_mask(outputs).numpy(), x != 0)  # the padding mask reaches the loss
    masked = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, outputs))
    logits = outputs.numpy().astype(np.float64)
    log_probs = logits - logits.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    picked = -np.take_along_axis(log_probs, y[..., None].astype(int), -1)[..., 0]  # (N, T)
    by_hand, everywhere = picked[x != 0].mean(), picked.mean()
    ours = [float(keras_model.compute_loss(x=x, y=y, y_pred=outputs, training=False)), float(tf_tagger.loss_fn(tf_model, x, y))]
    np.testing.assert_allclose([masked, *ours], [by_hand] * 3, rtol=1e-6)
    assert abs(everywhere - by_hand) > 0.01
    with tf.GradientTape(persistent=True) as tape:  # and the same gradients as Keras's masked loss
        outputs = keras_model(x, training=False)
        masked = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, outputs)
        ours = keras_model.compute_loss(x=x, y=y, y_pred=outputs, training=False)
    for a, b in zip(tape.gradient(masked, keras_model.trainable_weights), tape.gradient(ours, keras_model.trainable_weights)):
        np.testing.assert_allclose(tf.convert_to_tensor(a).numpy(), tf.convert_to_tensor(b).numpy(), atol=1e-7)


def test_padding_changes_nothing_on_either_side(tagged):
    """Sentences of mixed lengths padded to 20 and to 40 steps, and each one alone unpadded: the same logits on
    their real tokens, on both sides. The backward LSTM starts at each sentence's last real word."""
    keras_model, tf_model = transplanted(config_of(), tagged, noise=0.1)
    x, _ = mixed_batch(tagged, size=8)
    lengths = (x != 0).sum(axis=1)
    width = x.shape[1]
    x40 = np.zeros((len(x), 40), np.int32)
    x40[:, :width] = x  # (8, width) -> (8, 40): more padding after each end
    for impl, model in (("keras", keras_model), ("tf", tf_model)):
        short, long = model(x, training=False).numpy(), model(x40, training=False).numpy()
        for row, length in enumerate(lengths):
            np.testing.assert_allclose(long[row, :length], short[row, :length], atol=1e-5, err_msg=impl)
            alone = model(x[row:row + 1, :length], training=False).numpy()[0]  # (length, tags): no padding at all
            np.testing.assert_allclose(alone, short[row, :length], atol=1e-5, err_msg=impl)
    np.testing.assert_allclose(tf_model(x40).numpy(), keras_model(x40).numpy(), atol=1e-5)


def test_the_mask_is_what_keeps_padding_out_of_the_backward_reading(tagged):
    """Read without the mask, the backward LSTM would start in the padding: the real tokens' outputs would change
    with the amount of padding. The invariance above is the mask's doing."""
    _, tf_model = transplanted(config_of(), tagged, noise=0.1)
    x, _ = mixed_batch(tagged, size=4)
    lengths = (x != 0).sum(axis=1)
    x40 = np.zeros((len(x), 40), np.int32)
    x40[:, :x.shape[1]] = x
    bidirectional = tf_model.recurrent[0]
    for ids in (x, x40):
        masked = bidirectional(tf_model.embedding(ids), mask=ids != 0).numpy()
        unmasked = bidirectional(tf_model.embedding(ids), mask=None).numpy()
        row = int(np.argmin(lengths))  # the shortest: padding follows it
        units = tf_model.recurrent[0].forward.cell.units
        forward_same = np.abs(masked[row, :lengths[row], :units] - unmasked[row, :lengths[row], :units]).max()
        backward_gap = np.abs(masked[row, :lengths[row], units:] - unmasked[row, :lengths[row], units:]).max()
        assert forward_same < 1e-6 < 1e-3 < backward_gap  # padding comes after: only the backward reading sees it


def test_decoded_tags_and_scores_are_identical_on_both_sides(tagged):
    """From the same weights (Keras's after one epoch of fit, so that every kind of tag is chosen somewhere), every
    test token gets the same tag on both sides, and seqeval scores both alike."""
    keras_model, tf_model = transplanted(config_of(), tagged)
    keras_model.fit(tagged.train, epochs=1, verbose=0)
    tf_model.set_weights(keras_model.get_weights())
    keras_logits = keras_model.predict(tagged.x_test, verbose=0)
    tf_logits = tf_model(tagged.x_test).numpy()
    keras_tags = tagging.decode(keras_logits, tagged.x_test, tagged.tags)
    tf_tags = tagging.decode(tf_logits, tagged.x_test, tagged.tags)
    assert keras_tags == tf_tags
    assert len({tag for tags in tf_tags for tag in tags} - {"O"}) >= 3  # entities of several kinds found
    assert [len(tags) for tags in tf_tags] == [len(tokens) for tokens in tagged.sentences["test"][0]]
    scores = tagging.scores(tagged, tf_logits)
    assert scores == tagging.scores(tagged, keras_logits) and scores["f1"] > 0.0, scores


def test_decoding_reads_real_tokens_and_never_answers_padding():
    tags = ("<pad>", "O", "B-PER", "I-PER")
    x = np.array([[5, 1, 7, 0], [3, 0, 0, 0]])
    logits = np.zeros((2, 4, 4))
    logits[..., 0] = 9.0  # padding's logit the largest everywhere: still never an answer
    logits[0, :, 2] = [1.0, 0.0, 0.0, 5.0]  # B-PER at the first token; the padding's 5.0 is not read
    logits[0, 1:3, 3] = 2.0  # I-PER at the second and third
    assert tagging.decode(logits, x, tags) == [["B-PER", "I-PER", "I-PER"], ["O"]]
    with pytest.raises(FloatingPointError):
        tagging.decode(np.full((2, 4, 4), np.nan), x, tags)


# --- level 3: optimisation ---


def test_level3_twenty_adam_steps_on_mixed_length_batches(tagged):
    config = config_of(learning_rate=1e-2)
    keras_model, tf_model = transplanted(config, tagged)
    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    spec = (tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.int32))
    tf_step = tf_tagger.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec)
    batches = [(tagged.x_train[step * 16:(step + 1) * 16], tagged.y_train[step * 16:(step + 1) * 16]) for step in range(20)]
    assert_same_steps(keras_model, tf_model, tf_optimizer, tf_step, batches)


# --- a CoNLL file, end to end ---


def test_a_short_training_on_a_conll_file_from_the_command_line(tmp_path, capsys):
    """A CoNLL-2003-style file (four columns, -DOCSTART-, MISC entities) trains on both sides and is scored by
    seqeval: the command lines a user runs, with a tiny model for one epoch."""
    lines = ["-DOCSTART- -X- -X- O", ""]
    for token_lists, tag_lists in entities.entity_sentences(sizes=(150, 20, 50)).values():  # the file splits them anew
        for tokens, tags in zip(token_lists, tag_lists):
            tags = ["B-MISC" if token in entities.DAYS else tag for token, tag in zip(tokens, tags)]  # a fourth type
            lines += [f"{token} NN B-NP {tag}" for token, tag in zip(tokens, tags)] + [""]
    path = tmp_path / "news.conll"
    path.write_text("\n".join(lines), encoding="utf-8")
    for impl in ("keras", "tf"):
        code, out, err = run_main(capsys, ["train", "tagger", "--impl", impl, "--dataset", str(path), "--epochs", "1",
                                           "--units", "4", "--embedding-size", "4", "--out", str(tmp_path / impl)])
        assert code == 0, err
        assert "8 tags and padding" in out and "no floor is set for tagger on news.conll" in out
        metrics = json.loads((tmp_path / impl / "metrics.json").read_text())
        assert metrics["metric"] == "f1" and 0.0 <= metrics["value"] <= 1.0
        assert set(metrics["metrics"]) == {"f1", "precision", "recall", "token_accuracy"}


# --- level 4: what the learning runs of tests/test_learning.py also show ---


@pytest.mark.learning
@learning_group("tagger")
def test_learned_runs_beat_the_context_free_baselines(learned, tagged):
    baselines = tagging.baselines(tagged)
    assert baselines["all_o_f1"] == 0.0 and baselines["majority_f1"] < 0.05
    report = learned("tagger")
    for impl, summary in report["impls"].items():
        for run in summary["runs"]:
            assert run["metric"] >= SPEC.floor, (impl, run["seed"], run["metric"])
            assert run["metrics"]["token_accuracy"] > baselines["majority_token_accuracy"], (impl, run["seed"])
