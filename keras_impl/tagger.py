"""Named-entity recognition in Keras: a bidirectional LSTM tags every token of a sentence (IOB2).

    word ids (batch, time), 0 after each sentence's end; 1: a word rare or unseen in training
      -> Embedding(vocabulary, embedding_size, mask_zero=True)       the mask marks the padding
      -> Bidirectional(LSTM(units, return_sequences=True))            (batch, time, 2 * units): each token read
                                                                      with the words before it and after it
      -> Dense(tags): logits of every IOB2 tag at every token         (batch, time, tags); tag 0 is padding

The BiLSTM tagger of Huang, Xu & Yu 2015 and Lample et al. 2016 (without their CRF layer and
character features): the backward LSTM reads each sentence from its last real word (the mask
keeps the padding out of it) and Bidirectional hands its outputs back in time order, so the
Dense layer sees, at every token, what precedes and what follows it. The loss is the
cross-entropy over the real tokens only (y != 0), summed and divided by the real tokens of the
global batch: charlm's loss (keras_impl/charlm.py RealCharacterCrossEntropy), which on one
device is SparseCategoricalCrossentropy(from_logits=True) with the padding mask Keras propagates
into it, and under tf.distribute stays the global batch's mean (a per-replica masked mean would
not: common/charlm.py). Decoding and the entity-level F1 (seqeval) are common/tagging.py's.
Hyperparameters: common.configs.TaggerConfig. Twin: tf_impl/tagger.py.
"""
import sys

import keras

from common import cli, tagging
from keras_impl import supervised
from keras_impl.charlm import RealCharacterCrossEntropy
from keras_impl.lstm import lstm_layer

NETWORK = "tagger"


def build(config, input_shape, num_classes, vocabulary_size):
    """num_classes: the tags (data.info.num_classes, padding's 0 included); vocabulary_size: the word ids'; any length."""
    model = keras.Sequential([
        keras.Input(shape=(None,), dtype="int32"),
        keras.layers.Embedding(vocabulary_size, config.embedding_size, mask_zero=True),  # id 0 is padding
        keras.layers.Bidirectional(lstm_layer(config.units, return_sequences=True)),  # forward, backward: concat
        keras.layers.Dense(num_classes),  # (batch, time, tags): logits
    ], name=NETWORK)
    model.compile(optimizer=supervised.optimizer_from_config(config),
                  loss=RealCharacterCrossEntropy(name="real_token_cross_entropy"),  # the mean over real tokens
                  jit_compile=False, steps_per_execution=1)  # as keras_impl/supervised.py compiles, and why
    return model


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    data = tagging.require_tagged(NETWORK, data)
    keras.utils.set_random_seed(config.seed)
    model = build(config, data.info.input_shape, data.info.num_classes, data.info.vocabulary_size)
    return supervised.fit_and_score(NETWORK, config, data, model, tagging.scored_result, verbose=verbose,
                                    out_dir=out_dir, checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
