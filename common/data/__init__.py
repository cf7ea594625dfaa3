"""Datasets: one loader, the same tf.data pipelines for both implementations.

    from common import data
    d = data.load("digits", seed=0, batch_size=32)   # or "adding:50", "mnist", "my.npz", ...

The contract (Data, DataInfo, load, how sources plug in) is in core.py; each source is a
module of its own: embedded.py (scikit-learn), tfds.py (+ text.py), npz.py, transfer.py,
and tasks/ (generated tasks, one per file, found without being listed). The names below
are the package's public surface.
"""
from common.data.core import (SPLIT_SEED, TEST_FRACTION, Arrays, Data, DataError, DataInfo, Options, Splits,
                              class_count, known_names, load, split)
from common.data.shapes import require_image, require_sequence
from common.data.text import build_vocabulary, to_ids, tokenize
from common.data.tfds import IMDB_LENGTH, IMDB_VOCABULARY_SIZE, prepare
from common.data.tfds import NAMES as TFDS
from common.data.tfds import hint as tfds_hint
from common.data.tasks.adding import ADDING_LENGTH, ADDING_SEED, ADDING_SIZES, adding_problem
from common.data.transfer import FEW_SHOT_SEED, TransferData, few_shot

__all__ = [
    "SPLIT_SEED", "TEST_FRACTION", "Arrays", "Data", "DataError", "DataInfo", "Options", "Splits", "class_count",
    "known_names", "load", "split", "require_image", "require_sequence", "build_vocabulary", "to_ids", "tokenize",
    "IMDB_LENGTH", "IMDB_VOCABULARY_SIZE", "prepare", "TFDS", "tfds_hint", "ADDING_LENGTH", "ADDING_SEED",
    "ADDING_SIZES", "adding_problem", "FEW_SHOT_SEED", "TransferData", "few_shot",
]
