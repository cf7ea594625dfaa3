"""What both detection implementations share: targets, the loss's object count, decoding, COCO scoring, baselines.

keras_impl/detection.py and tf_impl/detection.py are CenterNet (Zhou, Wang & Krahenbuhl 2019, "Objects
as Points"): at every cell of a stride-4 feature map they output

    heatmap logits (C per cell, one per class), box size (w, h) in cells, centre offset (dx, dy) in cells

concatenated on the last axis: (batch, H / 4, W / 4, C + 4). From there on it is this module's code for both:

    targets: numpy, computed once by the data loader (common/data/boxes.py), so both sides train on the
             same arrays: per object a Gaussian on its class's heatmap at its centre cell, with the
             size-adaptive radius of CenterNet's code (gaussian_radius, draw_gaussian: element-wise
             maximum where two overlap); at the centre cell its size and the sub-cell offset of its centre,
             and a 1 in the mask channel. Layout (batch, H / 4, W / 4, C + 5): heatmap C, size 2, offset 2, mask 1.
             A cell holds one object's size and offset: where two objects' centres fall into the same cell
             the later one is kept (never in the generated scenes, whose objects are >= 10 pixels apart).
    decode:  sigmoid of the heatmap logits, peaks where heat == its 3x3 max-pool (no NMS), the top-k
             over cells and classes, boxes from the size and offset at each peak, scores >= a threshold.
    score:   COCO mAP@[.5:.95], mAP@0.5, mAP@0.75 by pycocotools' COCOeval ('bbox') on those boxes.

The loss both sides write (keras_impl: a keras.losses.Loss from keras.ops; tf_impl: tf ops), in float32:
CenterNet's penalty-reduced pixel-wise focal loss on the heatmap (alpha 2, beta 4) plus 0.1 x the L1 loss of the
sizes and 1 x the L1 loss of the offsets at the object centres, each divided by the objects of the global batch
(`objects_in_global_batch`: the same gradient on several replicas as on one). The L1 terms are averaged over both
coordinates, as CenterNet's RegL1Loss (its mask counts each object twice). With p = sigmoid(z),
log p = log_sigmoid(z) and log(1 - p) = log_sigmoid(-z): the model outputs logits, and neither side clamps p.
"""
import contextlib
import io

import numpy as np
import tensorflow as tf

from common.data import DataError
from common.results import RunResult

STRIDE = 4  # input pixels per output cell
DOWNSAMPLING = 8  # the backbone's deepest stride: input sizes must be multiples of it (one upsampling back to 4)
FOCAL_ALPHA, FOCAL_BETA = 2.0, 4.0  # the paper's
SIZE_WEIGHT, OFFSET_WEIGHT = 0.1, 1.0  # the paper's lambda_size, lambda_off
HEATMAP_BIAS = -2.19  # the heatmap's last bias: sigmoid(-2.19) = 0.1, the paper's start (Lin et al. 2017's prior)
MIN_OVERLAP = 0.7  # gaussian_radius: a box shifted within the radius still overlaps the truth by this IoU
METRIC = "map_50"
DISPLAY_THRESHOLD = 0.3  # boxes drawn in the pictures; scoring keeps every box above config.score_threshold


def require_boxes(network, data):
    """`data` if it holds images with boxes (common/data/boxes.py DetectionData, task "detection"), else a DataError."""
    if data.info.task != "detection":
        raise DataError(f"{network} finds and boxes objects in images; {data.info.name} holds {data.info.kind} data: "
                        "use scene_boxes, voc or path/to/annotations.json (COCO format)")
    return data


# --- targets (numpy, once per dataset) ---


def gaussian_radius(height, width, min_overlap=MIN_OVERLAP):
    """CenterNet's gaussian_radius (from CornerNet): the smallest of the three radii r at which a box of this size,
    its corners moved by r, still has IoU >= min_overlap with it. height, width in output cells."""
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(b1 ** 2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + np.sqrt(b2 ** 2 - 16 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + np.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def draw_gaussian(heatmap, centre, radius):
    """CenterNet's draw_umich_gaussian: exp(-(dx^2 + dy^2) / (2 sigma^2)), sigma = (2 radius + 1) / 6, within
    `radius` of `centre` (column, row), merged into `heatmap` (rows, columns) by element-wise maximum, in place.
    The centre cell gets exactly 1."""
    diameter = 2 * radius + 1
    sigma = diameter / 6
    offsets = np.arange(-radius, radius + 1)
    gaussian = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma * sigma))
    gaussian[gaussian < np.finfo(gaussian.dtype).eps * gaussian.max()] = 0
    x, y = centre
    rows, columns = heatmap.shape
    left, right = min(x, radius), min(columns - x, radius + 1)
    top, bottom = min(y, radius), min(rows - y, radius + 1)
    window = heatmap[y - top:y + bottom, x - left:x + right]
    np.maximum(window, gaussian[radius - top:radius + bottom, radius - left:radius + right], out=window)


def targets(objects, image_shape, num_classes):
    """The training targets of images of image_shape (H, W) holding `objects` (N, M, 5) [x, y, w, h, class] in
    pixels, class 0..C-1 (-1: an unused row): (N, H / STRIDE, W / STRIDE, C + 5) float32, see the module docstring."""
    height, width = image_shape
    rows, columns = height // STRIDE, width // STRIDE
    maps = np.zeros((len(objects), rows, columns, num_classes + 5), np.float32)
    for image, boxes in zip(maps, objects):
        for x, y, w, h, label in boxes:
            if label < 0:
                continue
            w_cells, h_cells = w / STRIDE, h / STRIDE
            centre = np.array([x + w / 2, y + h / 2]) / STRIDE  # (column, row) in cells, continuous
            cell = np.minimum(np.floor(centre).astype(int), [columns - 1, rows - 1])
            radius = max(0, int(gaussian_radius(np.ceil(h_cells), np.ceil(w_cells))))
            draw_gaussian(image[..., int(label)], cell, radius)
            image[cell[1], cell[0], num_classes:] = [w_cells, h_cells, *(centre - cell), 1.0]
    return maps


def objects_in_global_batch(count):
    """In replica context: the objects of this step's global batch (one device: `count` itself), at least 1."""
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
    return tf.maximum(count, 1.0)


# --- decoding (numpy: both sides' outputs decoded by the same code) ---


def sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + exp(-z)), without overflow


def peaks(heat):
    """heat where it equals the maximum of its 3x3 neighbourhood (CenterNet's _nms: max-pool, 'same'), else 0.
    heat: (N, rows, columns, C)."""
    padded = np.pad(heat, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    rows, columns = heat.shape[1:3]
    pooled = np.max([padded[:, dy:dy + rows, dx:dx + columns] for dy in range(3) for dx in range(3)], axis=0)
    return np.where(heat == pooled, heat, 0.0)


def decode(outputs, num_classes, top_k=100, threshold=0.05):
    """Detections of each image from the network's outputs (N, rows, columns, C + 4): a list of N arrays
    (k, 6) [x, y, w, h, score, class] in input pixels, best first: the top_k peaks over cells and classes
    with score >= threshold."""
    outputs = np.asarray(outputs, np.float64)
    if not np.all(np.isfinite(outputs)):
        raise FloatingPointError("the model's outputs contain NaN or infinite values")
    heat = peaks(sigmoid(outputs[..., :num_classes]))
    n, rows, columns, _ = heat.shape
    flat = heat.reshape(n, -1)  # (N, rows * columns * C): cell-major, class fastest
    k = min(top_k, flat.shape[1])
    found = []
    for image, scores, extra in zip(range(n), flat, outputs[..., num_classes:]):
        best = np.argsort(-scores, kind="stable")[:k]
        best = best[scores[best] >= threshold]
        cell, label = np.divmod(best, num_classes)
        row, column = np.divmod(cell, columns)
        w, h, dx, dy = (extra[row, column, i] for i in range(4))  # in cells
        centre_x, centre_y = (column + dx) * STRIDE, (row + dy) * STRIDE
        found.append(np.stack([centre_x - w * STRIDE / 2, centre_y - h * STRIDE / 2, w * STRIDE, h * STRIDE,
                               scores[best], label], axis=-1).reshape(-1, 6))
    return found


def perfect_outputs(objects, image_shape, num_classes):
    """The outputs (N, rows, columns, C + 4) a perfect network would give: heatmap logits +-30 (1 at the centre
    cells, 0 elsewhere) and the true sizes and offsets. Decoded, they give back every box."""
    maps = targets(objects, image_shape, num_classes)
    logits = np.where(maps[..., :num_classes] >= 1.0, 30.0, -30.0)
    return np.concatenate([logits, maps[..., num_classes:num_classes + 4]], axis=-1).astype(np.float32)


# --- scoring (pycocotools) ---


def coco_map(objects, detections, num_classes):
    """{"map": mAP@[.5:.95], "map_50", "map_75"} of `detections` (as decode returns them) against `objects`
    (N, M, 5), by pycocotools' COCOeval on the 'bbox' task (its prints kept out of the command's output)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations = [], []
    for image, boxes in enumerate(objects):
        images.append({"id": image})
        for x, y, w, h, label in boxes[boxes[:, 4] >= 0]:
            annotations.append({"id": len(annotations) + 1, "image_id": image, "category_id": int(label) + 1,
                                "bbox": [float(x), float(y), float(w), float(h)], "area": float(w * h),
                                "iscrowd": 0})
    results = [{"image_id": image, "category_id": int(label) + 1, "bbox": [float(x), float(y), float(w), float(h)],
                "score": float(score)}
               for image, found in enumerate(detections) for x, y, w, h, score, label in found]
    if not results or not annotations:  # COCO's loadRes refuses an empty list: nothing found scores 0
        return {"map": 0.0, "map_50": 0.0, "map_75": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {"images": images, "annotations": annotations,
                         "categories": [{"id": c + 1} for c in range(num_classes)]}
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = [max(float(s), 0.0) for s in evaluation.stats[:3]]  # -1: no ground truth in an area range
    return {"map": stats[0], "map_50": stats[1], "map_75": stats[2]}


def scores(config, data, outputs):
    """COCO mAP of a network's test outputs (N, rows, columns, C + 4), decoded with the config's top-k and threshold."""
    detections = decode(outputs, data.info.num_classes, config.top_k, config.score_threshold)
    return coco_map(data.objects["test"], detections, data.info.num_classes)


def centred_box_baseline(data):
    """Test mAP of a detector that needs no image: one box per image, centred, of the mean training box size, of
    the most common training class (score 1)."""
    boxes = data.objects["train"][data.objects["train"][:, :, 4] >= 0]
    w, h = boxes[:, 2].mean(), boxes[:, 3].mean()
    label = np.bincount(boxes[:, 4].astype(int), minlength=data.info.num_classes).argmax()
    height, width = data.info.input_shape[:2]
    guess = np.array([[(width - w) / 2, (height - h) / 2, w, h, 1.0, label]])
    found = coco_map(data.objects["test"], [guess] * data.info.n_test, data.info.num_classes)
    return {f"centred_box_{name}": value for name, value in found.items()}


# --- the run's result and its picture ---

FIGURE_IMAGES = 8  # test images in the picture


def figure_boxes(config, data, outputs):
    """{"images": the first test images, "truth": their objects, "found": their detections above DISPLAY_THRESHOLD}."""
    count = min(FIGURE_IMAGES, data.info.n_test)
    found = decode(outputs[:count], data.info.num_classes, config.top_k, max(config.score_threshold, DISPLAY_THRESHOLD))
    return {"images": data.x_test[:count], "truth": data.objects["test"][:count], "found": found,
            "classes": data.classes}


def scored_result(network, impl, config, data, outputs, *, history, epochs_run, seconds, model):
    """The RunResult of a trained detector from its test outputs (N, rows, columns, C + 4); the centred-box
    baseline's scores beside its own."""
    metrics = {**scores(config, data, outputs), **centred_box_baseline(data)}
    return RunResult.scored(
        network, impl, config, data, METRIC, metrics,
        history=history, epochs_run=epochs_run, seconds=seconds,
        figures={"boxes": figure_boxes(config, data, outputs)},
        model=model,
        model_input=(data.info.input_shape, "float32"),
    )
