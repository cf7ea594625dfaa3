"""Datasets: one loader, the same tf.data pipelines for both implementations.

    data = load("digits", seed=0, batch_size=32)
    data.train, data.val, data.test      # tf.data pipelines of (x, y) batches
    data.info                            # name, kind, input_shape, num_classes, sizes
    data.x_test, data.y_test             # the arrays behind them, for evaluation

Sources:
- embedded, no network needed: `digits` (scikit-learn's 8x8 handwritten digits, as
  (8, 8, 1) images scaled to [0, 1]) and `breast_cancer` (30 features, standardised on
  training statistics);
- a user's own arrays: `path/to/file.npz` with x_train, y_train, x_test, y_test and
  optionally x_val, y_val;
- sequences, for the recurrent networks, no network needed: `digits_sequences` (the
  digits read row by row: 8 steps of 8 pixels) and `adding` / `adding:T` (the adding
  problem, generated, T steps; a regression);
- tensorflow-datasets: `mnist`, `fashion_mnist`, `cifar10`, read from `--data-dir`, and
  `imdb_reviews` text, tokenised here with tf.strings/tf.lookup into padded id sequences.
  tfds is never asked to download implicitly (its retries take minutes offline): an
  unprepared dataset fails at once and says how to prepare it.

The train/validation/test split uses a fixed seed (SPLIT_SEED) so that every run, of
either implementation and any training seed, is scored on the same test examples. The
training seed only drives shuffling.
"""
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

SPLIT_SEED = 0
TEST_FRACTION = 0.2  # for embedded datasets, which come as one pool
EMBEDDED = ("digits", "breast_cancer")
TFDS = ("mnist", "fashion_mnist", "cifar10", "imdb_reviews")
SEQUENCES = ("digits_sequences", "adding", "adding:T")  # for the recurrent networks; see the end of this file
TFDS_TEXT = ("imdb_reviews",)  # text: tokenised here into padded id sequences


class DataError(ValueError):
    """Data that cannot be loaded or used: missing, malformed or the wrong shape."""


@dataclass(frozen=True)
class DataInfo:
    name: str
    kind: str  # "image" (N, H, W, C), "table" (N, F), "sequence" (N, T, F) or "tokens" (N, T) of int ids
    input_shape: tuple  # one example's shape
    num_classes: int
    n_train: int
    n_val: int
    n_test: int
    task: str = "classification"  # or "regression": float targets, num_classes 1 (one real-valued output)
    vocabulary_size: int = 0  # "tokens": ids 0 (padding), 1 (out of vocabulary), 2 .. vocabulary_size - 1


@dataclass
class Data:
    info: DataInfo
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
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


def load(name, *, seed=0, batch_size=32, validation_fraction=0.1, data_dir=None, download=False):
    """Load a dataset by embedded name, tfds name or .npz path (see the module docstring)."""
    task, vocabulary_size = "classification", 0  # the regression and text sources below change these
    if name in EMBEDDED:
        x, y, kind = _embedded(name)
        x_rest, x_test, y_rest, y_test = _split(x, y, TEST_FRACTION)
        arrays = (x_rest, y_rest, None, None, x_test, y_test)
    elif name == "digits_sequences":
        x, y, _ = _embedded("digits")
        x = x[..., 0]  # (N, 8, 8, 1) -> (N, 8, 8): 8 time steps (the rows) of 8 features (the pixels)
        x_rest, x_test, y_rest, y_test = _split(x, y, TEST_FRACTION)
        arrays, kind = (x_rest, y_rest, None, None, x_test, y_test), "sequence"
    elif name == "adding" or name.startswith("adding:"):
        arrays, kind, task = adding_problem(_adding_length(name)), "sequence", "regression"
    elif name in TFDS_TEXT:
        arrays, kind, vocabulary_size = _tfds_text(name, data_dir, download)
    elif name in TFDS:
        arrays, kind = _tfds(name, data_dir, download)
    elif name == "digits_transfer" or name.startswith("transfer:"):  # two tasks: see the end of this file
        return load_transfer(name, seed=seed, batch_size=batch_size, validation_fraction=validation_fraction,
                             data_dir=data_dir, download=download)
    # more sources: add an `elif name in ...:` branch above this line
    elif name.endswith(".npz") or os.sep in name or os.path.exists(name):
        arrays, kind = _npz(name)
    else:
        raise DataError(
            f"unknown dataset {name!r}: use one of {', '.join(EMBEDDED + SEQUENCES + TFDS)} or a path to an .npz file"
        )
    x_train, y_train, x_val, y_val, x_test, y_test = arrays
    if x_val is None:
        x_train, x_val, y_train, y_val = _split(x_train, y_train, validation_fraction)
    if kind == "table":  # standardise on training statistics only
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        std[std == 0] = 1.0
        x_train, x_val, x_test = ((a - mean) / std for a in (x_train, x_val, x_test))
    if task == "regression":
        num_classes = 1  # one real-valued output
    else:
        num_classes = int(max(y_train.max(), y_val.max(), y_test.max())) + 1
    if task == "classification" and num_classes < 2:
        raise DataError(f"{name}: labels hold a single class; classification needs at least two")
    info = DataInfo(
        name=os.path.basename(name) if name.endswith(".npz") else name,
        kind=kind,
        input_shape=tuple(int(d) for d in x_train.shape[1:]),
        num_classes=num_classes,
        n_train=len(x_train),
        n_val=len(x_val),
        n_test=len(x_test),
        task=task,
        vocabulary_size=vocabulary_size,
    )
    x_dtype = np.int32 if kind == "tokens" else np.float32
    y_dtype = np.float32 if task == "regression" else np.int32
    as_x = lambda a: np.ascontiguousarray(a, dtype=x_dtype)  # noqa: E731
    as_y = lambda a: np.ascontiguousarray(a, dtype=y_dtype)  # noqa: E731
    return Data(
        info, as_x(x_train), as_y(y_train), as_x(x_val), as_y(y_val), as_x(x_test), as_y(y_test),
        batch_size=batch_size, seed=seed,
    )


def _split(x, y, fraction):
    from sklearn.model_selection import train_test_split

    counts = np.bincount(np.asarray(y, dtype=np.int64))
    classes = int((counts > 0).sum())
    # Stratify when it is possible: every class seen twice, and room for each in the held-out part.
    stratify = y if counts[counts > 0].min() >= 2 and int(fraction * len(y)) >= classes else None
    if len(y) < 4:
        raise DataError(f"only {len(y)} training examples: too few to hold out a validation split")
    return train_test_split(x, y, test_size=fraction, random_state=SPLIT_SEED, stratify=stratify)


def _embedded(name):
    from sklearn import datasets

    if name == "digits":
        bunch = datasets.load_digits()
        x = (bunch.images / 16.0)[..., np.newaxis]  # (N, 8, 8) in 0..16 -> (N, 8, 8, 1) in [0, 1]
        return x, bunch.target, "image"
    bunch = datasets.load_breast_cancer()
    return bunch.data, bunch.target, "table"


NPZ_REQUIRED = ("x_train", "y_train", "x_test", "y_test")


def _npz(path):
    if not os.path.isfile(path):
        raise DataError(f"no such dataset file: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in NPZ_REQUIRED if key not in archive.files]
            if missing:
                raise DataError(f"{path}: missing arrays {', '.join(missing)} (need {', '.join(NPZ_REQUIRED)})")
            if ("x_val" in archive.files) != ("y_val" in archive.files):
                raise DataError(f"{path}: x_val and y_val must come together")
            arrays = {key: archive[key] for key in archive.files}
    except DataError:
        raise
    except Exception as error:  # zipfile.BadZipFile, EOFError, ValueError, OSError, ...
        raise DataError(f"{path}: not a readable .npz file ({type(error).__name__}: {error})") from None
    splits = ["train", "val", "test"] if "x_val" in arrays else ["train", "test"]
    xs = {}
    ys = {}
    for split in splits:
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        xs[split], ys[split] = _check_split(path, split, x, y)
    for split in splits[1:]:  # a class the training split never shows cannot be learned: a labelling error
        if ys[split].max() > ys["train"].max():
            raise DataError(f"{path}: y_{split} has label {ys[split].max()}, but y_train's labels stop at "
                            f"{ys['train'].max()}: every class must appear in training")
    shapes = {x.shape[1:] for x in xs.values()}
    if len(shapes) > 1:
        raise DataError(f"{path}: examples have different shapes across splits: {sorted(shapes)}")
    kind = "table" if xs["train"].ndim == 2 else "image"
    if kind == "image" and np.issubdtype(arrays["x_train"].dtype, np.integer):
        xs = {split: x / 255.0 for split, x in xs.items()}  # 8-bit pixels -> [0, 1]
    return (xs["train"], ys["train"], xs.get("val"), ys.get("val"), xs["test"], ys["test"]), kind


def _check_split(path, split, x, y):
    where = f"{path}: x_{split}"
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataError(f"{where} must be numeric, got dtype {x.dtype}")
    if len(x) == 0:
        raise DataError(f"{where} is empty")
    if x.ndim == 3:
        x = x[..., np.newaxis]  # (N, H, W) -> (N, H, W, 1)
    if x.ndim not in (2, 4):
        raise DataError(f"{where} has shape {x.shape}: expected (N, features), (N, H, W) or (N, H, W, C)")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{where} contains NaN or infinite values")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{path}: y_{split} has shape {y.shape}: expected integer class labels of shape (N,)")
    if len(y) != len(x):
        raise DataError(f"{path}: x_{split} has {len(x)} examples but y_{split} has {len(y)}")
    if not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.floating) and np.all(np.isfinite(y)) and np.all(y == np.round(y))):
            raise DataError(f"{path}: y_{split} must hold integer class labels, got dtype {y.dtype}")
    if y.min() < 0:
        raise DataError(f"{path}: y_{split} has negative labels; classes are numbered 0..K-1")
    return x.astype(np.float64), y.astype(np.int64)


def tfds_hint(name, data_dir):
    where = f" --data-dir {data_dir}" if data_dir else ""
    return (
        f"run `twinnets prepare {name}{where}` once on a machine with internet access "
        f"(or add --download to this command)"
    )


def _tfds_splits(name, data_dir, download):
    """(x, y) numpy arrays of the train and test splits of a tfds dataset; fails at once if not prepared."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    if download and not builder.is_prepared():
        prepare(name, data_dir)
    splits = []
    for split in ("train", "test"):
        try:
            dataset = builder.as_dataset(split=split, as_supervised=True)
        except AssertionError:  # tfds: "could not find data in <dir>", raised at once, before any download
            raise DataError(
                f"tfds dataset {name!r} is not prepared in {builder.data_dir}; {tfds_hint(name, data_dir)}"
            ) from None
        batches = list(tfds.as_numpy(dataset.batch(4096)))
        splits.append((np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])))
    return splits


def _tfds(name, data_dir, download):
    (x_train, y_train), (x_test, y_test) = _tfds_splits(name, data_dir, download)
    # uint8 pixels -> float in [0, 1]; tfds images are already (N, H, W, C)
    return (x_train / 255.0, y_train, None, None, x_test / 255.0, y_test), "image"


def prepare(name, data_dir=None):
    """Download and prepare a tfds dataset (needs internet). Returns the directory used."""
    if name not in TFDS:
        raise DataError(f"only tfds datasets need preparing ({', '.join(TFDS)}); {name!r} is not one")
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    try:
        builder.download_and_prepare()
    except Exception as error:
        raise DataError(f"could not download {name!r} ({type(error).__name__}); is this machine online?") from None
    return builder.data_dir


def require_image(input_shape, network, halvings):
    """The spatial size left after `halvings` 2x2 poolings; refuse data a conv net cannot take."""
    if len(input_shape) != 3:
        raise DataError(
            f"{network} needs images (height, width, channels); this data has examples of shape {tuple(input_shape)}"
        )
    height, width, _ = input_shape
    for _ in range(halvings):
        height, width = height // 2, width // 2
    if min(height, width) < 1:
        raise DataError(
            f"{network}: {input_shape[0]}x{input_shape[1]} images are too small for {halvings} 2x2 poolings"
        )
    return height, width


# --- sequence datasets (recurrent networks: rnn, lstm, gru) ---

# T of `adding` (`adding:T` picks another). At T = 30, with 32 units, Adam 1e-2, batches of 64
# and 6 epochs (~10 s a run on 2 CPU cores), lstm and gru reach test MSE ~0.001 in both
# implementations (seeds 0-2) while the simple RNN stays at 0.14-0.17, near the 0.167 of
# always predicting 1.0 (tests/test_adding_problem.py). Seed 0, same budget:
#   T     rnn keras / tf   lstm keras / tf   gru keras / tf
#   10    0.0182 / 0.0058  0.0002 / 0.0003   0.0001 / 0.0001
#   20    0.1435 / 0.1731  0.0007 / 0.0002   0.0002 / 0.0001
#   30    0.1371 / 0.1571  0.0009 / 0.0006   0.0002 / 0.0001
#   50    0.1469 / 0.1654  0.0008 / 0.0009   0.0003 / 0.0003
#   100   0.1674 / 0.1617  0.1274 / 0.0020   0.0003 / 0.0003   (lstm keras needs more epochs here)
ADDING_LENGTH = 30
ADDING_SIZES = (10000, 1000, 1000)  # train, validation, test examples, generated
ADDING_SEED = 1234  # fixed, like SPLIT_SEED: every run sees the same sequences


def _adding_length(name):
    if name == "adding":
        return ADDING_LENGTH
    text = name.split(":", 1)[1]
    if not text.isdigit() or int(text) < 2:
        raise DataError(f"{name!r}: write the adding problem's length as adding:T with an integer T >= 2")
    return int(text)


def adding_problem(length, sizes=ADDING_SIZES, seed=ADDING_SEED):
    """The adding problem (Hochreiter & Schmidhuber 1997): remember two numbers across `length` steps.

    Each step carries (value, marker): the values are uniform in [0, 1]; exactly two
    markers are 1, one in the first half of the sequence and one in the second. The
    target is the sum of the two marked values. Always predicting 1.0 scores
    MSE = Var(u1 + u2) = 2/12 ~ 0.167: a network must beat that by carrying information
    over up to `length` steps.
    Returns (x_train, y_train, x_val, y_val, x_test, y_test); x is (N, length, 2).
    """
    rng = np.random.default_rng(seed)
    arrays = []
    half = length // 2
    for n in sizes:
        values = rng.uniform(0.0, 1.0, size=(n, length))
        markers = np.zeros((n, length))
        first, second = rng.integers(0, half, size=n), rng.integers(half, length, size=n)
        markers[np.arange(n), first] = 1.0
        markers[np.arange(n), second] = 1.0
        x = np.stack([values, markers], axis=-1)  # (n, length) twice -> (n, length, 2): (value, marker) per step
        y = (values * markers).sum(axis=1)
        arrays += [x, y]
    return tuple(arrays)


IMDB_VOCABULARY_SIZE = 10000  # ids: 0 padding, 1 out of vocabulary, 2.. the most frequent training words
IMDB_LENGTH = 200  # tokens kept per review (the first ones); shorter reviews are padded with 0


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


def _tfds_text(name, data_dir, download):
    """Text classification from tfds (imdb_reviews): the vocabulary comes from the training split only."""
    (text_train, y_train), (text_test, y_test) = _tfds_splits(name, data_dir, download)
    tokens_train = tokenize(text_train)
    table, vocabulary_size = build_vocabulary(tokens_train, IMDB_VOCABULARY_SIZE)
    x_train = to_ids(tokens_train, table, IMDB_LENGTH)  # (N, IMDB_LENGTH) int64
    x_test = to_ids(tokenize(text_test), table, IMDB_LENGTH)
    return (x_train, y_train, None, None, x_test, y_test), "tokens", vocabulary_size


def require_sequence(input_shape, network, vocabulary_size=0):
    """(time steps, features per step) of the data a recurrent network reads; refuse what it cannot.

    Sequences (T, F) as they are; images (H, W, C) row by row, H steps of W*C features;
    token ids (T,) (vocabulary_size > 0) become embedding vectors, so features is None.
    """
    if vocabulary_size:
        return input_shape[0], None
    if len(input_shape) == 2:
        return tuple(input_shape)
    if len(input_shape) == 3:
        height, width, channels = input_shape
        return height, width * channels
    raise DataError(
        f"{network} reads sequences (time, features), images (rows as steps) or token ids; "
        f"this data has examples of shape {tuple(input_shape)}"
    )


# --- transfer learning: source and target tasks ---

import dataclasses  # noqa: E402  (this section's own import; the file above is shared)

TRANSFER = ("digits_transfer", "transfer:SOURCE:TARGET")  # for the transfer network; see load_transfer
TARGET_TEST_FRACTION = 0.5  # one dataset split by classes: half of every target-class example is test
FEW_SHOT_SEED = 1234  # fixed, like SPLIT_SEED: every run and both implementations train on the same few examples


@dataclass
class TransferData(Data):
    """The target task (Data's own fields, which every pipeline reads) and the source task a base learns on."""

    source: Data = None


def load_transfer(name, *, seed=0, batch_size=32, validation_fraction=0.1, data_dir=None, download=False):
    """Source and target tasks for transfer learning, as one TransferData.

    `digits_transfer` is `transfer:digits:digits`. `transfer:SOURCE:TARGET` loads both by
    name (mnist, fashion_mnist, digits, a .npz path). One dataset named twice is split by
    classes: the lower half of the labels is the source, the upper half the target,
    relabelled 0..K-1 (digits: 0-4 -> source, 5-9 -> target 0-4); the target's test set
    is TARGET_TEST_FRACTION of all its examples, none of which is ever trained on.
    Two datasets are used whole. Images only, with the same number of channels (the base's
    first kernel is (k, k, channels, filters)); their sizes may differ.
    """
    parts = ["transfer", "digits", "digits"] if name == "digits_transfer" else name.split(":")
    if len(parts) != 3 or parts[0] != "transfer" or not parts[1] or not parts[2] or "transfer" in parts[1:]:
        raise DataError(f"{name!r}: write a transfer task as transfer:SOURCE:TARGET, e.g. transfer:mnist:fashion_mnist")
    _, source_name, target_name = parts
    options = dict(seed=seed, batch_size=batch_size, validation_fraction=validation_fraction,
                   data_dir=data_dir, download=download)
    source = load(source_name, **options)
    _require_images(name, "source", source)
    if target_name == source_name:
        classes = source.info.num_classes
        if classes < 4:
            raise DataError(f"{name}: {classes} classes cannot be split into two tasks of at least two classes")
        lower, upper = range(classes // 2), range(classes // 2, classes)
        pool = [np.concatenate(arrays) for arrays in ((source.x_train, source.x_val, source.x_test),
                                                      (source.y_train, source.y_val, source.y_test))]
        target = _target_from_pool(source, *_keep_classes(*pool, upper), validation_fraction)
        source = _class_subset(source, lower)
    else:
        target = load(target_name, **options)
        _require_images(name, "target", target)
        if target.info.input_shape[-1] != source.info.input_shape[-1]:
            raise DataError(
                f"{name}: source images have {source.info.input_shape[-1]} channel(s), target images "
                f"{target.info.input_shape[-1]}: a pretrained base needs the same number"
            )
    fields = {field: getattr(target, field) for field in Data.__dataclass_fields__}
    fields["info"] = dataclasses.replace(target.info, name=name)
    return TransferData(**fields, source=source)


def _require_images(name, part, data):
    if data.info.kind != "image":
        raise DataError(f"{name}: the {part} task must hold images; {data.info.name} has {data.info.kind} examples")


def _keep_classes(x, y, classes):
    """The examples of `classes`, relabelled 0..len(classes)-1 in that order."""
    keep = np.isin(y, list(classes))
    return x[keep], (y[keep] - classes[0]).astype(y.dtype)


def _class_subset(data, classes):
    splits = {}
    for split in ("train", "val", "test"):
        splits[f"x_{split}"], splits[f"y_{split}"] = _keep_classes(
            getattr(data, f"x_{split}"), getattr(data, f"y_{split}"), classes)
    info = dataclasses.replace(data.info, num_classes=len(classes), n_train=len(splits["x_train"]),
                               n_val=len(splits["x_val"]), n_test=len(splits["x_test"]))
    return dataclasses.replace(data, info=info, **splits)


def _target_from_pool(like, x, y, validation_fraction):
    x_rest, x_test, y_rest, y_test = _split(x, y, TARGET_TEST_FRACTION)
    x_train, x_val, y_train, y_val = _split(x_rest, y_rest, validation_fraction)
    info = dataclasses.replace(like.info, num_classes=int(y.max()) + 1, n_train=len(x_train),
                               n_val=len(x_val), n_test=len(x_test))
    return dataclasses.replace(like, info=info, x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val,
                               x_test=x_test, y_test=y_test)


def few_shot(data, examples_per_class, seed=FEW_SHOT_SEED):
    """The same `examples_per_class` training examples of every class, for every run; val and test unchanged."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in range(data.info.num_classes):
        indices = np.flatnonzero(data.y_train == label)
        if len(indices) < examples_per_class:
            raise DataError(
                f"{data.info.name}: class {label} has {len(indices)} training examples, "
                f"fewer than examples-per-class {examples_per_class}"
            )
        chosen.append(rng.choice(indices, size=examples_per_class, replace=False))
    chosen = np.sort(np.concatenate(chosen))
    info = dataclasses.replace(data.info, n_train=len(chosen))
    return dataclasses.replace(data, info=info, x_train=data.x_train[chosen], y_train=data.y_train[chosen])
