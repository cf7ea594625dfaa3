"""Run by tests/test_distribute.py: one worker of a MultiWorkerMirroredStrategy cluster on 127.0.0.1.

    python multiworker_worker.py OUT.json single            # the reference: one process, one device
    python multiworker_worker.py OUT.json INDEX PORT0 PORT1  # worker INDEX of two

For cnn, the autoencoder and the GAN (its batch normalisation synchronised across the two
processes, its latent vectors one row per example of the global batch): STEPS tf_impl
optimizer steps on the same global batches of 64 from the same initial weights; the
single process also runs Keras on them. Worker 0
(or the single process) writes the per-step losses and final weights to OUT.json.

Keras 3.15's fit cannot run under MultiWorkerMirroredStrategy: before the first step it
reduces a data batch across the workers and fails (keras-team/keras#20585), and
train_on_batch fails in its per-replica metric reduction; keras_impl refuses --strategy
multiworker for that reason. The Keras network itself trains multi-worker: the cluster
runs fit's own per-replica step, `model.train_step`, through `strategy.run` (the call fit
makes once its driver is past that reduction), on the same distributed batches.
The tf_impl pipeline shards each global batch across the workers (AutoShardPolicy.DATA).
"""
import json
import os
import sys

if len(sys.argv) > 3:  # a cluster member: TF_CONFIG must be set before TensorFlow builds the strategy
    index, ports = int(sys.argv[2]), sys.argv[3:5]
    os.environ["TF_CONFIG"] = json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
        "task": {"type": "worker", "index": index},
    })

import common  # noqa: E402,F401  (quiet TensorFlow)
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import configs  # noqa: E402
from common import data as data_module  # noqa: E402
import numpy as np  # noqa: E402
from keras_impl import autoencoder as keras_autoencoder  # noqa: E402
from keras_impl import cnn as keras_cnn  # noqa: E402
from keras_impl import gan as keras_gan  # noqa: E402
from tf_impl import autoencoder as tf_autoencoder  # noqa: E402
from tf_impl import cnn as tf_cnn  # noqa: E402
from tf_impl import gan as tf_gan  # noqa: E402
from tf_impl import optim, supervised  # noqa: E402

GLOBAL_BATCH, STEPS = 64, 5
NETWORKS = ("cnn", "autoencoder", "gan")
MODULES = {"cnn": (keras_cnn, tf_cnn), "autoencoder": (keras_autoencoder, tf_autoencoder), "gan": (keras_gan, tf_gan)}


def pipeline(x, y):
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def run(strategy, network, x, y):
    """{"tf": {"losses", "weights"}, "keras": {"weights"}} after STEPS steps from seeded Keras weights."""
    config = {"cnn": configs.CNNConfig, "autoencoder": configs.AutoencoderConfig, "gan": configs.GANConfig}[network]()
    keras_module, tf_module = MODULES[network]
    shape = x.shape[1:]
    build = (lambda module: module.build(config, shape, 10)) if network == "cnn" else (
        lambda module: module.build(config, shape))
    keras.utils.set_random_seed(0)
    initial = build(keras_module).get_weights()
    latents = np.random.default_rng(1).standard_normal((len(x), getattr(config, "latent_dim", 1))).astype(np.float32)
    results = {}

    with strategy.scope():
        model = build(tf_module)
        model.set_weights(initial)
        if network == "gan":
            optimizers = tf_gan.optimizers(model, config)
        else:
            optimizers = [optim.from_config(config)]
            optimizers[0].build(model.trainable_weights)
    batches = strategy.experimental_distribute_dataset(pipeline(x, y))
    if network == "cnn":
        step = supervised.make_train_step(model, optimizers[0], strategy, batches.element_spec)
        losses = [float(step(bx, by)[0]) for bx, by in batches]
    elif network == "autoencoder":
        step = tf_autoencoder.make_train_step(model, optimizers[0], batches.element_spec[0], strategy)
        losses = [float(step(bx)[0]) for bx, _ in batches]
    else:  # z for the whole global batch; each replica, on either worker, takes its rows (tf_impl/replicas.py)
        step = tf_gan.make_train_step(model, *optimizers, batches.element_spec[0], config.latent_dim, strategy)
        windows = [latents[i * GLOBAL_BATCH:(i + 1) * GLOBAL_BATCH] for i in range(STEPS)]
        losses = [float(step(bx, tf.constant(z))[0]) for (bx, _), z in zip(batches, windows)]
    results["tf"] = {"losses": losses, "weights": [w.tolist() for w in model.get_weights()]}

    with strategy.scope():
        keras_model = build(keras_module)
        keras_model.set_weights(initial)
    targets = {"cnn": y, "autoencoder": x, "gan": latents}[network]
    if strategy.num_replicas_in_sync == 1:  # the reference process: Keras fit on the same steps
        keras_model.fit(pipeline(x, targets), epochs=1, steps_per_epoch=STEPS, shuffle=False, verbose=0)
    else:  # fit's own step, Keras's train_step, driven by strategy.run as fit would: fit cannot (keras#20585)
        step = tf.function(lambda batch: strategy.run(keras_model.train_step, args=(batch,)))
        for batch in strategy.experimental_distribute_dataset(pipeline(x, targets)):
            step(batch)
    results["keras"] = {"weights": [w.tolist() for w in keras_model.get_weights()]}
    return results


def main():
    out = sys.argv[1]
    single = sys.argv[2] == "single"
    strategy = tf.distribute.get_strategy() if single else tf.distribute.MultiWorkerMirroredStrategy()
    data = data_module.load("digits")
    x, y = data.x_train[: GLOBAL_BATCH * STEPS], data.y_train[: GLOBAL_BATCH * STEPS]
    report = {"replicas": strategy.num_replicas_in_sync}
    for network in NETWORKS:
        report[network] = run(strategy, network, x, y)
    if single or int(sys.argv[2]) == 0:
        with open(out, "w") as stream:
            json.dump(report, stream)


if __name__ == "__main__":
    main()
