"""Text to token ids with tf ops (tf.strings, tf.lookup): the same ids for both implementations.

Used by the tfds text source (`imdb_reviews`). The vocabulary comes from the training
split only: ids 0 (padding), 1 (out of vocabulary), 2.. the most frequent training words.
"""
import tensorflow as tf


def tokenize(texts):
    """Lower-case words of a batch of strings, with tf.strings: (N,) -> ragged (N, None)."""
    text = tf.strings.lower(texts)
    text = tf.strings.regex_replace(text, r"<br\s*/?>", " ")  # imdb's line breaks
    text = tf.strings.regex_replace(text, r"[^a-z0-9']+", " ")
    return tf.strings.split(text)


def build_vocabulary(tokens, size):
    """A tf.lookup table word -> id for the size - 2 most frequent words (ties: first seen first)."""
    words, _, counts = tf.unique_with_counts(tokens.flat_values)
    order = tf.argsort(counts, direction="DESCENDING", stable=True)
    kept = tf.gather(words, order[: size - 2])
    ids = tf.range(2, tf.size(kept, out_type=tf.int64) + 2)
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(kept, ids), default_value=1)
    return table, int(tf.size(kept)) + 2


def to_ids(tokens, table, length):
    """Ragged words -> (N, length) int ids, truncated or padded with 0; the mask is `ids != 0`."""
    ids = tf.ragged.map_flat_values(table.lookup, tokens)
    return ids.to_tensor(default_value=0, shape=[None, length]).numpy()
