"""Tagged sentences for the tagger: a user's `file.conll` (CoNLL-2003 format), and the shape every tagged source loads into.

The file format of the CoNLL-2003 shared task (and of most NER corpora since): UTF-8 text, one
token per line, its columns separated by white space, the token first and its tag in the LAST
column (CoNLL-2003 itself has four: token, part of speech, chunk, entity tag); a blank line ends
a sentence; `-DOCSTART-` lines (document boundaries) are skipped. Tags are IOB: `O`, or `B-TYPE`
/ `I-TYPE` for any entity type (PER, LOC, ORG, MISC, ...). IOB1 (CoNLL-2003's own, `I-` at an
entity's start) and IOB2 (`B-` at every start) files are read alike; seqeval's default (conlleval)
chunking scores both (common/evaluate.py tagging). A malformed tag (`X-PER`, `B-`, `per`), a
line with a token but no tag, a file with no sentences: one DataError each, naming the line.

The sentences are split with the fixed SPLIT_SEED, as pairs.py splits sentence pairs:
TEST_FRACTION of them for testing, validation_fraction of the rest for validation.

Tokens become ids by a WordVocabulary built from the training sentences alone: the words seen
there at least `min_count` times (TaggerConfig.min_count), ids 2, 3, ... by descending count;
every other word (rarer in training, or never seen there) is OUT_OF_VOCABULARY (1), and 0 is
padding. A name met once in training is then the same id as an unseen name at test time, so the
tagger learns to find names from their context. Tags become ids 1.. (`O` first, then sorted);
0 is padding in y too, so that y != 0 marks the real tokens (the loss and the scoring count
only those). Every sentence is padded with 0 to the longest of all splits: (N, T) int32.
The generated default, tasks/entities.py, loads through `tagged_data` too.
"""
import collections
import os
import re
from dataclasses import dataclass

import numpy as np

from common.data.core import Data, DataError, DataInfo, read_utf8, split_pool

NAMES = ("path/to/file.conll",)
TASK = "tagging"  # DataInfo.task of every TaggingData
PAD, OUT_OF_VOCABULARY = 0, 1  # ids of x; y's 0 is padding too
PAD_TAG = "<pad>"  # tag id 0: never a target, never predicted (common/tagging.py decodes over the real tags)
TAG = re.compile(r"^(O|[BI]-\S+)$")  # IOB: O, or B-/I- and an entity type
DOCUMENT_START = "-DOCSTART-"
MIN_COUNT = 2  # a word's training occurrences to get its own id, when the caller names none (TaggerConfig has its own)


class WordVocabulary:
    """Words as ids: 0 padding, 1 out of vocabulary, 2.. the training words seen >= min_count times, most frequent first."""

    RESERVED = ("<pad>", "<oov>")

    def __init__(self, words):
        self.words = list(words)
        self._ids = {word: index + len(self.RESERVED) for index, word in enumerate(self.words)}

    @classmethod
    def from_sentences(cls, sentences, min_count=MIN_COUNT):
        counts = collections.Counter(token for sentence in sentences for token in sentence)
        kept = sorted((word for word, count in counts.items() if count >= min_count), key=lambda w: (-counts[w], w))
        return cls(kept)

    @property
    def size(self):
        return len(self.RESERVED) + len(self.words)

    def encode(self, tokens):
        return np.asarray([self._ids.get(token, OUT_OF_VOCABULARY) for token in tokens], dtype=np.int32)

    def __contains__(self, word):
        return word in self._ids


@dataclass
class TaggingData(Data):
    """Data of token ids -> tag ids, with what decoding and scoring need: the tag names and the sentences themselves."""

    vocabulary: WordVocabulary = None
    tags: tuple = ()  # tag names by id: tags[0] is PAD_TAG, tags[1] "O"
    sentences: dict = None  # {"train" | "val" | "test": (token lists, tag lists)}, as read or generated


def matches(name):
    return name.endswith(".conll")


def load(path, options):
    sentences = read_conll(path)
    rows = split_pool(len(sentences), options.validation_fraction, path, "sentences")
    splits = {split: ([sentences[i][0] for i in chosen], [sentences[i][1] for i in chosen])
              for split, chosen in rows.items()}
    return tagged_data(os.path.basename(path), splits, options)


def read_conll(path):
    """[(tokens, tags)] of a CoNLL file, one per sentence, or a DataError naming what is wrong and where."""
    text = read_utf8(path)
    sentences, tokens, tags = [], [], []
    for number, line in enumerate(text.splitlines() + [""], start=1):  # the extra blank line ends the last sentence
        columns = line.split()
        if not columns or columns[0] == DOCUMENT_START:
            if tokens:
                sentences.append((tokens, tags))
            tokens, tags = [], []
            continue
        if len(columns) < 2:
            raise DataError(f"{path}, line {number}: no tag after the token {columns[0][:40]!r}; each line must be "
                            "`token ... tag` (the tag in the last column), a blank line between sentences")
        tag = columns[-1]
        if not TAG.match(tag):
            raise DataError(f"{path}, line {number}: {tag[:40]!r} is not an IOB tag (O, B-TYPE or I-TYPE, e.g. B-PER)")
        tokens.append(columns[0])
        tags.append(tag)
    if not sentences:
        raise DataError(f"{path} holds no tagged sentences (empty, or only blank and -DOCSTART- lines)")
    return sentences


def tag_names(tag_lists):
    """PAD_TAG, "O", then every other tag of the data, sorted (B-LOC, B-ORG, ..., I-PER)."""
    found = {tag for tags in tag_lists for tag in tags}
    return (PAD_TAG, "O", *sorted(found - {"O"}))


def tagged_data(name, splits, options, min_count=None):
    """TaggingData from {split: (token lists, tag lists)}: the vocabulary from the training split (min_count: the
    caller's, else options.min_count, else MIN_COUNT), the tags of every split, each sentence padded to the longest."""
    min_count = min_count or getattr(options, "min_count", None) or MIN_COUNT
    for split, (token_lists, tag_lists) in splits.items():
        if not token_lists:
            raise DataError(f"{name}: no {split} sentences")
        for tokens, tags in zip(token_lists, tag_lists):
            if not tokens or len(tokens) != len(tags):
                raise DataError(f"{name}: a {split} sentence with {len(tokens)} tokens and {len(tags)} tags")
    vocabulary = WordVocabulary.from_sentences(splits["train"][0], min_count)
    tags = tag_names(tag_list for _, tag_lists in splits.values() for tag_list in tag_lists)
    tag_ids = {tag: index for index, tag in enumerate(tags)}
    length = max(len(tokens) for token_lists, _ in splits.values() for tokens in token_lists)
    x, y = {}, {}
    for split, (token_lists, tag_lists) in splits.items():
        x[split] = np.zeros((len(token_lists), length), np.int32)  # (N, T): 0 after each sentence's end
        y[split] = np.zeros((len(token_lists), length), np.int32)
        for row, (tokens, sentence_tags) in enumerate(zip(token_lists, tag_lists)):
            x[split][row, :len(tokens)] = vocabulary.encode(tokens)
            y[split][row, :len(tokens)] = [tag_ids[tag] for tag in sentence_tags]
    info = DataInfo(name=name, kind="tokens", input_shape=(length,), num_classes=len(tags), n_train=len(x["train"]),
                    n_val=len(x["val"]), n_test=len(x["test"]), task=TASK, vocabulary_size=vocabulary.size)
    return TaggingData(x_train=x["train"], y_train=y["train"], x_val=x["val"], y_val=y["val"], x_test=x["test"],
                       y_test=y["test"], info=info, batch_size=options.batch_size, seed=options.seed,
                       vocabulary=vocabulary, tags=tags, sentences=splits)
