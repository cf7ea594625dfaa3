"""Deep belief network, in raw TensorFlow: RBMs stacked greedily, unrolled into a classifier, and sampled.

    pretraining   x -> RBM_1 (tf_impl/rbm.py, CD-k or PCD) -> p(h_1 | x) -> RBM_2 -> p(h_2 | h_1) -> ...
                  each RBM trained on the hidden probabilities of the one below, which stays fixed
    classifier    x -> flatten -> sigmoid(x @ W_1 + c_1) -> sigmoid(. @ W_2 + c_2) -> ... -> @ W + b = logits
                  the hidden layers start at the RBMs' kernels and hidden biases (the "unrolled" stack), the
                  softmax layer is new; fine-tuned by backpropagation (tf_impl/supervised.py's step)
    scratch       the same classifier from random (Glorot) weights, the same fine-tuning budget: what pretraining buys
    samples       Gibbs sampling in the top RBM from binary noise on its visible units (sample_steps steps),
                  then a top-down pass: p(v | h) of each lower RBM, from the top RBM's visible probabilities
                  down to the pixels (probabilities all the way, no sampling on the way down)

Hinton, Osindero & Teh 2006 ("A fast learning algorithm for deep belief nets") pretrain greedily
and fine-tune; Hinton & Salakhutdinov 2006 unroll the stack into a network fine-tuned by backprop.
The Gibbs noise of pretraining comes from a seeded tf.random.Generator per layer (injectable in
tf_impl/rbm.py's step); the samples' noise from common.energy, the same numbers keras_impl draws.
Hyperparameters: common.configs.DBNConfig. Twin: keras_impl/dbn.py.
"""
import dataclasses
import os
import sys
import time

import numpy as np
import tensorflow as tf

from common import cli, evaluate
from common import dbn as shared
from tf_impl import layers, loop, optim, rbm, supervised

NETWORK = "dbn"


def build(config, input_shape, num_classes):
    """The unrolled classifier with random initial weights: sigmoid hidden layers, then the logits."""
    rng = np.random.default_rng(config.seed)
    sizes = (int(np.prod(input_shape)), *config.hidden_units)
    outputs = 1 if num_classes == 2 else num_classes
    hidden = [layers.Dense(n_in, n_out, "sigmoid", rng=rng) for n_in, n_out in zip(sizes, sizes[1:])]
    return layers.Sequential(
        [layers.Flatten(), *hidden, layers.Dense(sizes[-1], outputs, rng=rng)],  # (batch, ...) -> (batch, features)
        name=NETWORK,
    )


def build_stack(config, n_visible):
    """One untrained RBM per hidden layer, each over the units of the one below; PCD chains: one per batch row."""
    sizes = (int(n_visible), *config.hidden_units)
    return [rbm.RBM(n_in, n_out, seed=shared.layer_seed(config.seed, index), chains=config.batch_size,
                    name=f"rbm_{index + 1}")
            for index, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]))]


def unroll(stack, model):
    """The classifier's hidden layers take the RBMs' kernels and hidden biases; the logits layer keeps its own."""
    dense = [layer for layer in model.layers if layer.weights]
    for layer, machine in zip(dense, stack, strict=False):
        layer.kernel.assign(machine.kernel)
        layer.bias.assign(machine.hidden_bias)
    return model


def pretrain(config, stack, data, verbose=0, checkpoint_of=lambda part, **objects: None):
    """Greedy, layer by layer: each RBM trained on the hidden probabilities of the trained ones below.
    Returns {layer number: its history}."""
    strategy = tf.distribute.get_strategy()
    features, histories = shared.flat(data.x_train), {}
    for index, machine in enumerate(stack):
        layer = index + 1
        with strategy.scope():
            optimizer = optim.SGD(config.pretrain_learning_rate)  # the CD update, as the rbm network takes it
            optimizer.build(machine.trainable_weights)
            noise = tf.random.Generator.from_seed(shared.layer_seed(config.seed, index))  # this layer's Gibbs uniforms
        batches = strategy.experimental_distribute_dataset(shared.layer_data(data, features).train)
        histories[layer], _ = rbm.fit(machine, batches, optimizer, noise, epochs=config.pretrain_epochs, k=config.k,
                                      persistent=config.persistent, verbose=verbose,
                                      checkpoint=checkpoint_of(f"pretrain_{layer}", model=machine,
                                                               optimizer=optimizer.state(), noise=noise))
        features = machine.hidden_probs(tf.constant(features)).numpy()  # (N, units of this layer): the next one's data
    return histories


def fine_tune(model, config, data, verbose=0, checkpoint_of=lambda optimizer: None, tensorboard_dir=None):
    """Backpropagation through the classifier: tf_impl/supervised.py's step in loop.run_epochs, as model.fit.
    checkpoint_of(optimizer) -> a loop.Checkpoint of this phase, or None. Returns (history, predict)."""
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        optimizer = optim.from_config(config)
        optimizer.build(model.trainable_weights)
    batches = strategy.experimental_distribute_dataset(data.train)  # reshuffled per pass
    train_step = supervised.make_train_step(model, optimizer, strategy, batches.element_spec, track_accuracy=True)
    predict = supervised.make_predict(model)

    def validate():
        logits = predict(data.val)
        val_loss = float(tf.reduce_mean(supervised.cross_entropy(tf.constant(logits), data.y_val)))
        return {"val_loss": val_loss, "val_accuracy": evaluate.classification(data.y_val, logits)["accuracy"]}

    history, _ = loop.run_epochs(epochs=config.epochs, train_step=train_step, train_batches=lambda: batches,
                                 validate=validate, verbose=verbose, names=("loss", "accuracy"),
                                 checkpoint=checkpoint_of(optimizer),
                                 summaries=loop.summaries_of(tensorboard_dir, optimizer))
    return history, predict


def generate(stack, count, steps, seed=shared.SAMPLE_SEED):
    """`count` samples: `steps` Gibbs steps in the top RBM from binary noise, then p(v | h) down the stack.
    The uniforms are common.energy's for `seed` (tf_impl/rbm.py gibbs_samples). Returns (count, pixels)."""
    top = stack[-1]
    _, probs = rbm.gibbs_samples(top, shared.sample_start(top.n_visible, count), steps, seed, from_hidden=False)
    probs = tf.constant(probs)  # (count, visible units of the top RBM)
    for machine in reversed(stack[:-1]):
        probs = machine.visible_probs(probs)  # (count, visible units of the RBM below)
    return probs.numpy()


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    data = shared.checked(data)  # every pixel in [0, 1]: the first RBM's visible probabilities
    shape, classes = data.info.input_shape, data.info.num_classes
    strategy = tf.distribute.get_strategy()

    def checkpoint_of(part, **objects):  # one sub-folder of --checkpoint-dir per phase
        return loop.checkpoint_of(checkpoint_dir, NETWORK, config, data, part=part, **objects)

    def summaries_of(part):  # one sub-folder of --tensorboard per classifier
        return None if tensorboard_dir is None else os.path.join(tensorboard_dir, part)

    started = time.perf_counter()
    with strategy.scope():
        stack = build_stack(config, int(np.prod(shape)))
        # The pretrained classifier's logits layer and scratch: initial weights of their own (seed + 1, seed).
        model = build(dataclasses.replace(config, seed=config.seed + 1), shape, classes)
        scratch = build(config, shape, classes)
    pretrain_history = pretrain(config, stack, data, verbose, checkpoint_of)
    unroll(stack, model)
    runs, logits = {}, {}
    for phase, classifier in (("fine_tuning", model), ("scratch", scratch)):
        def checkpoint(optimizer, phase=phase, classifier=classifier):
            return checkpoint_of(phase, model=classifier, optimizer=optimizer.state())

        runs[phase], predict = fine_tune(classifier, config, data, verbose, checkpoint, summaries_of(phase))
        logits[phase] = predict(data.test)
    seconds = time.perf_counter() - started
    samples = generate(stack, len(data.x_test), config.sample_steps)
    if out_dir is not None:
        tf.train.Checkpoint(model=model).write(os.path.join(out_dir, "checkpoint"))  # TensorFlow's own format
    return shared.result("tf", config, data, classified=logits["fine_tuning"], scratch=logits["scratch"],
                         samples=samples, runs=runs, pretrain_history=pretrain_history, seconds=seconds,
                         out_dir=out_dir, weights=model.get_weights(), model=model)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
