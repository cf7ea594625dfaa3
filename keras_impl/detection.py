"""Object detection in Keras: CenterNet ("Objects as Points", Zhou, Wang & Krahenbuhl 2019), small.

    images (batch, H, W, 3), H and W multiples of 8
      -> Conv2D(f1, 3, strides 2) -> Conv2D(f2, 3, strides 2) -> Conv2D(f3, 3, strides 2) -> Conv2D(f3, 3)
                                     (stride 4: kept)                (batch, H / 8, W / 8, f3), all ReLU
      -> UpSampling2D(2) -> Conv2D(f2, 3), ReLU, + the stride-4 features       (batch, H / 4, W / 4, f2)
      -> three heads, each Conv2D(head_filters, 3), ReLU -> Conv2D(k, 1):
             heatmap logits (k = C classes; bias -2.19, the paper's), size (w, h), offset (dx, dy), in cells
      -> concatenated                                                           (batch, H / 4, W / 4, C + 4)

Anchor-free: an object is the peak of its class's heatmap at its centre, and its box the size and
the sub-cell offset read at that peak (no anchors, no NMS: the peaks are local maxima of a 3x3
max-pool). The one upsampling path with its skip is CenterNet's encoder-decoder shrunk to three
strided convolutions. The loss (CenterNetLoss) is the paper's: the penalty-reduced focal loss on
the heatmap (alpha 2, beta 4) + 0.1 L1 on the sizes + L1 on the offsets at the object centres, each
divided by the number of objects; one keras.losses.Loss over the concatenated outputs and the
packed targets, as keras-io's RetinaNet compiles its RetinaNetLoss, written in keras.ops. The targets
(Gaussian heatmaps with CenterNet's size-adaptive radius), decoding and COCO scoring (pycocotools)
are common/detection.py's, the same code for both implementations.
Hyperparameters: common.configs.DetectionConfig. Twin: tf_impl/detection.py.
"""
import sys

import keras
from keras import ops

from common import cli, detection
from keras_impl import supervised

NETWORK = "detection"


class CenterNetLoss(keras.losses.Loss):
    """CenterNet's loss over outputs (batch, h, w, C + 4) and targets (batch, h, w, C + 5) (common/detection.py).

    reduction="sum" over per-cell terms already divided by the objects of the global batch: the loss of
    the whole batch on one device, and the same gradient on several replicas.
    """

    def __init__(self, num_classes, name="centernet_loss"):
        super().__init__(name=name, reduction="sum")
        self.num_classes = num_classes

    def call(self, y_true, y_pred):
        classes = self.num_classes
        heat, mask = y_true[..., :classes], y_true[..., classes + 4:]  # (batch, h, w, C), (batch, h, w, 1)
        logits = y_pred[..., :classes]
        objects = detection.objects_in_global_batch(ops.sum(mask))
        p = ops.sigmoid(logits)
        centre = ops.cast(ops.greater_equal(heat, 1.0), "float32")
        focal = (centre * ops.square(1.0 - p) * ops.log_sigmoid(logits)
                 + (1.0 - centre) * ops.power(1.0 - heat, detection.FOCAL_BETA) * ops.square(p) * ops.log_sigmoid(-logits))
        size = ops.abs(y_pred[..., classes:classes + 2] - y_true[..., classes:classes + 2]) * mask
        offset = ops.abs(y_pred[..., classes + 2:classes + 4] - y_true[..., classes + 2:classes + 4]) * mask
        return (-ops.sum(focal, axis=-1) / objects  # (batch, h, w)
                + detection.SIZE_WEIGHT * ops.sum(size, axis=-1) / (2.0 * objects)
                + detection.OFFSET_WEIGHT * ops.sum(offset, axis=-1) / (2.0 * objects))

    def get_config(self):
        return {"num_classes": self.num_classes, "name": self.name}


def build(config, input_shape, num_classes):
    """input_shape: (H, W, 3) of the data (any H, W that are multiples of 8 are taken); num_classes: C."""
    conv = lambda filters, kernel, **kwargs: keras.layers.Conv2D(filters, kernel, padding="same", **kwargs)  # noqa: E731
    inputs = keras.Input(shape=(None, None, input_shape[-1]))
    first, second, third = config.filters
    x = conv(first, 3, strides=2, activation="relu")(inputs)  # (batch, H / 2, W / 2, f1)
    stride4 = conv(second, 3, strides=2, activation="relu")(x)  # (batch, H / 4, W / 4, f2)
    x = conv(third, 3, strides=2, activation="relu")(stride4)  # (batch, H / 8, W / 8, f3)
    x = conv(third, 3, activation="relu")(x)
    x = keras.layers.UpSampling2D(2)(x)  # (batch, H / 4, W / 4, f3), nearest
    x = conv(second, 3, activation="relu")(x)
    features = keras.layers.Add()([x, stride4])  # the skip: the stride-4 features
    heads = []
    for channels, bias in ((num_classes, detection.HEATMAP_BIAS), (2, 0.0), (2, 0.0)):  # heatmap, size, offset
        h = conv(config.head_filters, 3, activation="relu")(features)
        heads.append(conv(channels, 1, bias_initializer=keras.initializers.Constant(bias))(h))
    outputs = keras.layers.Concatenate()(heads)  # (batch, H / 4, W / 4, C + 4)
    model = keras.Model(inputs, outputs, name=NETWORK)
    model.compile(optimizer=supervised.optimizer_from_config(config), loss=CenterNetLoss(num_classes),
                  jit_compile=False, steps_per_execution=1)  # as keras_impl/supervised.py compiles, and why
    return model


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    data = detection.require_boxes(NETWORK, data)
    keras.utils.set_random_seed(config.seed)
    model = build(config, data.info.input_shape, data.info.num_classes)
    return supervised.fit_and_score(NETWORK, config, data, model, detection.scored_result, verbose=verbose,
                                    out_dir=out_dir, checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
