"""Log-mel spectrogram frames of audio clips, computed once by the data loader for both implementations.

    clip (samples,) at sample_rate
      -> tf.signal.stft (frame_length, frame_step; no padding at the end)   (frames, fft_length // 2 + 1) complex
      -> |.| magnitude
      -> @ tf.signal.linear_to_mel_weight_matrix (mel_bins, 20 Hz .. Nyquist)  (frames, mel_bins)
      -> log(mel + LOG_OFFSET)

A clip of L samples gives 1 + (L - frame_length) // frame_step frames (none when L < frame_length).
The frames are then standardised per mel bin with the mean and std of the TRAINING split's real
frames only (`standardise`), and padded with zeros after each clip's end (`pad`): a frame of all
zeros is padding (the networks' mask), and a real frame is never exactly all zeros after the
standardisation (it would need every bin to sit exactly at its training mean).
Shared code (common/ imports no keras): keras_impl and tf_impl read the same frames.
"""
import numpy as np
import tensorflow as tf

LOG_OFFSET = 1e-6  # log(mel + offset): silence stays finite
LOWER_EDGE_HERTZ = 20.0


def frame_count(samples, frame_length, frame_step):
    """Frames of a clip of `samples` samples (tf.signal.stft without end padding)."""
    return 0 if samples < frame_length else 1 + (samples - frame_length) // frame_step


def log_mel(clips, sample_rate, frame_length, frame_step, mel_bins):
    """[(frames_i, mel_bins) float32] of a list of 1-D clips; a clip shorter than one frame gives (0, mel_bins)."""
    fft_length = int(2 ** np.ceil(np.log2(frame_length)))
    weights = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=mel_bins, num_spectrogram_bins=fft_length // 2 + 1, sample_rate=sample_rate,
        lower_edge_hertz=LOWER_EDGE_HERTZ, upper_edge_hertz=sample_rate / 2.0)
    counts = [frame_count(len(clip), frame_length, frame_step) for clip in clips]
    longest = max(len(clip) for clip in clips)
    batch = np.zeros((len(clips), max(longest, frame_length)), np.float32)  # (clips, samples), zero after each end
    for row, clip in enumerate(clips):
        batch[row, :len(clip)] = clip
    # one stft over the padded batch: without end padding, frame t of a clip reads samples t*step .. t*step+length,
    # so its first counts[i] frames read only its own samples, the frames of that clip alone
    spectrum = tf.abs(tf.signal.stft(batch, frame_length, frame_step, fft_length=fft_length, pad_end=False))
    mel = tf.math.log(tf.tensordot(spectrum, weights, 1) + LOG_OFFSET).numpy()  # (clips, frames, mel_bins)
    return [mel[row, :count] for row, count in enumerate(counts)]


def standardisation(frame_lists):
    """(mean, std) per mel bin over every real frame of `frame_lists` (the training split's)."""
    stacked = np.concatenate(frame_lists, axis=0)  # (all frames, mel_bins)
    mean, std = stacked.mean(axis=0), stacked.std(axis=0)
    std[std == 0] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def pad(frame_lists, length, mean, std):
    """(N, length, mel_bins) of standardised frames, zeros after each clip's end; and the frame counts (N,)."""
    mel_bins = frame_lists[0].shape[1]
    x = np.zeros((len(frame_lists), length, mel_bins), np.float32)
    for row, frames in enumerate(frame_lists):
        x[row, :len(frames)] = (frames - mean) / std
    return x, np.asarray([len(frames) for frames in frame_lists], np.int32)
