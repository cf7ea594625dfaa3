"""Object detection in raw TensorFlow: CenterNet ("Objects as Points", Zhou, Wang & Krahenbuhl 2019), small.

    images (batch, H, W, 3), H and W multiples of 8
      -> layers.StridedConv2D x 3 (f1, f2, f3; 3x3, stride 2, 'SAME') -> layers.Conv2D(f3, 3), all ReLU
                                     (stride 4: kept)                 (batch, H / 8, W / 8, f3)
      -> layers.UpSampling2D(2) (tf.repeat) -> Conv2D(f2, 3), ReLU, + the stride-4 features  (batch, H / 4, W / 4, f2)
      -> three heads, each Conv2D(head_filters, 3), ReLU -> Conv2D(k, 1):
             heatmap logits (k = C; bias -2.19), size (w, h), offset (dx, dy), in cells
      -> tf.concat on the last axis                                   (batch, H / 4, W / 4, C + 4)

The network of keras_impl/detection.py written out as tf.Modules; `weights` lists the variables in
the order Keras's functional model keeps them (the backbone, the three heads' 3x3 convs, then their
1x1 convs: Keras sorts its layers by depth), so weights transplant unchanged. The loss
(`centernet_loss`) is the paper's written with tf ops: the penalty-reduced focal loss on the heatmap
(alpha 2, beta 4) + 0.1 L1 on the sizes + L1 on the offsets at the object centres, each divided by the
objects of the global batch; the step runs it on every replica (tf_impl/replicas.py), the epoch loop is
tf_impl/loop.py's. Targets, decoding and COCO scoring are common/detection.py's.
Hyperparameters: common.configs.DetectionConfig. Twin: keras_impl/detection.py.
"""
import sys

import numpy as np
import tensorflow as tf

from common import cli, detection
from tf_impl import layers, loop, optim, replicas

NETWORK = "detection"


class CenterNet(layers.Sequential):
    """The backbone with its skip, and three heads; get_weights/set_weights in Keras order (layers.Sequential's,
    over `layers` listed in that order)."""

    def __init__(self, config, channels, num_classes, *, rng, name=NETWORK):
        first, second, third = config.filters
        self.backbone = [layers.StridedConv2D(channels, first, 3, activation="relu", rng=rng),
                         layers.StridedConv2D(first, second, 3, activation="relu", rng=rng)]  # -> stride 4
        self.deep = [layers.StridedConv2D(second, third, 3, activation="relu", rng=rng),  # -> stride 8
                     layers.Conv2D(third, third, 3, activation="relu", rng=rng),
                     layers.UpSampling2D(2),  # -> stride 4
                     layers.Conv2D(third, second, 3, activation="relu", rng=rng)]
        self.hidden = [layers.Conv2D(second, config.head_filters, 3, activation="relu", rng=rng) for _ in range(3)]
        self.out = [layers.Conv2D(config.head_filters, k, 1, rng=rng) for k in (num_classes, 2, 2)]
        self.out[0].bias.assign(tf.fill([num_classes], detection.HEATMAP_BIAS))  # heatmap, size, offset
        super().__init__(self.backbone + self.deep + self.hidden + self.out, name=name)

    def __call__(self, x, training=False):
        for layer in self.backbone:
            x = layer(x)
        stride4 = x  # (batch, H / 4, W / 4, f2)
        for layer in self.deep:
            x = layer(x)
        features = x + stride4  # the skip
        heads = [out(hidden(features)) for hidden, out in zip(self.hidden, self.out)]
        return tf.concat(heads, axis=-1)  # (batch, H / 4, W / 4, C + 4)


def build(config, input_shape, num_classes):
    """input_shape: (H, W, 3) of the data (any H, W that are multiples of 8 are taken); num_classes: C."""
    return CenterNet(config, input_shape[-1], num_classes, rng=np.random.default_rng(config.seed))


def centernet_loss(outputs, targets, num_classes):
    """CenterNet's loss (common/detection.py) of outputs (batch, h, w, C + 4) against targets (batch, h, w, C + 5)."""
    outputs, targets = tf.cast(outputs, tf.float32), tf.cast(targets, tf.float32)
    heat, mask = targets[..., :num_classes], targets[..., num_classes + 4:]  # (batch, h, w, C), (batch, h, w, 1)
    logits = outputs[..., :num_classes]
    objects = detection.objects_in_global_batch(tf.reduce_sum(mask))
    p = tf.math.sigmoid(logits)
    centre = tf.cast(heat >= 1.0, tf.float32)
    focal = (centre * tf.square(1.0 - p) * tf.math.log_sigmoid(logits)
             + (1.0 - centre) * tf.pow(1.0 - heat, detection.FOCAL_BETA) * tf.square(p) * tf.math.log_sigmoid(-logits))
    size = tf.abs(outputs[..., num_classes:num_classes + 2] - targets[..., num_classes:num_classes + 2]) * mask
    offset = tf.abs(outputs[..., num_classes + 2:] - targets[..., num_classes + 2:num_classes + 4]) * mask
    per_cell = (-tf.reduce_sum(focal, axis=-1) / objects  # (batch, h, w)
                + detection.SIZE_WEIGHT * tf.reduce_sum(size, axis=-1) / (2.0 * objects)
                + detection.OFFSET_WEIGHT * tf.reduce_sum(offset, axis=-1) / (2.0 * objects))
    return tf.reduce_sum(per_cell)


def loss_fn(model, x, y, training=False):
    return centernet_loss(model(x, training=training), y, y.shape[-1] - 5)


def make_train_step(model, optimizer, strategy, element_spec, task=None):
    """train_step(x, y) -> (batch loss, batch size) on every replica: loss_fn's gradients applied (tf_impl/replicas.py
    loss_step). task: unused (the shared tests call every network's step as the supervised one's)."""
    return replicas.loss_step(loss_fn, model, optimizer, strategy, element_spec)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    data = detection.require_boxes(NETWORK, data)
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = build(config, data.info.input_shape, data.info.num_classes)
        optimizer = optim.from_config(config, steps_per_epoch=loop.steps_of(data.train))
        optimizer.build(model.trainable_weights)
    train_batches = strategy.experimental_distribute_dataset(data.train)  # reshuffled per pass
    train_step = make_train_step(model, optimizer, strategy, train_batches.element_spec)
    forward = tf.function(lambda x: tf.cast(model(x, training=False), tf.float32), reduce_retracing=True)

    def predict(dataset):
        return np.concatenate([forward(x).numpy() for x, _ in dataset], axis=0)  # (N, h, w, C + 4)

    def validate():  # as Keras's evaluate: each batch's loss, weighted by its size
        losses, sizes = zip(*((float(centernet_loss(forward(x), y, data.info.num_classes)), len(x))
                              for x, y in data.val))
        return {"val_loss": float(np.dot(losses, sizes) / np.sum(sizes))}

    history, epochs_run, seconds = loop.train_and_save(
        NETWORK, config, data, model, optimizer, train_step, train_batches, validate, verbose=verbose, out_dir=out_dir,
        checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)
    return detection.scored_result(NETWORK, "tf", config, data, predict(data.test), history=history,
                                   epochs_run=epochs_run, seconds=seconds, model=model)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
