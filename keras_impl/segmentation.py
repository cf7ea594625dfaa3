"""Semantic segmentation in Keras: a small U-Net labels every pixel of an image.

    image (H, W, C) -> ZeroPadding2D at the bottom/right to a multiple of 2 ** levels    (H', W', C)
      encoder, per entry of filters[:-1]:  [Conv2D(f, 3, 'same', no bias) -> BatchNorm -> ReLU] x 2
                                           -> kept for the skip
                                           -> MaxPooling2D(2)                (h, w) -> (h/2, w/2)
      bottleneck:                          the same block at filters[-1]
      decoder, per entry of reversed(filters[:-1]):
                 Conv2DTranspose(f, 2, strides 2)                            (h, w) -> (2h, 2w)
                 -> Concatenate([up, skip]) on channels                      (2h, 2w, f + f)
                 -> the same block at f
      -> Conv2D(classes, 1): per-pixel logits -> Cropping2D back to (H, W)   (H, W, classes)

Ronneberger, Fischer & Brox 2015 (U-Net), small and with 'same' padding: the encoder's features
at each level come back to the decoder through the concatenated skips, which is what keeps the
boundaries sharp after the poolings. Batch normalisation in every block (as most U-Nets since
2015 have it; synchronized, so that two replicas train as one device does) takes training past the
plateau where every pixel is background within a few epochs, on every seed; its moving averages
at momentum 0.9 (common/segmentation.py says why). Any H x W: common/segmentation.py pad_amounts pads the input
up to the encoder's stride and the logits are cropped back. The loss,
CrossEntropyDice below, is per image the mean of its pixels' softmax cross-entropy plus a soft Dice
loss over its pixels (the issue's option; weighted by config.dice_weight), then Keras's default mean
over the batch: cross-entropy counts pixels, so a class of few pixels (the triangles) can be left
behind while the loss is low, and mean IoU, which weighs every class alike, suffers; Dice weighs
every class alike too. Scoring (mean IoU, pixel accuracy) is common/segmentation.py's.
Hyperparameters: common.configs.SegmentationConfig. Twin: tf_impl/segmentation.py.
"""
import sys

import keras

from common import cli, segmentation
from common.data import require_image
from keras_impl import supervised

NETWORK = "segmentation"


def conv_block(x, filters):
    """Two 3x3 'same' convolutions, each batch-normalised (statistics of the global batch on any strategy) before
    its ReLU: the U-Net's unit at every level."""
    for _ in range(2):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)  # BatchNormalization's beta: the bias
        x = keras.layers.BatchNormalization(momentum=segmentation.BATCH_NORM_MOMENTUM, synchronized=True)(x)
        x = keras.layers.Activation("relu")(x)
    return x


class CrossEntropyDice(keras.losses.Loss):
    """Per image: the mean over its pixels of the softmax cross-entropy from logits, plus dice_weight x the soft Dice
    loss 1 - mean over classes of (2 sum(p y) + 1) / (sum(p) + sum(y) + 1), sums over the image's pixels, p the
    softmax, y the one-hot truth; reduced by Keras's default, the mean over the batch. The +1 keeps a class absent
    from an image, and not predicted there, at a Dice of ~1."""

    def __init__(self, num_classes, dice_weight, name="cross_entropy_dice"):
        super().__init__(name=name)
        self.num_classes, self.dice_weight = num_classes, dice_weight

    def call(self, y_true, y_pred):
        ops = keras.ops
        y_true = ops.cast(y_true, "int32")  # (batch, H, W)
        cross_entropy = ops.mean(ops.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True), axis=(1, 2))
        if not self.dice_weight:
            return cross_entropy
        probabilities = ops.softmax(y_pred, axis=-1)  # (batch, H, W, classes)
        truth = ops.one_hot(y_true, self.num_classes, dtype=probabilities.dtype)
        overlap = ops.sum(probabilities * truth, axis=(1, 2))  # (batch, classes)
        total = ops.sum(probabilities, axis=(1, 2)) + ops.sum(truth, axis=(1, 2))
        dice = (2.0 * overlap + 1.0) / (total + 1.0)
        return cross_entropy + self.dice_weight * (1.0 - ops.mean(dice, axis=-1))


def build(config, input_shape, num_classes):
    """input_shape (H, W, C), any H and W; num_classes: the mask's classes, background included."""
    height, width = require_image(input_shape, NETWORK, halvings=0)
    levels = len(config.filters) - 1
    pad_rows, pad_cols = segmentation.pad_amounts(height, width, levels)
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.ZeroPadding2D(((0, pad_rows), (0, pad_cols)))(inputs)  # (H + pad_rows, W + pad_cols, C)
    skips = []
    for filters in config.filters[:-1]:
        x = conv_block(x, filters)
        skips.append(x)
        x = keras.layers.MaxPooling2D(2)(x)  # (h, w, f) -> (h/2, w/2, f)
    x = conv_block(x, config.filters[-1])
    for filters, skip in zip(reversed(config.filters[:-1]), reversed(skips)):
        x = keras.layers.Conv2DTranspose(filters, 2, strides=2, padding="same")(x)  # (h, w, .) -> (2h, 2w, f)
        x = keras.layers.Concatenate()([x, skip])  # (2h, 2w, f + f): upsampled first, then the skip
        x = conv_block(x, filters)
    x = keras.layers.Conv2D(num_classes, 1)(x)  # (H', W', classes): logits
    outputs = keras.layers.Cropping2D(((0, pad_rows), (0, pad_cols)))(x)  # (H, W, classes)
    model = keras.Model(inputs, outputs, name=NETWORK)
    model.compile(optimizer=supervised.optimizer_from_config(config),
                  loss=CrossEntropyDice(num_classes, config.dice_weight),  # mean over the batch
                  jit_compile=False, steps_per_execution=1)  # as keras_impl/supervised.py compiles, and why
    return model


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    data = segmentation.require_segmentation(NETWORK, data)
    keras.utils.set_random_seed(config.seed)
    model = build(config, data.info.input_shape, data.info.num_classes)
    return supervised.fit_and_score(NETWORK, config, data, model, segmentation.scored_result, verbose=verbose,
                                    out_dir=out_dir, checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
