"""Generated scenes with boxes, for the detection network: `scene_boxes`.

The scenes of common/data/scenes.py (1-4 discs, squares and triangles, 10-26 pixels across, on a
shaded background with pixel noise), with their boxes as the targets: classes disc, square, triangle
(the scenes' labels 1..3 -> 0..2). Drawn at --image-size (64 by default), with a fixed seed
(SCENE_SEED), so every run of either implementation sees the same scenes; the training targets are
computed once by common/detection.py (common/data/boxes.py).
"""
import functools

import numpy as np

from common.data.boxes import DEFAULT_IMAGE_SIZE, detection_data
from common.data.core import DataError
from common.data.scenes import CLASSES, MAX_EXTENT, draw_scenes

NAMES = ("scene_boxes",)
SCENE_SIZES = (2000, 250, 500)  # train, validation, test scenes, generated
SCENE_SEED = 1515  # fixed, like SPLIT_SEED


def matches(name):
    return name == "scene_boxes"


def load(name, options):
    size = options.image_size or DEFAULT_IMAGE_SIZE
    if size < MAX_EXTENT + 2:
        raise DataError(f"scene_boxes draws objects of up to {MAX_EXTENT} pixels: --image-size must be at least "
                        f"{MAX_EXTENT + 2}, got {size}")
    splits = scenes(size)
    shown = name if size == DEFAULT_IMAGE_SIZE else f"{name} ({size}x{size})"  # the floor is set for 64x64 scenes only
    return detection_data(shown, splits, CLASSES[1:], options)


@functools.lru_cache(maxsize=2)
def scenes(size, sizes=SCENE_SIZES, seed=SCENE_SEED):
    """{"train" | "val" | "test": (images (n, size, size, 3), objects (n, 4, 5) [x, y, w, h, class 0..2 or -1])}."""
    rng = np.random.default_rng(seed)
    splits = {}
    for split, n in zip(("train", "val", "test"), sizes):
        images, _, boxes, classes = draw_scenes(n, rng, size)
        objects = np.concatenate([boxes, classes[..., None] - 1], axis=-1).astype(np.float32)
        objects[classes < 1] = -1.0  # the unused rows, -1 throughout
        splits[split] = (images, objects)
    return splits
