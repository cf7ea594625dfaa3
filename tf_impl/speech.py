"""Speech recognition with CTC in raw TensorFlow: a bidirectional LSTM reads log-mel frames and emits a transcript.

    log-mel frames (batch, frames, mel_bins), zeros after each clip's end (common/data/speech.py)
      -> mask = any(x != 0, axis=mel_bins)                    the mask marks the padding frames
      -> layers.Bidirectional(Recurrent(LSTMCell), Recurrent(LSTMCell, go_backwards))
                                                             (batch, frames, 2 * units): forward outputs, then the
                                                             backward ones flipped back into time order
      -> x @ W + b at every frame: logits                    (batch, frames, 11): class 0 the CTC blank, 1-10 "0"-"9"

Connectionist temporal classification (Graves et al. 2006) written with tf.nn.ctc_loss: every clip with its
own frame count (its real frames, the mask's) and its own label count (y != 0), logits batch-major
(logits_time_major=False), blank_index=0 (class 0, keras.losses.CTC's convention), the per-clip losses
averaged over the clips of the global batch (tf_impl/replicas.py): what keras_impl's compute_loss computes
with keras.ops.ctc_loss. The cells are tf_impl.layers.LSTMCell, run by layers.Recurrent's tf.while_loop; the
backward layer reverses each clip, padding first, and a masked step keeps the state at zero and outputs
zeros, so the backward reading starts at the clip's last real frame and the padding never reaches a real
frame's output. Decoding (best path, prefix beam search) and the label error rate: common/speech.py.
Hyperparameters: common.configs.SpeechConfig. Twin: keras_impl/speech.py.
"""
import sys

import numpy as np
import tensorflow as tf

from common import cli, speech
from tf_impl import layers, loop, optim, replicas

NETWORK = "speech"


class SpeechRecognizer(layers.Sequential):
    """mask of the padding frames -> bidirectional LSTM over the real frames -> dense logits at every frame."""

    def __init__(self, recurrent, head, name=NETWORK):
        super().__init__([recurrent, head], name=name)
        self.recurrent, self.head = recurrent, head

    def __call__(self, x, training=False):
        mask = tf.reduce_any(tf.not_equal(x, 0.0), axis=-1)  # (batch, frames): an all-zero frame is padding
        x = self.recurrent(x, mask=mask, training=training)  # (batch, frames, 2 * units)
        batch, frames = tf.shape(x)[0], tf.shape(x)[1]
        # Keras's Dense on a sequence is one matmul over every frame: the same op here (tf_impl/charlm.py says why)
        logits = self.head(tf.reshape(x, [-1, x.shape[-1]]), training=training)  # (batch * frames, classes)
        return tf.reshape(logits, [batch, frames, -1])  # (batch, frames, 1 + symbols)


def build(config, input_shape, num_classes):
    """input_shape: (frames, mel_bins), any frame count; num_classes: the blank and the symbols (data.info)."""
    rng = np.random.default_rng(config.seed)
    # forward first, then backward: the order of Keras's weights; Bidirectional sets go_backwards and the zero outputs
    reading = [layers.Recurrent(layers.LSTMCell(input_shape[-1], config.units, rng=rng), return_sequences=True)
               for _ in range(2)]
    head = layers.Dense(2 * config.units, num_classes, rng=rng)  # logits, from both directions' outputs
    return SpeechRecognizer(layers.Bidirectional(*reading), head)


def ctc_per_clip(logits, x, y):
    """(batch,) CTC loss of each clip over its real frames (x not all zero) and its transcript (y != 0), blank 0."""
    frames = tf.reduce_sum(tf.cast(tf.reduce_any(tf.not_equal(x, 0.0), axis=-1), tf.int32), axis=-1)  # (batch,)
    labels = tf.cast(y, tf.int32)  # (batch, L): 0 after the transcript's end
    label_lengths = tf.reduce_sum(tf.cast(tf.not_equal(labels, 0), tf.int32), axis=-1)  # (batch,)
    return tf.nn.ctc_loss(labels=labels, logits=tf.cast(logits, tf.float32), label_length=label_lengths,
                          logit_length=frames, logits_time_major=False, blank_index=0)


def loss_fn(model, x, y, training=False):
    """The mean CTC loss over the clips of the global batch (one device: of the batch)."""
    return replicas.average_loss(ctc_per_clip(model(x, training=training), x, y), x)


def make_train_step(model, optimizer, strategy, element_spec, task=None):
    """train_step(x, y) -> (batch loss, batch size) on every replica: loss_fn's gradients applied (tf_impl/replicas.py
    loss_step). task: unused (the shared tests call every network's step as the supervised one's)."""
    return replicas.loss_step(loss_fn, model, optimizer, strategy, element_spec)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    data = speech.require_speech(NETWORK, data)
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = build(config, data.info.input_shape, data.info.num_classes)
        optimizer = optim.from_config(config, steps_per_epoch=loop.steps_of(data.train))
        optimizer.build(model.trainable_weights)
    train_batches = strategy.experimental_distribute_dataset(data.train)  # reshuffled per pass
    train_step = make_train_step(model, optimizer, strategy, train_batches.element_spec)
    forward = tf.function(lambda x: tf.cast(model(x, training=False), tf.float32), reduce_retracing=True)

    def predict(dataset):
        return np.concatenate([forward(x).numpy() for x, _ in dataset], axis=0)  # (N, frames, 1 + symbols)

    def validate():  # as Keras's evaluate: each batch's mean over its clips, weighted by its size
        losses, sizes = zip(*((float(tf.reduce_mean(ctc_per_clip(forward(x), x, y))), len(x)) for x, y in data.val))
        return {"val_loss": float(np.dot(losses, sizes) / np.sum(sizes))}

    history, epochs_run, seconds = loop.train_and_save(
        NETWORK, config, data, model, optimizer, train_step, train_batches, validate, verbose=verbose, out_dir=out_dir,
        checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)
    return speech.scored_result(NETWORK, "tf", config, data, predict(data.test), history=history,
                                epochs_run=epochs_run, seconds=seconds, model=model)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
