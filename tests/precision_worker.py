"""Run by tests/test_precision.py in a fresh process: logical devices must be set before TF starts.

mixed_float16 under MirroredStrategy over two logical CPUs against one device, two ways:

- "injected": tf_impl's LossScaleOptimizer alone, fed the same gradients (each replica
  half of the global gradient, exact in binary; an inf or a NaN on one replica only),
  growth after 3 finite steps: the scale, counter, step count and weights after every
  step must be the same as on one device, and the same on every replica.
- per network named on the command line (classifiers, the autoencoder with its own step),
  STEPS steps of tf_impl's train step on the same global batches of 64 (32 per replica)
  from the same weights: "sgd" with the default
  loss scaling (SGD, unlike Adam, passes a wrong gradient size on to the weights), and
  "overflowing" with Adam and a scale that overflows float16 (initial 2**20, doubling after
  3 finite steps: steps are skipped and the scale halves and grows along the way).

Prints JSON: the largest loss and weight differences, how far the weights moved, the scale
after every step and the applied step count on each side, and whether every replica's copy
of the scale, the growth counter, the step count and the weights agree.
"""
import dataclasses
import importlib
import json
import sys

import common  # noqa: F401  (quiet TensorFlow)
from common import devices

devices.set_logical_cpus(2)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import data as data_module  # noqa: E402
from common import registry  # noqa: E402
from tf_impl import autoencoder, layers, optim, supervised  # noqa: E402

GLOBAL_BATCH, STEPS = 64, 12
SETTINGS = {
    "sgd": lambda config: optim.from_config(dataclasses.replace(config, optimizer="sgd", learning_rate=0.05,
                                                                momentum=0.9)),  # 2**15, growth after 2000 steps
    "overflowing": lambda config: optim.LossScaleOptimizer(optim.Adam(config.learning_rate), 2.0**20, growth_steps=3),
}
# (global gradient of the kernel, of the bias, the replica whose half is non-finite or None)
INJECTED = [
    ([[1e-3, 2e-3], [3e-3, 4e-3]], [1.0, -1.0], None),
    ([[1e-3, 2e-3], [3e-3, np.inf]], [1.0, -1.0], 1),  # inf on the second replica only
    ([[-1e-3, 2e-3], [3e-3, 4e-3]], [0.5, -1.0], None),
    ([[1e-3, 5e-3], [3e-3, 4e-3]], [np.nan, -1.0], 0),  # NaN on the first replica only
    ([[1e-3, 2e-3], [3e-3, 4e-3]], [1.0, -2.0], None),
    ([[2e-3, 2e-3], [3e-3, 1e-3]], [1.0, -1.0], None),
    ([[1e-3, 2e-3], [3e-3, 1e-3]], [-1.0, 1.0], None),
    ([[1e-3, 4e-3], [3e-3, 1e-3]], [1.0, 1.0], None),
]


def replicas_agree(strategy, variables):
    """True when every device holds the same value of every variable (one device: trivially)."""
    for variable in variables:
        copies = [np.asarray(copy) for copy in strategy.experimental_local_results(variable)]
        if any(not np.array_equal(copies[0], copy) for copy in copies[1:]):
            return False
    return True


def tf_steps(network, strategy, initial, batches, config, shape, make_optimizer):
    """shape: the build arguments after the config. The autoencoder trains on images alone, with its own step."""
    with strategy.scope(), layers.precision(config.precision):
        model = importlib.import_module(f"tf_impl.{network}").build(config, *shape)
        model.set_weights(initial)
        optimizer = make_optimizer(config)
        optimizer.build(model.trainable_weights)
    if network == "autoencoder":
        batches = [x for x, _ in batches]
    pipelines = [strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(b).batch(GLOBAL_BATCH))
                 for b in batches]
    if network == "autoencoder":
        step = autoencoder.make_train_step(model, optimizer, pipelines[0].element_spec, strategy)
    else:
        step = supervised.make_train_step(model, optimizer, strategy, pipelines[0].element_spec)
    losses, scales = [], []
    for pipeline in pipelines:
        for batch in pipeline:
            losses.append(float(step(*(batch if isinstance(batch, tuple) else (batch,)))[0]))
            scales.append(float(optimizer.scale.numpy()))
    state = [optimizer.scale, optimizer.counter, optimizer.iterations, *model.weights]
    return {"losses": losses, "scales": scales, "iterations": int(optimizer.iterations.numpy()),
            "weights": model.get_weights(), "replicas_agree": replicas_agree(strategy, state)}


def injected_steps(strategy):
    """The optimizer alone: each replica gets half of every global gradient, a bad value on one replica only."""
    replicas = strategy.num_replicas_in_sync
    with strategy.scope():
        variables = [tf.Variable([[1.0, -2.0], [0.5, 3.0]]), tf.Variable([0.1, -0.1])]
        optimizer = optim.LossScaleOptimizer(optim.Adam(1e-2), growth_steps=3)
        optimizer.build(variables)

    @tf.function
    def step(gradients):
        strategy.run(lambda *g: optimizer.apply(list(g), variables), args=gradients)

    def replica_gradients(kernel, bias, bad_replica):
        def of_replica(context):
            kernel_part, bias_part = np.float32(kernel) / replicas, np.float32(bias) / replicas
            if bad_replica is not None and context.replica_id_in_sync_group != bad_replica:
                kernel_part, bias_part = np.nan_to_num(kernel_part, posinf=0.0), np.nan_to_num(bias_part, nan=0.0)
            return tf.constant(kernel_part), tf.constant(bias_part)

        return strategy.experimental_distribute_values_from_function(of_replica)

    record = {"scales": [], "counters": [], "iterations": [], "weights": []}
    for kernel, bias, bad_replica in INJECTED:
        if replicas == 1:  # one device: the global gradient itself
            step((tf.constant(np.float32(kernel)), tf.constant(np.float32(bias))))
        else:
            per_replica = replica_gradients(kernel, bias, bad_replica)
            step(per_replica)
        record["scales"].append(float(optimizer.scale.numpy()))
        record["counters"].append(int(optimizer.counter.numpy()))
        record["iterations"].append(int(optimizer.iterations.numpy()))
        record["weights"].append([v.numpy().tolist() for v in variables])
    record["replicas_agree"] = replicas_agree(strategy, [optimizer.scale, optimizer.counter, optimizer.iterations,
                                                         *variables])
    return record


def main(networks):
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2
    single = tf.distribute.get_strategy()
    report = {"injected": {"one": injected_steps(single), "two": injected_steps(mirrored)}}
    for network in networks:
        spec = registry.get(network)
        fields = spec.config_class.__dataclass_fields__
        config = spec.config_class(precision="mixed_float16", **({"dropout": 0.0} if "dropout" in fields else {}))
        data = data_module.load(spec.default_dataset)
        shape = (data.info.input_shape,) if network == "autoencoder" else (data.info.input_shape, data.info.num_classes)
        windows = [np.arange(i * GLOBAL_BATCH, (i + 1) * GLOBAL_BATCH) for i in range(STEPS)]
        batches = [(np.take(data.x_train, w, axis=0, mode="wrap"), np.take(data.y_train, w, mode="wrap"))
                   for w in windows]
        initial = importlib.import_module(f"tf_impl.{network}").build(config, *shape).get_weights()
        for setting, make_optimizer in SETTINGS.items():
            one = tf_steps(network, single, initial, batches, config, shape, make_optimizer)
            two = tf_steps(network, mirrored, initial, batches, config, shape, make_optimizer)
            report[f"{network}/{setting}"] = {
                "loss_difference": float(np.max(np.abs(np.array(one["losses"]) - two["losses"]))),
                "weight_difference": float(max(np.abs(a - b).max() for a, b in zip(one["weights"], two["weights"]))),
                "moved": float(max(np.abs(a - b).max() for a, b in zip(one["weights"], initial))),
                "scales_one": one["scales"], "scales_two": two["scales"],
                "iterations_one": one["iterations"], "iterations_two": two["iterations"],
                "replicas_agree": two["replicas_agree"],
            }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
