"""Run by tests/test_distribute.py: one worker of a MultiWorkerMirroredStrategy cluster on 127.0.0.1.

    python multiworker_worker.py OUT.json single            # the reference: one process, one device
    python multiworker_worker.py OUT.json INDEX PORT0 PORT1  # worker INDEX of two

For cnn and the autoencoder: STEPS tf_impl optimizer steps on the same global batches of
64 from the same initial weights; the single process also runs Keras on them. Worker 0
(or the single process) writes the per-step losses and final weights to OUT.json.

Keras 3.15 cannot train under MultiWorkerMirroredStrategy: fit reduces the first data
batch across workers and fails (keras-team/keras#20585), and train_on_batch fails in its
per-replica metric reduction. keras_impl refuses --strategy multiworker for that reason.
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
from keras_impl import autoencoder as keras_autoencoder  # noqa: E402
from keras_impl import cnn as keras_cnn  # noqa: E402
from tf_impl import autoencoder as tf_autoencoder  # noqa: E402
from tf_impl import cnn as tf_cnn  # noqa: E402
from tf_impl import optim, supervised  # noqa: E402

GLOBAL_BATCH, STEPS = 64, 5


def pipeline(x, y):
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def run(strategy, network, x, y):
    """{"tf": {"losses", "weights"}, "keras": {"weights"}} after STEPS steps from seeded Keras weights."""
    config = configs.CNNConfig() if network == "cnn" else configs.AutoencoderConfig()
    keras_module, tf_module = (keras_cnn, tf_cnn) if network == "cnn" else (keras_autoencoder, tf_autoencoder)
    shape = x.shape[1:]
    build_keras = (lambda: keras_module.build(config, shape, 10)) if network == "cnn" else (
        lambda: keras_module.build(config, shape))
    keras.utils.set_random_seed(0)
    initial = build_keras().get_weights()
    results = {}

    with strategy.scope():
        model = tf_module.build(config, shape, 10) if network == "cnn" else tf_module.build(config, shape)
        model.set_weights(initial)
        optimizer = optim.from_config(config)
        optimizer.build(model.trainable_weights)
    batches = strategy.experimental_distribute_dataset(pipeline(x, y))
    if network == "cnn":
        step = supervised.make_train_step(model, optimizer, strategy, batches.element_spec)
        losses = [float(step(bx, by)[0]) for bx, by in batches]
    else:
        step = tf_autoencoder.make_train_step(model, optimizer, batches.element_spec[0], strategy)
        losses = [float(step(bx)[0]) for bx, _ in batches]
    results["tf"] = {"losses": losses, "weights": [w.tolist() for w in model.get_weights()]}

    if strategy.num_replicas_in_sync == 1:  # the reference process: Keras on the same steps, for tf-vs-keras
        keras_model = build_keras()
        keras_model.set_weights(initial)
        targets = y if network == "cnn" else x
        keras_model.fit(pipeline(x, targets), epochs=1, steps_per_epoch=STEPS, shuffle=False, verbose=0)
        results["keras"] = {"weights": [w.tolist() for w in keras_model.get_weights()]}
    return results


def main():
    out = sys.argv[1]
    single = sys.argv[2] == "single"
    strategy = tf.distribute.get_strategy() if single else tf.distribute.MultiWorkerMirroredStrategy()
    data = data_module.load("digits")
    x, y = data.x_train[: GLOBAL_BATCH * STEPS], data.y_train[: GLOBAL_BATCH * STEPS]
    report = {"replicas": strategy.num_replicas_in_sync}
    for network in ("cnn", "autoencoder"):
        report[network] = run(strategy, network, x, y)
    if single or int(sys.argv[2]) == 0:
        with open(out, "w") as stream:
            json.dump(report, stream)


if __name__ == "__main__":
    main()
