"""What both segmentation implementations share: the padding rule, the data check, scoring, baselines, the figure.

keras_impl/segmentation.py and tf_impl/segmentation.py build the same U-Net; what makes their
outputs comparable lives here:

    pad_amounts  an image whose height or width is not a multiple of the encoder's total stride
                 (2 ** levels) is zero-padded at the bottom and the right up to the next multiple,
                 and the logits are cropped back to the input's size: both sides pad by these numbers
    scores       the test masks' per-pixel arg-max against the truth: a confusion matrix over every
                 test pixel -> mean IoU over classes and pixel accuracy (common.evaluate is not the
                 place: 779 lines; this is the segmentation family's own module, as tagging.py is)
    baselines    every pixel labelled the training pixels' most frequent class (the background on
                 scenes): the all-background mIoU the issue asks for
    figure       seed 0's first test images, their truth and the predicted masks, for the PNG grid
                 `twinnets compare segmentation` writes (common/plots.py segmentation_masks)

The loss both sides train with, per image: the mean of its pixels' softmax cross-entropy from
logits plus dice_weight x its soft Dice loss (keras_impl/segmentation.py CrossEntropyDice,
tf_impl/segmentation.py per_image_loss); then the batch's mean. Per image, so that it is a mean over
examples: two replicas' halves of a batch average to one device's.
"""
import numpy as np

from common.data import DataError
from common.results import RunResult

METRIC = "mean_iou"
# The batch normalisations' moving averages move by 1 - BATCH_NORM_MOMENTUM of the batch statistics a step. Keras's
# default 0.99 averages over the last ~100 steps (~1.3 epochs of scenes): while the weights still change fast, the
# inference-mode statistics lag the training ones, and at 8 epochs the validation loss was still 2-3 times the
# training loss (0.108 against 0.039, Keras seed 2: mIoU 0.79). 0.9 averages over ~10 steps. Both sides read it.
BATCH_NORM_MOMENTUM = 0.9
FIGURE_EXAMPLES = 6  # test images in the compare figure


def pad_amounts(height, width, levels):
    """(rows, columns) of zeros to add at the bottom and the right so that `levels` 2x2 poolings divide the image
    exactly: up to the next multiple of 2 ** levels (0 where it divides already)."""
    stride = 2 ** levels
    return (-height) % stride, (-width) % stride


def require_segmentation(network, data):
    """The data a segmentation network trains on: images (N, H, W, C) with a class per pixel, y (N, H, W)."""
    if data.info.task != "segmentation":
        raise DataError(f"{network} labels every pixel of an image; {data.info.name} holds {data.info.kind} data with "
                        "one label per example: use scenes, oxford_iiit_pet or an .npz with masks (N, H, W) as y")
    return data


def confusion_matrix(y_true, y_pred, num_classes):
    """(classes, classes) counts over every pixel: row the true class, column the predicted one."""
    y_true, y_pred = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{y_true.size} true and {y_pred.size} predicted pixels: need the same count")
    if len(y_true) and (min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= num_classes):
        raise ValueError(f"class ids must be 0..{num_classes - 1}")
    return np.bincount(num_classes * y_true.astype(np.int64) + y_pred, minlength=num_classes ** 2).reshape(
        num_classes, num_classes)


def mask_scores(y_true, y_pred, num_classes):
    """mean_iou: IoU = TP / (TP + FP + FN) per class, averaged over the classes present in the truth or the
    prediction (a class absent from both has no IoU and is left out); pixel_accuracy: the share of pixels right;
    iou_<k>: each class's IoU (NaN where absent from both)."""
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    true_positive = np.diag(matrix).astype(np.float64)
    union = matrix.sum(axis=0) + matrix.sum(axis=1) - true_positive  # TP + FP + FN
    present = union > 0
    iou = np.full(num_classes, np.nan)
    iou[present] = true_positive[present] / union[present]
    return {"mean_iou": float(iou[present].mean()), "pixel_accuracy": float(true_positive.sum() / matrix.sum()),
            **{f"iou_{k}": float(value) for k, value in enumerate(iou)}}


def predict_masks(logits):
    """The per-pixel arg-max of logits (N, H, W, classes) -> (N, H, W) class ids."""
    logits = np.asarray(logits)
    if not np.all(np.isfinite(logits)):
        raise FloatingPointError("the model's outputs contain NaN or infinite values")
    return np.argmax(logits, axis=-1)


def baselines(data):
    """Test scores of labelling every pixel with the most frequent class of the training pixels."""
    majority = int(np.argmax(np.bincount(data.y_train.reshape(-1), minlength=data.info.num_classes)))
    scores = mask_scores(data.y_test, np.full_like(data.y_test, majority), data.info.num_classes)
    return {"majority_class": majority, "majority_mean_iou": scores["mean_iou"],
            "majority_pixel_accuracy": scores["pixel_accuracy"]}


def scores(data, logits):
    """mask_scores of the test logits (N, H, W, classes), with the baselines beside."""
    if np.shape(logits)[:3] != data.y_test.shape:
        raise ValueError(f"logits of shape {np.shape(logits)} for test masks of shape {data.y_test.shape}")
    return {**mask_scores(data.y_test, predict_masks(logits), data.info.num_classes), **baselines(data)}


def figure(data, logits, count=FIGURE_EXAMPLES):
    """{"images", "truth", "masks"} of the first `count` test images: what the compare figure shows."""
    return {"images": data.x_test[:count], "truth": data.y_test[:count], "masks": predict_masks(logits[:count]),
            "num_classes": data.info.num_classes}


def scored_result(network, impl, config, data, logits, *, history, epochs_run, seconds, model):
    """The RunResult of a trained segmentation network from its test logits (N, H, W, classes)."""
    return RunResult.scored(
        network, impl, config, data, METRIC, scores(data, logits),
        history=history, epochs_run=epochs_run, seconds=seconds,
        figures={"segmentation": figure(data, logits)},
        model=model,
        model_input=(data.info.input_shape, "float32"),
    )
