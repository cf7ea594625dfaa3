"""Run by tests/test_distribute.py in a fresh process: logical devices must be set before TF starts.

    python mirrored_worker.py NETWORK [NETWORK ...]              two logical CPUs vs one
    python mirrored_worker.py --strategy gpu|tpu NETWORK [...]    the accelerator vs the CPU

For each network named and each implementation: optimizer steps on the same global
batches from the same weights, once on one device and once under MirroredStrategy over
two logical CPUs, then one JSON line with the largest loss and weight differences and how
far the weights moved. The batches are STEPS full global batches of 64 (32 per replica);
tf_impl also takes a last batch of 11, which the strategy splits 6 + 5 (Keras divides
each replica's mean by the replica count, so on an uneven batch it is not one device's
step: see tf_impl/replicas.py). The VAE's noise, the GAN's latent vectors, the RBM's Gibbs uniforms are injected
(the WGAN-GP's z and eps of every critic step too), one row per example of the global
batch; weights are compared in Keras order, moving batch-norm statistics included. Keras
runs `fit` over the batches, which distributes them as tf_impl does, and is compared on
its epoch's mean loss.
"""
import dataclasses
import importlib
import json
import sys

import common  # noqa: F401  (quiet TensorFlow)
from common import devices

ACCELERATOR = sys.argv[2] if sys.argv[1:2] == ["--strategy"] else None
if ACCELERATOR is None:
    devices.set_logical_cpus(2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import data as data_module  # noqa: E402
from common import energy, registry, seq2seq  # noqa: E402
from tf_impl import optim, supervised  # noqa: E402

GLOBAL_BATCH, STEPS, UNEVEN = 64, 10, 11
# segmentation: the U-Net on a 20 x 28 window of each 64 x 64 scene: any size works, and the encoder's stride (4)
# divides neither side, so the padding and the crop run under the strategy too; a step costs a fifth of a whole scene's.
CROP = (slice(22, 42), slice(18, 46))


def keras_module(network):
    return importlib.import_module(f"keras_impl.{network}")


def tf_module(network):
    return importlib.import_module(f"tf_impl.{network}")


def build(module, network, config, data):
    if registry.get(network).family == "seq2seq":  # the two vocabularies: source characters, target characters
        return module.build(config, data.info.vocabulary_size, data.info.num_classes)
    if registry.get(network).family in ("generative", "energy"):
        return module.build(config, data.info.input_shape)
    if registry.get(network).family == "forecaster":  # windows of config.window values -> config.horizon values
        return module.build(config)
    if registry.get(network).family == "tagger":  # word ids -> tags: the two sizes differ
        return module.build(config, data.info.input_shape, data.info.num_classes, data.info.vocabulary_size)
    return module.build(config, data.info.input_shape, data.info.num_classes)


def distributed(strategy, *arrays):
    """The global batch as the strategy feeds it: one batch, split across the replicas in order."""
    dataset = tf.data.Dataset.from_tensor_slices(arrays if len(arrays) > 1 else arrays[0]).batch(len(arrays[0]))
    return strategy.experimental_distribute_dataset(dataset)


def tf_steps(network, strategy, initial, batches, config, data):
    """Per-step losses and final weights of tf_impl's compiled step under `strategy`."""
    module = tf_module(network)
    with strategy.scope():
        model = build(module, network, config, data)
        model.set_weights(initial)
        if network == "transfer":
            optimizers = [module.phase_optimizer(model, config, "fine_tuning")]
        elif network in ("gan", "wgan_gp"):
            optimizers = module.optimizers(model, config)
        elif network == "cgan":
            optimizers = tf_module("gan").optimizers(model, config)  # the cgan's players take the gan's optimizers
        else:
            optimizers = [optim.from_config(config)]
            optimizers[0].build(model.trainable_weights)
    losses, step = [], None
    for x, y, noise in batches:
        if network == "cgan":  # images and their labels, split across the replicas together; z injected
            pipeline = distributed(strategy, x, y)
            (batch,) = iter(pipeline)
            step = step or module.make_train_step(model, *optimizers, pipeline.element_spec, config.latent_dim, strategy)
            losses.append(float(step(*batch, tf.constant(noise))[0]))
        elif network == "wgan_gp":  # three noise arrays (each critic step's z and eps, the generator's z)
            (images,) = iter(distributed(strategy, x))
            step = step or module.make_train_step(model, *optimizers, images_spec(strategy, x), config.latent_dim, strategy)
            losses.append(float(step(images, *map(tf.constant, noise))[0]))
        elif network in ("vae", "gan"):
            (images,) = iter(distributed(strategy, x))
            if step is None:
                step = module.make_train_step(model, *optimizers, images_spec(strategy, x), config.latent_dim, strategy)
            losses.append(float(step(images, tf.constant(noise))[0]))
        elif network == "rbm":  # binary digits; the Gibbs uniforms injected, one row per example
            (images,) = iter(distributed(strategy, x))
            step = step or module.make_train_step(model, optimizers[0], config.k, config.persistent, strategy,
                                                  images_spec(strategy, x))
            losses.append(float(step(images, tf.constant(noise))[0]["loss"]))
        elif network == "seq2seq":  # (source ids, target ids); the mean over the global batch's target characters
            pipeline = distributed(strategy, x, y)
            (batch,) = iter(pipeline)
            step = step or module.make_train_step(model, optimizers[0], strategy, pipeline.element_spec)
            losses.append(float(step(*batch)[0]))
        elif network == "autoencoder":
            (images,) = iter(distributed(strategy, x))
            step = step or module.make_train_step(model, optimizers[0], images_spec(strategy, x), strategy)
            losses.append(float(step(images)[0]))
        else:
            pipeline = distributed(strategy, x, y)
            (batch,) = iter(pipeline)
            make_step = getattr(module, "make_train_step", supervised.make_train_step)  # backprop: its own, by hand
            task = "regression" if data.info.task == "forecast" else data.info.task  # forecaster: squared error, H outputs
            step = step or make_step(model, optimizers[0], strategy, pipeline.element_spec, task)
            losses.append(float(step(*batch)[0]))
    return losses, model.get_weights()


def images_spec(strategy, x):
    return distributed(strategy, x).element_spec


def keras_steps(network, strategy, initial, batches, config, data):
    """The epoch's mean loss and final weights of Keras `fit` (its train_step) over the batches under `strategy`.

    Not train_on_batch: under a strategy it hands every replica the whole batch, which would
    not exercise the split at all. One fit over all the batches: fit's log is the epoch's
    running mean, so Keras is compared on that mean (and on every weight).
    """
    module = keras_module(network)
    with strategy.scope():
        model = build(module, network, config, data)
        model.set_weights(initial)
        if network == "transfer":
            module.set_phase(model, config, "fine_tuning")
        if model.optimizer is not None and not model.optimizer.built:  # as resumable_fit does: one trace, not two
            model.optimizer.build(model.trainable_variables)
    x = np.concatenate([x for x, _, _ in batches])
    target = np.concatenate([{"vae": noise, "gan": noise, "cgan": noise, "autoencoder": x, "rbm": noise}.get(network, y)
                             for x, y, noise in batches])
    if network == "wgan_gp":  # y = its three noise arrays, each concatenated over the batches
        target = tuple(np.concatenate(parts) for parts in zip(*[noise for _, _, noise in batches]))
    if network == "cgan":  # the labels are an input: x = (images, labels), y = the injected z
        x = (x, np.concatenate([y for _, y, _ in batches]))
    if network == "seq2seq":  # teacher forcing: x = (source ids, decoder input ids), y = the target ids
        x = (x, seq2seq.decoder_inputs(target).numpy())
    pipeline = tf.data.Dataset.from_tensor_slices((x, target)).batch(GLOBAL_BATCH)  # the same global batches
    fitted = model.fit(pipeline, epochs=1, verbose=0, shuffle=False)
    return fitted.history["loss"], model.get_weights()


def global_batches(network, data, config, sizes):
    """(x, y, noise) per step: consecutive windows of the training set, noise for the VAE and GAN."""
    batches, start = [], 0
    latent = getattr(config, "latent_dim", 1)
    for index, size in enumerate(sizes):
        window = np.arange(start, start + size)
        start += size
        noise = np.random.default_rng(100 + index).standard_normal((size, latent)).astype(np.float32)
        if network == "rbm":  # the Gibbs uniforms, (size, k, n_hidden + n_visible)
            noise = np.random.default_rng(100 + index).uniform(
                size=(size, config.k, config.n_hidden + data.info.input_shape[0])).astype(np.float32)
        if network == "wgan_gp":  # (critic latents (size, n_critic, latent), epsilons (size, n_critic), latents)
            rng = np.random.default_rng(100 + index)
            noise = (rng.standard_normal((size, config.n_critic, latent)).astype(np.float32),
                     rng.uniform(size=(size, config.n_critic)).astype(np.float32), noise)
        batches.append((np.take(data.x_train, window, axis=0, mode="wrap"),
                        np.take(data.y_train, window, axis=0, mode="wrap"), noise))  # seq2seq: y (N, T)
    return batches


def config_of(network):
    spec = registry.get(network)
    fields = spec.config_class.__dataclass_fields__
    if spec.family == "energy":  # the step, not the schedule (Keras's build compiles the constant rate; test_schedules)
        return spec.config_class(learning_rate_schedule="constant", batch_size=GLOBAL_BATCH)  # a chain per row
    if spec.family == "charlm":  # the step, not its default cosine schedule (Keras's build compiles the constant rate)
        return spec.config_class(learning_rate_schedule="constant")
    if spec.family == "segmentation":
        # Plain SGD at the rate of its config (3e-3); why not Adam: detection's reason, below. The U-Net's batch normalisation
        # centres each channel's gradient over the batch, and entries that cancel to ~0 but for rounding are what
        # Adam scales up (1.7e-2 apart after 10 steps). SGD's difference grows with its rate (measured, 10 steps on the
        # window: 4.8e-6 at 3e-3, 3.7e-5 at 1e-2; with momentum 0.9 at 0.05, 8e-4): the batch-norm sums' other
        # order, amplified by the steps, as the step size grows.
        return spec.config_class(optimizer="sgd", momentum=0.0)
    if spec.family == "detection":
        # SGD with momentum, not its default Adam: on two replicas its gradients match one device's to 3e-7 (4e-6 of
        # the largest; the all-reduce sums in another order), but dead and nearly dead ReLU units leave many gradient
        # entries of ~1e-7, Adam's epsilon, where Adam's g / (sqrt(v) + eps) turns a 1e-8 difference into 1% of a step:
        # 2.5e-5 after 10 steps of 2e-3, on both sides alike (measured, TF 2.21 CPU). SGD's step is linear in the
        # gradient, so the weights show the gradients' agreement; Adam's numerics are parity level 3's.
        return spec.config_class(optimizer="sgd", learning_rate=0.05, momentum=0.9)
    return spec.config_class(**({"dropout": 0.0} if "dropout" in fields else {}))  # masks differ per device


def strategies():
    """(reference, candidate): one CPU device, and two logical CPUs mirrored or the accelerator."""
    if ACCELERATOR is None:
        mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])  # one per process: collective keys
        assert mirrored.num_replicas_in_sync == 2
        return tf.distribute.get_strategy(), mirrored
    # Float32 kernels compared with float32 kernels: no TensorFloat-32 matmuls on Ampere and later GPUs.
    tf.config.experimental.enable_tensor_float_32_execution(False)
    return tf.distribute.OneDeviceStrategy("/cpu:0"), devices.make_strategy(ACCELERATOR)[0]


def main(networks):
    reference, candidate = strategies()
    report = {}
    for network in networks:
        config = config_of(network)
        data = data_module.load(registry.get(network).default_dataset)
        if registry.get(network).family == "energy":  # what the rbm trains on: binarised, flattened (common/energy.py)
            data = energy.binary_data(data, network)
        if registry.get(network).family == "segmentation":  # a 20 x 28 window of each scene: see CROP
            x_train = data.x_train[:, CROP[0], CROP[1]]
            data = dataclasses.replace(data, x_train=x_train, y_train=data.y_train[:, CROP[0], CROP[1]],
                                       info=dataclasses.replace(data.info, input_shape=x_train.shape[1:]))
        keras.utils.set_random_seed(0)
        initial = build(keras_module(network), network, config, data).get_weights()
        for impl, run, sizes in (("tf", tf_steps, [GLOBAL_BATCH] * STEPS + [UNEVEN]),
                                 ("keras", keras_steps, [GLOBAL_BATCH] * STEPS)):
            batches = global_batches(network, data, config, sizes)
            losses_one, weights_one = run(network, reference, initial, batches, config, data)
            losses_two, weights_two = run(network, candidate, initial, batches, config, data)
            report[f"{network}/{impl}"] = {
                "steps": len(batches),
                "loss_difference": float(np.max(np.abs(np.array(losses_one) - losses_two))),
                "loss_scale": float(np.max(np.abs(losses_one))),
                "weight_difference": float(max(np.abs(a - b).max() for a, b in zip(weights_one, weights_two))),
                "moved": float(max(np.abs(a - b).max() for a, b in zip(weights_one, initial))),
            }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[3:] if ACCELERATOR else sys.argv[1:])
