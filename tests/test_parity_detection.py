"""Parity for detection, CenterNet (family "detection": every level is here; level 4 with tests/test_learning.py).

1. Shape: parameter counts equal, in the same Keras order, and pinned (PARAM_COUNTS).
2. Function: Keras weights transplanted into tf_impl give the same outputs of every head (heatmap logits, sizes,
   offsets), the same loss (CenterNet's, also checked against a numpy transcription of the paper's formula) and
   the same gradients (1e-5), on non-square images (2 x 32 x 48); the boxes decoded from both are identical.
3. Optimisation: from the same weights, 20 Adam steps on the same batches of scenes give the same losses and
   weights (1e-4).
4. Learning: tests/test_learning.py (scene_boxes, floor mAP@0.5 0.80); here, the same runs beat the centred-box
   baseline and draw the picture.
Also: targets, decoding and the COCO scorer (perfect boxes score 1, shifted ones less), both exports serving the
same boxes, and the command line on a COCO annotation file, good and bad. The data: tests/data/test_boxes.py.
"""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from common import configs, detection, plots, registry
from common.data.scenes import draw_scenes
from conftest import assert_same_steps, assert_twins_agree, learning_group, run_main
from keras_impl import detection as keras_detection
from tf_impl import detection as tf_detection
from tf_impl import optim

SPEC = registry.get("detection")
TINY = {"filters": (4, 8, 8), "head_filters": 4}  # small enough to be quick, every weight on a path to the loss


def conv(k, cin, cout):
    return k * k * cin * cout + cout


def param_count(filters, head, channels, classes):
    """Strided convs f1, f2, f3; the stride-8 conv; the conv after upsampling (f3 -> f2); three 3x3 heads; 1x1 outs."""
    f1, f2, f3 = filters
    backbone = conv(3, channels, f1) + conv(3, f1, f2) + conv(3, f2, f3) + conv(3, f3, f3) + conv(3, f3, f2)
    return backbone + 3 * conv(3, f2, head) + conv(1, head, classes) + 2 * conv(1, head, 2)


# Pinned: a change to the architecture must show here.
PARAM_COUNTS = {  # (filters, head_filters, classes) -> parameters
    ((16, 32, 32), 16, 3): 46_823,  # the default, on the scenes' 3 classes
    ((16, 32, 32), 16, 20): 47_112,  # the default on VOC's 20 classes
    ((4, 8, 8), 4, 3): 3_071,  # TINY
}


def scenes(count, size=32, seed=0):
    """(images, objects, targets) of `count` generated scenes, size x size."""
    images, _, boxes, classes = draw_scenes(count, np.random.default_rng(seed), size)
    objects = np.concatenate([boxes, np.where(classes > 0, classes - 1, -1)[..., None]], axis=-1).astype(np.float32)
    return images, objects, detection.targets(objects, (size, size), 3)


def transplanted(config, classes=3, noise=0.0):
    keras.utils.set_random_seed(0)
    keras_model = keras_detection.build(config, (None, None, 3), classes)
    tf_model = tf_detection.build(config, (None, None, 3), classes)
    if noise:
        rng = np.random.default_rng(1)
        keras_model.set_weights([w + rng.normal(0, noise, w.shape).astype(np.float32) for w in keras_model.get_weights()])
    tf_model.set_weights(keras_model.get_weights())
    return keras_model, tf_model


# --- level 1: shape ---


@pytest.mark.parametrize("filters,head,classes", list(PARAM_COUNTS))
def test_level1_parameter_counts_pinned_and_equal(filters, head, classes):
    config = configs.DetectionConfig(filters=filters, head_filters=head)
    keras_model = keras_detection.build(config, (64, 64, 3), classes)
    tf_model = tf_detection.build(config, (64, 64, 3), classes)
    assert keras_model.count_params() == tf_model.count_params() == PARAM_COUNTS[(filters, head, classes)]
    assert param_count(filters, head, 3, classes) == PARAM_COUNTS[(filters, head, classes)]
    assert [w.shape for w in tf_model.get_weights()] == [w.shape for w in keras_model.get_weights()]
    assert keras_model(np.zeros((1, 64, 96, 3), np.float32)).shape == (1, 16, 24, classes + 4)  # stride 4, any size


def test_default_config_is_pinned_above():
    config = SPEC.config_class()
    assert (config.filters, config.head_filters, 3) in PARAM_COUNTS


def test_the_heatmap_starts_at_the_papers_prior_on_both_sides():
    keras_model, _ = transplanted(configs.DetectionConfig(**TINY))
    tf_model = tf_detection.build(configs.DetectionConfig(**TINY), (None, None, 3), 3)
    keras_bias = keras_model.get_weights()[-6 + 1]  # the 1x1 heads come last: heatmap, size, offset (kernel, bias)
    np.testing.assert_allclose(keras_bias, [-2.19] * 3)
    np.testing.assert_allclose(tf_model.get_weights()[-5], [-2.19] * 3)


# --- level 2: function ---


def centernet_loss_by_hand(outputs, targets, classes=3):
    """The paper's loss in float64 numpy: focal (alpha 2, beta 4) / N + 0.1 L1(size) / 2N + L1(offset) / 2N."""
    outputs, targets = np.asarray(outputs, np.float64), np.asarray(targets, np.float64)
    p = 1 / (1 + np.exp(-outputs[..., :classes]))
    heat, mask = targets[..., :classes], targets[..., -1:]
    n = max(mask.sum(), 1.0)
    centre = heat == 1
    focal = np.where(centre, (1 - p) ** 2 * np.log(p), (1 - heat) ** 4 * p ** 2 * np.log(1 - p)).sum()
    size = np.abs(outputs[..., classes:classes + 2] - targets[..., classes:classes + 2]) * mask
    offset = np.abs(outputs[..., classes + 2:] - targets[..., classes + 2:classes + 4]) * mask
    return -focal / n + 0.1 * size.sum() / (2 * n) + offset.sum() / (2 * n)


def test_level2_every_head_the_loss_and_gradients_after_transplant_on_non_square_images():
    keras_model, tf_model = transplanted(configs.DetectionConfig(**TINY), noise=0.1)
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(2, 32, 48, 3)).astype(np.float32)  # (batch, H, W, 3), H != W
    objects = np.array([[[3, 5, 12, 9, 0], [30, 10, 14, 20, 2]], [[20, 4, 10, 10, 1], [-1, -1, -1, -1, -1]]],
                       np.float32)
    y = detection.targets(objects, (32, 48), 3)  # (2, 8, 12, 8)
    assert y.shape == (2, 8, 12, 8) and y[..., -1].sum() == 3
    keras_out, tf_out = keras_model(x).numpy(), tf_model(x).numpy()
    assert keras_out.shape == (2, 8, 12, 7)
    for head, channels in (("heatmap", slice(0, 3)), ("size", slice(3, 5)), ("offset", slice(5, 7))):
        np.testing.assert_allclose(tf_out[..., channels], keras_out[..., channels], atol=1e-5, rtol=1e-5, err_msg=head)
    assert_twins_agree(keras_model, tf_model, x, y, tf_loss=tf_detection.loss_fn)  # outputs, loss, gradients: 1e-5
    np.testing.assert_allclose(float(tf_detection.loss_fn(tf_model, x, y)), centernet_loss_by_hand(tf_out, y), rtol=1e-5)
    keras_boxes = detection.decode(keras_out, 3, top_k=20, threshold=0.0)
    tf_boxes = detection.decode(tf_out, 3, top_k=20, threshold=0.0)
    for keras_found, tf_found in zip(keras_boxes, tf_boxes):
        assert len(keras_found) == len(tf_found) == 20
        np.testing.assert_array_equal(tf_found[:, 5], keras_found[:, 5])  # the same peaks, classes, in order
        np.testing.assert_allclose(tf_found, keras_found, atol=1e-4)


# --- level 3: optimisation ---


def test_level3_twenty_adam_steps():
    config = configs.DetectionConfig(**TINY, learning_rate=1e-2)
    keras_model, tf_model = transplanted(config)
    tf_optimizer = optim.from_config(config)
    tf_optimizer.build(tf_model.trainable_weights)
    spec = (tf.TensorSpec([None, 32, 32, 3], tf.float32), tf.TensorSpec([None, 8, 8, 8], tf.float32))
    tf_step = tf_detection.make_train_step(tf_model, tf_optimizer, tf.distribute.get_strategy(), spec)
    images, _, targets = scenes(80)
    batches = [(images[i * 4:(i + 1) * 4], targets[i * 4:(i + 1) * 4]) for i in range(20)]
    assert_same_steps(keras_model, tf_model, tf_optimizer, tf_step, batches)


# --- targets, decoding, scoring ---


def test_targets_put_one_peak_per_object_and_decoding_gives_the_boxes_back():
    _, objects, targets = scenes(30, size=64, seed=3)
    real = objects[..., 4] >= 0
    assert targets.shape == (30, 16, 16, 8) and 0.0 <= targets[..., :3].min() and targets[..., :3].max() == 1.0
    assert (targets[..., :3] == 1.0).sum() == targets[..., -1].sum() == real.sum()  # one centre per object
    found = detection.decode(detection.perfect_outputs(objects, (64, 64), 3), 3)
    for boxes, truth in zip(found, objects):
        truth = truth[truth[:, 4] >= 0]
        assert len(boxes) == len(truth)
        order = np.lexsort(boxes[:, [1, 0]].T), np.lexsort(truth[:, [1, 0]].T)
        np.testing.assert_allclose(boxes[order[0]][:, :4], truth[order[1]][:, :4], atol=1e-4)
        np.testing.assert_array_equal(boxes[order[0]][:, 5], truth[order[1]][:, 4])


def test_gaussian_radius_and_peaks_as_centernet_computes_them():
    # CenterNet's gaussian_radius((h, w), 0.7) for a 4 x 6 box: the third root, (b3 + sqrt(b3^2 - 4 a3 c3)) / 2
    a3, b3, c3 = 4 * 0.7, -2 * 0.7 * 10, -0.3 * 24
    assert detection.gaussian_radius(4, 6) == pytest.approx((b3 + np.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2)
    heat = np.zeros((5, 5))
    detection.draw_gaussian(heat, (0, 4), 2)  # at a corner: clipped, peak 1
    assert heat[4, 0] == 1.0 and heat[2, 0] == pytest.approx(np.exp(-4 / (2 * (5 / 6) ** 2)))
    maps = np.zeros((1, 4, 4, 1))
    maps[0, 1, 1, 0], maps[0, 1, 2, 0], maps[0, 3, 3, 0] = 0.9, 0.5, 0.4
    kept = detection.peaks(maps)[0, ..., 0]
    assert kept[1, 1] == 0.9 and kept[1, 2] == 0.0 and kept[3, 3] == 0.4  # a neighbour of a higher peak is dropped


def test_coco_map_is_one_for_perfect_boxes_and_lower_for_shifted_ones():
    _, objects, _ = scenes(20, size=64, seed=4)
    perfect = detection.decode(detection.perfect_outputs(objects, (64, 64), 3), 3)
    assert detection.coco_map(objects, perfect, 3) == {"map": 1.0, "map_50": 1.0, "map_75": 1.0}
    shifted = [boxes + np.array([3.0, 0, 0, 0, 0, 0]) for boxes in perfect]  # 3 pixels right: IoU 0.6-0.8
    scores = detection.coco_map(objects, shifted, 3)
    assert scores["map_50"] == 1.0 and scores["map_75"] < 1.0 and scores["map"] < 0.7
    wrong_class = [np.concatenate([b[:, :5], (b[:, 5:] + 1) % 3], axis=1) for b in perfect]
    assert detection.coco_map(objects, wrong_class, 3)["map_50"] == 0.0
    assert detection.coco_map(objects, [np.zeros((0, 6))] * 20, 3)["map"] == 0.0


# --- both exports ---


def test_both_exports_serve_the_same_boxes(tmp_path):
    from keras_impl import export as keras_export
    from tf_impl import export as tf_export

    keras_model, tf_model = transplanted(configs.DetectionConfig(**TINY), noise=0.1)
    keras_export.export(keras_model, str(tmp_path / "keras"), (32, 32, 3))
    tf_export.export(tf_model, str(tmp_path / "tf"), (32, 32, 3))
    images = tf.constant(scenes(6)[0])
    loaded = {impl: tf.saved_model.load(str(tmp_path / impl)) for impl in ("keras", "tf")}  # kept: its variables
    served = {impl: detection.decode(archive.serve(images).numpy(), 3, threshold=0.0) for impl, archive in loaded.items()}
    expected = detection.decode(keras_model(images).numpy(), 3, threshold=0.0)
    for keras_found, tf_found, truth in zip(served["keras"], served["tf"], expected):
        np.testing.assert_allclose(keras_found, truth, atol=1e-4)
        np.testing.assert_allclose(tf_found, truth, atol=1e-4)


# --- level 4: what the learning runs of tests/test_learning.py also show ---


@pytest.mark.learning
@learning_group("detection")
def test_learned_detectors_beat_the_centred_box_and_draw_the_picture(learned, tmp_path):
    from common import data as data_module

    report = learned("detection")
    baseline = detection.centred_box_baseline(data_module.load("scene_boxes"))
    assert baseline["centred_box_map_50"] < 0.2
    for impl, summary in report["impls"].items():
        for run in summary["runs"]:
            assert run["metrics"]["map"] > 3 * baseline["centred_box_map"], (impl, run["seed"])
    paths = plots.generative_figures(report, report["figures"], str(tmp_path / "compare-detection.png"))
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["compare-detection-boxes.png"]
    assert open(paths[0], "rb").read(8) == b"\x89PNG\r\n\x1a\n"


# --- the command line on a COCO annotation file ---


def coco_folder(tmp_path, count=14, size=40, edit=None):
    """A folder of PNG scenes (size x size) and annotations.json; edit(document) may spoil it. Returns the JSON path."""
    images, objects, _ = scenes(count, size=size, seed=5)
    document = {"images": [], "annotations": [], "categories": [{"id": 7, "name": "disc"}, {"id": 8, "name": "square"},
                                                                  {"id": 9, "name": "triangle"}]}
    for index, (image, found) in enumerate(zip(images, objects)):
        name = f"scene{index}.png"
        tf.io.write_file(str(tmp_path / name), tf.io.encode_png(tf.cast(image * 255, tf.uint8)))
        document["images"].append({"id": 100 + index, "file_name": name, "width": size, "height": size})
        for x, y, w, h, label in found[found[:, 4] >= 0]:
            document["annotations"].append({"id": len(document["annotations"]), "image_id": 100 + index,
                                            "category_id": 7 + int(label), "bbox": [float(x), float(y), float(w), float(h)]})
    if edit:
        edit(document)
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(document))
    return str(path)


QUICK = ["--epochs", "1", "--filters", "4,8,8", "--head-filters", "4", "--image-size", "32", "--batch-size", "4"]


@pytest.mark.parametrize("impl", ["keras", "tf"])
def test_a_short_training_on_a_coco_annotation_file_and_its_export(tmp_path, capsys, impl):
    dataset = coco_folder(tmp_path)
    out, export = tmp_path / "out", tmp_path / "model"
    code, stdout, err = run_main(capsys, ["train", "detection", "--impl", impl, "--dataset", dataset, *QUICK,
                                          "--out", str(out), "--export", str(export), "--quiet"])
    assert code == 0, err
    result = json.loads((out / "metrics.json").read_text())
    assert result["dataset"] == "annotations.json" and result["metric"] == "map_50"
    assert {"map", "map_50", "map_75"} <= set(result["metrics"])
    assert "no floor is set for detection on annotations.json" in stdout
    archive = tf.saved_model.load(str(export))  # kept: its variables
    served = archive.serve(tf.zeros((2, 32, 32, 3)))
    assert served.shape == (2, 8, 8, 7)  # 3 categories + size + offset, at stride 4


def spoil_box(box):
    def edit(document):
        document["annotations"][0]["bbox"] = box
    return edit


BAD_INPUT = {
    "a box outside its image": (lambda tmp: ["--dataset", coco_folder(tmp, edit=spoil_box([30, 30, 20, 5]))],
                                "reaches outside its 40 x 40 image"),
    "a box of non-positive size": (lambda tmp: ["--dataset", coco_folder(tmp, edit=spoil_box([3, 3, 0, 5]))],
                                   "has a non-positive size"),
    "an unknown category": (
        lambda tmp: ["--dataset", coco_folder(tmp, edit=lambda d: d["annotations"][1].update(category_id=3))],
        "unknown category 3"),
    "a missing image file": (
        lambda tmp: ["--dataset", coco_folder(tmp, edit=lambda d: d["images"][2].update(file_name="gone.png"))],
        "gone.png is missing"),
    "not COCO": (lambda tmp: ["--dataset", coco_folder(tmp, edit=lambda d: d.pop("categories"))],
                 "holds the lists \"images\", \"annotations\" and \"categories\""),
    "images without boxes": (lambda tmp: ["--dataset", "digits"], "detection finds and boxes objects"),
    "an image size not a multiple of 8": (lambda tmp: ["--image-size", "36"], "image-size must be a positive multiple of 8"),
    "scenes too small for their objects": (lambda tmp: ["--image-size", "24"], "--image-size must be at least 28, got 24"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(capsys, tmp_path, case):
    make, message = BAD_INPUT[case]
    impl = ("keras", "tf")[list(BAD_INPUT).index(case) % 2]
    out = tmp_path / "out"
    code, _, err = run_main(capsys, ["train", "detection", "--impl", impl, *make(tmp_path), "--out", str(out)])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in err, err
    assert not out.exists() or list(out.iterdir()) == []


def test_other_networks_refuse_images_with_boxes(capsys, tmp_path):
    code, _, err = run_main(capsys, ["train", "cnn", "--impl", "tf", "--dataset", "scene_boxes", "--out",
                                     str(tmp_path / "out")])
    assert code == 2 and "scene_boxes holds images with boxes: train detection on it" in err
