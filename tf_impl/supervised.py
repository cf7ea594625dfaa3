"""The classifier's loss, step and training call, shared by the feed-forward tf_impl networks.

This is what `model.compile(loss=..., from_logits=True)` + `model.fit(...)` do in the
twin `keras_impl/supervised.py`, written out once so every classifier reads the same:

    loss = mean over the batch of cross-entropy(logits, labels) + sum of L2 penalties
    gradients = d loss / d trainable weights;  optimizer.apply(gradients, weights)

The step is strategy-aware: it runs per replica through `strategy.run`, averages the
per-example loss over the *global* batch (`tf.nn.compute_average_loss`) and scales the
penalties by the replica count (`tf.nn.scale_regularization_loss`), so the summed
replica gradients equal the single-device gradient.
"""
import dataclasses
import time

import numpy as np
import tensorflow as tf

from common import evaluate
from common.results import RunResult, save_weights
from tf_impl import loop, optim


def cross_entropy(logits, labels):
    """Per-example loss from logits: sigmoid for one output column (binary), softmax otherwise."""
    if logits.shape[-1] == 1:
        targets = tf.cast(tf.reshape(labels, [-1, 1]), logits.dtype)  # (N,) -> (N, 1): no (N, N) broadcast
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits), axis=-1)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int32), logits=logits)


def loss_fn(model, x, y, training):
    """The scalar training objective on one (single-replica) batch: what Keras's compute_loss returns."""
    logits = model(x, training=training)
    return tf.reduce_mean(cross_entropy(logits, y)) + model.regularization_loss()


def make_train_step(model, optimizer, strategy, element_spec):
    def replica_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = tf.nn.compute_average_loss(cross_entropy(logits, y))
            loss += tf.nn.scale_regularization_loss(model.regularization_loss())
        gradients = tape.gradient(loss, model.trainable_weights)
        optimizer.apply(gradients, model.trainable_weights)
        return loss, tf.shape(x)[0]

    # One trace for every batch, the last (smaller) one included: the batch dimension is None.
    @tf.function(input_signature=list(element_spec))
    def train_step(x, y):
        loss, batch_size = strategy.run(replica_step, args=(x, y))
        total = tf.distribute.ReduceOp.SUM
        return strategy.reduce(total, loss, axis=None), strategy.reduce(total, batch_size, axis=None)

    return train_step


def make_predict(model):
    @tf.function(reduce_retracing=True)
    def forward(x):
        return model(x, training=False)

    def predict(dataset):
        """Logits for every example of an (x, y) pipeline, as one numpy array."""
        return np.concatenate([forward(x).numpy() for x, _ in dataset], axis=0)

    return predict


def train(network, build, config, data, *, early_stopping_patience=None, verbose=1, out_dir=None):
    """Build, train and evaluate a classifier; the tf_impl counterpart of keras_impl.supervised.train."""
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = build(config, data.info.input_shape, data.info.num_classes)
        optimizer = optim.from_config(config)
        optimizer.build(model.trainable_weights)
    train_pipeline = data.train
    train_batches = strategy.experimental_distribute_dataset(train_pipeline)  # reshuffled per pass
    train_step = make_train_step(model, optimizer, strategy, train_pipeline.element_spec)
    predict = make_predict(model)
    regularization = lambda: float(model.regularization_loss())  # noqa: E731

    def validate():
        logits = predict(data.val)
        scores = evaluate.classification(data.y_val, logits)
        val_loss = float(tf.reduce_mean(cross_entropy(tf.constant(logits), data.y_val))) + regularization()
        return {"val_loss": val_loss, "val_accuracy": scores["accuracy"]}

    stopper = None
    if early_stopping_patience is not None:
        stopper = loop.EarlyStopping(early_stopping_patience, model.get_weights, model.set_weights)
    started = time.perf_counter()
    history, epochs_run = loop.run_epochs(
        epochs=config.epochs,
        train_step=train_step,
        train_batches=lambda: train_batches,
        validate=validate,
        early_stopping=stopper,
        verbose=verbose,
    )
    seconds = time.perf_counter() - started
    if out_dir is not None:
        save_weights(out_dir, model.get_weights())
    metrics = evaluate.classification(data.y_test, predict(data.test))
    return RunResult(
        network=network,
        impl="tf",
        dataset=data.info.name,
        metric="accuracy",
        value=metrics["accuracy"],
        metrics=metrics,
        history=history,
        train_seconds=seconds,
        samples_per_second=data.info.n_train * epochs_run / seconds,
        epochs_run=epochs_run,
        seed=config.seed,
        config=dataclasses.asdict(config),
    )
