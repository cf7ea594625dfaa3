"""Source and target tasks for transfer learning: `digits_transfer`, `transfer:SOURCE:TARGET`.

`digits_transfer` is `transfer:digits:digits`. `transfer:SOURCE:TARGET` loads both by
name (mnist, fashion_mnist, digits, a .npz path). One dataset named twice is split by
classes: the lower half of the labels is the source, the upper half the target,
relabelled 0..K-1 (digits: 0-4 -> source, 5-9 -> target 0-4); the target's test set is
TARGET_TEST_FRACTION of all its examples, none of which is ever trained on. Two datasets
are used whole. Images only, with the same number of channels (the base's first kernel
is (k, k, channels, filters)); their sizes may differ.
"""
import dataclasses
from dataclasses import dataclass

import numpy as np

from common.data.core import Data, DataError, load as load_data, split

NAMES = ("digits_transfer", "transfer:SOURCE:TARGET")
TARGET_TEST_FRACTION = 0.5  # one dataset split by classes: half of every target-class example is test
FEW_SHOT_SEED = 1234  # fixed, like SPLIT_SEED: every run and both implementations train on the same few examples


@dataclass
class TransferData(Data):
    """The target task (Data's own fields, which every pipeline reads) and the source task a base learns on."""

    source: Data = None


def matches(name):
    return name == "digits_transfer" or name.startswith("transfer:")


def load(name, options):
    """Both tasks as one TransferData (a finished Data: core does not assemble it again)."""
    parts = ["transfer", "digits", "digits"] if name == "digits_transfer" else name.split(":")
    if len(parts) != 3 or parts[0] != "transfer" or not parts[1] or not parts[2] or "transfer" in parts[1:]:
        raise DataError(f"{name!r}: write a transfer task as transfer:SOURCE:TARGET, e.g. transfer:mnist:fashion_mnist")
    _, source_name, target_name = parts
    loads = dict(seed=options.seed, batch_size=options.batch_size, validation_fraction=options.validation_fraction,
                 data_dir=options.data_dir, download=options.download)
    source = load_data(source_name, **loads)
    _require_images(name, "source", source)
    if target_name == source_name:
        classes = source.info.num_classes
        if classes < 4:
            raise DataError(f"{name}: {classes} classes cannot be split into two tasks of at least two classes")
        lower, upper = range(classes // 2), range(classes // 2, classes)
        pool = [np.concatenate(arrays) for arrays in ((source.x_train, source.x_val, source.x_test),
                                                      (source.y_train, source.y_val, source.y_test))]
        target = _target_from_pool(source, *_keep_classes(*pool, upper), options.validation_fraction)
        source = _class_subset(source, lower)
    else:
        target = load_data(target_name, **loads)
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
    for part in ("train", "val", "test"):
        splits[f"x_{part}"], splits[f"y_{part}"] = _keep_classes(
            getattr(data, f"x_{part}"), getattr(data, f"y_{part}"), classes)
    info = dataclasses.replace(data.info, num_classes=len(classes), n_train=len(splits["x_train"]),
                               n_val=len(splits["x_val"]), n_test=len(splits["x_test"]))
    return dataclasses.replace(data, info=info, **splits)


def _target_from_pool(like, x, y, validation_fraction):
    x_rest, x_test, y_rest, y_test = split(x, y, TARGET_TEST_FRACTION)
    x_train, x_val, y_train, y_val = split(x_rest, y_rest, validation_fraction)
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
