"""The supervised loss, step and training call, shared by the classifiers and regressors of tf_impl.

This is what `model.compile(loss=..., from_logits=True)` + `model.fit(...)` do in the
twin `keras_impl/supervised.py`, written out once so every network reads the same:

    loss = mean over the batch of cross-entropy(logits, labels) + sum of L2 penalties
    (regression, data.info.task == "regression": squared error of the one output instead)
    gradients = d loss / d trainable weights;  optimizer.apply(gradients, weights)

Under mixed precision the layers compute in bfloat16 or float16 and the outputs are cast
to float32 before the loss; with float16 the gradients are those of `optimizer.scale_loss(loss)`
(dynamic loss scaling, tf_impl/optim.py LossScaleOptimizer), the reported loss unscaled.

The step is strategy-aware: it runs per replica through `strategy.run`, averages the
per-example loss over the *global* batch (`tf_impl/replicas.py`: an uneven last batch too) and scales the
penalties by the replica count (`tf.nn.scale_regularization_loss`), so the summed
replica gradients equal the single-device gradient.
"""
import os
import time

import numpy as np
import tensorflow as tf

from common import evaluate, registry
from common.results import RunResult, save_weights
from tf_impl import layers, loop, optim, replicas


def cross_entropy(logits, labels):
    """Per-example loss from logits: sigmoid for one output column (binary), softmax otherwise."""
    if logits.shape[-1] == 1:
        targets = tf.cast(tf.reshape(labels, [-1, 1]), logits.dtype)  # (N,) -> (N, 1): no (N, N) broadcast
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits), axis=-1)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int32), logits=logits)


def squared_error(outputs, targets):
    """Per-example loss of a regressor, keras.losses.MeanSquaredError before its batch mean (over the outputs:
    one, or the forecaster's H)."""
    targets = tf.cast(tf.reshape(targets, [-1, outputs.shape[-1]]), outputs.dtype)  # (N,) -> (N, 1): no (N, N) broadcast
    return tf.reduce_mean(tf.square(outputs - targets), axis=-1)


def per_example_loss(outputs, y, task="classification"):
    outputs = tf.cast(outputs, tf.float32)  # mixed precision: the loss is always computed in float32
    return squared_error(outputs, y) if task == "regression" else cross_entropy(outputs, y)


def loss_fn(model, x, y, training, task="classification"):
    """The scalar training objective on one (single-replica) batch: what Keras's compute_loss returns."""
    outputs = model(x, training=training)
    return tf.reduce_mean(per_example_loss(outputs, y, task)) + model.regularization_loss()


def correct(outputs, y):
    """Per example, 1.0 where the prediction is the label: the logit's sign for one output column
    (keras.metrics.BinaryAccuracy(threshold=0.0)), else the arg-max (SparseCategoricalAccuracy)."""
    outputs = tf.cast(outputs, tf.float32)
    if outputs.shape[-1] == 1:
        predicted = tf.cast(outputs[:, 0] > 0.0, tf.int32)
    else:
        predicted = tf.argmax(outputs, axis=-1, output_type=tf.int32)
    return tf.cast(tf.equal(predicted, tf.cast(tf.reshape(y, [-1]), tf.int32)), tf.float32)


def make_train_step(model, optimizer, strategy, element_spec, task="classification", track_accuracy=False):
    """train_step(x, y) -> (batch-mean loss, batch size); with track_accuracy, ({"loss", "accuracy"}, batch size):
    the training accuracy that fit's compiled metric reports, from the same training-mode outputs."""
    def replica_step(x, y):
        with tf.GradientTape() as tape:
            outputs = model(x, training=True)
            loss = replicas.average_loss(per_example_loss(outputs, y, task), x)  # / global batch size
            loss += tf.nn.scale_regularization_loss(model.regularization_loss())
            scaled_loss = optimizer.scale_loss(loss)  # mixed_float16: loss * loss scale (optim.LossScaleOptimizer)
        gradients = tape.gradient(scaled_loss, model.trainable_weights)
        optimizer.apply(gradients, model.trainable_weights)
        if track_accuracy:
            return {"loss": loss, "accuracy": replicas.average_loss(correct(outputs, y), x)}, tf.shape(x)[0]
        return loss, tf.shape(x)[0]

    return replicas.compiled_step(replica_step, strategy, element_spec)  # run on every replica, summed


def make_predict(model):
    @tf.function(reduce_retracing=True)
    def forward(x):
        return tf.cast(model(x, training=False), tf.float32)

    def predict(dataset):
        """Logits for every example of an (x, y) pipeline, as one numpy array."""
        return np.concatenate([forward(x).numpy() for x, _ in dataset], axis=0)

    return predict


def train(network, build, config, data, *, early_stopping_patience=None, verbose=1, out_dir=None, checkpoint_dir=None,
          tensorboard_dir=None):
    """Build, train and evaluate a classifier or regressor; the tf_impl counterpart of keras_impl.supervised.train."""
    task = data.info.task
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope(), layers.precision(config.precision):
        model = build(config, data.info.input_shape, data.info.num_classes)
        optimizer = optim.from_config(config, steps_per_epoch=loop.steps_of(data.train))
        optimizer.build(model.trainable_weights)
    train_pipeline = data.train
    train_batches = strategy.experimental_distribute_dataset(train_pipeline)  # reshuffled per pass
    # The distributed pipeline's spec: per-replica values when there are several replicas.
    names = ("loss",) if task == "regression" else ("loss", "accuracy")
    train_step = make_train_step(model, optimizer, strategy, train_batches.element_spec, task,
                                 track_accuracy=task != "regression")
    predict = make_predict(model)
    regularization = lambda: float(model.regularization_loss())  # noqa: E731

    def validate():
        outputs = predict(data.val)
        val_loss = float(tf.reduce_mean(per_example_loss(tf.constant(outputs), data.y_val, task))) + regularization()
        if task == "regression":
            return {"val_loss": val_loss}
        return {"val_loss": val_loss, "val_accuracy": evaluate.classification(data.y_val, outputs)["accuracy"]}

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
        names=names,
        verbose=verbose,
        checkpoint=loop.checkpoint_of(checkpoint_dir, network, config, data, model=model, optimizer=optimizer.state()),
        summaries=loop.summaries_of(tensorboard_dir, optimizer),
    )
    seconds = time.perf_counter() - started
    return scored_result(network, config, data, model, predict, history, epochs_run, seconds, out_dir)


def scored_result(network, config, data, model, predict, history, epochs_run, seconds, out_dir=None):
    """The RunResult of a trained classifier or regressor: its test split scored by common.evaluate, and with
    out_dir its weights saved in both formats (backprop.py's hand-written loop ends here too)."""
    task = data.info.task
    if out_dir is not None:
        save_weights(out_dir, model.get_weights())  # portable: Keras order, read by either implementation
        tf.train.Checkpoint(model=model).write(os.path.join(out_dir, "checkpoint"))  # TensorFlow's own format
    if task == "regression":  # in y's own units, with the linear and mean baselines beside
        metrics = evaluate.regression_scores(data, predict(data.test))
        metric = registry.headline(network, metrics, "mse")
    else:
        metrics, metric = evaluate.classification(data.y_test, predict(data.test)), "accuracy"
    return RunResult.scored(
        network, "tf", config, data, metric, metrics,
        history=history, epochs_run=epochs_run, seconds=seconds,
        model=model,
        model_input=(data.info.input_shape, "int32" if data.info.kind == "tokens" else "float32"),
    )
