"""Generated scenes for the segmentation network: `scenes`, images -> per-pixel class masks.

64 x 64 RGB canvases of 1-4 discs, squares and triangles (common/data/scenes.py draws them:
random positions, sizes 10-26 pixels, colours independent of the class, a shaded background,
pixel noise), and as the target of every image its mask (64, 64): the class of each pixel,
0 background, 1 disc, 2 square, 3 triangle. The task is "segmentation": y has one label per
pixel, (N, H, W), and num_classes counts the mask's classes (4).

The splits are drawn once from a fixed seed (SCENES_SEED), like every generated task, so every
run of either implementation trains, validates and is scored on the same scenes; the training
seed only shuffles.
"""
import functools

import numpy as np

from common.data.core import Arrays
from common.data.scenes import draw_scenes

NAMES = ("scenes",)
SCENES_SIZES = (1200, 200, 400)  # train, validation, test scenes
SCENES_SEED = 1515  # fixed, like SPLIT_SEED (issue 15)


def matches(name):
    return name == "scenes"


def load(name, options):
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = ((x.copy(), y.copy()) for x, y in scenes())
    return Arrays(x_train, y_train, x_val, y_val, x_test, y_test, kind="image", task="segmentation")


@functools.lru_cache(maxsize=2)  # drawing the 1,800 scenes takes seconds; the same seed draws the same scenes
def scenes(sizes=SCENES_SIZES, seed=SCENES_SEED, size=64):
    """((images, masks) of the train, validation and test splits): images (n, size, size, 3) in [0, 1], masks
    (n, size, size) int32 classes 0..3. Cached: callers copy before changing them (load does)."""
    rng = np.random.default_rng(seed)
    splits = []
    for n in sizes:
        images, masks, _, _ = draw_scenes(n, rng, size)
        splits.append((images, masks))
    return tuple(splits)
