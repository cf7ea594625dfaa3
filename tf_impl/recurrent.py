"""Recurrent sequence models in raw TensorFlow: the stack that tf_impl/rnn.py, lstm.py and gru.py share.

    sequence (T, F) | image (H, W, C) read row by row | token ids (T,)
      -> mask = any(x != 0, features) | ids != 0        the mask marks padded steps
      -> one layers.Recurrent per entry of `units`       all but the last return the whole sequence;
         (layers.Bidirectional, concat, when asked)      the last returns its final output
      -> x @ W + b: logits  (one column: a regression's prediction)

Every recurrent layer runs its cell in a tf.while_loop (Keras's loop, written out), so
one trace serves every sequence length. A masked step leaves the state unchanged, so a
padded sequence ends in the state of its last real step. The three networks differ only
in the cell. Under mixed precision (built inside layers.precision) the layers compute in
bfloat16 or float16, as Keras's layers do under its dtype policy; the loss is float32
(tf_impl/supervised.py). Twin: keras_impl/recurrent.py.
"""
import numpy as np
import tensorflow as tf

from common.data import require_sequence
from tf_impl import layers, supervised


class RecurrentModel(layers.Sequential):
    """[embedding] -> recurrent layers -> dense head, with the padding mask handed to every recurrent layer."""

    def __init__(self, embedding, recurrent, head, *, features, masking, name=None):
        super().__init__(([embedding] if embedding is not None else []) + list(recurrent) + [head], name=name)
        self.embedding, self.recurrent, self.head = embedding, list(recurrent), head
        self.features, self.masking = features, masking
        self.compute_dtype = layers.current_compute_dtype()  # float32, or bfloat16/float16 under mixed precision

    def __call__(self, x, training=False):
        if self.embedding is not None:
            mask = tf.not_equal(x, 0)  # (batch, time): id 0 is padding
            x = self.embedding(x, training=training)  # (batch, time) -> (batch, time, embedding_size)
        else:
            x = tf.cast(x, self.compute_dtype)  # Keras casts first, so a step masks when it rounds to all zeros
            x = tf.reshape(x, [tf.shape(x)[0], tf.shape(x)[1], self.features])  # images: (batch, h, w, c) -> (batch, h, w*c)
            mask = tf.reduce_any(tf.not_equal(x, 0.0), axis=-1) if self.masking else None  # (batch, time)
        for layer in self.recurrent:
            x = layer(x, mask=mask, training=training)
        return self.head(x, training=training)


def build(network, cell_class, config, input_shape, num_classes, vocabulary_size=0):
    """cell_class(in_features, units, rng=...) -> a cell of tf_impl.layers (SimpleRNNCell, LSTMCell, GRUCell)."""
    _, features = require_sequence(input_shape, network, vocabulary_size)
    rng = np.random.default_rng(config.seed)
    embedding = None
    if vocabulary_size:
        embedding = layers.Embedding(vocabulary_size, config.embedding_size, rng=rng)
    width = config.embedding_size if vocabulary_size else features
    recurrent = []
    for index, units in enumerate(config.units):
        return_sequences = index < len(config.units) - 1
        directions = 2 if config.bidirectional else 1
        # forward first, then backward: the order of Keras's weights
        reading = [layers.Recurrent(cell_class(width, units, rng=rng), return_sequences) for _ in range(directions)]
        recurrent.append(layers.Bidirectional(*reading) if config.bidirectional else reading[0])
        width = units * directions
    outputs = 1 if num_classes == 2 else num_classes  # num_classes 1: one real-valued output (regression)
    head = layers.Dense(width, outputs, l2=config.l2, l1=config.l1, rng=rng)  # L1/L2 on the head only, as Keras
    return RecurrentModel(embedding, recurrent, head, features=features, masking=config.masking, name=network)


def train(network, build, config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    """supervised.train, with the data's vocabulary handed to build (for token data)."""

    def build_for_data(config, input_shape, num_classes):
        return build(config, input_shape, num_classes, vocabulary_size=data.info.vocabulary_size)

    return supervised.train(network, build_for_data, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)
