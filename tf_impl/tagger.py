"""Named-entity recognition in raw TensorFlow: a bidirectional LSTM tags every token of a sentence (IOB2).

    word ids (batch, time), 0 after each sentence's end; 1: a word rare or unseen in training
      -> layers.Embedding(vocabulary, embedding_size); mask = ids != 0        the mask marks the padding
      -> layers.Bidirectional(Recurrent(LSTMCell), Recurrent(LSTMCell, go_backwards))
                                                    (batch, time, 2 * units): forward outputs, then the
                                                    backward ones flipped back into time order
      -> x @ W + b at every token: logits of every IOB2 tag                   (batch, time, tags); tag 0 is padding

The BiLSTM tagger (Huang, Xu & Yu 2015; Lample et al. 2016, without the CRF) written out: the
cells are tf_impl.layers.LSTMCell, run by layers.Recurrent's tf.while_loop. The backward layer
reverses each sequence, padding first, and a masked step keeps the state at zero and outputs
zeros (zero_output_for_mask, as keras.layers.Bidirectional asks), so the backward reading starts
at the sentence's last real word and the padding never reaches a real token's output. The model
(embedding -> recurrent layers -> head over every step, the mask handed on) is charlm's CharLM,
the loss and the step charlm's too: the cross-entropy summed over the real tokens (y != 0) and
divided by the real tokens of the global batch (tf_impl/charlm.py real_character_loss,
common/charlm.py), what keras_impl's compiled loss computes. Decoding and the entity-level F1
(seqeval) are common/tagging.py's.
Hyperparameters: common.configs.TaggerConfig. Twin: keras_impl/tagger.py.
"""
import sys

import numpy as np
import tensorflow as tf

from common import cli, tagging
from tf_impl import layers, loop, optim
from tf_impl.charlm import CharLM, make_train_step, real_character_loss  # make_train_step: also the shared tests'

NETWORK = "tagger"


def build(config, input_shape, num_classes, vocabulary_size):
    """num_classes: the tags (data.info.num_classes, padding's 0 included); vocabulary_size: the word ids'; any length."""
    rng = np.random.default_rng(config.seed)
    embedding = layers.Embedding(vocabulary_size, config.embedding_size, rng=rng)
    # forward first, then backward: the order of Keras's weights; Bidirectional sets go_backwards and the zero outputs
    reading = [layers.Recurrent(layers.LSTMCell(config.embedding_size, config.units, rng=rng), return_sequences=True)
               for _ in range(2)]
    recurrent = layers.Bidirectional(*reading)
    head = layers.Dense(2 * config.units, num_classes, rng=rng)  # logits, from both directions' outputs
    return CharLM(embedding, [recurrent], head, name=NETWORK)


def loss_fn(model, x, y, training=False):
    return real_character_loss(model(x, training=training), y)  # the mean over real tokens (y != 0)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    data = tagging.require_tagged(NETWORK, data)
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = build(config, data.info.input_shape, data.info.num_classes, data.info.vocabulary_size)
        optimizer = optim.from_config(config, steps_per_epoch=loop.steps_of(data.train))
        optimizer.build(model.trainable_weights)
    train_batches = strategy.experimental_distribute_dataset(data.train)  # reshuffled per pass
    train_step = make_train_step(model, optimizer, strategy, train_batches.element_spec)
    forward = tf.function(lambda x: tf.cast(model(x, training=False), tf.float32), reduce_retracing=True)

    def predict(dataset):
        return np.concatenate([forward(x).numpy() for x, _ in dataset], axis=0)  # (N, time, tags)

    def validate():  # as Keras's evaluate: each batch's mean over its real tokens, weighted by its size
        losses, sizes = zip(*((float(real_character_loss(forward(x), y)), len(x)) for x, y in data.val))
        return {"val_loss": float(np.dot(losses, sizes) / np.sum(sizes))}

    history, epochs_run, seconds = loop.train_and_save(
        NETWORK, config, data, model, optimizer, train_step, train_batches, validate, verbose=verbose, out_dir=out_dir,
        checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)
    return tagging.scored_result(NETWORK, "tf", config, data, predict(data.test), history=history,
                                 epochs_run=epochs_run, seconds=seconds, model=model)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
