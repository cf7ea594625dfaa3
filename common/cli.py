"""Command lines of one network: `python -m keras_impl.<net>`, `python -m tf_impl.<net>`.

What a network module's `main` needs, and nothing more: flags built from the network's
config dataclass, `train_one` (config, data, training, metrics.json) and `run_network`.
The `twinnets` command (list, train, compare, bench, prepare) is built on this in
common/twinnets.py; this module imports none of the subcommands.

Flags come from the network's config dataclass (`--hidden-units 128` sets
`hidden_units`), with the field's type; a flag may only override an existing field.
Every user error (a bad flag value, an unknown network or dataset, a missing or
malformed file, a diverging loss) ends with one line on stderr and exit code 2, and
writes nothing.
"""
import argparse
import dataclasses
import os
import re
import shutil
import sys
import tempfile
import types

from common import data as data_module
from common import devices, modules
from common import registry
from common.checkpoints import CheckpointError
from common.configs import ConfigError
from common.evaluate import TrainingDiverged
from common.results import writable_directory


class OutputError(ValueError):
    """An --out location that cannot be written."""


USER_ERRORS = (ConfigError, data_module.DataError, registry.UnknownNetworkError, TrainingDiverged, OutputError,
               devices.DeviceError, CheckpointError)
IMPLS = modules.IMPLS


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (no usage block) and exits with 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _tuple_of_ints(text):
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def _flag_type(field_type):
    if field_type is bool:
        return None
    if isinstance(field_type, types.GenericAlias) and field_type.__origin__ is tuple:
        return _tuple_of_ints
    return field_type


def add_config_flags(parser, config_class):
    """One flag per config field, typed from its annotation; defaults stay in the dataclass."""
    defaults = config_class()
    group = parser.add_argument_group(f"hyperparameters ({config_class.__name__})")
    for field in dataclasses.fields(config_class):
        flag = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        if field.type is bool:
            group.add_argument(flag, dest=field.name, action=argparse.BooleanOptionalAction, default=None,
                               help=f"default: {shown}")
        else:
            group.add_argument(flag, dest=field.name, type=_flag_type(field.type), default=None,
                               metavar=field.name.upper(), help=f"default: {shown}")


def config_from_args(config_class, args):
    overrides = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(config_class)
        if getattr(args, field.name, None) is not None
    }
    return config_class(**overrides)  # __post_init__ validates: ConfigError on a bad value


def add_run_flags(parser, one_run=False):
    """Flags of a run, not hyperparameters; one_run: also those that only make sense for a single training run."""
    parser.add_argument("--deterministic", action="store_true",
                        help="seeded, op-deterministic execution: the same command gives bit-identical metrics")
    if one_run:
        parser.add_argument("--checkpoint-dir", default=None, metavar="DIR",
                            help="save the training state after every epoch; rerunning the command resumes from it")
        parser.add_argument("--export", default=None, metavar="DIR", help="write the trained model as a SavedModel")
        parser.add_argument("--tensorboard", default=None, metavar="DIR",
                            help="per-epoch scalars for TensorBoard under DIR/keras or DIR/tf (tensorboard --logdir DIR)")
    parser.add_argument("--data-dir", default=None, help="where tfds datasets are prepared (default: ~/tensorflow_datasets)")
    parser.add_argument("--download", action="store_true", help="let tfds download a dataset that is not prepared yet")
    parser.add_argument("--num-classes", type=int, default=None, metavar="K",
                        help="classes of a classification dataset, labels 0..K-1 (default: inferred, and only when "
                             "every class 0..max occurs)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    parser.add_argument("--strategy", default="auto", choices=devices.STRATEGIES,
                        help="tf.distribute strategy for both implementations (default auto: TPU, else GPUs, else CPU)")


def prepare_out_dir(path):
    """Create --out now, before minutes of training, and fail at once if it cannot be written."""
    return writable_directory(path, "--out", OutputError)


# Families whose networks train on real-valued targets: the regression network, and the recurrent
# networks on the adding problem. The others classify (or ignore y) and refuse a regression's data.
REGRESSING_FAMILIES = ("regression", "recurrent")


def load_data(spec, config, data_dir=None, download=False, num_classes=None):
    data = data_module.load(
        config.dataset,
        seed=config.seed,
        batch_size=config.batch_size,
        validation_fraction=config.validation_fraction,
        data_dir=data_dir,
        download=download,
        num_classes=num_classes,
        task="regression" if spec.family == "regression" else None,  # a .npz's y read as real values
        sequence_length=getattr(config, "sequence_length", None),  # charlm: characters per window of real text
        window=getattr(config, "window", None),  # the forecaster: past values in, values out, a CSV's column
        horizon=getattr(config, "horizon", None),
        column=getattr(config, "column", None),
        min_count=getattr(config, "min_count", None),  # the tagger: training occurrences that give a word its own id
        image_size=getattr(config, "image_size", None),  # detection: the square size images are resized to
    )
    if (spec.family == "forecaster") != (data.info.task == "forecast"):  # a series' windows: the forecaster's only
        raise data_module.DataError(
            f"forecaster forecasts a time series (mackey_glass, sine, a .csv file with --column NAME); "
            f"{data.info.name} holds {data.info.kind} data" if spec.family == "forecaster"
            else f"{data.info.name} is a time series to forecast: train forecaster on it"
        )
    if (spec.family == "tagger") != (data.info.task == "tagging"):  # tagged sentences: the tagger's, and only its
        raise data_module.DataError(
            f"tagger tags the tokens of sentences (entities, a .conll file); {data.info.name} holds {data.info.kind} data"
            if spec.family == "tagger" else f"{data.info.name} holds tagged sentences: train tagger on it"
        )
    if (spec.family == "detection") != (data.info.task == "detection"):  # images with boxes: detection's, and only its
        raise data_module.DataError(
            f"detection finds and boxes objects (scene_boxes, voc, a COCO annotations .json); {data.info.name} holds "
            f"{data.info.kind} data without boxes" if spec.family == "detection"
            else f"{data.info.name} holds images with boxes: train detection on it"
        )
    if (spec.family == "segmentation") != (data.info.task == "segmentation"):  # masks: the segmentation network's only
        raise data_module.DataError(
            f"segmentation labels every pixel (scenes, oxford_iiit_pet, an .npz with masks (N, H, W) as y); "
            f"{data.info.name} holds one label per example" if spec.family == "segmentation"
            else f"{data.info.name} holds a mask per image: train segmentation on it"
        )
    if (spec.family == "speech") != (data.info.task == "ctc"):  # transcribed audio: speech's, and only its
        raise data_module.DataError(
            f"speech transcribes audio clips (digit_sequences, spoken_digit); {data.info.name} holds {data.info.kind} "
            "data" if spec.family == "speech" else f"{data.info.name} holds transcribed audio: train speech on it"
        )
    if spec.inputs == "image" and data.info.kind != "image":
        raise data_module.DataError(
            f"{spec.name} needs images; {data.info.name} holds tables of shape {data.info.input_shape}"
        )
    if (spec.inputs == "pairs") != (data.info.kind == "pairs"):  # translation pairs: seq2seq's, and only its
        raise data_module.DataError(
            f"{spec.name} translates sequence pairs (dates, a .tsv file); {data.info.name} holds {data.info.kind} data"
            if spec.inputs == "pairs" else f"{data.info.name} holds sequence pairs to translate: train seq2seq on it"
        )
    if (spec.family == "charlm") != (data.info.task == "next_character"):  # text as characters: charlm's, and only its
        raise data_module.DataError(
            f"charlm models text (reber, tiny_shakespeare or a .txt file); {data.info.name} holds {data.info.kind} data"
            if spec.family == "charlm" else f"{data.info.name} is text for the character-level language model: "
                                            f"train charlm on it"
        )
    if data.info.task == "regression" and spec.family not in REGRESSING_FAMILIES:
        raise data_module.DataError(
            f"{spec.name} classifies; {data.info.name} holds real-valued targets: train the regression network on it"
        )
    return data


def train_one(network, impl, args):
    """Parse-free core of `train`: config from args, data, training, metrics.json."""
    spec = registry.get(network)
    config = spec.check(config_from_args(spec.config_class, args))
    if impl == "keras" and args.strategy == "multiworker":
        raise devices.DeviceError(
            "Keras 3.15's fit cannot train under MultiWorkerMirroredStrategy (keras-team/keras#20585); "
            "use --impl tf for multi-worker training"
        )
    strategy, where = devices.make_strategy(args.strategy)
    out_dir = prepare_out_dir(args.out or os.path.join("runs", f"{network}-{impl}"))
    check_export_dir(getattr(args, "export", None))
    tensorboard_dir = None
    if getattr(args, "tensorboard", None):  # DIR/keras and DIR/tf: the twins' curves on one TensorBoard chart
        tensorboard_dir = writable_directory(os.path.join(args.tensorboard, impl), "--tensorboard", OutputError)
    data = load_data(spec, config, args.data_dir, args.download, args.num_classes)
    module = modules.network_module(network, impl)
    if not args.quiet:
        print(f"{network} ({impl}) on {data.info.name}: {data.info.n_train} train / {data.info.n_val} val / "
              f"{data.info.n_test} test examples of shape {data.info.input_shape}, "
              + (f"{data.info.num_classes} values forecast" if data.info.task == "forecast"
                 else f"{data.info.num_classes - 1} tags and padding" if data.info.task == "tagging"
                 else f"{data.info.num_classes} classes"))
    if not args.quiet:
        print(f"training on {where}")
    if args.deterministic:
        make_deterministic(config.seed)
    with strategy.scope():  # Keras builds and compiles here; tf_impl creates its variables here
        result = module.train(config, data, verbose=0 if args.quiet else 1, out_dir=out_dir,
                              checkpoint_dir=args.checkpoint_dir, tensorboard_dir=tensorboard_dir)
    if args.export:
        export(result, impl, data, args.export)
    result.floor = spec.floor_for(data.info.name, result.metric)
    result.below_floor = None if result.floor is None else not spec.clears(result.value, result.floor)
    path = result.write(out_dir)
    others = ", ".join(f"{name} {value:.4f}" for name, value in result.metrics.items()  # per horizon step: metrics.json
                       if name != result.metric and not re.search(r"_h\d+$", name))
    print(f"{network} ({impl}): test {result.metric} {result.value:.4f}" + (f" ({others})" if others else "")
          + f", {result.epochs_run} epochs in {result.train_seconds:.1f}s ({result.samples_per_second:,.0f} samples/s)")
    print(f"wrote {path}; {verdict(spec, result)}")
    return result


def verdict(spec, result):
    """The run's result against the registry's floor, in words (the last line a run prints)."""
    where = f"{spec.name} on {result.dataset}"
    if result.floor is None:
        return f"test {result.metric} {result.value:.4f}: no floor is set for {where}, so no verdict"
    side = ">=" if spec.higher_is_better else "<="
    if result.below_floor:
        return f"BELOW THE FLOOR: test {result.metric} {result.value:.4f} misses {side} {result.floor:g} set for {where}"
    return f"clears the floor: test {result.metric} {result.value:.4f} {side} {result.floor:g} set for {where}"


def make_deterministic(seed):
    """Seeded, op-deterministic execution for the rest of the process (both implementations).

    The Keras side also calls keras.utils.set_random_seed(config.seed) in its train
    functions; data shuffles are seeded (common.data) and tf_impl's randomness comes from
    seeded tf.random.Generators, so with op determinism a run is bit-for-bit repeatable.
    """
    import tensorflow as tf

    tf.random.set_seed(seed)
    tf.config.experimental.enable_op_determinism()


def check_export_dir(directory):
    """--export must name a new or empty folder: checked before training, not after."""
    if directory and os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        raise OutputError(f"--export {directory} exists and is not an empty directory")


def export(result, impl, data, directory):
    """--export DIR: the trained model as a SavedModel, by the implementation's own exporter.

    Written next to DIR under a temporary name and renamed into place: never half a SavedModel.
    """
    if result.model is None:
        raise OutputError(f"{result.network} ({impl}) has no single model to export")
    check_export_dir(directory)
    exporter = modules.export_module(impl)
    shape, dtype = result.model_input
    parent = os.path.dirname(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=".export-", dir=parent)
    try:
        exporter.export(result.model, os.path.join(temporary, "model"), shape, dtype)
        if os.path.isdir(directory):
            os.rmdir(directory)  # empty, checked above
        os.replace(os.path.join(temporary, "model"), directory)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    print(f"exported {directory}")


def guarded(run):
    """Run a command; a user error becomes one line on stderr and exit code 2."""
    try:
        run()
    except USER_ERRORS as error:
        print(f"twinnets: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("twinnets: interrupted", file=sys.stderr)
        return 130
    return 0


def run_network(network, impl, argv=None):
    """main() of keras_impl/<net>.py and tf_impl/<net>.py."""
    spec = registry.get(network)
    parser = Parser(prog=f"python -m {impl}_impl.{network}", description=spec.title)
    add_config_flags(parser, spec.config_class)
    add_run_flags(parser, one_run=True)
    parser.add_argument("--out", default=None, help=f"folder for metrics.json (default: runs/{network}-{impl})")
    args = parser.parse_args(argv)
    return guarded(lambda: train_one(network, impl, args))
