"""Recurrent sequence models in Keras: the stack that keras_impl/rnn.py, lstm.py and gru.py share.

    sequence (T, F) | image (H, W, C) read row by row | token ids (T,)
      -> Masking(0.0) | Embedding(mask_zero=True)      the mask marks padded steps
      -> one recurrent layer per entry of `units`      all but the last return the whole sequence;
         (Bidirectional(concat) when asked)            the last returns its final output
      -> Dense(classes): logits  (Dense(1): a regression's prediction)

A masked step leaves the state unchanged (Keras masking semantics), so a padded
sequence ends in the state of its last real step. The three networks differ only in
the layer they put in the stack. Mixed precision needs nothing here: supervised.train
builds the model under the Keras dtype policy (supervised.precision), and every layer
casts its inputs and weights to the compute dtype itself. Twin: tf_impl/recurrent.py.
"""
import keras

from common.data import require_sequence
from keras_impl import supervised


def build(network, recurrent_layer, config, input_shape, num_classes, vocabulary_size=0):
    """recurrent_layer(units, return_sequences) -> a keras RNN layer (SimpleRNN, LSTM, GRU)."""
    time_steps, features = require_sequence(input_shape, network, vocabulary_size)
    if vocabulary_size:
        stack = [
            keras.Input(shape=input_shape, dtype="int32"),
            keras.layers.Embedding(vocabulary_size, config.embedding_size, mask_zero=True),  # id 0 is padding
        ]
    else:
        stack = [keras.Input(shape=input_shape)]
        if len(input_shape) == 3:
            stack.append(keras.layers.Reshape((time_steps, features)))  # images: (batch, h, w, c) -> (batch, h, w*c)
        if config.masking:
            stack.append(keras.layers.Masking(mask_value=0.0))
    for index, units in enumerate(config.units):
        layer = recurrent_layer(units, return_sequences=index < len(config.units) - 1)
        stack.append(keras.layers.Bidirectional(layer) if config.bidirectional else layer)
    # --l1/--l2 on the head's kernel only (not on the recurrent kernels): l1 * sum|w| + l2 * sum w**2
    penalty = keras.regularizers.L1L2(l1=config.l1, l2=config.l2) if config.l1 or config.l2 else None
    head = keras.layers.Dense(supervised.output_units(num_classes), kernel_regularizer=penalty)
    stack.append(head)  # logits, or the regression output
    model = keras.Sequential(stack, name=network)
    if num_classes == 1:  # common.data: one real-valued target
        return supervised.compile_regressor(model, config)
    return supervised.compile_classifier(model, config, num_classes)


def train(network, build, config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    """supervised.train, with the data's vocabulary handed to build (for token data)."""

    def build_for_data(config, input_shape, num_classes):
        return build(config, input_shape, num_classes, vocabulary_size=data.info.vocabulary_size)

    return supervised.train(network, build_for_data, config, data, verbose=verbose, out_dir=out_dir,
                            checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)
