"""The data contract: `load(name) -> Data`, and what every source hands back.

    data = load("digits", seed=0, batch_size=32)
    data.train, data.val, data.test      # tf.data pipelines of (x, y) batches
    data.info                            # name, kind, input_shape, num_classes, sizes
    data.x_test, data.y_test             # the arrays behind them, for evaluation

A *source* is a module of this package (`embedded`, `tfds`, `transfer`, `npz`) or of
`tasks/` (one generated task per file). It exposes

    NAMES                 names to show a user, e.g. ("adding", "adding:T")
    matches(name) -> bool
    load(name, options) -> Arrays    (or a finished Data, for sources built from other loads)

`load()` asks the sources in order (SOURCES, then every module found in `tasks/`, then
`npz` last, which takes any path) and turns the first match's Arrays into Data here, the
same way for all: a validation split if the source has none, tables standardised on
training statistics, class labels checked, one dtype per kind. Adding a generated task
is adding a file to `tasks/`.

The train/validation/test split uses a fixed seed (SPLIT_SEED) so that every run, of
either implementation and any training seed, is scored on the same test examples. The
training seed only drives shuffling.
"""
import importlib
import os
import pkgutil
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

SPLIT_SEED = 0
TEST_FRACTION = 0.2  # for sources that come as one pool (embedded)
SOURCES = ("embedded", "tfds", "transfer", "pairs", "characters", "series", "conll", "boxes")  # asked first, in this order; then tasks/*, then npz
LAST_SOURCE = "npz"  # a path to a file: asked last, after every named source


class DataError(ValueError):
    """Data that cannot be loaded or used: missing, malformed or the wrong shape."""


def read_utf8(path):
    """The text of a dataset file (a byte-order mark dropped), or a DataError: no such file, or the line of its first
    byte that is not UTF-8."""
    if not os.path.isfile(path):
        raise DataError(f"no such dataset file: {path}")
    with open(path, "rb") as stream:
        raw = stream.read()
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark, if any, is not part of the first line's first field
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise DataError(f"{path} is not UTF-8 text: byte 0x{raw[error.start]:02x} on line {line} cannot be decoded; "
                        "save the file as UTF-8") from None


def split_pool(count, validation_fraction, path, items):
    """Rows of a pool of `count` examples read from one file (sentence pairs, tagged sentences): TEST_FRACTION of
    them for testing, validation_fraction of the rest for validation, the others for training, shuffled with the
    fixed SPLIT_SEED. {"test" | "val" | "train": row indices}. A pool too small for three parts is refused."""
    n_test = max(1, round(TEST_FRACTION * count))
    n_val = max(1, round(validation_fraction * (count - n_test)))
    if count - n_test - n_val < 1:
        raise DataError(f"{path}: {count} {items} are too few to split into training, validation and test "
                        f"{items} (at least 3)")
    order = np.random.default_rng(SPLIT_SEED).permutation(count)
    return {"test": order[:n_test], "val": order[n_test:n_test + n_val], "train": order[n_test + n_val:]}


@dataclass(frozen=True)
class DataInfo:
    name: str
    kind: str  # "image" (N, H, W, C), "table" (N, F), "sequence" (N, T, F) or "tokens" (N, T) of int ids;
    # "pairs": source ids (N, T) -> target ids (N, T') (common/data/pairs.py: dates, .tsv sentence pairs)
    # ("tokens" with task "tagging": word ids (N, T) -> a tag id per token (N, T), common/data/conll.py)
    # ("image" with task "detection": images -> common/detection.py's target maps (N, H/4, W/4, C + 5); the boxes
    # themselves in DetectionData.objects, common/data/boxes.py)
    # ("image" with task "segmentation": images (N, H, W, C) -> a class per pixel (N, H, W), num_classes the mask's
    # classes, background included; common/data/tasks/scenes.py, tfds oxford_iiit_pet, an .npz with masks as y)
    # ("sequence" with task "ctc": log-mel frames (N, T, F) -> a transcript of symbol ids (N, L), 0-padded, any length
    #  <= the clip's real frames; common/data/speech.py)
    input_shape: tuple  # one example's shape
    num_classes: int
    n_train: int
    n_val: int
    n_test: int
    task: str = "classification"  # or "regression": float targets, num_classes 1 (one real-valued output)
    #      or "forecast": windows of a series (N, window, 1) -> its next H values (N, H), num_classes H (series.py)
    vocabulary_size: int = 0  # "tokens": ids 0 (padding), 1 (out of vocabulary), 2 .. vocabulary_size - 1
    # Regression targets standardised on training statistics (Arrays.standardise_targets): the y arrays
    # hold (y - target_mean) / target_std; common.evaluate scores in the original units. 0 and 1: as given.
    target_mean: float = 0.0
    target_std: float = 1.0


@dataclass
class Splits:
    """The six arrays of a dataset: examples and targets of its train, validation and test splits."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass
class Data(Splits):
    info: DataInfo
    batch_size: int
    seed: int

    @property
    def train(self):
        """Shuffled with the run's seed, reshuffled every epoch, as `fit` does with arrays."""
        dataset = tf.data.Dataset.from_tensor_slices((self.x_train, self.y_train))
        dataset = dataset.shuffle(len(self.x_train), seed=self.seed, reshuffle_each_iteration=True)
        # tf.data's autotuning off: with it, dropping an iterator (tf_impl's loop takes a new one every
        # epoch) often waited ~20 ms for the autotuning thread, more than a whole epoch of logistic
        # regression (measured, TF 2.21, 2 CPUs; twinnets bench). Arrays in memory need no tuning.
        options = tf.data.Options()
        options.autotune.enabled = False
        return dataset.batch(self.batch_size).prefetch(tf.data.AUTOTUNE).with_options(options)

    @property
    def val(self):
        return _ordered(self.x_val, self.y_val, self.batch_size)

    @property
    def test(self):
        return _ordered(self.x_test, self.y_test, self.batch_size)


def _ordered(x, y, batch_size):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass
class Arrays(Splits):
    """What a source returns: its splits as numpy arrays (val may be None: held out here) and what they hold."""

    kind: str  # as DataInfo.kind
    task: str = "classification"
    vocabulary_size: int = 0
    standardise_targets: bool = False  # regression: y standardised on training statistics here (diabetes, .npz)


@dataclass(frozen=True)
class Options:
    """How to load: the keyword arguments of `load`, handed to every source."""

    seed: int = 0
    batch_size: int = 32
    validation_fraction: float = 0.1
    data_dir: str = None  # tfds: where datasets are prepared
    download: bool = False  # tfds: may download an unprepared dataset
    num_classes: int = None  # classification: K, when some of the classes 0..K-1 never occur in the data
    task: str = None  # "regression": the network needs real-valued targets (a .npz's y is read as such)
    sequence_length: int = None  # text for charlm: characters per training window (common/data/characters.py)
    # Series for the forecaster (common/data/series.py): past values per window, values forecast, a CSV's column
    window: int = None
    horizon: int = None
    column: str = None
    min_count: int = None  # tagged sentences (common/data/conll.py): training occurrences that give a word its own id
    image_size: int = None  # detection (common/data/boxes.py): images resized (or scenes drawn) to this square size


def load(name, *, seed=0, batch_size=32, validation_fraction=0.1, data_dir=None, download=False, num_classes=None,
         task=None, sequence_length=None, window=None, horizon=None, column=None, min_count=None, image_size=None):
    """Load a dataset by name or path: the first source that matches it (see the module docstring).

    task="regression": the caller regresses (the regression network); data whose targets are
    class labels is refused, and a .npz's y is read as real values whatever its dtype.
    """
    if num_classes is not None and num_classes < 2:
        raise DataError(f"--num-classes must be at least 2, got {num_classes}")
    options = Options(seed=seed, batch_size=batch_size, validation_fraction=validation_fraction,
                      data_dir=data_dir, download=download, num_classes=num_classes, task=task,
                      sequence_length=sequence_length, window=window, horizon=horizon, column=column,
                      min_count=min_count, image_size=image_size)
    source = find_source(name)
    loaded = source.load(name, options)
    data = loaded if isinstance(loaded, Data) else assemble(name, loaded, options)
    if task == "regression" and data.info.task != "regression":
        raise DataError(f"{data.info.name} holds class labels, not real-valued targets: a regression needs "
                        f"diabetes, adding or an .npz with real-valued y")
    return data


def source_modules():
    """Every source module, in the order `load` asks them."""
    from common.data import tasks

    names = [f"common.data.{source}" for source in SOURCES]
    names += [f"common.data.tasks.{task.name}" for task in sorted(pkgutil.iter_modules(tasks.__path__),
                                                                  key=lambda task: task.name)]
    names.append(f"common.data.{LAST_SOURCE}")
    return [importlib.import_module(module) for module in names]


def known_names():
    return tuple(name for source in source_modules() for name in source.NAMES)


def find_source(name):
    for source in source_modules():
        if source.matches(name):
            return source
    raise DataError(f"unknown dataset {name!r}: use one of {', '.join(known_names())}")


def assemble(name, arrays, options):
    """Arrays from a source -> Data: validation split, standardised tables, checked labels, fixed dtypes."""
    x_train, y_train, x_val, y_val = arrays.x_train, arrays.y_train, arrays.x_val, arrays.y_val
    x_test, y_test = arrays.x_test, arrays.y_test
    if x_val is None:
        x_train, x_val, y_train, y_val = split(x_train, y_train, options.validation_fraction)
    if arrays.kind == "table":  # standardise on training statistics only
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        std[std == 0] = 1.0
        x_train, x_val, x_test = ((a - mean) / std for a in (x_train, x_val, x_test))
    target_mean, target_std = 0.0, 1.0
    if arrays.task == "regression":
        num_classes = 1  # one real-valued output
        if arrays.standardise_targets:  # on training statistics only; common.evaluate undoes it when scoring
            target_mean, target_std = float(np.mean(y_train)), float(np.std(y_train))
            if not target_std > 0:
                raise DataError(f"{name}: y_train holds a single value ({target_mean:g}): nothing to regress")
            y_train, y_val, y_test = ((np.asarray(y) - target_mean) / target_std for y in (y_train, y_val, y_test))
    else:
        num_classes = class_count(name, (y_train, y_val, y_test), options.num_classes)
    info = DataInfo(
        name=os.path.basename(name) if name.endswith(".npz") else name,
        kind=arrays.kind,
        input_shape=tuple(int(d) for d in x_train.shape[1:]),
        num_classes=num_classes,
        n_train=len(x_train),
        n_val=len(x_val),
        n_test=len(x_test),
        task=arrays.task,
        vocabulary_size=arrays.vocabulary_size,
        target_mean=target_mean,
        target_std=target_std,
    )
    x_dtype = np.int32 if arrays.kind == "tokens" else np.float32
    y_dtype = np.float32 if arrays.task == "regression" else np.int32
    as_x = lambda a: np.ascontiguousarray(a, dtype=x_dtype)  # noqa: E731
    as_y = lambda a: np.ascontiguousarray(a, dtype=y_dtype)  # noqa: E731
    return Data(
        x_train=as_x(x_train), y_train=as_y(y_train), x_val=as_x(x_val), y_val=as_y(y_val), x_test=as_x(x_test),
        y_test=as_y(y_test), info=info, batch_size=options.batch_size, seed=options.seed,
    )


def class_count(name, label_splits, declared=None):
    """K for integer labels 0..K-1: `declared` (--num-classes), or inferred only when every class 0..max occurs.

    Inferring K = max + 1 from labels such as "all 99" would make a 100-class network out
    of one class and train it to nothing: labels that skip classes are refused unless the
    user says how many classes there are.
    """
    labels = np.concatenate([np.asarray(y).reshape(-1) for y in label_splits])
    if len(labels) == 0:
        raise DataError(f"{name}: no labels")
    top = int(labels.max())
    if declared is not None:
        if top >= declared:
            raise DataError(
                f"{name}: label {top} is out of range for --num-classes {declared} (labels are 0..{declared - 1})"
            )
        count = int(declared)
    else:
        missing = np.setdiff1d(np.arange(top + 1), labels)
        if len(missing):
            shown = ", ".join(str(int(m)) for m in missing[:5]) + (", ..." if len(missing) > 5 else "")
            raise DataError(
                f"{name}: labels run up to {top}, but {len(missing)} of the classes 0..{top} never occur ({shown}); "
                f"labels must be 0..K-1 — renumber them, or give --num-classes K if those classes truly exist"
            )
        count = top + 1
    if len(np.unique(label_splits[0])) < 2:
        raise DataError(f"{name}: the training labels hold a single class; classification needs at least two")
    return count


def split(x, y, fraction):
    """Hold out `fraction` of (x, y), stratified when possible, with the fixed SPLIT_SEED.

    Integer class labels are stratified; real-valued targets (a regression's) are not.
    """
    from sklearn.model_selection import train_test_split

    if len(y) < 4:
        raise DataError(f"only {len(y)} training examples: too few to hold out a validation split")
    if not np.issubdtype(np.asarray(y).dtype, np.integer):
        return train_test_split(x, y, test_size=fraction, random_state=SPLIT_SEED)
    if np.ndim(y) > 1:  # masks (N, H, W): a class per pixel, no one class per example to stratify by
        return train_test_split(x, y, test_size=fraction, random_state=SPLIT_SEED)
    counts = np.bincount(np.asarray(y, dtype=np.int64))
    classes = int((counts > 0).sum())
    # Stratify when it is possible: every class seen twice, and room for each in the held-out part.
    stratify = y if counts[counts > 0].min() >= 2 and int(fraction * len(y)) >= classes else None
    return train_test_split(x, y, test_size=fraction, random_state=SPLIT_SEED, stratify=stratify)

