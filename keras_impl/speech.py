"""Speech recognition with CTC in Keras: a bidirectional LSTM reads log-mel frames and emits a transcript.

    log-mel frames (batch, frames, mel_bins), zeros after each clip's end (common/data/speech.py)
      -> Masking(0.0)                                          the mask marks the padding frames
      -> Bidirectional(LSTM(units, return_sequences=True))      (batch, frames, 2 * units): every frame read with
                                                               what was said before it and after it
      -> Dense(1 + symbols): logits at every frame             (batch, frames, 11): class 0 the CTC blank, 1-10 "0"-"9"

Connectionist temporal classification (Graves, Fernandez, Gomez & Schmidhuber 2006): the network never
learns where a digit starts; the loss sums, over every alignment of the transcript to the clip's frames
(each frame a symbol or the blank, repeats merged), the probability of that alignment, and is the
negative log of the sum. keras.ops.ctc_loss computes it (blank = mask_index = 0, on logits, batch-major)
for each clip over its own real frames and its own transcript: keras.losses.CTC would give every clip the
padded length, and a mask on the logits reaches a compiled loss as (batch, frames) weights on a loss that
is one number per clip, so the model computes its loss itself (compute_loss, the Keras 3 hook for a
custom loss): the real frames are the unmasked ones (the Masking rule: not all zero), the transcript's
length its non-zero labels, the loss their mean over the batch (keras.losses.CTC's "sum_over_batch_size").
The backward LSTM reads each clip from its last real frame (Bidirectional hands the mask to both
directions). Decoding (best path, prefix beam search) and the label error rate: common/speech.py.
Hyperparameters: common.configs.SpeechConfig. Twin: tf_impl/speech.py.
"""
import sys

import keras
from keras import ops

from common import cli, speech
from keras_impl import supervised
from keras_impl.lstm import lstm_layer

NETWORK = "speech"


class SpeechRecognizer(keras.Sequential):
    """A Sequential whose loss is CTC over each clip's real frames (see the module docstring)."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        frames = ops.sum(ops.cast(ops.any(ops.not_equal(x, 0.0), axis=-1), "int32"), axis=-1)  # (batch,): real frames
        labels = ops.cast(y, "int32")  # (batch, L): symbol ids, 0 after the transcript's end
        label_lengths = ops.sum(ops.cast(ops.not_equal(labels, 0), "int32"), axis=-1)  # (batch,)
        per_clip = ops.ctc_loss(labels, ops.cast(y_pred, "float32"), label_lengths, frames, mask_index=0)  # (batch,)
        return supervised.per_replica(ops.mean(per_clip))  # the batch mean; under tf.distribute, this replica's share


def build(config, input_shape, num_classes):
    """input_shape: (frames, mel_bins), any frame count; num_classes: the blank and the symbols (data.info)."""
    model = SpeechRecognizer([
        keras.Input(shape=(None, input_shape[-1])),
        keras.layers.Masking(0.0),  # an all-zero frame is padding
        keras.layers.Bidirectional(lstm_layer(config.units, return_sequences=True)),  # forward, backward: concat
        keras.layers.Dense(num_classes),  # (batch, frames, 1 + symbols): logits, class 0 the blank
    ], name=NETWORK)
    model.compile(optimizer=supervised.optimizer_from_config(config),
                  jit_compile=False, steps_per_execution=1)  # as keras_impl/supervised.py compiles, and why
    return model


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    data = speech.require_speech(NETWORK, data)
    keras.utils.set_random_seed(config.seed)
    model = build(config, data.info.input_shape, data.info.num_classes)
    return supervised.fit_and_score(NETWORK, config, data, model, speech.scored_result, verbose=verbose,
                                    out_dir=out_dir, checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
