"""Parity for segmentation, the U-Net (family "segmentation": every level is here; level 4 with tests/test_learning.py).

1. Shape: parameter counts equal, in the same Keras order, and pinned (PARAM_COUNTS); the logits keep the input's
   height and width, however odd (the padding to the encoder's stride and the crop back, on both sides).
2. Function (inference mode: the batch normalisations' moving statistics; training mode is level 3's): Keras
   weights transplanted into tf_impl give the same per-pixel logits, the same loss (per image the mean of its pixels'
   cross-entropy plus its soft Dice loss, then the batch's mean; against numpy too) and the same gradients (1e-5)
   on a non-square batch whose sides the encoder's stride does not divide (2 x 21 x 30 x 3), through the transposed
   convolutions and the concatenated skips. The padding is zeros at the bottom and the right on both sides: a model
   for 21 x 30 gives what a model for 24 x 32 gives on the zero-padded image, cropped. The predicted masks and their
   scores are identical on both sides.
3. Optimisation: from the same weights, 20 Adam steps on the same batches of non-square crops give the same losses
   and weights (1e-4).
4. Learning: tests/test_learning.py (scenes, floor mIoU 0.80); here, the same runs beat the all-background baseline.
The scorer (mean IoU, pixel accuracy) against scikit-learn's confusion matrix and Jaccard score; the data, npz and
tfds routes and bad input: tests/data/test_data_segmentation.py.
"""
import keras
import numpy as np
import pytest
import tensorflow as tf

from common import configs, registry, segmentation
from common import data as data_module
from conftest import assert_same_steps, assert_twins_agree, learning_group
from keras_impl import segmentation as keras_segmentation
from tf_impl import optim
from tf_impl import segmentation as tf_segmentation

SPEC = registry.get("segmentation")
SMALL = (4, 6, 8)  # two poolings (stride 4), small enough to be quick, every level's weights in play
ODD = (21, 30, 3)  # non-square; 21 and 30 are not multiples of 4: 3 rows and 2 columns of padding


def unet_parameters(filters, channels, classes):
    """A U-Net's parameters by hand: per level two 3x3 convolutions without bias (9 * in * out each), each with a
    batch normalisation (4 * out: gamma, beta, moving mean and variance); per decoder level a 2x2 transposed
    convolution with bias (4 * in * out + out) from the level below, then the two convolutions, the first one reading
    the upsampled features and the skip (2 * f channels); the 1x1 head (f0 * classes + classes)."""
    conv = lambda inputs, outputs: 9 * inputs * outputs + 4 * outputs  # noqa: E731
    total, inputs = 0, channels
    for width in filters:  # the encoder's blocks and the bottleneck
        total += conv(inputs, width) + conv(width, width)
        inputs = width
    for width in reversed(filters[:-1]):  # the decoder
        total += 4 * inputs * width + width + conv(2 * width, width) + conv(width, width)
        inputs = width
    return total + filters[0] * classes + classes


# Pinned: a change to the architecture must show here (and unet_parameters says where each number comes from).
PARAM_COUNTS = {  # (filters, channels, classes) -> parameters
    # the default on scenes: encoder 856 + 3,584, bottleneck 14,080, decoder 9,104 + 2,312, head 36
    ((8, 16, 32), 3, 4): 29_972,
    # SMALL on scenes: 284 + 588, 1,072, 1,218 + 564, 20
    (SMALL, 3, 4): 3_746,
    # the default on oxford_iiit_pet (3 classes) and on a grey .npz of 2 classes
    ((8, 16, 32), 3, 3): 29_963,
    ((8, 16, 32), 1, 2): 29_810,
}


@pytest.fixture(scope="module")
def scenes():
    return data_module.load("scenes")


def transplanted(config, input_shape, classes=4, noise=0.05):
    """The Keras model (seeded) and the tf_impl model holding its weights, plus noise (biases and the batch
    normalisations' moving statistics away from 0 and 1)."""
    keras.utils.set_random_seed(0)
    keras_model = keras_segmentation.build(config, input_shape, classes)
    tf_model = tf_segmentation.build(config, input_shape, classes)
    rng = np.random.default_rng(1)
    keras_model.set_weights([w + rng.normal(0, noise, w.shape).astype(np.float32) for w in keras_model.get_weights()])
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model


def crops(data, count, shape=ODD, start=0, split="test"):
    """`count` images and masks of a split cropped to shape's height x width at their top-left corner."""
    x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
    rows = slice(start, start + count)
    return x[rows, :shape[0], :shape[1]], y[rows, :shape[0], :shape[1]]


# --- level 1: shape ---


@pytest.mark.parametrize("filters,channels,classes", list(PARAM_COUNTS))
def test_level1_parameter_counts_pinned_and_equal(filters, channels, classes):
    config = SPEC.config_class(filters=filters)
    keras_model = keras_segmentation.build(config, (16, 16, channels), classes)
    tf_model = tf_segmentation.build(config, (16, 16, channels), classes)
    count = PARAM_COUNTS[(filters, channels, classes)]
    assert keras_model.count_params() == tf_model.count_params() == unet_parameters(filters, channels, classes) == count
    assert [w.shape for w in tf_model.get_weights()] == [w.shape for w in keras_model.get_weights()]


def test_default_config_is_pinned_above():
    assert (SPEC.config_class().filters, 3, 4) in PARAM_COUNTS
    with pytest.raises(configs.ConfigError, match="at least two levels"):
        SPEC.config_class(filters=(8,))
    for weight in (-0.5, float("nan")):
        with pytest.raises(configs.ConfigError, match="dice-weight must be >= 0"):
            SPEC.config_class(dice_weight=weight)


@pytest.mark.parametrize("height,width,levels,padding", [(64, 64, 2, (0, 0)), (37, 50, 2, (3, 2)),
                                                         (21, 30, 2, (3, 2)), (37, 50, 3, (3, 6)), (1, 9, 3, (7, 7))])
def test_pad_amounts_reach_the_next_multiple_of_the_stride(height, width, levels, padding):
    assert segmentation.pad_amounts(height, width, levels) == padding
    assert (height + padding[0]) % 2 ** levels == 0 == (width + padding[1]) % 2 ** levels


@pytest.mark.parametrize("shape", [(37, 50, 3), (5, 3, 1)])
def test_the_logits_keep_any_input_size_on_both_sides(shape):
    config = SPEC.config_class(filters=SMALL)
    keras_model = keras_segmentation.build(config, shape, 4)
    tf_model = tf_segmentation.build(config, shape, 4)
    x = np.random.default_rng(0).uniform(size=(2, *shape)).astype(np.float32)
    assert keras_model.output_shape == (None, *shape[:2], 4)
    assert tuple(keras_model(x).shape) == tuple(tf_model(x).shape) == (2, *shape[:2], 4)


# --- level 2: function, the loss, the padding, the masks ---


def test_level2_non_square_odd_batch_after_transplant(scenes):
    keras_model, tf_model = transplanted(SPEC.config_class(filters=SMALL), ODD)
    x, y = crops(scenes, 2)
    assert x.shape == (2, *ODD) and len(np.unique(y)) > 1  # objects in the crops: every class term of the loss in play
    grads = assert_twins_agree(keras_model, tf_model, x, y, tf_loss=tf_segmentation.loss_fn)
    # 10 convolutions' kernels with their batch normalisations' gamma and beta, 2 transposed convolutions' and the
    # head's kernel and bias
    assert len(grads) == 3 * 10 + 2 * 2 + 2


def numpy_loss(logits, masks, dice_weight):
    """The loss written out in numpy (float64): per image, the mean of its pixels' softmax cross-entropy plus
    dice_weight x (1 - the mean over classes of (2 sum(p y) + 1) / (sum(p) + sum(y) + 1)); then the batch's mean."""
    logits = logits.astype(np.float64)
    log_probs = logits - logits.max(-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(-1, keepdims=True))
    per_pixel = -np.take_along_axis(log_probs, masks[..., None].astype(np.int64), axis=-1)[..., 0]  # (N, H, W)
    probabilities, truth = np.exp(log_probs), np.eye(logits.shape[-1])[masks]  # (N, H, W, classes) both
    dice = (2 * (probabilities * truth).sum((1, 2)) + 1) / (probabilities.sum((1, 2)) + truth.sum((1, 2)) + 1)
    return float(np.mean(per_pixel.mean((1, 2)) + dice_weight * (1 - dice.mean(-1))))


@pytest.mark.parametrize("dice_weight", [0.0, 1.0, 0.5])
def test_the_loss_is_cross_entropy_plus_soft_dice_per_image_then_the_batch_mean(scenes, dice_weight):
    """Both sides' loss against numpy: with dice_weight 0 the mean over every pixel of the batch (each image has
    the same pixels), with Dice each image's own Dice over its pixels, so a batch's loss is the mean of its
    images' (and two replicas' halves average to one device's). A Dice over the whole batch would differ."""
    config = SPEC.config_class(filters=SMALL, dice_weight=dice_weight)
    keras_model, tf_model = transplanted(config, ODD)
    x, y = crops(scenes, 3)
    expected = numpy_loss(keras_model(x).numpy(), y, dice_weight)
    keras_loss = float(keras_model.compute_loss(x=x, y=y, y_pred=keras_model(x), training=False))
    np.testing.assert_allclose(keras_loss, expected, rtol=1e-5)
    np.testing.assert_allclose(float(tf_segmentation.loss_fn(tf_model, x, y)), expected, rtol=1e-5)
    if dice_weight:
        logits, truth = keras_model(x).numpy().astype(np.float64), np.eye(4)[y]
        probabilities = np.exp(logits - logits.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        every_pixel = (0, 1, 2)
        whole_batch = ((2 * (probabilities * truth).sum(every_pixel) + 1)
                       / (probabilities.sum(every_pixel) + truth.sum(every_pixel) + 1))
        batch_dice_loss = numpy_loss(logits, y, 0.0) + dice_weight * (1 - whole_batch.mean())
        assert abs(batch_dice_loss - expected) > 1e-3  # the test can tell per-image Dice from a batch-wide one


def test_the_padding_is_zeros_at_the_bottom_and_right_on_both_sides(scenes):
    """A model for 21 x 30 images is the model for 24 x 32 images run on the image with zeros below and to the right,
    its logits cropped to the top-left 21 x 30: on both sides, with the same weights (a model padded at the top or
    left, or by reflection, would differ)."""
    config = SPEC.config_class(filters=SMALL)
    keras_model, tf_model = transplanted(config, ODD)
    keras_padded = keras_segmentation.build(config, (24, 32, 3), 4)
    tf_padded = tf_segmentation.build(config, (24, 32, 3), 4)
    keras_padded.set_weights(keras_model.get_weights())
    tf_padded.set_weights(keras_model.get_weights())
    x, _ = crops(scenes, 2)
    zero_padded = np.pad(x, [(0, 0), (0, 3), (0, 2), (0, 0)])
    for model, padded in ((keras_model, keras_padded), (tf_model, tf_padded)):
        np.testing.assert_allclose(np.asarray(model(x)), np.asarray(padded(zero_padded))[:, :21, :30], atol=1e-5)
    top_left = np.pad(x, [(0, 0), (3, 0), (2, 0), (0, 0)])
    assert not np.allclose(np.asarray(tf_model(x)), np.asarray(tf_padded(top_left))[:, 3:, 2:], atol=1e-3)


def test_predicted_masks_and_scores_are_identical_on_both_sides(scenes):
    keras_model, tf_model = transplanted(SPEC.config_class(filters=SMALL), scenes.info.input_shape, noise=0.2)
    x = scenes.x_test[:8]
    keras_masks = segmentation.predict_masks(keras_model(x).numpy())
    tf_masks = segmentation.predict_masks(tf_model(x).numpy())
    assert len(np.unique(keras_masks)) > 1  # not one class everywhere: the comparison says something
    np.testing.assert_array_equal(keras_masks, tf_masks)


# --- level 3: optimisation ---


def test_level3_twenty_adam_steps_on_non_square_crops(scenes):
    config = SPEC.config_class(filters=SMALL, learning_rate=1e-2)
    shape = (36, 44, 3)  # 36 x 44: the stride 4 divides both; ODD's padding is level 2's
    keras_model, tf_model = transplanted(config, shape, noise=0.0)
    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    spec = (tf.TensorSpec([None, *shape], tf.float32), tf.TensorSpec([None, *shape[:2]], tf.int32))
    tf_step = tf_segmentation.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec)
    batches = [crops(scenes, 4, shape, start=4 * step, split="train") for step in range(20)]
    assert_same_steps(keras_model, tf_model, tf_optimizer, tf_step, batches)


# --- the scorer ---


def test_mean_iou_and_pixel_accuracy_agree_with_scikit_learn():
    from sklearn.metrics import confusion_matrix, jaccard_score

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, size=(4, 9, 11))  # class 3 in neither truth nor prediction: left out
    predicted = np.where(rng.uniform(size=truth.shape) < 0.7, truth, rng.integers(0, 3, size=truth.shape))
    predicted[0, 0, :4] = 4  # class 4 predicted, never true: IoU 0, counted
    matrix = segmentation.confusion_matrix(truth, predicted, 5)
    np.testing.assert_array_equal(matrix, confusion_matrix(truth.reshape(-1), predicted.reshape(-1), labels=range(5)))
    scores = segmentation.mask_scores(truth, predicted, 5)
    expected = jaccard_score(truth.reshape(-1), predicted.reshape(-1), labels=[0, 1, 2, 4], average="macro")
    assert scores["mean_iou"] == pytest.approx(expected, abs=1e-12)
    assert scores["pixel_accuracy"] == pytest.approx((truth == predicted).mean(), abs=1e-12)
    assert np.isnan(scores["iou_3"]) and scores["iou_4"] == 0.0
    assert segmentation.mask_scores(truth, truth, 5)["mean_iou"] == 1.0


def test_the_all_background_baseline(scenes):
    baselines = segmentation.baselines(scenes)
    assert baselines["majority_class"] == 0  # most pixels are background
    background = scenes.y_test == 0
    union = background.size  # the prediction is background everywhere: background's union is every pixel
    # every object class has IoU 0 (never predicted); background's IoU is its share of the pixels
    assert baselines["majority_mean_iou"] == pytest.approx(background.sum() / union / 4, abs=1e-12)
    assert baselines["majority_pixel_accuracy"] == pytest.approx(background.mean(), abs=1e-12)


# --- level 4: what the learning runs of tests/test_learning.py also show ---


@pytest.mark.learning
@learning_group("segmentation")
def test_learned_runs_beat_the_all_background_baseline(learned, scenes):
    baseline = segmentation.baselines(scenes)["majority_mean_iou"]
    report = learned("segmentation")
    for impl, summary in report["impls"].items():
        for run in summary["runs"]:
            assert run["metric"] >= SPEC.floor > baseline + 0.5, (impl, run["seed"], run["metric"])
            assert run["metrics"]["pixel_accuracy"] > run["metrics"]["majority_pixel_accuracy"], (impl, run["seed"])


def test_the_compare_figure_shows_the_truth_and_both_sides_masks(tmp_path, scenes):
    from common import plots

    truth = scenes.y_test[:2]
    figure = {"images": scenes.x_test[:2], "truth": truth, "masks": truth, "num_classes": 4}
    report = {"network": "segmentation", "dataset": "scenes"}
    figures = {"keras": {"segmentation": figure}, "tf": {"segmentation": {**figure, "masks": np.zeros_like(truth)}}}
    path = plots.generative_figures(report, figures, str(tmp_path / "compare-segmentation.png"))
    assert path == [str(tmp_path / "compare-segmentation-masks.png")] and (tmp_path / "compare-segmentation-masks.png").stat().st_size > 0
