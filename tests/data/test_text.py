"""common.data.text: tokens and ids with tf ops."""
import numpy as np

from common import data as data_module


def test_tokenizer_and_vocabulary_with_tf_ops():
    texts = np.array([b"The cat<br />sat. The END", b"the dog", b"A cat, the cat!"])
    tokens = data_module.tokenize(texts)
    assert [[t.decode() for t in row] for row in tokens.to_list()] == [
        ["the", "cat", "sat", "the", "end"], ["the", "dog"], ["a", "cat", "the", "cat"]
    ]
    table, size = data_module.build_vocabulary(tokens, size=4)  # room for 2 words besides padding and unknown
    assert size == 4
    ids = data_module.to_ids(data_module.tokenize(np.array([b"cat the zebra", b"the cat the cat the cat"])), table, 5)
    # "the" (4 times) -> 2, "cat" (4 times, seen later) -> 3, unknown -> 1, padding -> 0, cut at 5 tokens
    np.testing.assert_array_equal(ids, [[3, 2, 1, 0, 0], [2, 3, 2, 3, 2]])
