"""common/data/speech.py (log-mel frames of transcribed clips, refusals) and tfds's spoken_digit under mock data,
through the loader and the command line. The generated default: tests/data/test_digit_sequences.py."""
import numpy as np
import pytest

from common import audio
from common import data as data_module
from common.data import DataError, Options
from common.data import speech
from common.data.tasks import digit_sequences
from conftest import run_main


def test_log_mel_frames_count_and_read_only_their_own_clip():
    rng = np.random.default_rng(0)
    clips = [rng.normal(size=n).astype(np.float32) for n in (300, 1000, 255)]
    frames = audio.log_mel(clips, 8000, 256, 128, 24)
    assert [f.shape for f in frames] == [(1, 24), (6, 24), (0, 24)]  # 1 + (n - 256) // 128; none under a frame
    alone = audio.log_mel(clips[1:2], 8000, 256, 128, 24)[0]  # no longer clip beside it in the batch
    np.testing.assert_allclose(alone, frames[1], rtol=1e-5, atol=1e-5)


def splits_with(change):
    splits = digit_sequences.digit_sequences((6, 2, 2), seed=3)
    change(splits)
    return splits


@pytest.mark.parametrize("change,message", [
    (lambda s: s["train"][0].__setitem__(2, np.zeros(0, np.float32)), "train clip 2 is empty"),
    (lambda s: s["test"][1].__setitem__(1, "12a"), r"test clip 1's transcript '12a' holds 'a', outside the alphabet"),
    (lambda s: s["val"][1].__setitem__(0, ""), "val clip 0 has an empty transcript"),
    (lambda s: s["train"][1].__setitem__(0, "1" * 40), r"train clip 0 is too short for its transcript '1{40}': "
                                                        r"\d+ samples make \d+ frames, and CTC needs at least 79"),
    (lambda s: s["train"][0].__setitem__(0, np.zeros(200, np.float32)), "train clip 0 is too short"),
])
def test_bad_clips_and_transcripts_are_refused_in_one_line(change, message):
    with pytest.raises(DataError, match=message) as error:
        speech.speech_data("clips", splits_with(change), 8000, Options())
    assert "\n" not in str(error.value)


def spoken_digit_mock(lengths):
    """tfds.testing.mock_data's as_dataset_fn: spoken_digit examples of the given sample counts, digits in turn."""
    import tensorflow as tf

    def as_dataset(self, *args, **kwargs):
        rng = np.random.default_rng(0)
        examples = [{"audio": rng.normal(0, 3000, n).astype(np.int64), "label": i % 10}
                    for i, n in enumerate(lengths)]
        return tf.data.Dataset.from_generator(lambda: iter(examples), output_signature={
            "audio": tf.TensorSpec([None], tf.int64), "label": tf.TensorSpec([], tf.int64)})

    return as_dataset


def test_spoken_digit_under_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(as_dataset_fn=spoken_digit_mock([2000 + 97 * i for i in range(30)])):
        data = data_module.load("spoken_digit", data_dir="/nonexistent")
    assert (data.info.n_train + data.info.n_val + data.info.n_test, data.info.n_test) == (30, 6)
    assert data.sample_rate == 8000 and data.info.task == "ctc" and data.info.input_shape[1] == speech.MEL_BINS
    assert all(len(t) == 1 for split in speech.SPLITS for t in data.transcripts[split])
    assert sorted(data.frame_counts["test"]) != sorted(data.frame_counts["train"][:6])  # clips of their own lengths


def test_spoken_digit_mock_datas_own_clips_and_an_empty_clip_are_refused_from_the_command_line(capsys):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=12):  # tfds's own mock audio: a few dozen samples, under one frame
        with pytest.raises(DataError, match="too short for its transcript"):
            data_module.load("spoken_digit", data_dir="/nonexistent")
    with tfds.testing.mock_data(as_dataset_fn=spoken_digit_mock([3000] * 8 + [0] + [3000] * 11)):
        code, out, err = run_main(capsys, ["train", "speech", "--impl", "tf", "--dataset", "spoken_digit",
                                           "--data-dir", "/nonexistent", "--epochs", "1"])
    assert code == 2 and "clip" in err and "is empty" in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("impl", ["tf"])  # Keras's side of the same SpeechData: determinism, level 4 (suite budget)
def test_a_short_training_on_spoken_digit_from_the_command_line(impl, tmp_path, capsys):
    import json

    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(as_dataset_fn=spoken_digit_mock([1500 + 53 * i for i in range(24)])):
        code, out, err = run_main(capsys, ["train", "speech", "--impl", impl, "--dataset", "spoken_digit", "--data-dir",
                                           "/nonexistent", "--epochs", "1", "--units", "4", "--batch-size", "8",
                                           "--out", str(tmp_path)])
    assert code == 0, err
    assert "no floor is set for speech on spoken_digit" in out
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["metric"] == "ler" and metrics["value"] >= 0.0
    assert set(metrics["metrics"]) == {"ler", "sequence_accuracy", "beam_ler", "beam_sequence_accuracy"}


def test_other_networks_refuse_audio_and_speech_other_data(capsys):
    code, _, err = run_main(capsys, ["train", "gesture", "--impl", "tf", "--dataset", "digit_sequences",
                                     "--epochs", "1"])
    assert code == 2 and "digit_sequences holds transcribed audio: train speech on it" in err
    code, _, err = run_main(capsys, ["train", "speech", "--impl", "keras", "--dataset", "gestures", "--epochs", "1"])
    assert code == 2 and "speech transcribes audio clips" in err and err.count("\n") == 1


def test_a_bad_speech_flag_is_one_line_and_exit_2(capsys):
    code, _, err = run_main(capsys, ["train", "speech", "--impl", "tf", "--beam-width", "0", "--epochs", "1"])
    assert code == 2 and "beam-width must be at least 1, got 0" in err and err.count("\n") == 1
