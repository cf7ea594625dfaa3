"""Where to train: a tf.distribute strategy from --strategy auto|cpu|gpu|mirrored|multiworker|tpu.

Both implementations train under the strategy this returns: Keras builds and compiles
its model inside `strategy.scope()`; tf_impl creates its variables there and runs its
step through `strategy.run`.

- auto: a TPU if one is configured (TPU_NAME / a TPU VM), else every local GPU
  (MirroredStrategy), else the CPU. It says what it chose.
- cpu: one device, the CPU (tf.distribute's default strategy).
- gpu: one GPU, or all local GPUs mirrored; an error if there is none.
- mirrored: MirroredStrategy over every local device of the fastest kind (several
  logical CPUs count: `set_logical_cpus` before TensorFlow initialises).
- multiworker: MultiWorkerMirroredStrategy; the cluster comes from TF_CONFIG.
- tpu: TPUStrategy; an error if no TPU is reachable.
"""
import os

import tensorflow as tf

STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "multiworker", "tpu")


class DeviceError(ValueError):
    """The requested devices are not there."""


def set_logical_cpus(count):
    """Split the CPU into `count` logical devices; must run before TensorFlow initialises its devices."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def _tpu_configured():
    return bool(os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR")) or os.path.exists("/dev/accel0")


def _tpu_strategy():
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise DeviceError(f"no TPU reachable ({type(error).__name__}: {error})") from None
    return tf.distribute.TPUStrategy(resolver)


def make_strategy(name="auto"):
    """Returns (strategy, description)."""
    if name not in STRATEGIES:
        raise DeviceError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        if _tpu_configured():
            return _tpu_strategy(), "TPU (TPUStrategy)"
        name = "gpu" if gpus else "cpu"
    if name == "cpu":
        return tf.distribute.get_strategy(), "CPU (one device)"
    if name == "gpu":
        if not gpus:
            raise DeviceError("--strategy gpu: TensorFlow sees no GPU on this machine")
        if len(gpus) == 1:
            return tf.distribute.OneDeviceStrategy(gpus[0].name), f"GPU ({gpus[0].name})"
        return tf.distribute.MirroredStrategy([g.name for g in gpus]), f"{len(gpus)} GPUs (MirroredStrategy)"
    if name == "mirrored":
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices), f"{len(devices)} device(s) (MirroredStrategy: {', '.join(devices)})"
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise DeviceError("--strategy multiworker needs TF_CONFIG describing the cluster and this worker")
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        return strategy, f"{strategy.num_replicas_in_sync} replicas (MultiWorkerMirroredStrategy)"
    return _tpu_strategy(), "TPU (TPUStrategy)"
