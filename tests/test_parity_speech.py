"""Parity for speech, the BiLSTM transcriber trained with CTC (family "speech": every level is here; level 4 with
tests/test_learning.py).

1. Shape: parameter counts equal, in the same Keras order, and pinned (PARAM_COUNTS).
2. Function: Keras weights transplanted into tf_impl give the same logits at every frame, the same CTC loss and
   the same gradients (1e-5), on a batch of clips of different frame counts and transcripts of different lengths
   (a repeated digit among them). The loss is CTC over each clip's real frames: both sides equal the negative
   log-probability summed over every alignment by the forward recursion (common/ctc.py), and tf.nn.ctc_loss in
   its other convention (blank last, sparse labels); keras.losses.CTC, which gives every clip the padded length,
   is not. Padding changes nothing: a clip's logits on its real frames and its loss are the same padded to two
   lengths and unpadded, on both sides. The decoded transcripts (best path and prefix beam) are identical.
3. Optimisation: from the same weights, 20 Adam steps on the same batches of mixed-length clips give the same
   losses and weights (1e-4).
4. Learning: tests/test_learning.py (digit_sequences, floor LER 0.10); here, the same runs beat the baselines.
The decoders themselves: tests/test_ctc.py; the data: tests/data/test_digit_sequences.py.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from common import configs, ctc, registry, speech
from common.data import Options
from common.data import speech as speech_data
from common.data.tasks import digit_sequences
from conftest import assert_same_steps, assert_twins_agree, learning_group
from keras_impl import speech as keras_speech
from tf_impl import optim
from tf_impl import speech as tf_speech

SPEC = registry.get("speech")
SMALL = {"units": 6}  # small enough to be quick, wide enough that every weight matters
# Pinned: a change to the architecture must show here. Each direction's LSTM 4 * (F*u + u*u + u) over F mel bins;
# the output layer (2u)*K + K, K = the blank and the symbols.
PARAM_COUNTS = {  # (mel_bins, units, classes) -> parameters
    (24, 32, 11): 2 * 4 * (24 * 32 + 32 * 32 + 32) + 64 * 11 + 11,  # the default: 14,752 + 715 = 15,467
    (24, 6, 11): 2 * 4 * (24 * 6 + 6 * 6 + 6) + 12 * 11 + 11,  # SMALL: 1,488 + 143 = 1,631
    (40, 64, 29): 2 * 4 * (40 * 64 + 64 * 64 + 64) + 128 * 29 + 29,  # 40 bins, 28 letters: 53,760 + 3,741 = 57,501
}


@pytest.fixture(scope="module")
def clips():
    """A small generated set: 80 training, 8 validation and 24 test clips (the default task's generator)."""
    splits = digit_sequences.digit_sequences(sizes=(80, 8, 24), seed=5)
    return speech_data.speech_data("digit_sequences", splits, digit_sequences.SAMPLE_RATE, Options(batch_size=8))


def config_of(**fields):
    return SPEC.config_class(**{**SMALL, **fields})


def transplanted(config, data, noise=0.0):
    """The Keras model (seeded) and the tf_impl model holding its weights (plus noise: biases away from 0, sharper
    distributions)."""
    keras.utils.set_random_seed(0)
    sizes = (data.info.input_shape, data.info.num_classes)
    keras_model, tf_model = keras_speech.build(config, *sizes), tf_speech.build(config, *sizes)
    if noise:
        rng = np.random.default_rng(1)
        keras_model.set_weights([w + rng.normal(0, noise, w.shape).astype(np.float32)
                                 for w in keras_model.get_weights()])
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model


def mixed_batch(data, size=6):
    """Test clips of `size` different frame counts, transcripts of every length among them, one with a repeat."""
    counts, lengths = data.frame_counts["test"], (data.y_test != 0).sum(axis=1)
    repeats = [row for row, t in enumerate(data.transcripts["test"]) if any(a == b for a, b in zip(t, t[1:]))]
    candidates = repeats[:1] + [int(np.flatnonzero(lengths == length)[0]) for length in np.unique(lengths)]
    rows = []
    for row in candidates + [int(row) for row in np.argsort(counts)]:  # then other frame counts, until `size`
        if len(rows) < size and counts[row] not in counts[rows]:
            rows.append(row)
    x = data.x_test[rows][:, :max(counts[rows]) + 3]  # (size, frames): padded to 3 frames past the longest clip
    return x, data.y_test[rows]


# --- level 1: shape ---


@pytest.mark.parametrize("mel_bins,units,classes", list(PARAM_COUNTS))
def test_level1_parameter_counts_pinned_and_equal(mel_bins, units, classes):
    config = SPEC.config_class(units=units)
    keras_model = keras_speech.build(config, (30, mel_bins), classes)
    tf_model = tf_speech.build(config, (30, mel_bins), classes)
    assert keras_model.count_params() == tf_model.count_params() == PARAM_COUNTS[(mel_bins, units, classes)]
    assert [w.shape for w in tf_model.get_weights()] == [w.shape for w in keras_model.get_weights()]
    assert keras_model.output_shape == (None, None, classes)


def test_default_config_is_pinned_above():
    config = SPEC.config_class()
    assert (speech_data.MEL_BINS, config.units, len(speech_data.ALPHABET) + 1) in PARAM_COUNTS
    with pytest.raises(configs.ConfigError, match="beam-width must be at least 1, got 0"):
        SPEC.config_class(beam_width=0)


# --- level 2: function, the loss, padding, decoding ---


def test_level2_mixed_length_batch_after_transplant(clips):
    keras_model, tf_model = transplanted(config_of(), clips, noise=0.1)
    x, y = mixed_batch(clips)
    frames, labels = speech.frame_counts(x), (y != 0).sum(axis=1)
    assert len(set(frames.tolist())) == len(x) and len(set(labels.tolist())) >= 3  # mixed frames and transcripts
    assert (x == 0).all(axis=-1).mean() > 0.2  # much padding
    assert keras_model(x).shape == (*x.shape[:2], clips.info.num_classes)
    grads = assert_twins_agree(keras_model, tf_model, x, y, tf_loss=tf_speech.loss_fn)  # per-frame logits, loss, grads
    assert len(grads) == 8  # each direction's 3 LSTM weights, the head's 2


def test_the_loss_is_ctc_over_each_clips_real_frames(clips):
    """Both sides' loss is the mean over clips of -log P(transcript | the clip's real frames), P summed over every
    alignment (the forward recursion in numpy); tf.nn.ctc_loss with the blank last and sparse labels (its other
    convention) agrees; keras.losses.CTC, reading every clip to the padded end, does not."""
    keras_model, tf_model = transplanted(config_of(), clips, noise=0.1)
    x, y = mixed_batch(clips)
    logits = keras_model(x, training=False)
    log_probs = ctc.log_softmax(logits.numpy())
    frames = speech.frame_counts(x)
    by_hand = np.mean([-ctc.labelling_log_probability(log_probs[row, :frames[row]], list(y[row][y[row] != 0]))
                       for row in range(len(x))])
    ours = [float(keras_model.compute_loss(x=x, y=y, y_pred=logits, training=False)),
            float(tf_speech.loss_fn(tf_model, x, y))]
    rolled = tf.roll(logits, shift=-1, axis=-1)  # class 0 (blank) moved last: ids 1..K become 0..K-1
    sparse = tf.sparse.from_dense(tf.constant(y, tf.int32))
    sparse = tf.SparseTensor(sparse.indices, sparse.values - 1, sparse.dense_shape)
    other = tf.reduce_mean(tf.nn.ctc_loss(labels=sparse, logits=rolled, label_length=None, logit_length=frames,
                                          logits_time_major=False, blank_index=-1))
    np.testing.assert_allclose([*ours, float(other)], [by_hand] * 3, rtol=1e-5)
    padded_length = float(keras.losses.CTC()(y, logits.numpy()))  # numpy: no mask; every clip read to the end
    assert abs(padded_length - by_hand) > 0.1
    with pytest.raises(tf.errors.InvalidArgumentError):  # and compiled on the masked output it cannot even run:
        keras.losses.CTC()(y, logits)  # the (batch, frames) mask meets a loss of one number per clip


def test_padding_changes_nothing_on_either_side(clips):
    """Clips of mixed lengths padded to 3 frames past the longest and to 10 more, and each one alone unpadded: the same
    logits on their real frames and the same loss, on both sides. The backward LSTM starts at each clip's last real
    frame."""
    keras_model, tf_model = transplanted(config_of(), clips, noise=0.1)
    x, y = mixed_batch(clips, size=3)
    frames = speech.frame_counts(x)
    longer = np.concatenate([x, np.zeros((len(x), 10, x.shape[2]), np.float32)], axis=1)  # 10 more padding frames
    for impl, model in (("keras", keras_model), ("tf", tf_model)):
        short, long = model(x, training=False).numpy(), model(longer, training=False).numpy()
        for row, count in enumerate(frames):
            np.testing.assert_allclose(long[row, :count], short[row, :count], atol=1e-5, err_msg=impl)
            alone = model(x[row:row + 1, :count], training=False).numpy()[0]  # (frames, classes): no padding at all
            np.testing.assert_allclose(alone, short[row, :count], atol=1e-5, err_msg=impl)
    np.testing.assert_allclose(float(tf_speech.loss_fn(tf_model, longer, y)), float(tf_speech.loss_fn(tf_model, x, y)),
                               rtol=1e-5)
    keras_loss = [float(keras_model.compute_loss(x=a, y=y, y_pred=keras_model(a), training=False)) for a in (x, longer)]
    np.testing.assert_allclose(keras_loss[1], keras_loss[0], rtol=1e-5)


def test_the_mask_is_what_keeps_padding_out_of_the_backward_reading(clips):
    """Read without the mask, the backward LSTM would start in the padding: the real frames' outputs would change.
    The invariance above is the mask's doing."""
    _, tf_model = transplanted(config_of(), clips, noise=0.1)
    x, _ = mixed_batch(clips, size=4)
    frames = speech.frame_counts(x)
    row = int(np.argmin(frames))  # the shortest: padding follows it
    units = tf_model.recurrent.forward.cell.units
    masked = tf_model.recurrent(x, mask=speech.frame_counts(x)[:, None] > np.arange(x.shape[1])).numpy()
    unmasked = tf_model.recurrent(x, mask=None).numpy()
    forward_same = np.abs(masked[row, :frames[row], :units] - unmasked[row, :frames[row], :units]).max()
    backward_gap = np.abs(masked[row, :frames[row], units:] - unmasked[row, :frames[row], units:]).max()
    assert forward_same < 1e-6 < 1e-3 < backward_gap  # padding comes after: only the backward reading sees it


def test_decoded_transcripts_are_identical_on_both_sides(clips):
    """From the same weights (noisy, so that the frames' arg-max varies), every test clip gets the same transcript
    on both sides, by the best path and by prefix beam search, and the same scores."""
    keras_model, tf_model = transplanted(config_of(), clips, noise=0.5)
    keras_logits = keras_model.predict(clips.x_test, verbose=0)
    tf_logits = tf_model(clips.x_test).numpy()
    for width in (0, 4):
        keras_text = speech.transcribe(keras_logits, clips.x_test, clips.alphabet, width)
        tf_text = speech.transcribe(tf_logits, clips.x_test, clips.alphabet, width)
        assert keras_text == tf_text
        assert len(set(tf_text)) > 3 and all(set(t) <= set(clips.alphabet) for t in tf_text)  # varied, digits only
    scores = speech.scores(clips, tf_logits, beam_width=4)
    assert scores == speech.scores(clips, keras_logits, beam_width=4) and set(scores) == {
        "ler", "sequence_accuracy", "beam_ler", "beam_sequence_accuracy"}


# --- level 3: optimisation ---


def test_level3_twenty_adam_steps_on_mixed_length_batches(clips):
    config = config_of(learning_rate=1e-2)
    keras_model, tf_model = transplanted(config, clips)
    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    spec = (tf.TensorSpec([None, None, speech_data.MEL_BINS], tf.float32), tf.TensorSpec([None, None], tf.int32))
    tf_step = tf_speech.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec)
    x, y = clips.x_train[:40], clips.y_train[:40]  # (40, frames): one shape, one Keras trace
    assert len(set(clips.frame_counts["train"][:40])) > 10  # of mixed lengths
    batches = [(x[step % 10 * 4:(step % 10 + 1) * 4], y[step % 10 * 4:(step % 10 + 1) * 4]) for step in range(20)]
    assert_same_steps(keras_model, tf_model, tf_optimizer, tf_step, batches)
    assert tf_step.experimental_get_tracing_count() == 1  # one trace for every batch


# --- level 4: what the learning runs of tests/test_learning.py also show ---


@pytest.mark.learning
@learning_group("speech")
def test_learned_runs_beat_the_baselines(learned):
    from common import data as data_module

    baselines = speech.baselines(data_module.load("digit_sequences"))
    assert baselines["empty_ler"] == 1.0 and baselines["majority_ler"] > 0.8
    report = learned("speech")
    for impl, summary in report["impls"].items():
        for run in summary["runs"]:
            assert run["metric"] <= SPEC.floor, (impl, run["seed"], run["metric"])
            assert run["metrics"]["beam_ler"] <= SPEC.floor, (impl, run["seed"])
            assert run["metrics"]["sequence_accuracy"] > baselines["majority_sequence_accuracy"], (impl, run["seed"])
