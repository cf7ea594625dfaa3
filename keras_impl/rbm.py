"""Restricted Boltzmann machine (Bernoulli-Bernoulli), in Keras, trained by contrastive divergence.

    energy:       E(v, h) = -v.b - h.c - v W h        v: n_visible binary units, h: n_hidden binary units
    conditionals: p(h = 1 | v) = sigmoid(v W + c),    p(v = 1 | h) = sigmoid(h W^T + b)
    free energy:  F(v) = -v.b - sum_j softplus((v W + c)_j),     p(v) = exp(-F(v)) / Z

A keras.Model with its own train_step, trained by `fit`, as the keras-io generative examples
write custom training. Each batch: run a Gibbs chain of k steps h ~ p(h | v), v ~ p(v | h) from
the data (CD-k, Hinton 2002) or from the persistent chains (PCD, Tieleman 2008), then minimise
the free-energy surrogate

    loss = mean F(v_data) - mean F(stop_gradient(v_model))

with the compiled optimizer (SGD by default). Its gradient is the CD update:
-dloss/dW = <v p(h|v)>_data - <v p(h|v)>_model, and likewise for the biases, so an SGD step is
W += lr * (that difference). PCD keeps one chain per row of a full batch (`chains`), started at
the rows of the first batch (cyclically when it is short), each carrying its last visible sample
to the next update; the chains are state beside the weights (in `variables`, saved by
checkpoints), not among them: get_weights() is [kernel, hidden_bias, visible_bias].

The Gibbs noise can be injected: `train_on_batch(v, uniforms)` (or fit on (v, uniforms) pairs)
puts the uniforms, (rows, k, n_hidden + n_visible), in the target slot and train_step uses them
instead of drawing from its seed generator; a unit is 1 where its uniform is below its probability.
Hyperparameters: common.configs.RBMConfig. Twin: tf_impl/rbm.py.
"""
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from common import cli, energy
from common.checkpoints import fingerprint
from keras_impl.supervised import (EpochStats, StopOnDivergence, keras_history, optimizer_from_config, per_replica,
                                   resumable_fit, schedule_from_config)

NETWORK = "rbm"
DEFAULT_CHAINS = 20  # persistent chains when none are asked for: RBMConfig's batch size


def all_rows(values):
    """Every replica's rows of `values`, in replica order (the global batch's, as one device holds them)."""
    context = tf.distribute.get_replica_context()
    return values if context.num_replicas_in_sync == 1 else context.all_gather(values, axis=0)


def this_replicas_rows(values, batch):
    """This replica's rows of `values`, a tensor with a row per example of the global batch (and maybe more)."""
    context = tf.distribute.get_replica_context()
    if context.num_replicas_in_sync == 1:
        return values[: ops.shape(batch)[0]]
    sizes = context.all_gather(tf.shape(batch)[:1], axis=0)  # every replica's rows, in order
    start = ops.sum(sizes[: context.replica_id_in_sync_group])
    return values[start: start + ops.shape(batch)[0]]


class RBM(keras.Model):
    """RBM(n_hidden, k=, persistent=, seed=, chains=): n_visible is inferred from the first input."""

    def __init__(self, n_hidden, *, k=1, persistent=True, seed=None, chains=DEFAULT_CHAINS, **kwargs):
        super().__init__(**kwargs)
        self.n_hidden, self.k, self.persistent, self.chains = int(n_hidden), int(k), bool(persistent), int(chains)
        self.initial_seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_error")

    def build(self, input_shape):
        self.n_visible = int(input_shape[-1])
        # W ~ N(0, 0.01^2), biases 0 (Hinton 2010, a practical guide to training RBMs; scikit-learn's BernoulliRBM)
        self.kernel = self.add_weight(shape=(self.n_visible, self.n_hidden), name="kernel",
                                      initializer=keras.initializers.RandomNormal(stddev=0.01, seed=self.initial_seed))
        self.hidden_bias = self.add_weight(shape=(self.n_hidden,), initializer="zeros", name="hidden_bias")
        self.visible_bias = self.add_weight(shape=(self.n_visible,), initializer="zeros", name="visible_bias")
        # Written by every replica with the same value (the chains gathered over the replicas): first replica's kept.
        self.chain = self.add_weight(shape=(self.chains, self.n_visible), initializer="zeros", trainable=False,
                                     aggregation="only_first_replica", name="chain")
        self.chain_started = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                             aggregation="only_first_replica", name="chain_started")

    @property
    def weights(self):
        """The parameters, in Keras order; the chains are sampler state, like a SeedGenerator's (in `variables`)."""
        return [self.kernel, self.hidden_bias, self.visible_bias] if self.built else []

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker]

    def call(self, v):
        """What --export serves: the hidden probabilities, the features an RBM learns."""
        return self.hidden_probs(v)

    def hidden_probs(self, v):
        return ops.sigmoid(ops.matmul(v, self.kernel) + self.hidden_bias)  # (N, n_hidden)

    def visible_probs(self, h):
        return ops.sigmoid(ops.matmul(h, ops.transpose(self.kernel)) + self.visible_bias)  # (N, n_visible)

    def free_energy(self, v):
        return -ops.sum(v * self.visible_bias, axis=1) - ops.sum(
            ops.softplus(ops.matmul(v, self.kernel) + self.hidden_bias), axis=1)  # (N,)

    def gibbs_step(self, v, uniforms):
        """One step h ~ p(h | v), v ~ p(v | h); uniforms (N, n_hidden + n_visible). Returns (v sample, h sample)."""
        h = ops.cast(uniforms[:, : self.n_hidden] < self.hidden_probs(v), "float32")
        return ops.cast(uniforms[:, self.n_hidden:] < self.visible_probs(h), "float32"), h

    def gibbs_chain(self, v, uniforms):
        """k = uniforms.shape[1] Gibbs steps from v; uniforms (N, k, n_hidden + n_visible). The last visible sample."""
        for step in range(uniforms.shape[1]):
            v, _ = self.gibbs_step(v, uniforms[:, step])
        return v

    def reconstruction_error(self, v):
        """Per example, the mean over units of (v - p(v | h = p(h | v)))^2: (N,)."""
        return ops.mean(ops.square(v - self.visible_probs(self.hidden_probs(v))), axis=1)

    def chain_start(self, v):
        """(this replica's chain starts, every chain's state): the data (CD; no state) or the persistent chains."""
        if not self.persistent:
            return v, None
        batch = all_rows(v)  # (global rows, n_visible)
        first = ops.take(batch, ops.arange(self.chains) % ops.shape(batch)[0], axis=0)  # before the first update
        chains = ops.where(self.chain_started > 0.0, ops.convert_to_tensor(self.chain), first)
        return this_replicas_rows(chains, v), chains

    def train_step(self, data):
        v, uniforms, _ = keras.utils.unpack_x_y_sample_weight(data)  # uniforms: injected Gibbs noise, or None
        if uniforms is None:
            uniforms = keras.random.uniform((ops.shape(v)[0], self.k, self.n_hidden + self.n_visible),
                                            seed=self.seed_generator)
        start, chains = self.chain_start(v)
        v_model = ops.stop_gradient(self.gibbs_chain(start, uniforms))  # the negative samples
        with tf.GradientTape() as tape:
            loss = ops.mean(self.free_energy(v)) - ops.mean(self.free_energy(v_model))
            share = per_replica(loss)  # this replica's part: Keras sums the replicas' gradients
        gradients = tape.gradient(share, self.trainable_weights)
        reconstruction = ops.mean(self.reconstruction_error(v))  # before the update, as the loss
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        if self.persistent:  # the global batch's rows of the chains move on, the rest (a short last batch) stay
            moved = all_rows(v_model)
            self.chain.assign(ops.concatenate([moved, chains[ops.shape(moved)[0]:]], axis=0))
            self.chain_started.assign(1.0)
        batch = ops.cast(ops.shape(v)[0], "float32")  # epoch means weighted by batch size, as tf_impl's loop
        self.loss_tracker.update_state(loss, sample_weight=batch)
        self.reconstruction_tracker.update_state(reconstruction, sample_weight=batch)
        return {metric.name: metric.result() for metric in self.metrics}

    def gibbs_samples(self, v0_or_h0, steps, seed, *, from_hidden=None):
        """`steps` Gibbs steps from v0 (N, n_visible) or h0 (N, n_hidden); returns (last visible sample, its
        probabilities), numpy arrays. From v0 each step is h ~ p(h | v), v ~ p(v | h); from h0, v ~ p(v | h),
        h ~ p(h | v). Uniforms: energy.gibbs_uniforms(N, steps, n_hidden, n_visible, seed), as tf_impl draws them."""
        start = np.asarray(v0_or_h0, np.float32)
        if from_hidden is None:
            if self.n_visible == self.n_hidden:
                raise ValueError("n_visible == n_hidden: say from_hidden=True or False")
            from_hidden = start.shape[1] == self.n_hidden
        uniforms = energy.gibbs_uniforms(len(start), steps, self.n_hidden, self.n_visible, seed)
        chain = tf.function(self.gibbs_chain_from)  # compiled for this call: every step in one graph
        return [ops.convert_to_numpy(t) for t in chain(start, uniforms, bool(from_hidden))]

    def gibbs_chain_from(self, start, uniforms, from_hidden):
        """gibbs_samples' chain: (last visible sample, its probabilities)."""
        h = start if from_hidden else ops.cast(uniforms[:, 0, : self.n_hidden] < self.hidden_probs(start), "float32")
        probs = self.visible_probs(h)
        v = ops.cast(uniforms[:, 0, self.n_hidden:] < probs, "float32")
        for step in tf.range(1, tf.shape(uniforms)[1]):
            h = ops.cast(uniforms[:, step, : self.n_hidden] < self.hidden_probs(v), "float32")
            probs = self.visible_probs(h)
            v = ops.cast(uniforms[:, step, self.n_hidden:] < probs, "float32")
        return v, probs


def build(config, input_shape):
    """The untrained RBM over prod(input_shape) visible units, one persistent chain per row of a batch, compiled."""
    model = RBM(config.n_hidden, k=config.k, persistent=config.persistent, seed=config.seed, chains=config.batch_size,
                name=NETWORK)
    model.build((None, int(np.prod(input_shape))))  # create the weights now: get_weights() before fit
    model.compile(optimizer=optimizer_from_config(config), jit_compile=False)
    return model


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    keras.utils.set_random_seed(config.seed)
    images, data = data, energy.binary_data(data, NETWORK)  # checked in [0, 1], binarised, flattened
    model = build(config, data.info.input_shape)
    schedule = schedule_from_config(config, steps_per_epoch=int(data.train.cardinality()))
    if schedule is not None:  # build compiled with the constant rate: the steps per epoch are known only here
        model.optimizer.learning_rate = schedule
    visible = lambda v, labels: v  # noqa: E731  the labels play no part
    started = time.perf_counter()
    stats = EpochStats()
    fitted = resumable_fit(model, data.train.map(visible), epochs=config.epochs, callbacks=[StopOnDivergence(), stats],
                           stats=stats, verbose=verbose, checkpoint_dir=checkpoint_dir,
                           fingerprint=fingerprint(NETWORK, "keras", config, data), tensorboard_dir=tensorboard_dir)
    seconds = time.perf_counter() - started
    x_test = data.x_test
    _, samples = model.gibbs_samples(energy.sample_start(model.n_visible), energy.SAMPLE_STEPS, energy.SAMPLE_SEED,
                                     from_hidden=False)
    return energy.result(
        NETWORK, "keras", config, data, images,
        weights=model.get_weights(),
        history=keras_history(fitted, stats),
        seconds=seconds,
        epochs_run=len(fitted.history["loss"]),
        reconstructions=ops.convert_to_numpy(model.visible_probs(model.hidden_probs(x_test))),
        samples=samples,
        out_dir=out_dir,
        model=model,  # what --export serves: visible units -> hidden probabilities
    )


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
