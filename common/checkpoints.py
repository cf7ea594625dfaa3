"""What both implementations' checkpoints share: the fingerprint that keeps a resume honest.

`--checkpoint-dir DIR` saves the training state after every finished epoch (tf_impl:
tf.train.Checkpoint + CheckpointManager in tf_impl/loop.py; Keras: one .npz replaced
atomically, keras_impl/supervised.py). Rerunning the same command resumes where it
stopped. Next to the state lies `fingerprint.json`: the network, the implementation,
the config without `epochs` (so a run can be extended; nor `nesterov` when off or
`weight_decay` unless adamw: fields added later, left out so that older checkpoints
still resume) and the data's shape. A directory holding another network's or another
config's state is refused with a message naming what differs, never silently loaded.
"""
import dataclasses
import json
import os

from common.results import writable_directory, write_json

FINGERPRINT = "fingerprint.json"


class CheckpointError(ValueError):
    """A --checkpoint-dir that cannot be used: unwritable, or holding another run's state."""


# Config fields added after checkpoints existed, with the value at which they change nothing: left out of
# the fingerprint at that value, so those checkpoints still resume.
ADDED_LATER = {"nesterov": False, "learning_rate_schedule": "constant", "l1": 0.0, "l2": 0.0}


def fingerprint(network, impl, config, data):
    settings = dataclasses.asdict(config)
    settings.pop("epochs", None)  # more epochs may be asked for on a rerun
    for name, inert in ADDED_LATER.items():
        if name in settings and settings[name] == inert:
            settings.pop(name)
    if "weight_decay" in settings and settings.get("optimizer") != "adamw":
        settings.pop("weight_decay")
    schedule = settings.get("learning_rate_schedule", "constant")  # decay_rate and warmup_epochs act in one schedule each
    if schedule != "exponential":
        settings.pop("decay_rate", None)
    if schedule != "cosine":
        settings.pop("warmup_epochs", None)
    else:  # the cosine ends at the last epoch: a resume with more epochs would jump to another curve
        settings["epochs"] = config.epochs
    info = data.info
    return {
        "network": network,
        "impl": impl,
        "config": json.loads(json.dumps(settings, default=list)),  # tuples -> lists, as read back
        "data": {"name": info.name, "input_shape": list(info.input_shape), "num_classes": info.num_classes,
                 "n_train": info.n_train, "n_val": info.n_val, "n_test": info.n_test},
    }


def claim(directory, expected):
    """Make `directory` this run's: create it, or check that its fingerprint is this run's."""
    writable_directory(directory, "--checkpoint-dir", CheckpointError)
    path = os.path.join(directory, FINGERPRINT)
    if not os.path.exists(path):
        if os.listdir(directory):
            raise CheckpointError(f"--checkpoint-dir {directory} holds files but no {FINGERPRINT}: "
                                  "not a twinnets checkpoint; use an empty or new folder")
        try:
            write_json(path, expected)
        except OSError as error:
            raise CheckpointError(f"--checkpoint-dir {directory} is not writable: {error.strerror}") from None
        return
    try:
        with open(path) as stream:
            found = json.load(stream)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path} is unreadable ({type(error).__name__}); use a new --checkpoint-dir") from None
    found = _without_inert(found)
    if found != expected:
        raise CheckpointError(f"--checkpoint-dir {directory} holds a checkpoint of {_describe(found)}, "
                              f"not of this run ({_difference(found, expected)}); use another folder")


def _without_inert(found):
    """A stored fingerprint as fingerprint() writes it now: ADDED_LATER fields at their inert value left out
    (logistic_regression's and deep_mlp's fingerprints held "l2": 0.0 before l2 joined ADDED_LATER)."""
    if not isinstance(found, dict) or not isinstance(found.get("config"), dict):
        return found
    config = {name: value for name, value in found["config"].items()
              if not (name in ADDED_LATER and value == ADDED_LATER[name])}
    return dict(found, config=config)


def part(directory, expected, name):
    """A sub-folder of a claimed `directory` for one part of a multi-phase run (transfer): (folder, fingerprint)."""
    claim(directory, expected)
    return os.path.join(directory, name), dict(expected, part=name)


def _describe(fingerprint_):
    if not isinstance(fingerprint_, dict):
        return "something else"
    return f"{fingerprint_.get('network')} ({fingerprint_.get('impl')})"


def _difference(found, expected):
    if not isinstance(found, dict):
        return "unreadable fingerprint"
    for key in ("network", "impl"):
        if found.get(key) != expected[key]:
            return f"{key} {found.get(key)!r} != {expected[key]!r}"
    for part in ("config", "data"):
        theirs, ours = found.get(part) or {}, expected[part]
        for name in sorted(set(theirs) | set(ours)):
            if theirs.get(name) != ours.get(name):
                return f"{part} {name}: {theirs.get(name)!r} there, {ours.get(name)!r} here"
    return "fingerprints differ"
