"""Sequence pairs for translation (seq2seq): a user's `pairs.tsv`, and the shape every pair source loads into.

The file format of the Anki/Tatoeba sentence-pair files (manythings.org/anki, e.g.
fra-eng's fra.txt, which keras-io's character-level seq2seq example reads): UTF-8 text,
one pair per line, `source<TAB>target[<TAB>anything]` (the Anki files' third column, the
attribution, is ignored); blank lines are skipped. The pairs are split with the fixed
SPLIT_SEED: TEST_FRACTION of them for testing, validation_fraction of the rest for
validation.

Texts become character ids (common/vocabulary.py): one vocabulary for the sources and one
for the targets, each built from the training split alone. A character of a validation or
test text that no training text has is refused, with its line named: the model could never
read (or write) it. x holds a source's ids padded with PAD, y a target's ids followed by
END and padded (the decoder's input, START then the target, is made from y by
common/seq2seq.py). The generated dates task (tasks/dates.py) loads through `translation_data` too.
"""
import os
from dataclasses import dataclass


from common.data.core import Data, DataError, DataInfo, read_utf8, split_pool
from common.vocabulary import Vocabulary

NAMES = ("path/to/pairs.tsv",)


@dataclass
class TranslationData(Data):
    """Data of source -> target pairs, with the vocabularies and the texts behind the ids."""

    source_vocabulary: Vocabulary = None
    target_vocabulary: Vocabulary = None
    texts: dict = None  # {"train" | "val" | "test": (source texts, target texts)}
    bleu: bool = False  # score with corpus BLEU too (sentences; not dates)


def matches(name):
    return name.endswith(".tsv")


def load(path, options):
    pairs = read_pairs(path)
    split = split_pool(len(pairs), options.validation_fraction, path, "sentence pairs")
    texts = {name: ([pairs[i][0] for i in rows], [pairs[i][1] for i in rows]) for name, rows in split.items()}
    lines = {name: [pairs[i][2] for i in rows] for name, rows in split.items()}
    return translation_data(os.path.basename(path), texts, options, lines=lines, bleu=True)


def read_pairs(path):
    """[(source, target, line number)] of a .tsv file, or a DataError naming what is wrong and where."""
    text = read_utf8(path)
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if "\t" not in line:
            raise DataError(f"{path}, line {number}: no tab; each line must be source<TAB>target, got {line[:40]!r}")
        source, target = line.split("\t")[:2]
        if not source or not target:
            raise DataError(f"{path}, line {number}: an empty {'source' if not source else 'target'}; "
                            "each line must be source<TAB>target")
        pairs.append((source, target, number))
    if not pairs:
        raise DataError(f"{path} holds no sentence pairs (empty, or only blank lines)")
    return pairs


def translation_data(name, texts, options, *, lines=None, bleu=False):
    """TranslationData from {split: (source texts, target texts)}, vocabularies from the training split.

    lines: {split: line numbers}, to name the line of an unknown character (a file's pairs).
    """
    sources, targets = texts["train"]
    source_vocabulary, target_vocabulary = Vocabulary.from_texts(sources), Vocabulary.from_texts(targets)
    arrays = {}
    for split in ("train", "val", "test"):
        encoded = []
        for side, vocabulary in ((0, source_vocabulary), (1, target_vocabulary)):
            ids = []
            for index, text in enumerate(texts[split][side]):
                try:
                    ids.append(vocabulary.encode(text, end=side == 1))
                except DataError as error:
                    where = f"line {lines[split][index]}" if lines else f"{split} pair {index}"
                    raise DataError(f"{name}, {where}: {error}: a {('source', 'target')[side]} character the "
                                    f"training split never shows") from None
            encoded.append(ids)
        arrays[split] = encoded
    # one length per side for every split: the longest of all, so that a batch of any split fits the same model
    source_length = max(len(ids) for split in arrays.values() for ids in split[0])
    target_length = max(len(ids) for split in arrays.values() for ids in split[1])
    x = {split: source_vocabulary.pad(arrays[split][0], source_length) for split in arrays}
    y = {split: target_vocabulary.pad(arrays[split][1], target_length) for split in arrays}
    info = DataInfo(name=name, kind="pairs", input_shape=(source_length,), num_classes=target_vocabulary.size,
                    n_train=len(x["train"]), n_val=len(x["val"]), n_test=len(x["test"]), task="translation",
                    vocabulary_size=source_vocabulary.size)
    return TranslationData(x_train=x["train"], y_train=y["train"], x_val=x["val"], y_val=y["val"], x_test=x["test"],
                           y_test=y["test"], info=info, batch_size=options.batch_size, seed=options.seed,
                           source_vocabulary=source_vocabulary, target_vocabulary=target_vocabulary, texts=texts,
                           bleu=bleu)
