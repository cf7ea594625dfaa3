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
- tensorflow-datasets: `mnist`, `fashion_mnist`, `cifar10`, read from `--data-dir`.
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
TFDS = ("mnist", "fashion_mnist", "cifar10")


class DataError(ValueError):
    """Data that cannot be loaded or used: missing, malformed or the wrong shape."""


@dataclass(frozen=True)
class DataInfo:
    name: str
    kind: str  # "image" (N, H, W, C) or "table" (N, F)
    input_shape: tuple  # one example's shape
    num_classes: int
    n_train: int
    n_val: int
    n_test: int


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
        return dataset.batch(self.batch_size).prefetch(tf.data.AUTOTUNE)

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
    if name in EMBEDDED:
        x, y, kind = _embedded(name)
        x_rest, x_test, y_rest, y_test = _split(x, y, TEST_FRACTION)
        arrays = (x_rest, y_rest, None, None, x_test, y_test)
    elif name in TFDS:
        arrays, kind = _tfds(name, data_dir, download)
    # more sources: add an `elif name in ...:` branch above this line
    elif name.endswith(".npz") or os.sep in name or os.path.exists(name):
        arrays, kind = _npz(name)
    else:
        raise DataError(
            f"unknown dataset {name!r}: use one of {', '.join(EMBEDDED + TFDS)} or a path to an .npz file"
        )
    x_train, y_train, x_val, y_val, x_test, y_test = arrays
    if x_val is None:
        x_train, x_val, y_train, y_val = _split(x_train, y_train, validation_fraction)
    if kind == "table":  # standardise on training statistics only
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        std[std == 0] = 1.0
        x_train, x_val, x_test = ((a - mean) / std for a in (x_train, x_val, x_test))
    num_classes = int(max(y_train.max(), y_val.max(), y_test.max())) + 1
    if num_classes < 2:
        raise DataError(f"{name}: labels hold a single class; classification needs at least two")
    info = DataInfo(
        name=os.path.basename(name) if name.endswith(".npz") else name,
        kind=kind,
        input_shape=tuple(int(d) for d in x_train.shape[1:]),
        num_classes=num_classes,
        n_train=len(x_train),
        n_val=len(x_val),
        n_test=len(x_test),
    )
    as_x = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    as_y = lambda a: np.ascontiguousarray(a, dtype=np.int32)  # noqa: E731
    return Data(
        info, as_x(x_train), as_y(y_train), as_x(x_val), as_y(y_val), as_x(x_test), as_y(y_test),
        batch_size=batch_size, seed=seed,
    )


def _split(x, y, fraction):
    from sklearn.model_selection import train_test_split

    counts = np.bincount(np.asarray(y, dtype=np.int64))
    stratify = y if counts[counts > 0].min() >= 2 else None  # a class seen once cannot be split
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


def _tfds(name, data_dir, download):
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    if not builder.is_prepared():
        if not download:
            raise DataError(f"tfds dataset {name!r} is not prepared in {builder.data_dir}; {tfds_hint(name, data_dir)}")
        prepare(name, data_dir)
    splits = {}
    for split in ("train", "test"):
        batch = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1, as_supervised=True))
        splits[split] = batch
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
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
