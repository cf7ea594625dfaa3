"""Deep belief network, in Keras: RBMs stacked greedily, unrolled into a classifier, and sampled.

    pretraining   x -> RBM_1 (keras_impl/rbm.py, fit) -> p(h_1 | x) -> RBM_2 -> p(h_2 | h_1) -> ...
                  each RBM fit on the hidden probabilities of the one below, which stays fixed
    classifier    Input -> Flatten -> Dense(h_1, sigmoid) -> Dense(h_2, sigmoid) -> ... -> Dense(classes) = logits
                  the hidden Dense layers start at the RBMs' kernels and hidden biases (the "unrolled" stack),
                  the logits layer is new; compiled and fit as every classifier here (keras_impl/supervised.py)
    scratch       the same classifier from Keras's initial (Glorot) weights, the same fit: what pretraining buys
    samples       Gibbs sampling in the top RBM from binary noise on its visible units (sample_steps steps),
                  then a top-down pass: visible_probs of each lower RBM, from the top RBM's visible
                  probabilities down to the pixels (probabilities all the way, no sampling on the way down)

Hinton, Osindero & Teh 2006 ("A fast learning algorithm for deep belief nets") pretrain greedily
and fine-tune; Hinton & Salakhutdinov 2006 unroll the stack into a network fine-tuned by backprop.
Each RBM draws its Gibbs noise from its own seed (injectable: keras_impl/rbm.py's train_on_batch);
the samples' noise comes from common.energy, the same numbers tf_impl draws.
Hyperparameters: common.configs.DBNConfig. Twin: tf_impl/dbn.py.
"""
import os
import sys
import time

import keras
import numpy as np
from keras import ops

from common import checkpoints, cli
from common import dbn as shared
from keras_impl import rbm, supervised

NETWORK = "dbn"


def build(config, input_shape, num_classes):
    """The unrolled classifier with Keras's initial weights, compiled: sigmoid hidden layers, then the logits."""
    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            keras.layers.Flatten(),  # (batch, ...) -> (batch, features)
            *[keras.layers.Dense(units, activation="sigmoid") for units in config.hidden_units],
            keras.layers.Dense(supervised.output_units(num_classes)),  # logits
        ],
        name=NETWORK,
    )
    return supervised.compile_classifier(model, config, num_classes)


def build_stack(config, n_visible):
    """One untrained RBM per hidden layer, built over the units of the one below and compiled with plain SGD."""
    stack, units = [], int(n_visible)
    for index, n_hidden in enumerate(config.hidden_units):
        machine = rbm.RBM(n_hidden, k=config.k, persistent=config.persistent, seed=shared.layer_seed(config.seed, index),
                          chains=config.batch_size, name=f"rbm_{index + 1}")
        machine.build((None, units))
        machine.compile(optimizer=keras.optimizers.SGD(config.pretrain_learning_rate), jit_compile=False)
        stack.append(machine)
        units = n_hidden
    return stack


def unroll(stack, model):
    """The classifier's hidden Dense layers take the RBMs' kernels and hidden biases; the logits layer keeps its own."""
    dense = [layer for layer in model.layers if layer.weights]
    for layer, machine in zip(dense, stack, strict=False):
        layer.set_weights([ops.convert_to_numpy(machine.kernel), ops.convert_to_numpy(machine.hidden_bias)])
    return model


def pretrain(config, stack, data, verbose=0, checkpoint_of=lambda part: (None, None)):
    """Greedy, layer by layer: each RBM fit on the hidden probabilities of the trained ones below.
    Returns {layer number: its history}."""
    features, histories = shared.flat(data.x_train), {}
    visible = lambda v, labels: v  # noqa: E731  the labels play no part
    for index, machine in enumerate(stack):
        layer = index + 1
        stats = supervised.EpochStats()
        folder, fingerprint = checkpoint_of(f"pretrain_{layer}")
        fitted = supervised.resumable_fit(machine, shared.layer_data(data, features).train.map(visible),
                                          epochs=config.pretrain_epochs, callbacks=[supervised.StopOnDivergence(), stats],
                                          stats=stats, verbose=verbose, checkpoint_dir=folder, fingerprint=fingerprint)
        histories[layer] = supervised.keras_history(fitted, stats)
        features = ops.convert_to_numpy(machine.hidden_probs(features))  # (N, units of this layer): the next one's data
    return histories


def fine_tune(model, config, data, verbose=0, checkpoint=(None, None), tensorboard_dir=None):
    """model.fit on the images and labels, as keras_impl/supervised.py fits every classifier; returns the history."""
    stats = supervised.EpochStats()
    fitted = supervised.resumable_fit(model, data.train, validation_data=data.val, epochs=config.epochs,
                                      callbacks=[supervised.StopOnDivergence(), stats], stats=stats, verbose=verbose,
                                      checkpoint_dir=checkpoint[0], fingerprint=checkpoint[1],
                                      tensorboard_dir=tensorboard_dir)
    return supervised.keras_history(fitted, stats)


def generate(stack, count, steps, seed=shared.SAMPLE_SEED):
    """`count` samples: `steps` Gibbs steps in the top RBM from binary noise, then visible_probs down the stack.
    The uniforms are common.energy's for `seed` (keras_impl/rbm.py gibbs_samples). Returns (count, pixels)."""
    top = stack[-1]
    _, probs = top.gibbs_samples(shared.sample_start(top.n_visible, count), steps, seed, from_hidden=False)
    for machine in reversed(stack[:-1]):
        probs = machine.visible_probs(probs)  # (count, visible units of the RBM below)
    return ops.convert_to_numpy(probs)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    keras.utils.set_random_seed(config.seed)
    data = shared.checked(data)  # every pixel in [0, 1]: the first RBM's visible probabilities
    shape, classes = data.info.input_shape, data.info.num_classes

    def checkpoint_of(part):  # one sub-folder of --checkpoint-dir per phase: (folder, fingerprint)
        if checkpoint_dir is None:
            return None, None
        return checkpoints.part(checkpoint_dir, checkpoints.fingerprint(NETWORK, "keras", config, data), part)

    def summaries_of(part):  # one sub-folder of --tensorboard per classifier
        return None if tensorboard_dir is None else os.path.join(tensorboard_dir, part)

    started = time.perf_counter()
    stack = build_stack(config, int(np.prod(shape)))
    model, scratch = build(config, shape, classes), build(config, shape, classes)
    pretrain_history = pretrain(config, stack, data, verbose, checkpoint_of)
    unroll(stack, model)
    runs, logits = {}, {}
    for phase, classifier in (("fine_tuning", model), ("scratch", scratch)):
        runs[phase] = fine_tune(classifier, config, data, verbose, checkpoint_of(phase), summaries_of(phase))
        logits[phase] = np.float32(classifier.predict(data.test, verbose=0))
    seconds = time.perf_counter() - started
    samples = generate(stack, len(data.x_test), config.sample_steps)
    if out_dir is not None:
        model.save_weights(os.path.join(out_dir, "model.weights.h5"))  # Keras's own format
    return shared.result("keras", config, data, classified=logits["fine_tuning"], scratch=logits["scratch"],
                         samples=samples, runs=runs, pretrain_history=pretrain_history, seconds=seconds,
                         out_dir=out_dir, weights=model.get_weights(), model=model)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
