"""Images with boxes, for the detection network: `voc` (tfds) and a user's `annotations.json` (COCO format).

Every detection source hands back a DetectionData: images (N, S, S, 3) in [0, 1], resized to the network's
input size S (--image-size), and per split the objects (N, M, 5) [x, y, w, h, class] in pixels of the resized
image (COCO's box order: from the top-left corner, x to the right), class 0..C-1, -1 on the unused rows (M:
the most objects in one image of the dataset). The training targets are computed here, once, by shared code
(common/detection.py targets), and are the y of the pipelines: both implementations train on the same arrays.
The generated default, `scene_boxes`, is common/data/tasks/scene_boxes.py.

    voc                   PASCAL VOC 2007 through tensorflow-datasets (`voc/2007`: train, validation, test;
                          20 classes), boxes given normalised [ymin, xmin, ymax, xmax]; never downloaded
                          unless --download (common/data/tfds.py says why).
    path/to/annotations.json
                          COCO's format: "images" [{id, file_name}], "annotations" [{image_id, category_id,
                          bbox [x, y, w, h] in the image's pixels}], "categories" [{id, name}]; image files
                          resolved relative to the JSON's folder. Split into train, validation and test
                          images with the fixed SPLIT_SEED. A box outside its image, a box of non-positive
                          size, an unknown category or a missing image file is a DataError naming it.
"""
import json
import os
from dataclasses import dataclass

import numpy as np

from common.data.core import Data, DataError, DataInfo, split_pool

NAMES = ("voc", "path/to/annotations.json")
TASK = "detection"  # DataInfo.task: images -> boxes; y holds common/detection.py's target maps
VOC = "voc/2007"
DEFAULT_IMAGE_SIZE = 64


@dataclass
class DetectionData(Data):
    """Images -> target maps (y), with what decoding and scoring need: the objects of each split and class names."""

    objects: dict = None  # {"train" | "val" | "test": (N, M, 5) float32 [x, y, w, h, class], class -1 unused}
    classes: tuple = ()  # class names by id 0..C-1


def matches(name):
    return name == "voc" or name.endswith(".json")


def load(name, options):
    size = options.image_size or DEFAULT_IMAGE_SIZE
    if name == "voc":
        splits, classes = voc(size, options.data_dir, options.download)
    else:
        splits, classes = coco_json(name, size, options.validation_fraction)
    return detection_data(os.path.basename(name), splits, classes, options)


def detection_data(name, splits, classes, options):
    """DetectionData from {"train" | "val" | "test": (images (N, S, S, 3) in [0, 1], objects (N, M, 5))}."""
    from common import detection

    for split, (images, _) in splits.items():
        if len(images) == 0:
            raise DataError(f"{name}: the {split} split holds no images")
    most = max(1, max(objects.shape[1] for _, objects in splits.values()))
    padded = {}
    for split, (_, objects) in splits.items():  # every split to the same M rows
        rows = np.full((len(objects), most, 5), -1.0, np.float32)
        rows[:, :objects.shape[1]] = objects
        padded[split] = rows
    size = splits["train"][0].shape[1:3]
    x = {split: np.ascontiguousarray(images, np.float32) for split, (images, _) in splits.items()}
    y = {split: detection.targets(padded[split], size, len(classes)) for split in splits}
    info = DataInfo(name=name, kind="image", input_shape=tuple(int(d) for d in x["train"].shape[1:]),
                    num_classes=len(classes), n_train=len(x["train"]), n_val=len(x["val"]), n_test=len(x["test"]),
                    task=TASK)
    return DetectionData(x_train=x["train"], y_train=y["train"], x_val=x["val"], y_val=y["val"], x_test=x["test"],
                         y_test=y["test"], info=info, batch_size=options.batch_size, seed=options.seed,
                         objects=padded, classes=tuple(classes))


def resize(image, size):
    """An (H, W, 3) image, uint8 or float in [0, 1], as (size, size, 3) float32 in [0, 1] (bilinear, antialiased)."""
    import tensorflow as tf

    image = np.asarray(image)
    if image.dtype == np.uint8:
        image = image / 255.0
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    resized = tf.image.resize(image[..., :3].astype(np.float32), (size, size), antialias=True).numpy()
    return np.clip(resized, 0.0, 1.0)


def check_boxes(where, boxes, width, height):
    """Refuse a box of non-positive size or one reaching outside its width x height image."""
    for x, y, w, h in boxes:
        if not (w > 0 and h > 0):
            raise DataError(f"{where}: box [{x:g}, {y:g}, {w:g}, {h:g}] has a non-positive size")
        if x < 0 or y < 0 or x + w > width or y + h > height:
            raise DataError(f"{where}: box [{x:g}, {y:g}, {w:g}, {h:g}] reaches outside its {width} x {height} image")


# --- PASCAL VOC 2007 (tfds) ---


def voc(size, data_dir, download):
    """({"train" | "val" | "test": (images, objects)}, class names) of voc/2007, images resized to size x size."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(VOC, data_dir=data_dir)
    if download and not builder.is_prepared():
        try:
            builder.download_and_prepare()
        except Exception as error:
            raise DataError(f"could not download {VOC!r} ({type(error).__name__}); is this machine online?") from None
    classes = tuple(builder.info.features["objects"]["label"].names)
    splits = {}
    for split, tfds_split in (("train", "train"), ("val", "validation"), ("test", "test")):
        try:
            dataset = builder.as_dataset(split=tfds_split)
        except AssertionError:  # tfds: "could not find data in <dir>", raised at once, before any download
            raise DataError(f"tfds dataset {VOC!r} is not prepared in {builder.data_dir}; run this command once "
                            "with --download on a machine with internet access (about 0.9 GB)") from None
        images, objects = [], []
        for index, example in enumerate(tfds.as_numpy(dataset)):
            images.append(resize(example["image"], size))
            ymin, xmin, ymax, xmax = np.asarray(example["objects"]["bbox"], np.float64).reshape(-1, 4).T * size
            boxes = np.stack([xmin, ymin, xmax - xmin, ymax - ymin], axis=-1)
            check_boxes(f"{VOC} {tfds_split} image {index}", boxes, size, size)
            objects.append(np.concatenate([boxes, np.asarray(example["objects"]["label"])[:, None]], axis=-1))
        splits[split] = (np.stack(images) if images else np.zeros((0, size, size, 3), np.float32), pad(objects))
    return splits, classes


def pad(objects):
    """A list of (k_i, 5) arrays -> (N, max k_i, 5), -1 on the unused rows."""
    most = max([len(o) for o in objects], default=0)
    rows = np.full((len(objects), most, 5), -1.0, np.float32)
    for row, found in zip(rows, objects):
        row[:len(found)] = found
    return rows


# --- a COCO-style annotation file ---


def coco_json(path, size, validation_fraction):
    """({"train" | "val" | "test": (images, objects)}, class names) of a COCO-style annotation file."""
    from common.data.core import read_utf8

    try:
        document = json.loads(read_utf8(path))
    except json.JSONDecodeError as error:
        raise DataError(f"{path} is not JSON: {error.msg} on line {error.lineno}") from None
    if not isinstance(document, dict) or not all(isinstance(document.get(key), list)
                                                 for key in ("images", "annotations", "categories")):
        raise DataError(f"{path}: a COCO annotation file holds the lists \"images\", \"annotations\" and \"categories\"")
    try:
        categories = sorted(document["categories"], key=lambda category: category["id"])
        class_of = {category["id"]: index for index, category in enumerate(categories)}
        classes = [str(category.get("name", category["id"])) for category in categories]
        images = {image["id"]: image["file_name"] for image in document["images"]}
        boxes = {image_id: [] for image_id in images}
        for annotation in document["annotations"]:
            image_id, category = annotation["image_id"], annotation["category_id"]
            if image_id not in images:
                raise DataError(f"{path}: an annotation names image id {image_id!r}, which \"images\" does not list")
            if category not in class_of:
                raise DataError(f"{path}: unknown category {category!r} in an annotation of image "
                                f"{images[image_id]!r} (categories: {', '.join(map(str, class_of))})")
            x, y, w, h = (float(v) for v in annotation["bbox"])
            boxes[image_id].append((x, y, w, h, class_of[category]))
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: not a COCO annotation file ({type(error).__name__}: {error})") from None
    if len(classes) < 1:
        raise DataError(f"{path}: no categories")
    folder = os.path.dirname(os.path.abspath(path))
    pixels, objects = [], []
    for image_id, file_name in images.items():
        image = read_image(os.path.join(folder, file_name), path)
        height, width = image.shape[:2]
        found = np.asarray(boxes[image_id], np.float64).reshape(-1, 5)
        check_boxes(f"{path}, image {file_name!r}", found[:, :4], width, height)
        found[:, [0, 2]] *= size / width  # to the resized image's pixels
        found[:, [1, 3]] *= size / height
        pixels.append(resize(image, size))
        objects.append(found)
    rows = split_pool(len(pixels), validation_fraction, path, "images")
    images_array, objects_array = np.stack(pixels), pad(objects)
    return {split: (images_array[chosen], objects_array[chosen]) for split, chosen in rows.items()}, classes


def read_image(file, path):
    """An image file as an (H, W, C) uint8 array, or a DataError naming it."""
    import tensorflow as tf

    if not os.path.isfile(file):
        raise DataError(f"{path}: image file {file} is missing")
    try:
        return tf.io.decode_image(tf.io.read_file(file), channels=3, expand_animations=False).numpy()
    except tf.errors.InvalidArgumentError:
        raise DataError(f"{path}: {file} is not an image TensorFlow can read (JPEG, PNG, GIF, BMP)") from None
