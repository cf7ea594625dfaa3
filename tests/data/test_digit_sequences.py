"""common/data/tasks/digit_sequences.py, the speech network's generated clips: frames, transcripts, padding, the
fixed seed, the digits' formant patterns. The loader they go through: tests/data/test_speech.py."""
import numpy as np
import pytest

from common import data as data_module
from common.data import speech
from common.data.tasks import digit_sequences


@pytest.fixture(scope="module")
def default():
    return data_module.load("digit_sequences")


def test_digit_sequences_frames_transcripts_and_padding(default):
    info = default.info
    assert (info.n_train, info.n_val, info.n_test) == digit_sequences.DIGIT_SIZES
    assert (info.kind, info.task, info.num_classes) == ("sequence", "ctc", 11)
    assert info.input_shape[1] == speech.MEL_BINS and default.sample_rate == 8000
    for split in speech.SPLITS:
        x, y = getattr(default, f"x_{split}"), getattr(default, f"y_{split}")
        transcripts, counts = default.transcripts[split], default.frame_counts[split]
        real = np.any(x != 0, axis=-1)  # (N, T): the networks' mask
        np.testing.assert_array_equal(real.sum(axis=1), counts)
        assert all(row[:count].all() and not row[count:].any() for row, count in zip(real, counts))  # zeros after
        assert all(1 <= len(t) <= 4 and set(t) <= set("0123456789") for t in transcripts)
        assert ["".join(str(i - 1) for i in row if i) for row in y] == transcripts  # ids 1..10, 0-padded
        assert all(count >= speech.needed_frames(t) for count, t in zip(counts, transcripts))
    lengths = [len(t) for t in default.transcripts["train"]]
    assert set(lengths) == {1, 2, 3, 4} and len(set(default.transcripts["train"])) > 500
    assert 4 <= default.frame_counts["train"].min() and default.frame_counts["train"].max() <= info.input_shape[0] <= 38
    frames = default.x_train[np.any(default.x_train != 0, axis=-1)]  # the training split's real frames
    np.testing.assert_allclose(frames.mean(axis=0), 0.0, atol=1e-4)  # standardised on them
    np.testing.assert_allclose(frames.std(axis=0), 1.0, atol=1e-3)


def test_digit_sequences_are_fixed_and_the_splits_differ():
    first, second = digit_sequences.digit_sequences((20, 5, 5)), digit_sequences.digit_sequences((20, 5, 5))
    for split in speech.SPLITS:
        assert first[split][1] == second[split][1]
        assert all(np.array_equal(a, b) for a, b in zip(first[split][0], second[split][0]))
    assert first["train"][1][:5] != first["test"][1][:5]
    assert digit_sequences.digit_sequences((20, 5, 5), seed=1)["train"][1] != first["train"][1]


def test_each_digit_is_its_own_formant_pattern():
    """A token's strongest frequency is its first formant (times the token's pitch factor, 0.85-1.15): the ten
    digits' first formants and glides are what tells them apart."""
    rng = np.random.default_rng(0)
    for digit, (start, end, _) in enumerate(digit_sequences.FORMANTS):
        samples = digit_sequences.token(digit, 0.16, rng)
        half = len(samples) // 2
        quarter, three_quarters = start + (end - start) * 0.25, start + (end - start) * 0.75  # the glide's midpoints
        for part, formant in ((samples[:half], quarter), (samples[half:], three_quarters)):
            spectrum = np.abs(np.fft.rfft(part * np.hanning(len(part))))
            peak = np.fft.rfftfreq(len(part), 1 / digit_sequences.SAMPLE_RATE)[np.argmax(spectrum)]
            assert 0.8 * formant <= peak <= 1.2 * formant, (digit, peak, formant)
