"""Generated scenes of objects on a canvas, with masks and boxes: what segmentation and detection learn from.

Each scene is a size x size RGB canvas (64 x 64 by default) holding 1-4 objects, each one of

    1 disc       a filled circle
    2 square     a filled axis-aligned square
    3 triangle   a filled isosceles triangle, apex up or down

(class 0 is the background) at a random position and scale (10-26 pixels across), in a random
colour on a random, slightly shaded background, with Gaussian pixel noise. Colours are drawn
independently of the class, so only the shape tells a disc from a square. Objects never overlap
(a one-pixel gap is kept between their boxes), so each one is whole and its box is exact.

A scene comes with
    its mask:  (size, size) int, the class of every pixel (0 background)
    its boxes: (MAX_OBJECTS, 4) float, [x, y, width, height] in pixels (COCO's order: x to the
               right, y down, from the top-left corner of the box's first pixel; the box of a
               pixel-exact object covers its pixels whole), rows past the scene's object count 0
    its classes: (MAX_OBJECTS,) int, 1..3 per object, -1 on the unused rows.
Boxes are measured from the drawn pixels of each object, so box and mask always agree.
"""
import numpy as np

CLASSES = ("background", "disc", "square", "triangle")
MAX_OBJECTS = 4
MIN_EXTENT, MAX_EXTENT = 10, 26  # an object's width in pixels
NOISE = 0.04  # pixel noise std, on [0, 1] intensities


def draw_scenes(n, rng, size=64):
    """n scenes: images (n, size, size, 3) float32 in [0, 1], masks (n, size, size) int32,
    boxes (n, MAX_OBJECTS, 4) float32, classes (n, MAX_OBJECTS) int32 (see the module docstring)."""
    if size < MAX_EXTENT + 2:
        raise ValueError(f"a canvas of {size} pixels is too small for objects of up to {MAX_EXTENT}")
    images = np.empty((n, size, size, 3), np.float32)
    masks = np.zeros((n, size, size), np.int32)
    boxes = np.zeros((n, MAX_OBJECTS, 4), np.float32)
    classes = np.full((n, MAX_OBJECTS), -1, np.int32)
    rows, cols = np.mgrid[0:size, 0:size]
    for i in range(n):
        background = rng.uniform(0.0, 1.0, size=3)
        shade = rng.uniform(-0.15, 0.15) * (rows / size) + rng.uniform(-0.15, 0.15) * (cols / size)
        image = np.clip(background + shade[..., None], 0.0, 1.0)
        placed = []  # [top, left, bottom, right) of each object's square frame
        for k in range(rng.integers(1, MAX_OBJECTS + 1)):
            extent = int(rng.integers(MIN_EXTENT, MAX_EXTENT + 1))
            for _ in range(50):  # rejection sampling: no two frames touch
                top, left = (int(v) for v in rng.integers(0, size - extent + 1, size=2))
                frame = (top, left, top + extent, left + extent)
                if all(frame[0] > b[2] or frame[2] < b[0] or frame[1] > b[3] or frame[3] < b[1] for b in placed):
                    break
            else:
                continue  # no room left on this canvas
            label = int(rng.integers(1, len(CLASSES)))
            pixels = _shape(label, rows - top, cols - left, extent, rng)
            colour = rng.uniform(0.0, 1.0, size=3)
            while np.abs(colour - background).max() < 0.3:  # visible against the background
                colour = rng.uniform(0.0, 1.0, size=3)
            image[pixels] = colour
            masks[i][pixels] = label
            ys, xs = np.nonzero(pixels)
            slot = len(placed)
            boxes[i, slot] = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
            classes[i, slot] = label
            placed.append(frame)
        images[i] = np.clip(image + rng.normal(0.0, NOISE, size=image.shape), 0.0, 1.0)
    return images, masks, boxes, classes


def _shape(label, y, x, extent, rng):
    """The pixels (a boolean mask) of an object of class `label` in an extent x extent frame;
    y, x: each pixel's row and column relative to the frame's top-left corner."""
    inside = (y >= 0) & (y < extent) & (x >= 0) & (x < extent)
    centre = (extent - 1) / 2
    if label == 1:  # disc
        return inside & ((y - centre) ** 2 + (x - centre) ** 2 <= (extent / 2) ** 2)
    if label == 2:  # square
        return inside
    height = y if rng.uniform() < 0.5 else extent - 1 - y  # apex up or down
    return inside & (np.abs(x - centre) <= height / 2 + 0.5)  # triangle: widens away from its apex
