"""Text as characters for the language model (charlm): `path/to/file.txt`, and what reber and tiny_shakespeare share.

Every source of text ends here, in a CharData: the usual Data (x, y pipelines; info) with
the common.vocabulary.Vocabulary that maps its characters to ids, saved with a trained
model so that generation maps back to the same characters.

    strings (reber):  one string per row:  x = <start> s,  y = s <end>,  padded with 0 to the longest string
    text (a file, tiny_shakespeare): cut into windows of sequence_length characters,
                      x = <start> w[:-1],  y = w: truncated sequences, each read from a fresh state

y == 0 marks padding: the loss and every metric count real characters only (y != 0).
info.num_classes is the vocabulary's size (the softmax width), info.task "next_character".

A .txt file must be UTF-8 with at least MIN_CHARACTERS characters: its first 80% is
training text, the next 10% validation, the last 10% test. Its vocabulary is every
character of the file (a rare character first met in the test tenth is part of the
file's alphabet, not an error); tiny_shakespeare's is its training split's, as
Vocabulary.from_texts intends.
"""
import os
from dataclasses import dataclass

import numpy as np

from common.data.core import Data, DataError, DataInfo
from common.vocabulary import Vocabulary

NAMES = ("path/to/file.txt",)
TASK = "next_character"  # DataInfo.task of every CharData
SEQUENCE_LENGTH = 100  # characters per window of real text when the caller names none (CharLMConfig has its own)
MIN_CHARACTERS = 20  # a file's training, validation and test text are cut from it: 80/10/10
SPLITS = (0.8, 0.1, 0.1)


@dataclass
class CharData(Data):
    """Data of character ids, with the vocabulary behind them and, for a grammar's strings, the grammar."""

    vocabulary: Vocabulary = None
    texts_test: list = None  # strings: the test strings themselves (the grammar's optimum is computed on them)
    grammar: object = None  # reber: its automaton (next_probabilities, accepts); None for real text


def matches(name):
    return name.endswith(".txt")


def load(path, options):
    if not os.path.isfile(path):
        raise DataError(f"no such text file: {path}")
    with open(path, "rb") as stream:
        raw = stream.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}); "
                        "save it as UTF-8") from None
    if len(text) < MIN_CHARACTERS:
        raise DataError(f"{path} holds {len(text)} character{'s' * (len(text) != 1)}: a language model needs at least "
                        f"{MIN_CHARACTERS} (its training, validation and test text are cut from it)")
    first, second = int(SPLITS[0] * len(text)), int((SPLITS[0] + SPLITS[1]) * len(text))
    vocabulary = Vocabulary.from_texts([text])
    return from_text(os.path.basename(path), (text[:first], text[first:second], text[second:]), options, vocabulary)


def _encoded(vocabulary, texts, where):
    try:
        return [vocabulary.encode(text, start=True, end=True) for text in texts]
    except DataError as error:
        raise DataError(f"{where}: {error}") from None


def from_strings(name, splits, options, grammar=None):
    """CharData of (train, validation, test) lists of strings: one string per row, start and end ids around it."""
    train, val, test = splits
    vocabulary = Vocabulary.from_texts(train)
    encoded = [_encoded(vocabulary, texts, f"{name} {part}") for texts, part in zip(splits, ("train", "val", "test"))]
    length = max(len(ids) - 1 for rows in encoded for ids in rows)  # predicted positions of the longest string
    arrays = []
    for rows in encoded:
        arrays += [vocabulary.pad([ids[:-1] for ids in rows], length), vocabulary.pad([ids[1:] for ids in rows], length)]
    return _char_data(name, arrays, options, vocabulary, texts_test=list(test), grammar=grammar)


def windows(vocabulary, text, length):
    """(x, y) of `text` cut into windows of `length` characters (a text shorter than one window: one, padded)."""
    ids = vocabulary.encode(text)
    count = max(1, len(ids) // length)
    rows = [ids[index * length:(index + 1) * length] for index in range(count)]
    x = [np.concatenate([[Vocabulary.START], row[:-1]]) for row in rows]  # (count, length): <start> w[:-1]
    return vocabulary.pad(x, length), vocabulary.pad(rows, length)


def from_text(name, splits, options, vocabulary=None):
    """CharData of (train, validation, test) texts, each cut into windows of options.sequence_length characters."""
    vocabulary = vocabulary or Vocabulary.from_texts([splits[0]])
    length = getattr(options, "sequence_length", None) or SEQUENCE_LENGTH
    arrays = []
    for text, part in zip(splits, ("train", "val", "test")):
        try:
            arrays += windows(vocabulary, text, length)
        except DataError as error:
            raise DataError(f"{name} {part}: {error}") from None
    return _char_data(name, arrays, options, vocabulary)


def _char_data(name, arrays, options, vocabulary, texts_test=None, grammar=None):
    x_train, y_train, x_val, y_val, x_test, y_test = arrays
    info = DataInfo(name=name, kind="tokens", input_shape=tuple(x_train.shape[1:]), num_classes=vocabulary.size,
                    n_train=len(x_train), n_val=len(x_val), n_test=len(x_test), task=TASK,
                    vocabulary_size=vocabulary.size)
    return CharData(x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test, info=info,
                    batch_size=options.batch_size, seed=options.seed, vocabulary=vocabulary, texts_test=texts_test,
                    grammar=grammar)
