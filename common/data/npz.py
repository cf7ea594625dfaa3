"""A user's own arrays: `path/to/file.npz` with x_train, y_train, x_test, y_test (optionally x_val, y_val).

Images are (N, H, W) or (N, H, W, C) (8-bit pixels are scaled to [0, 1]), tables (N, F)
(standardised by core on training statistics), labels integers 0..K-1 (K inferred only
when every class occurs; otherwise --num-classes K, checked in core.class_count).
For a regression (options.task "regression": the regression network) y holds real values
of shape (N,) or (N, 1), any numeric dtype, finite; core standardises them on training
statistics and common.evaluate scores in their own units.
Sequences of varying length (the gesture network's real data): x_<split> padded traces (N, T_max, F) and
lengths_<split> (N,) integers, the real steps of each, 1..T_max, for every split: the steps after each length
are set to 0.0 (padding, which the recurrent networks mask), and a real step that is all zeros is refused
(the mask would read it as padding).
Segmentation (the segmentation network's own data): y_<split> masks (N, H, W) (or (N, H, W, 1)), an integer
class 0..K-1 per pixel of x_<split>'s images (N, H, W[, C]) of the same N, H and W; task "segmentation".
Everything that makes an array unusable is refused here with the file and array named.
"""
import os

import numpy as np

from common.data.core import Arrays, DataError

NAMES = ("path/to/file.npz",)
REQUIRED = ("x_train", "y_train", "x_test", "y_test")


def matches(name):
    return name.endswith(".npz") or os.sep in name or os.path.exists(name)


def load(path, options):
    if not os.path.isfile(path):
        raise DataError(f"no such dataset file: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in REQUIRED if key not in archive.files]
            if missing:
                raise DataError(f"{path}: missing arrays {', '.join(missing)} (need {', '.join(REQUIRED)})")
            if ("x_val" in archive.files) != ("y_val" in archive.files):
                raise DataError(f"{path}: x_val and y_val must come together")
            arrays = {key: archive[key] for key in archive.files}
    except DataError:
        raise
    except Exception as error:  # zipfile.BadZipFile, EOFError, ValueError, OSError, ...
        raise DataError(f"{path}: not a readable .npz file ({type(error).__name__}: {error})") from None
    splits = ["train", "val", "test"] if "x_val" in arrays else ["train", "test"]
    regression = options.task == "regression"
    sequences = any(key.startswith("lengths_") for key in arrays)  # padded traces with their lengths
    masks = not regression and np.ndim(arrays["y_train"]) >= 3  # a class per pixel: segmentation
    xs = {}
    ys = {}
    for split in splits:
        if masks:
            xs[split], ys[split] = check_masks(path, split, arrays[f"x_{split}"], arrays[f"y_{split}"])
        elif sequences:
            xs[split], ys[split] = check_sequences(path, split, arrays, regression)
        else:
            xs[split], ys[split] = check_split(path, split, arrays[f"x_{split}"], arrays[f"y_{split}"], regression)
    for split in splits[1:] if not regression else []:  # classes: one training never shows cannot be learned
        unseen = np.setdiff1d(ys[split], ys["train"])
        if len(unseen):
            raise DataError(f"{path}: y_{split} has label {int(unseen[0])}, which y_train never shows: "
                            f"every class must appear in training")
    shapes = {x.shape[1:] for x in xs.values()}
    if len(shapes) > 1:
        raise DataError(f"{path}: examples have different shapes across splits: {sorted(shapes)}")
    kind = "sequence" if sequences else "table" if xs["train"].ndim == 2 else "image"
    if kind == "image" and np.issubdtype(arrays["x_train"].dtype, np.integer):
        xs = {split: x / 255.0 for split, x in xs.items()}  # 8-bit pixels -> [0, 1]
    task = {"task": "regression", "standardise_targets": True} if regression else {"task": "segmentation"} if masks else {}
    return Arrays(xs["train"], ys["train"], xs.get("val"), ys.get("val"), xs["test"], ys["test"], kind=kind, **task)


def check_split(path, split, x, y, regression=False):
    """(x, y) of one split as float64 examples and int64 labels (regression: float64 targets), or a
    DataError saying what is wrong."""
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
    if regression:
        return x.astype(np.float64), regression_targets(path, split, y, len(x))
    if y.ndim != 1:
        raise DataError(f"{path}: y_{split} has shape {y.shape}: expected integer class labels of shape (N,)")
    if len(y) != len(x):
        raise DataError(f"{path}: x_{split} has {len(x)} examples but y_{split} has {len(y)}")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise DataError(f"{path}: y_{split} must hold integer class labels, got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.floating) and not (np.all(np.isfinite(y)) and np.all(y == np.round(y))):
        raise DataError(f"{path}: y_{split} holds labels that are not whole numbers (e.g. "
                        f"{y[np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))[0]]}); classes are integers 0..K-1 "
                        f"(real-valued targets are a regression: twinnets train regression)")
    if y.min() < 0:
        raise DataError(f"{path}: y_{split} has negative labels (e.g. {int(y.min())}); classes are numbered 0..K-1")
    return x.astype(np.float64), y.astype(np.int64)


def check_masks(path, split, x, y):
    """(x, y) of one split of images and their masks: x (N, H, W, C) float64, y (N, H, W) int64 classes >= 0 (their
    upper end, K - 1, is core.class_count's to check), or a DataError saying what is wrong."""
    y = np.asarray(y)
    if y.ndim == 4 and y.shape[-1] == 1:
        y = y[..., 0]  # (N, H, W, 1) -> (N, H, W)
    if y.ndim != 3:
        raise DataError(f"{path}: y_{split} has shape {y.shape}: masks are (N, H, W), a class per pixel")
    if np.ndim(x) not in (3, 4):
        raise DataError(f"{path}: x_{split} has shape {np.shape(x)}: images to segment are (N, H, W) or (N, H, W, C)")
    if np.shape(x)[:3] != y.shape:
        raise DataError(f"{path}: x_{split} has images of shape {np.shape(x)[:3]} (N, H, W) but y_{split} has masks of "
                        f"shape {y.shape}: every image needs a mask of its own height and width")
    flat, _ = check_split(path, split, np.reshape(x, (len(x), -1)), np.zeros(len(x), np.int64))  # numeric, finite
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise DataError(f"{path}: y_{split} must hold integer classes per pixel, got dtype {y.dtype}")
    if np.issubdtype(y.dtype, np.floating) and not (np.all(np.isfinite(y)) and np.all(y == np.round(y))):
        raise DataError(f"{path}: y_{split} holds mask values that are not whole numbers; classes are integers 0..K-1")
    if y.size and y.min() < 0:
        raise DataError(f"{path}: y_{split} has a mask value {int(y.min())}: classes are numbered 0..K-1")
    return flat.reshape(x.shape if np.ndim(x) == 4 else (*x.shape, 1)), y.astype(np.int64)


def regression_targets(path, split, y, examples):
    """y of one split as float64 real-valued targets of shape (N,), or a DataError saying what is wrong."""
    where = f"{path}: y_{split}"
    if y.ndim != 1:
        raise DataError(f"{where} has shape {y.shape}: expected one real-valued target per example, shape (N,)")
    if len(y) != examples:
        raise DataError(f"{path}: x_{split} has {examples} examples but y_{split} has {len(y)}")
    if not (np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)):
        raise DataError(f"{where} must hold real-valued targets, got dtype {y.dtype}")
    if not np.all(np.isfinite(y)):
        raise DataError(f"{where} contains NaN or infinite values")
    return y.astype(np.float64)


def check_sequences(path, split, arrays, regression=False):
    """(x, y) of one split of padded sequences: x (N, T_max, F) float64, zeroed after each of lengths_<split>."""
    x, key = arrays[f"x_{split}"], f"lengths_{split}"
    if key not in arrays:
        raise DataError(f"{path}: has lengths arrays but no {key}: give every split's sequence lengths "
                        f"(x_{split} holds padded sequences of shape (N, T_max, features))")
    if x.ndim != 3:
        raise DataError(f"{path}: x_{split} has shape {x.shape}: sequences with lengths are (N, T_max, features)")
    flat, y = check_split(path, split, x.reshape(len(x), -1), arrays[f"y_{split}"], regression)  # dtypes, labels
    x = flat.reshape(x.shape)
    lengths = np.asarray(arrays[key])
    if lengths.ndim != 1 or len(lengths) != len(x):
        raise DataError(f"{path}: {key} has shape {lengths.shape} but x_{split} holds {len(x)} sequences: "
                        f"one length per sequence, shape ({len(x)},)")
    if not np.issubdtype(lengths.dtype, np.integer):
        raise DataError(f"{path}: {key} must hold integer step counts, got dtype {lengths.dtype}")
    bad = np.flatnonzero((lengths < 1) | (lengths > x.shape[1]))
    if len(bad):
        raise DataError(f"{path}: {key}[{bad[0]}] is {int(lengths[bad[0]])}: a length must be 1..{x.shape[1]} "
                        f"(at least one real step, at most the padded time axis of x_{split})")
    real = np.arange(x.shape[1])[np.newaxis, :] < lengths[:, np.newaxis]  # (N, T_max): True on real steps
    empty = real & np.all(x == 0.0, axis=-1)
    if np.any(empty):
        n, t = np.argwhere(empty)[0]
        raise DataError(f"{path}: x_{split}[{n}] has an all-zero step at {t}, inside its length {int(lengths[n])}: "
                        f"a step of zeros is padding to the mask; shift or rescale the features")
    return np.where(real[..., np.newaxis], x, 0.0), y
