"""Run by tests/test_distribute.py in a fresh process: logical devices must be set before TF starts.

For each classifier named on the command line and each implementation: 10 optimizer
steps on the same global batches of 64, from the same weights, once on one device and
once under MirroredStrategy over two logical CPUs (32 examples per replica). Prints JSON
with the largest loss and weight differences, and how far the weights moved.
"""
import importlib
import json
import sys

import common  # noqa: F401  (quiet TensorFlow)
from common import devices

devices.set_logical_cpus(2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import data as data_module  # noqa: E402
from common import registry  # noqa: E402
from tf_impl import optim, supervised  # noqa: E402

GLOBAL_BATCH, STEPS = 64, 10


def tf_steps(network, strategy, initial, batches, config, shape, classes):
    with strategy.scope():
        model = importlib.import_module(f"tf_impl.{network}").build(config, shape, classes)
        model.set_weights(initial)
        optimizer = optim.from_config(config)
        optimizer.build(model.trainable_weights)
    pipelines = [strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(b).batch(GLOBAL_BATCH))
                 for b in batches]
    step = supervised.make_train_step(model, optimizer, strategy, pipelines[0].element_spec)
    losses = [float(step(x, y)[0]) for pipeline in pipelines for x, y in pipeline]
    return losses, model.get_weights()


def keras_steps(network, strategy, initial, batches, config, shape, classes):
    with strategy.scope():
        model = importlib.import_module(f"keras_impl.{network}").build(config, shape, classes)
        model.set_weights(initial)
    losses = [model.train_on_batch(x, y, return_dict=True)["loss"] for x, y in batches]
    return losses, model.get_weights()


def main(networks):
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])  # one per process: collective keys are per instance
    assert mirrored.num_replicas_in_sync == 2
    single = tf.distribute.get_strategy()
    report = {}
    for network in networks:
        spec = registry.get(network)
        fields = spec.config_class.__dataclass_fields__
        config = spec.config_class(**({"dropout": 0.0} if "dropout" in fields else {}))  # masks differ per device
        data = data_module.load(spec.default_dataset)
        shape, classes = data.info.input_shape, data.info.num_classes
        windows = [np.arange(i * GLOBAL_BATCH, (i + 1) * GLOBAL_BATCH) for i in range(STEPS)]
        batches = [(np.take(data.x_train, w, axis=0, mode="wrap"), np.take(data.y_train, w, mode="wrap")) for w in windows]
        keras.utils.set_random_seed(0)
        initial = importlib.import_module(f"keras_impl.{network}").build(config, shape, classes).get_weights()
        for impl, run in (("tf", tf_steps), ("keras", keras_steps)):
            losses_one, weights_one = run(network, single, initial, batches, config, shape, classes)
            losses_two, weights_two = run(network, mirrored, initial, batches, config, shape, classes)
            report[f"{network}/{impl}"] = {
                "loss_difference": float(np.max(np.abs(np.array(losses_one) - losses_two))),
                "weight_difference": float(max(np.abs(a - b).max() for a, b in zip(weights_one, weights_two))),
                "moved": float(max(np.abs(a - b).max() for a, b in zip(weights_one, initial))),
            }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
