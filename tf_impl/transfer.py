"""Transfer learning in raw TensorFlow: pretrain a base, freeze it under a new head, fine-tune its top.

    source task -> cnn (tf_impl/cnn.py), trained here or read from --base-checkpoint
    base  = the cnn's [conv2d -> max_pool 2x2] blocks, always run with training=False
    head  = a new cnn top for the target classes: flatten -> relu(x @ W + b) -> dropout -> @ W + b
    1. feature extraction: the base's variables are left out of the tape's targets and the
       optimizer; a new optimizer for the head; head_epochs at learning_rate
    2. fine-tuning: the top fine_tune_layers conv layers join the trained variables; a new
       optimizer (fresh slots for the new set); fine_tune_epochs at fine_tune_learning_rate
    3. scratch, the baseline: the same base + head freshly initialised, every variable
       trained, head_epochs + fine_tune_epochs at learning_rate, on the same few target examples

Features learned on one task carry over to another, the lower layers most (Yosinski et
al. 2014, "How transferable are features in deep neural networks?"). "Frozen" is nothing
more than not being in `model.trainable_weights`, the list the step differentiates and
updates; the frozen variables are never assigned, so they stay bit-identical.
Hyperparameters: common.configs.TransferConfig. Twin: keras_impl/transfer.py.
"""
import dataclasses
import os
import sys
import time

import tensorflow as tf

from common import cli, evaluate
from common import transfer as shared
from common.data import DataError, few_shot
from common.results import save_weights
from tf_impl import cnn, layers, loop, optim, supervised

NETWORK = "transfer"


class TransferModel(layers.Sequential):
    """head(base(x)); weights in Keras order, the base's then the head's; trained: what the phase says."""

    def __init__(self, base, head, name=NETWORK):
        super().__init__([base, head], name=name)
        self.base, self.head = base, head
        self.trained_base_layers = len(self.conv_layers())  # scratch until set_phase says otherwise

    def __call__(self, x, training=False):
        features = self.base(x, training=False)  # inference mode in every phase, trained or not
        return self.head(features, training=training)

    def conv_layers(self):
        return [layer for layer in self.base.layers if layer.weights]

    def set_phase(self, phase, fine_tune_layers):
        """Which conv layers of the base train: none (feature extraction), the top ones, or all (scratch)."""
        self.trained_base_layers = {"feature_extraction": 0, "fine_tuning": fine_tune_layers,
                                    "scratch": len(self.conv_layers())}[phase]

    @property
    def trainable_weights(self):
        convs = self.conv_layers()
        trained = convs[len(convs) - self.trained_base_layers:]
        return [w for layer in trained for w in layer.trainable_weights] + self.head.trainable_weights

    @property
    def non_trainable_weights(self):
        trained = {w.ref() for w in self.trainable_weights}
        return [w for w in self.weights if w.ref() not in trained]

    def regularization_loss(self):
        """The L1/L2 penalties of the trained layers only: Keras counts a kernel's regularizer only while
        the kernel is trainable (Layer._get_regularization_losses), so a frozen base adds nothing."""
        convs = self.conv_layers()
        trained = convs[len(convs) - self.trained_base_layers:] + self.head.layers
        return tf.add_n([tf.constant(0.0)] + [layer.regularization_loss() for layer in trained])


def cnn_layers(config, input_shape, num_classes):
    """A fresh cnn's layers, split into its convolutional base and its top."""
    fresh = cnn.build(config.base_config(), input_shape, num_classes)
    blocks = 2 * len(config.filters)  # conv + pool per entry of filters
    return fresh, fresh.layers[:blocks], fresh.layers[blocks:]


def build(config, input_shape, num_classes, base_layers=None):
    """The base (fresh unless pretrained layers are given) under a new head."""
    _, fresh_base, head = cnn_layers(config, input_shape, num_classes)
    return TransferModel(layers.Sequential(base_layers or fresh_base, name="base"), layers.Sequential(head, name="head"))


def phase_optimizer(model, config, phase):
    """Set the phase, then a new optimizer whose slots are exactly the phase's trained variables."""
    model.set_phase(phase, config.fine_tune_layers)
    optimizer = optim.from_config(dataclasses.replace(config, learning_rate=config.learning_rate_of(phase)))
    optimizer.build(model.trainable_weights)
    return optimizer


def fit(model, optimizer, data, epochs, verbose, predict=None, checkpoint=None, tensorboard_dir=None):
    """What keras_impl's model.fit does for one phase: the shared step, traced for this phase's variables."""
    pipeline = data.train
    strategy = tf.distribute.get_strategy()
    train_step = supervised.make_train_step(model, optimizer, strategy, pipeline.element_spec, track_accuracy=True)
    batches = strategy.experimental_distribute_dataset(pipeline)  # reshuffled per pass, as in supervised.train
    predict = predict or supervised.make_predict(model)

    def validate():
        logits = predict(data.val)
        val_loss = float(tf.reduce_mean(supervised.cross_entropy(tf.constant(logits), data.y_val)))
        val_loss += float(model.regularization_loss())  # as Keras's val_loss: the penalties included
        return {"val_loss": val_loss, "val_accuracy": evaluate.classification(data.y_val, logits)["accuracy"]}

    history, _ = loop.run_epochs(epochs=epochs, train_step=train_step, train_batches=lambda: batches,
                                 validate=validate, verbose=verbose, checkpoint=checkpoint, names=("loss", "accuracy"),
                                 summaries=loop.summaries_of(tensorboard_dir, optimizer))
    return history


def score(predict, data):
    return evaluate.classification(data.y_test, predict(data.test))


def load_base(config, path, input_shape):
    """The base's layers with the weights of a cnn checkpoint: a tf checkpoint or weights.npz."""
    kind, path = shared.resolve_checkpoint(path, "tf")
    _, base_layers, _ = cnn_layers(config, input_shape, 2)
    base = layers.Sequential(base_layers, name="base")
    expected = [tuple(w.shape) for w in base.weights]
    if kind == "npz":
        base.set_weights(shared.base_arrays(path, expected))
        return base_layers
    # A cnn checkpoint holds model/layers/<i>/{kernel,bias}; its conv layers (4-D kernels) come first.
    try:
        stored = dict(tf.train.list_variables(path))
    except (tf.errors.OpError, ValueError) as error:
        raise DataError(f"base checkpoint {path}: not a readable tf checkpoint ({type(error).__name__})") from None
    variable = "model/layers/{}/{}/.ATTRIBUTES/VARIABLE_VALUE"
    convs = [index for index in range(len(stored)) if len(stored.get(variable.format(index, "kernel"), ())) == 4]
    shared.check_shapes(path, [stored[variable.format(index, name)] for index in convs for name in ("kernel", "bias")],
                        expected)
    status = tf.train.Checkpoint(model=base).read(path)
    status.expect_partial()  # the cnn's top is in the file too; the head here is new
    status.assert_existing_objects_matched()
    return base_layers


def pretrain(config, source, verbose, checkpoint_of=lambda phase, **objects: None, tensorboard_dir=None):
    """A cnn trained on the source task; returns its base layers, source test metrics and history."""
    model, base_layers, _ = cnn_layers(config, source.info.input_shape, source.info.num_classes)
    optimizer = optim.from_config(config)
    optimizer.build(model.trainable_weights)
    predict = supervised.make_predict(model)
    history = fit(model, optimizer, source, config.epochs, verbose, predict,
                  checkpoint_of("pretrain", model=model, optimizer=optimizer.state()), tensorboard_dir)
    return base_layers, score(predict, source), history


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    with layers.precision(config.precision):  # every model built inside computes in config.precision
        return train_in_precision(config, data, verbose=verbose, out_dir=out_dir, checkpoint_dir=checkpoint_dir,
                                  tensorboard_dir=tensorboard_dir)


def train_in_precision(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    target = few_shot(data, config.examples_per_class)
    shape, classes = target.info.input_shape, target.info.num_classes
    started = time.perf_counter()
    metrics, history, examples = {}, {}, 0

    def checkpoint_of(phase, **objects):  # one sub-folder of --checkpoint-dir per phase
        return loop.checkpoint_of(checkpoint_dir, NETWORK, config, data, part=phase, **objects)

    def summaries_of(phase):  # one sub-folder of --tensorboard per phase
        return None if tensorboard_dir is None else os.path.join(tensorboard_dir, phase)

    if config.base_checkpoint:
        base_layers = load_base(config, config.base_checkpoint, shape)
    else:
        source = shared.source_task(data)
        base_layers, source_metrics, history_of_source = pretrain(config, source, verbose, checkpoint_of,
                                                                     summaries_of("pretrain"))
        metrics["source_accuracy"] = source_metrics["accuracy"]
        history["pretrain_loss"] = history_of_source["loss"]
        examples += source.info.n_train * config.epochs

    # Initial values come from numpy Generators seeded by config.seed: the head and scratch get
    # seeds of their own, or they would start from the pretrained cnn's initial weights.
    model = build(dataclasses.replace(config, seed=config.seed + 1), shape, classes, base_layers)
    scratch = build(dataclasses.replace(config, seed=config.seed + 2), shape, classes)
    predicts = {id(m): supervised.make_predict(m) for m in (model, scratch)}  # one compiled forward pass per model
    runs = {}
    for phase, model_of_phase in (("feature_extraction", model), ("fine_tuning", model), ("scratch", scratch)):
        optimizer = phase_optimizer(model_of_phase, config, phase)
        predict = predicts[id(model_of_phase)]
        runs[phase] = fit(model_of_phase, optimizer, target, config.epochs_of(phase), verbose, predict,
                          checkpoint_of(phase, model=model_of_phase, optimizer=optimizer.state()), summaries_of(phase))
        metrics[f"{phase}_accuracy"] = score(predict, target)["accuracy"]
        examples += target.info.n_train * config.epochs_of(phase)
    seconds = time.perf_counter() - started
    if out_dir is not None:
        save_weights(out_dir, model.get_weights())
        tf.train.Checkpoint(model=model).write(os.path.join(out_dir, shared.NATIVE["tf"]))
    result = shared.result("tf", config, data, metrics=metrics, runs=runs, history=history, seconds=seconds,
                           examples=examples)
    result.model, result.model_input = model, (shape, "float32")  # --export: the transferred classifier
    return result


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
