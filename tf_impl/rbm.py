"""Restricted Boltzmann machine (Bernoulli-Bernoulli), in raw TensorFlow, trained by contrastive divergence.

    energy:       E(v, h) = -v.b - h.c - v W h        v: n_visible binary units, h: n_hidden binary units
    conditionals: p(h = 1 | v) = sigmoid(v W + c),    p(v = 1 | h) = sigmoid(h W^T + b)
    free energy:  F(v) = -v.b - sum_j softplus((v W + c)_j),     p(v) = exp(-F(v)) / Z

Training (Hinton 2002, contrastive divergence; Tieleman 2008, persistent CD), one update per batch:
    positive statistics   the data v and its hidden probabilities p(h | v)
    the chain             from the data (CD-k) or from the persistent chains (PCD), k Gibbs steps
                          h ~ p(h | v), v ~ p(v | h) (sampled states; a unit is 1 where uniform < prob)
    negative statistics   the chain's last visible sample v' and p(h | v') (as scikit-learn's BernoulliRBM)
    update                W += lr * (<v p(h|v)>_data - <v' p(h|v')>_model),   c, b likewise   (batch means)
written out with tf ops and handed to tf_impl/optim.py as the gradient -(that difference) (plain SGD by
default). PCD keeps one chain per row of a full batch, started at the rows of the first batch (cyclically
when it is short), and carries each chain's last visible sample over to the next update.

The Gibbs noise is injectable: the compiled step takes its uniforms as an argument, one row per example,
(rows, k, n_hidden + n_visible) (energy.gibbs_uniforms); training draws them from a seeded
tf.random.Generator, the parity tests inject them.
Hyperparameters: common.configs.RBMConfig. Twin: keras_impl/rbm.py.
"""
import sys
import time

import numpy as np
import tensorflow as tf

from common import cli, energy
from tf_impl import loop, optim, replicas

NETWORK = "rbm"
DEFAULT_CHAINS = 20  # persistent chains when none are asked for: RBMConfig's batch size


class RBM(tf.Module):
    """The parameters, in Keras order: kernel (n_visible, n_hidden), hidden_bias (n_hidden,), visible_bias (n_visible,).

    Beside them, not among the weights, PCD's state: `chain` (chains, n_visible), each chain's last visible
    sample, and `chain_started` (0 until the first update has set the chains from its batch).
    """

    def __init__(self, n_visible, n_hidden, *, seed, chains=DEFAULT_CHAINS, name=NETWORK):
        super().__init__(name=name)
        rng = np.random.default_rng(seed)
        self.n_visible, self.n_hidden = int(n_visible), int(n_hidden)
        # W ~ N(0, 0.01^2), biases 0 (Hinton 2010, a practical guide to training RBMs; scikit-learn's BernoulliRBM)
        self.kernel = tf.Variable(rng.normal(0.0, 0.01, (n_visible, n_hidden)).astype(np.float32), name="kernel")
        self.hidden_bias = tf.Variable(tf.zeros([n_hidden]), name="hidden_bias")
        self.visible_bias = tf.Variable(tf.zeros([n_visible]), name="visible_bias")
        # Written by every replica with the same value (the chains gathered over the replicas): first replica's kept.
        sync = {"trainable": False, "synchronization": tf.VariableSynchronization.ON_WRITE,
                "aggregation": tf.VariableAggregation.ONLY_FIRST_REPLICA}
        self.chain = tf.Variable(tf.zeros([chains, n_visible]), name="chain", **sync)
        self.chain_started = tf.Variable(0.0, name="chain_started", **sync)

    @property
    def trainable_weights(self):
        return [self.kernel, self.hidden_bias, self.visible_bias]

    @property
    def weights(self):
        return self.trainable_weights

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    def set_weights(self, arrays):
        for variable, array in zip(self.weights, arrays, strict=True):
            variable.assign(array)

    def count_params(self):
        return sum(int(np.prod(w.shape)) for w in self.weights)

    def __call__(self, v, training=False):
        """What --export serves: the hidden probabilities, the features an RBM learns."""
        return self.hidden_probs(v)

    def hidden_probs(self, v):
        return tf.sigmoid(tf.matmul(v, self.kernel) + self.hidden_bias)  # (N, n_hidden)

    def visible_probs(self, h):
        return tf.sigmoid(tf.matmul(h, self.kernel, transpose_b=True) + self.visible_bias)  # (N, n_visible)

    def free_energy(self, v):
        return -tf.reduce_sum(v * self.visible_bias, axis=1) - tf.reduce_sum(
            tf.nn.softplus(tf.matmul(v, self.kernel) + self.hidden_bias), axis=1)  # (N,)

    def gibbs_step(self, v, uniforms):
        """One step h ~ p(h | v), v ~ p(v | h); uniforms (N, n_hidden + n_visible). Returns (v sample, h sample)."""
        h = tf.cast(uniforms[:, :self.n_hidden] < self.hidden_probs(v), tf.float32)
        return tf.cast(uniforms[:, self.n_hidden:] < self.visible_probs(h), tf.float32), h

    def gibbs_chain(self, v, uniforms):
        """k = uniforms.shape[1] Gibbs steps from v; uniforms (N, k, n_hidden + n_visible). The last visible sample."""
        for step in range(uniforms.shape[1]):
            v, _ = self.gibbs_step(v, uniforms[:, step])
        return v

    def reconstruction_error(self, v):
        """Per example, the mean over units of (v - p(v | h = p(h | v)))^2: (N,)."""
        return tf.reduce_mean(tf.square(v - self.visible_probs(self.hidden_probs(v))), axis=1)


def build(config, input_shape):
    """The untrained RBM over prod(input_shape) visible units, with one persistent chain per row of a batch."""
    return RBM(int(np.prod(input_shape)), config.n_hidden, seed=config.seed, chains=config.batch_size)


def chain_start(rbm, v, persistent):
    """(this replica's chain starts, every chain's state): its rows of the data (CD; no state) or of the
    persistent chains (PCD). Before the first update the chains are the first batch's rows, repeated
    cyclically to fill them all."""
    if not persistent:
        return v, None
    batch = replicas.all_rows(v)  # (global rows, n_visible)
    first = tf.gather(batch, tf.range(tf.shape(rbm.chain)[0]) % tf.shape(batch)[0])  # (chains, n_visible)
    chains = tf.where(rbm.chain_started > 0.0, tf.convert_to_tensor(rbm.chain), first)
    return replicas.this_replicas_rows(chains[:tf.shape(batch)[0]], v), chains


def make_train_step(rbm, optimizer, k, persistent, strategy=None, v_spec=None):
    """The compiled step train_step(v, uniforms) -> ({"loss", "reconstruction_error"}, batch size).

    v: (rows, n_visible) data in [0, 1] (v_spec: a distributed pipeline's element spec; default any rows);
    uniforms: (rows, k, n_hidden + n_visible), one row per example of the *global* batch. "loss" is the
    free-energy gap mean F(v) - mean F(v'), the quantity whose gradient is the update (keras_impl/rbm.py
    differentiates it; here the update is written out). Under a tf.distribute strategy each replica divides
    its sums by the global batch (tf_impl/replicas.py) and the persistent chains are gathered over the
    replicas in order, so the step is one device's.
    """
    strategy = strategy or tf.distribute.get_strategy()
    spec = [v_spec or tf.TensorSpec([None, rbm.n_visible], tf.float32),
            tf.TensorSpec([None, k, rbm.n_hidden + rbm.n_visible], tf.float32)]

    def replica_step(v, uniforms):
        uniforms = replicas.this_replicas_rows(uniforms, v)
        start, chains = chain_start(rbm, v, persistent)
        v_model = rbm.gibbs_chain(start, uniforms)  # (rows, n_visible): the negative samples
        h_data, h_model = rbm.hidden_probs(v), rbm.hidden_probs(v_model)
        examples = tf.cast(replicas.global_batch_size(v), tf.float32)
        # <v h>_data - <v h>_model, this replica's share of the global batch means
        delta_kernel = (tf.matmul(v, h_data, transpose_a=True) - tf.matmul(v_model, h_model, transpose_a=True)) / examples
        delta_hidden = tf.reduce_sum(h_data - h_model, axis=0) / examples
        delta_visible = tf.reduce_sum(v - v_model, axis=0) / examples
        loss = replicas.average_loss(rbm.free_energy(v) - rbm.free_energy(v_model), v)  # before the update
        reconstruction = replicas.average_loss(rbm.reconstruction_error(v), v)
        optimizer.apply([-delta_kernel, -delta_hidden, -delta_visible], rbm.trainable_weights)  # w -= lr * (-delta)
        if persistent:  # the global batch's rows of the chains move on, the rest (a short last batch) stay
            moved = replicas.all_rows(v_model)  # (global rows, n_visible)
            rbm.chain.assign(tf.concat([moved, chains[tf.shape(moved)[0]:]], axis=0))
            rbm.chain_started.assign(1.0)
        return {"loss": loss, "reconstruction_error": reconstruction}, tf.shape(v)[0]

    return replicas.compiled_step(replica_step, strategy, spec)


def fit(rbm, batches, optimizer, noise, *, epochs, k, persistent, verbose=0, checkpoint=None, summaries=None):
    """Train `rbm` over the (v, label) pipeline `batches` (reshuffled each pass); returns (history, epochs_run).

    noise: the tf.random.Generator of the Gibbs uniforms, one row per example of each global batch.
    """
    strategy = tf.distribute.get_strategy()
    train_step = make_train_step(rbm, optimizer, k, persistent, strategy, batches.element_spec[0])
    units = rbm.n_hidden + rbm.n_visible

    def step(v, _labels):
        return train_step(v, noise.uniform([replicas.examples_in(strategy, v), k, units]))

    return loop.run_epochs(epochs=epochs, train_step=step, train_batches=lambda: batches, validate=dict,
                           names=("loss", "reconstruction_error"), verbose=verbose, checkpoint=checkpoint,
                           summaries=summaries)


def fit_rbm(rbm, x, *, epochs, batch_size, learning_rate, k, persistent, seed, verbose=0):
    """Train one RBM on a float array x (N, n_visible) in [0, 1] by plain SGD (a DBN's layers); returns the history.

    Shuffled with `seed` every epoch, the Gibbs uniforms drawn from it too. For PCD the RBM must hold a
    chain per row of a batch: RBM(..., chains=batch_size).
    """
    if persistent and rbm.chain.shape[0] < batch_size:
        raise ValueError(f"PCD keeps one chain per row of a batch: this RBM has {rbm.chain.shape[0]} chains for "
                         f"batches of {batch_size}; build it with chains={batch_size}")
    x = np.asarray(x, np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x), np.int32)))
    batches = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    optimizer = optim.SGD(learning_rate)
    optimizer.build(rbm.trainable_weights)
    noise = tf.random.Generator.from_seed(seed)
    history, _ = fit(rbm, batches, optimizer, noise, epochs=epochs, k=k, persistent=persistent, verbose=verbose)
    return history


def gibbs_samples(rbm, v0_or_h0, steps, seed, *, from_hidden=None):
    """`steps` Gibbs steps from v0 (N, n_visible) or h0 (N, n_hidden); returns (last visible sample, its
    probabilities), numpy arrays (N, n_visible).

    From v0 each step is h ~ p(h | v), v ~ p(v | h); from h0 it is v ~ p(v | h), h ~ p(h | v) (the last
    h is not drawn). The uniforms are energy.gibbs_uniforms(N, steps, n_hidden, n_visible, seed): the same
    seed gives the same chain in keras_impl. from_hidden: None infers the start from its width.
    """
    start = np.asarray(v0_or_h0, np.float32)
    if from_hidden is None:
        if rbm.n_visible == rbm.n_hidden:
            raise ValueError("n_visible == n_hidden: say from_hidden=True or False")
        from_hidden = start.shape[1] == rbm.n_hidden
    uniforms = energy.gibbs_uniforms(len(start), steps, rbm.n_hidden, rbm.n_visible, seed)
    chain = tf.function(gibbs_chain_from)  # compiled for this call: every step in one graph
    sample, probs = chain(rbm, tf.constant(start), tf.constant(uniforms), bool(from_hidden))
    return sample.numpy(), probs.numpy()


def gibbs_chain_from(rbm, start, uniforms, from_hidden):
    """gibbs_samples' chain: (last visible sample, its probabilities)."""
    n_hidden = rbm.n_hidden
    h = start if from_hidden else tf.cast(uniforms[:, 0, :n_hidden] < rbm.hidden_probs(start), tf.float32)
    probs = rbm.visible_probs(h)
    v = tf.cast(uniforms[:, 0, n_hidden:] < probs, tf.float32)
    for step in tf.range(1, tf.shape(uniforms)[1]):
        h = tf.cast(uniforms[:, step, :n_hidden] < rbm.hidden_probs(v), tf.float32)
        probs = rbm.visible_probs(h)
        v = tf.cast(uniforms[:, step, n_hidden:] < probs, tf.float32)
    return v, probs


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    images, data = data, energy.binary_data(data, NETWORK)  # checked in [0, 1], binarised, flattened
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        rbm = build(config, data.info.input_shape)
        optimizer = optim.from_config(config, steps_per_epoch=loop.steps_of(data.train))
        optimizer.build(rbm.trainable_weights)
        noise = tf.random.Generator.from_seed(config.seed)  # the Gibbs uniforms of every update
    checkpoint = loop.checkpoint_of(checkpoint_dir, NETWORK, config, data, model=rbm, optimizer=optimizer.state(),
                                    noise=noise)
    started = time.perf_counter()
    history, epochs_run = fit(rbm, strategy.experimental_distribute_dataset(data.train), optimizer, noise,
                              epochs=config.epochs, k=config.k, persistent=config.persistent, verbose=verbose,
                              checkpoint=checkpoint, summaries=loop.summaries_of(tensorboard_dir, optimizer))
    seconds = time.perf_counter() - started
    x_test = tf.constant(data.x_test)
    _, samples = gibbs_samples(rbm, energy.sample_start(rbm.n_visible), energy.SAMPLE_STEPS, energy.SAMPLE_SEED,
                               from_hidden=False)
    return energy.result(
        NETWORK, "tf", config, data, images,
        weights=rbm.get_weights(),
        history=history,
        seconds=seconds,
        epochs_run=epochs_run,
        reconstructions=rbm.visible_probs(rbm.hidden_probs(x_test)).numpy(),
        samples=samples,
        out_dir=out_dir,
        model=rbm,  # what --export serves: visible units -> hidden probabilities
    )


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
