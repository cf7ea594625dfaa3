"""Spoken-digit-like sequences at 8 kHz, transcribed as digit strings, for the speech network: `digit_sequences`.

Each of the ten digits is a token with its own formant pattern (FORMANTS): a tone on its first
formant, gliding from one frequency to another, and a weaker steady tone on its second formant:

    digit:    0      1       2       3      4      5       6       7       8      9
    F1 (Hz):  300    300>600 600>300 450    700    300>600 600>300 800>500 350    500>800
    F2 (Hz):  1000   1800    1800    2600   1200   2800    1000    2200    2000   3200

A clip holds 1-4 tokens (MIN_TOKENS..MAX_TOKENS digits, repeats allowed: "4471"), each 100-180 ms long
with an attack-decay envelope, both its formants scaled by one random pitch factor
(x0.85-1.15: a higher or lower voice), its amplitude random (x0.5-1.0), separated by pauses of 30-100 ms,
with 20-100 ms of silence before and after, and white noise over the whole clip (std NOISE). So the
clips are 0.14-1.22 s long (4-38 frames at common/data/speech.py's 32 ms hop; a token 3-5 frames).
The transcripts are the digit strings; the seed is fixed (DIGITS_SEED), so every run hears the same clips.
"""
import numpy as np

from common.data import speech

NAMES = ("digit_sequences",)
SAMPLE_RATE = 8000
DIGIT_SIZES = (2000, 200, 500)  # train, validation, test clips, generated
MIN_TOKENS, MAX_TOKENS = 1, 4
TOKEN_SECONDS = (0.10, 0.18)
PAUSE_SECONDS = (0.03, 0.10)
EDGE_SECONDS = (0.02, 0.10)  # silence before the first and after the last token
PITCH = (0.85, 1.15)  # one factor per token on both formants
NOISE = 0.02  # white noise std (a token's peak amplitude is 0.5-1.0)
DIGITS_SEED = 1709
# (F1 at the start, F1 at the end, F2) of each digit, Hz
FORMANTS = ((300, 300, 1000), (300, 600, 1800), (600, 300, 1800), (450, 450, 2600), (700, 700, 1200),
            (300, 600, 2800), (600, 300, 1000), (800, 500, 2200), (350, 350, 2000), (500, 800, 3200))
SECOND_FORMANT_GAIN = 0.6  # the second tone's amplitude, relative to the first's


def matches(name):
    return name == "digit_sequences"


def load(name, options):
    splits = digit_sequences()
    return speech.speech_data(name, splits, SAMPLE_RATE, options)


def token(digit, seconds, rng):
    """One digit's samples: a tone on its first formant (gliding) and a weaker one on its second, enveloped."""
    pitch = rng.uniform(*PITCH)
    samples = int(seconds * SAMPLE_RATE)
    progress = np.arange(samples) / samples  # 0 .. 1 over the token
    f1_start, f1_end, f2 = FORMANTS[digit]
    f1 = pitch * (f1_start + (f1_end - f1_start) * progress)  # (samples,) Hz: the glide
    phase1 = 2 * np.pi * np.cumsum(f1) / SAMPLE_RATE  # the integral of the frequency: a smooth glide
    phase2 = 2 * np.pi * pitch * f2 * np.arange(samples) / SAMPLE_RATE
    tone = np.sin(phase1 + rng.uniform(0, 2 * np.pi)) + SECOND_FORMANT_GAIN * np.sin(phase2 + rng.uniform(0, 2 * np.pi))
    envelope = np.minimum(1.0, progress / 0.15) * np.minimum(1.0, (1.0 - progress) / 0.3)  # attack, decay
    return rng.uniform(0.5, 1.0) * envelope * tone / (1.0 + SECOND_FORMANT_GAIN)


def draw(n, rng):
    """n clips (a list of float32 arrays) and their transcripts (digit strings)."""
    clips, transcripts = [], []
    for _ in range(n):
        digits = rng.integers(0, 10, size=rng.integers(MIN_TOKENS, MAX_TOKENS + 1))
        parts = [np.zeros(int(rng.uniform(*EDGE_SECONDS) * SAMPLE_RATE))]
        for position, digit in enumerate(digits):
            if position:
                parts.append(np.zeros(int(rng.uniform(*PAUSE_SECONDS) * SAMPLE_RATE)))
            parts.append(token(digit, rng.uniform(*TOKEN_SECONDS), rng))
        parts.append(np.zeros(int(rng.uniform(*EDGE_SECONDS) * SAMPLE_RATE)))
        clip = np.concatenate(parts)
        clips.append((clip + rng.normal(0.0, NOISE, size=clip.shape)).astype(np.float32))
        transcripts.append("".join(str(d) for d in digits))
    return clips, transcripts


def digit_sequences(sizes=DIGIT_SIZES, seed=DIGITS_SEED):
    """{"train" | "val" | "test": (clips, transcripts)}."""
    rng = np.random.default_rng(seed)
    return {split: draw(n, rng) for split, n in zip(speech.SPLITS, sizes)}
