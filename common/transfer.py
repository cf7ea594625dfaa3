"""What the two transfer twins share: the phases, and finding and checking a base checkpoint.

A base checkpoint is what `twinnets train cnn --out DIR` wrote: DIR/weights.npz (Keras
order, from either implementation), DIR/model.weights.h5 (Keras's own format) or
DIR/checkpoint (a tf.train.Checkpoint of the tf_impl model). Each implementation reads
its own native file and the portable weights.npz; `resolve_checkpoint` says which one a
path is and refuses the other implementation's native file with a message saying what
to pass instead.

Mind what the checkpoint saw: a cnn trained on `digits` has seen digits 5-9, including
examples of digits_transfer's target test set. It shows the mechanics; it does not measure
transfer (pretrain on the source task for that: no --base-checkpoint).
"""
import dataclasses
import os

from common.data import DataError
from common.results import RunResult, load_weights

PHASES = ("feature_extraction", "fine_tuning", "scratch")
PORTABLE = "weights.npz"
NATIVE = {"keras": "model.weights.h5", "tf": "checkpoint"}  # tf: the prefix of checkpoint.index + checkpoint.data-*
HEAD_ARRAYS = 4  # cnn's top: dense kernel, bias; classifier kernel, bias


def _kind(path):
    if path.endswith(".npz"):
        return "npz"
    if path.endswith(".h5"):
        return "keras"
    if path.endswith(".index") or os.path.exists(path + ".index"):
        return "tf"
    return None


def resolve_checkpoint(path, impl):
    """(kind, path) of the file to read: kind "npz", or "keras"/"tf" for impl's own format.

    A directory is searched for impl's native file first, then weights.npz.
    """
    if os.path.isdir(path):
        native = os.path.join(path, NATIVE[impl])
        for candidate in (native, os.path.join(path, PORTABLE)):
            if os.path.exists(candidate) or os.path.exists(candidate + ".index"):
                return resolve_checkpoint(candidate, impl)
        raise DataError(f"base checkpoint {path}: the folder holds neither {NATIVE[impl]} nor {PORTABLE}")
    kind = _kind(path)
    if kind is None:
        raise DataError(
            f"base checkpoint {path}: expected {PORTABLE} (either implementation), {NATIVE['keras']} (keras) "
            f"or a tf checkpoint prefix such as DIR/{NATIVE['tf']} (tf)"
        )
    if kind == "tf" and path.endswith(".index"):
        path = path[: -len(".index")]
    if not os.path.exists(path if kind != "tf" else path + ".index"):
        raise DataError(f"no such base checkpoint: {path}")
    if kind not in ("npz", impl):
        raise DataError(
            f"base checkpoint {path} is in {kind}_impl's own format; {impl}_impl reads {NATIVE[impl]} or "
            f"the portable {PORTABLE} that every `twinnets train cnn --out DIR` run writes next to it"
        )
    return kind, path


def check_shapes(path, found, expected):
    """Refuse a checkpoint whose base weights do not have this base's shapes, saying which."""
    found, expected = [tuple(shape) for shape in found], [tuple(shape) for shape in expected]
    if found != expected:
        raise DataError(
            f"base checkpoint {path} does not fit this architecture: the base (filters, kernel-size, image "
            f"channels) needs weights of shapes {expected}, the checkpoint's base has {found}"
        )


def base_arrays(path, expected):
    """The base's arrays (Keras order) from a cnn-shaped weights.npz: the conv part, without cnn's top."""
    try:
        arrays = load_weights(path)
    except Exception as error:  # zipfile.BadZipFile, KeyError, OSError, ...
        raise DataError(f"base checkpoint {path}: not a readable weights file ({type(error).__name__}: {error})") from None
    check_shapes(path, [array.shape for array in arrays[:-HEAD_ARRAYS]], expected)
    return arrays[: len(expected)]


def source_task(data):
    """The source task's Data, shuffled with this run's seed; a clear error when the data has none."""
    if getattr(data, "source", None) is None:
        raise DataError(
            f"transfer pretrains on a source task: use --dataset digits_transfer or transfer:SOURCE:TARGET, "
            f"or give --base-checkpoint to transfer a trained cnn to {data.info.name}"
        )
    return dataclasses.replace(data.source, seed=data.seed)


def result(impl, config, data, *, metrics, runs, history, seconds, examples):
    """The RunResult of a transfer run: the three phases' accuracies, their gains over scratch, their curves.

    runs: phase -> that phase's fit history (loss, val_loss, val_accuracy per epoch);
    history: what came before the phases (the pretraining loss, if any).
    """
    for phase in ("feature_extraction", "fine_tuning"):
        metrics[f"{phase}_gain"] = metrics[f"{phase}_accuracy"] - metrics["scratch_accuracy"]
    history.update(loss=runs["fine_tuning"]["loss"], val_loss=runs["fine_tuning"]["val_loss"],
                   val_fine_tuning_accuracy=runs["fine_tuning"]["val_accuracy"])
    for phase in ("feature_extraction", "scratch"):
        history.update({f"{phase}_{name}": runs[phase][name] for name in ("loss", "val_loss", "val_accuracy")})
    history.update(epoch_seconds=runs["fine_tuning"]["epoch_seconds"], train_traces=runs["fine_tuning"]["train_traces"])
    return RunResult(
        network="transfer",
        impl=impl,
        dataset=data.info.name,
        metric="fine_tuning_accuracy",
        value=metrics["fine_tuning_accuracy"],
        metrics=metrics,
        history=history,
        train_seconds=seconds,
        samples_per_second=examples / seconds,
        epochs_run=(0 if config.base_checkpoint else config.epochs) + 2 * config.epochs_of("scratch"),
        seed=config.seed,
        config=dataclasses.asdict(config),
    )
