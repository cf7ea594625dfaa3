"""RunResult: what one training run produced, and its JSON form (metrics.json)."""
import dataclasses
import json
import os
import platform
import tempfile


@dataclasses.dataclass
class RunResult:
    network: str
    impl: str  # "keras" | "tf"
    dataset: str
    metric: str  # name of the headline metric
    value: float  # its value on the test split
    metrics: dict  # every test metric from common.evaluate
    history: dict  # per-epoch lists: loss (running mean over the epoch), val_loss, val_<metric>
    train_seconds: float
    samples_per_second: float  # training throughput: examples / median epoch_seconds, first epoch excluded
    epochs_run: int
    seed: int
    config: dict
    versions: dict = dataclasses.field(default_factory=lambda: versions())
    # The registry's floor for this metric on this dataset (None: none set for this data, no verdict),
    # and whether the run missed it (on the wrong side: below for accuracy, above for an error).
    floor: float = None
    below_floor: bool = None
    # Generative networks: small arrays for the figures (sample grid, latent view), e.g.
    # {"inputs", "reconstructions", "samples", "latent_2d", "labels"}; never written to JSON.
    figures: dict = dataclasses.field(default=None, repr=False)
    # The trained model, for --export (keras_impl/export.py, tf_impl/export.py): a classifier
    # or regressor itself, the autoencoder whole (image -> reconstruction), the VAE's decoder and
    # the GAN's generator (latent vector -> image); model_input = (one input's shape, dtype). Never in JSON.
    model: object = dataclasses.field(default=None, repr=False)
    model_input: tuple = dataclasses.field(default=None, repr=False)

    @classmethod
    def scored(cls, network, impl, config, data, metric, metrics, *, history, epochs_run, seconds, **rest):
        """The result of a run trained on `data` with `config`, scored on its test split: metrics[metric] the headline,
        the throughput from history["epoch_seconds"] over data.info.n_train examples an epoch. rest: figures, model,
        model_input."""
        return cls(network=network, impl=impl, dataset=data.info.name, metric=metric, value=metrics[metric],
                   metrics=metrics, history=history, train_seconds=seconds,
                   samples_per_second=training_throughput(data.info.n_train, history["epoch_seconds"]),
                   epochs_run=epochs_run, seed=config.seed, config=dataclasses.asdict(config), **rest)

    def to_dict(self):
        payload = dataclasses.asdict(dataclasses.replace(self, figures=None, model=None))  # asdict deep-copies
        for name in ("figures", "model", "model_input"):
            del payload[name]
        return payload

    def write(self, out_dir):
        """Write <out_dir>/metrics.json atomically: an old file is replaced only by a whole new one."""
        return write_json(os.path.join(out_dir, "metrics.json"), self.to_dict())


def training_throughput(examples_per_epoch, epoch_seconds):
    """Training examples per second in the steady state: the median epoch after the first (which traces)."""
    import statistics

    steady = epoch_seconds[1:] or epoch_seconds
    return examples_per_epoch / statistics.median(steady)


def versions():
    import numpy
    import tensorflow

    return {"python": platform.python_version(), "tensorflow": tensorflow.__version__, "numpy": numpy.__version__}


def write_json(path, payload):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=directory)
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(payload, stream, indent=2, default=_jsonable)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return path


def _jsonable(value):
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def save_weights(out_dir, arrays):
    """<out_dir>/weights.npz: the model's weights in Keras order (arr_0, arr_1, ...), readable by either side."""
    import numpy as np

    os.makedirs(out_dir, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=out_dir)
    os.close(handle)
    np.savez(temporary, *arrays)
    path = os.path.join(out_dir, "weights.npz")
    os.replace(temporary, path)
    return path


def load_weights(path):
    """The Keras-order list written by save_weights."""
    import numpy as np

    with np.load(path) as archive:
        return [archive[f"arr_{index}"] for index in range(len(archive.files))]


def writable_directory(path, flag, error):
    """Create `path` (given as `flag` on the command line) and prove it can be written, or raise `error`.

    A real write: os.access says yes to root even where a write fails (read-only mounts, chattr +i).
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise error(f"{flag} {path} exists and is not a directory")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as failure:
        raise error(f"cannot create {flag} {path}: {failure.strerror}") from None
    try:
        handle, probe = tempfile.mkstemp(prefix=".probe-", dir=path)
        os.close(handle)
        os.unlink(probe)
    except OSError:
        raise error(f"{flag} {path} is not writable") from None
    return path
