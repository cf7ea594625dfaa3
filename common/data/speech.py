"""Transcribed audio clips for the speech network, and the shape every audio source loads into.

A source hands `speech_data` its clips (1-D arrays of samples, any length) and their transcripts
(strings over ALPHABET, the ten digits), split into training, validation and test clips. Here:

    features   common/audio.py log-mel frames (FRAME_SECONDS frames every HOP_SECONDS, MEL_BINS bins),
               standardised per bin on the training clips' real frames only
    x          (N, T, MEL_BINS) float32, every clip's frames then zeros up to T, the most frames of any clip
               of any split: an all-zero frame is padding (the networks' mask)
    y          (N, L) int32, the transcript's symbols as ids 1..len(ALPHABET) ("0" -> 1, ..., "9" -> 10), then
               0 up to L, the longest transcript: 0 is padding here and the CTC blank in the networks' output
               (keras.losses.CTC's convention: class 0 is the blank/mask, labels 0-padded)

Refused, one DataError each, naming the clip: an empty clip (no samples), a clip shorter than one
frame, a transcript with a symbol outside the alphabet, an empty transcript, and a clip with fewer
frames than its transcript needs (CTC emits at most one symbol a frame, and a blank between two
equal symbols: len + repeats frames), which no network could transcribe.
The generated default (tasks/digit_sequences.py) and tfds's spoken_digit (tfds.py) load through here.
"""
from dataclasses import dataclass, field

import numpy as np

from common import audio
from common.data.core import Data, DataError, DataInfo

TASK = "ctc"  # DataInfo.task of every SpeechData: frames (N, T, F) -> a transcript per clip, of any length <= T
ALPHABET = "0123456789"
BLANK = 0  # class 0 of the networks' output; y's padding
FRAME_SECONDS = 0.032  # 256 samples at 8 kHz
# 256 samples at 8 kHz: 31.25 frames a second, frames side by side. Measured on digit_sequences (seed 0, 8 epochs):
# the same LER as a 16 ms hop (Keras 0.013, tf 0.010 against 0.012 and 0.018) at half the frames and half the time.
HOP_SECONDS = 0.032
MEL_BINS = 24
SPLITS = ("train", "val", "test")


@dataclass
class SpeechData(Data):
    """Data of log-mel frames -> symbol ids, with what decoding and scoring need."""

    alphabet: str = ALPHABET  # symbol id i (1..) is alphabet[i - 1]
    transcripts: dict = None  # {"train" | "val" | "test": [str]}
    frame_counts: dict = None  # {"train" | "val" | "test": (N,) int32 real frames of each clip}
    sample_rate: int = 0
    standardisation: tuple = field(default=None, repr=False)  # (mean, std) per mel bin, of the training frames


def needed_frames(transcript):
    """The fewest frames CTC needs to emit `transcript`: one per symbol, and a blank between two equal ones."""
    return len(transcript) + sum(a == b for a, b in zip(transcript, transcript[1:]))


def check_transcript(name, split, index, transcript, alphabet=ALPHABET):
    if not transcript:
        raise DataError(f"{name}: {split} clip {index} has an empty transcript; every clip must say something")
    outside = sorted(set(transcript) - set(alphabet))
    if outside:
        raise DataError(f"{name}: {split} clip {index}'s transcript {transcript[:40]!r} holds {outside[0]!r}, outside "
                        f"the alphabet {alphabet!r}")


def encode(transcript, alphabet=ALPHABET):
    return [alphabet.index(symbol) + 1 for symbol in transcript]


def speech_data(name, splits, sample_rate, options):
    """SpeechData from {split: (clips, transcripts)} at `sample_rate` Hz (see the module docstring)."""
    frame_length = int(round(FRAME_SECONDS * sample_rate))
    frame_step = int(round(HOP_SECONDS * sample_rate))
    frames = {}
    for split in SPLITS:
        clips, transcripts = splits[split]
        if len(clips) == 0:
            raise DataError(f"{name}: no {split} clips")
        if len(clips) != len(transcripts):
            raise DataError(f"{name}: {len(clips)} {split} clips but {len(transcripts)} transcripts")
        for index, (clip, transcript) in enumerate(zip(clips, transcripts)):
            clip = np.asarray(clip)
            if clip.ndim != 1 or clip.size == 0:
                raise DataError(f"{name}: {split} clip {index} is empty (shape {clip.shape}): a clip needs samples, "
                                f"at least {frame_length} ({FRAME_SECONDS * 1000:g} ms at {sample_rate} Hz)")
            check_transcript(name, split, index, transcript)
            count = audio.frame_count(len(clip), frame_length, frame_step)
            if count < needed_frames(transcript):
                raise DataError(f"{name}: {split} clip {index} is too short for its transcript {transcript!r}: "
                                f"{len(clip)} samples make {count} frames, and CTC needs at least "
                                f"{needed_frames(transcript)} (one per symbol, a blank between repeats)")
        frames[split] = audio.log_mel([np.asarray(clip, np.float32) for clip in clips], sample_rate, frame_length,
                                      frame_step, MEL_BINS)
    mean, std = audio.standardisation(frames["train"])
    length = max(len(f) for split in SPLITS for f in frames[split])
    label_length = max(len(t) for split in SPLITS for t in splits[split][1])
    x, y, counts = {}, {}, {}
    for split in SPLITS:
        x[split], counts[split] = audio.pad(frames[split], length, mean, std)
        transcripts = splits[split][1]
        y[split] = np.zeros((len(transcripts), label_length), np.int32)  # (N, L): 0 after each transcript's end
        for row, transcript in enumerate(transcripts):
            y[split][row, :len(transcript)] = encode(transcript)
    info = DataInfo(name=name, kind="sequence", input_shape=(length, MEL_BINS), num_classes=len(ALPHABET) + 1,
                    n_train=len(x["train"]), n_val=len(x["val"]), n_test=len(x["test"]), task=TASK)
    return SpeechData(x_train=x["train"], y_train=y["train"], x_val=x["val"], y_val=y["val"], x_test=x["test"],
                      y_test=y["test"], info=info, batch_size=options.batch_size, seed=options.seed,
                      transcripts={split: list(splits[split][1]) for split in SPLITS}, frame_counts=counts,
                      sample_rate=int(sample_rate), standardisation=(mean, std))

