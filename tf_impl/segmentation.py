"""Semantic segmentation in raw TensorFlow: a small U-Net labels every pixel of an image.

    image (H, W, C) -> tf.pad with zeros at the bottom/right to a multiple of 2 ** levels   (H', W', C)
      encoder, per entry of filters[:-1]:  [relu(batch_norm(conv2d(x, K, 3x3 'SAME')))] x 2  -> kept for the skip
                                           -> max_pool2d 2x2                  (h, w) -> (h/2, w/2)
      bottleneck:                          the same block at filters[-1]
      decoder, per entry of reversed(filters[:-1]):
                 conv2d_transpose(x, K (2, 2, f, in), stride 2) + b           (h, w) -> (2h, 2w)
                 -> tf.concat([up, skip], axis=-1)                            (2h, 2w, f + f)
                 -> the same block at f
      -> conv2d 1x1 + b: per-pixel logits -> x[:, :H, :W]                      (H, W, classes)

The U-Net of Ronneberger, Fischer & Brox 2015, written out: layers.BiaslessConv2D and
layers.BatchNormalization (the global batch's statistics under any strategy, Keras's synchronized=True,
moving averages at common/segmentation.py's momentum, 0.9), layers.Conv2D, layers.MaxPool2D and
layers.Conv2DTranspose (kernel (kh, kw, out, in), the layout tf.nn.conv2d_transpose takes and
Keras keeps), the padding and cropping by common/segmentation.py pad_amounts, the weights listed
in the order the twin's functional model keeps them (each level's two convolutions, down, then
the bottleneck, then per decoder level the transposed convolution and its two convolutions, then
the 1x1 head). The loss, per_image_loss: each image's mean over its pixels of the softmax cross-entropy from
logits plus dice_weight x its soft Dice loss, then the global batch's mean (tf_impl/replicas.py):
Keras's CrossEntropyDice with its default reduction. Scoring (mean IoU, pixel accuracy) is common/segmentation.py's.
Hyperparameters: common.configs.SegmentationConfig. Twin: keras_impl/segmentation.py.
"""
import sys

import numpy as np
import tensorflow as tf

from common import cli, segmentation
from common.data import require_image
from tf_impl import layers, loop, optim, replicas
from tf_impl.supervised import make_predict

NETWORK = "segmentation"


class UNet(tf.Module):
    """The U-Net over images of one size (height, width); get_weights/set_weights in Keras's order."""

    def __init__(self, config, input_shape, num_classes, name=NETWORK):
        super().__init__(name=name)
        height, width = require_image(input_shape, NETWORK, halvings=0)
        rng = np.random.default_rng(config.seed)
        self.height, self.width = height, width
        self.dice_weight = config.dice_weight  # the loss it trains with, as Keras's compiled twin keeps its loss
        self.pad_rows, self.pad_cols = segmentation.pad_amounts(height, width, len(config.filters) - 1)
        channels = input_shape[-1]
        self.encoder = []  # per level: its conv block
        for filters in config.filters[:-1]:
            self.encoder.append(self.conv_block(channels, filters, rng))
            channels = filters
        self.bottleneck = self.conv_block(channels, config.filters[-1], rng)
        channels = config.filters[-1]
        self.decoder = []  # per level, from the bottom: (the transposed convolution, its conv block)
        for filters in reversed(config.filters[:-1]):
            up = layers.Conv2DTranspose(channels, filters, 2, strides=2, rng=rng)
            self.decoder.append((up, self.conv_block(2 * filters, filters, rng)))  # reads up + skip: 2 * filters
            channels = filters
        self.head = layers.Conv2D(channels, num_classes, 1, rng=rng)  # 1x1: logits per pixel
        self.pool = layers.MaxPool2D(2)

    @staticmethod
    def conv_block(in_channels, filters, rng):
        """[3x3 convolution without bias, batch normalisation, ReLU] twice, as a list of layers."""
        momentum = segmentation.BATCH_NORM_MOMENTUM
        return [layers.BiaslessConv2D(in_channels, filters, 3, rng=rng), layers.BatchNormalization(filters, momentum),
                layers.Activation("relu"),
                layers.BiaslessConv2D(filters, filters, 3, rng=rng), layers.BatchNormalization(filters, momentum),
                layers.Activation("relu")]

    @property
    def parts(self):
        """Every layer, in the order Keras's functional twin keeps their weights."""
        found = [layer for block in self.encoder for layer in block] + self.bottleneck
        for up, block in self.decoder:
            found += [up, *block]
        return found + [self.head]

    def __call__(self, x, training=False):
        x = tf.pad(x, [[0, 0], [0, self.pad_rows], [0, self.pad_cols], [0, 0]])  # (batch, H', W', C), zeros
        skips = []
        for block in self.encoder:
            for layer in block:
                x = layer(x, training=training)
            skips.append(x)
            x = self.pool(x)  # (batch, h, w, f) -> (batch, h/2, w/2, f)
        for layer in self.bottleneck:
            x = layer(x, training=training)
        for (up, block), skip in zip(self.decoder, reversed(skips)):
            x = tf.concat([up(x), skip], axis=-1)  # (batch, 2h, 2w, f + f): upsampled first, then the skip
            for layer in block:
                x = layer(x, training=training)
        logits = self.head(x)  # (batch, H', W', classes)
        return logits[:, :self.height, :self.width, :]  # (batch, H, W, classes): the padding cropped off

    @property
    def weights(self):
        return [w for layer in self.parts for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self.parts for w in layer.trainable_weights]

    def regularization_loss(self):
        return tf.constant(0.0)

    def get_weights(self):
        return [w.numpy() for w in self.weights]

    def set_weights(self, arrays):
        layers.Sequential(self.parts).set_weights(arrays)  # the same checks: count, then each shape

    def count_params(self):
        return int(sum(np.prod(w.shape) for w in self.weights))


def build(config, input_shape, num_classes):
    """input_shape (H, W, C), any H and W; num_classes: the mask's classes, background included."""
    return UNet(config, input_shape, num_classes)


def per_image_loss(logits, masks, dice_weight):
    """(batch,): per image, the mean over its pixels of the softmax cross-entropy from logits (batch, H, W, classes),
    plus dice_weight x its soft Dice loss 1 - mean over classes of (2 sum(p y) + 1) / (sum(p) + sum(y) + 1), sums
    over the image's pixels (p the softmax, y the one-hot truth)."""
    logits, masks = tf.cast(logits, tf.float32), tf.cast(masks, tf.int32)
    pixels = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=masks, logits=logits)  # (batch, H, W)
    cross_entropy = tf.reduce_mean(pixels, axis=[1, 2])
    if not dice_weight:
        return cross_entropy
    probabilities = tf.nn.softmax(logits)  # (batch, H, W, classes)
    truth = tf.one_hot(masks, tf.shape(logits)[-1])
    overlap = tf.reduce_sum(probabilities * truth, axis=[1, 2])  # (batch, classes)
    total = tf.reduce_sum(probabilities, axis=[1, 2]) + tf.reduce_sum(truth, axis=[1, 2])
    dice = (2.0 * overlap + 1.0) / (total + 1.0)
    return cross_entropy + dice_weight * (1.0 - tf.reduce_mean(dice, axis=-1))


def loss_fn(model, x, y, training=False):
    """The global batch's mean of per_image_loss (one device: the batch's), Keras's reduction of its CrossEntropyDice
    loss (sum_over_batch_size); on a replica, its share of that mean (tf_impl/replicas.py average_loss)."""
    return replicas.average_loss(per_image_loss(model(x, training=training), y, model.dice_weight), x)


def make_train_step(model, optimizer, strategy, element_spec, task=None):
    """train_step(x, y) -> (batch loss, batch size) on every replica: loss_fn's gradients applied (tf_impl/replicas.py
    loss_step). task: unused (the shared tests call every network's step as the supervised one's)."""
    return replicas.loss_step(loss_fn, model, optimizer, strategy, element_spec)


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    data = segmentation.require_segmentation(NETWORK, data)
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = build(config, data.info.input_shape, data.info.num_classes)
        optimizer = optim.from_config(config, steps_per_epoch=loop.steps_of(data.train))
        optimizer.build(model.trainable_weights)
    train_batches = strategy.experimental_distribute_dataset(data.train)  # reshuffled per pass
    train_step = make_train_step(model, optimizer, strategy, train_batches.element_spec)
    predict = make_predict(model)

    def validate():  # as Keras's evaluate: the mean of every validation image's loss
        per_image = per_image_loss(tf.constant(predict(data.val)), data.y_val, model.dice_weight)
        return {"val_loss": float(tf.reduce_mean(per_image))}

    history, epochs_run, seconds = loop.train_and_save(
        NETWORK, config, data, model, optimizer, train_step, train_batches, validate, verbose=verbose, out_dir=out_dir,
        checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)
    return segmentation.scored_result(NETWORK, "tf", config, data, predict(data.test), history=history,
                                      epochs_run=epochs_run, seconds=seconds, model=model)


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
