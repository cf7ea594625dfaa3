"""The generated scenes (common/data/scenes.py): every box is the extent of its object's pixels."""
import numpy as np

from common.data.scenes import CLASSES, MAX_OBJECTS, draw_scenes


def test_boxes_and_classes_agree_with_the_masks():
    images, masks, boxes, classes = draw_scenes(40, np.random.default_rng(7), size=48)
    assert images.shape == (40, 48, 48, 3) and masks.shape == (40, 48, 48)
    assert 0.0 <= images.min() and images.max() <= 1.0
    for mask, scene_boxes, scene_classes in zip(masks, boxes, classes):
        count = int((scene_classes >= 0).sum())
        assert 1 <= count <= MAX_OBJECTS and (scene_classes[count:] == -1).all()  # used rows first
        labelled = np.zeros_like(mask)
        for (x, y, w, h), label in zip(scene_boxes[:count].astype(int), scene_classes[:count]):
            assert 1 <= label < len(CLASSES) and w > 0 and h > 0
            window = mask[y:y + h, x:x + w]
            assert (window == label).any(axis=0).all() and (window == label).any(axis=1).all()  # tight
            labelled[y:y + h, x:x + w] += (window == label)
        assert ((mask > 0) == (labelled > 0)).all()  # every object pixel is in its own box, none twice


def test_same_seed_same_scenes():
    first = draw_scenes(5, np.random.default_rng(3))
    second = draw_scenes(5, np.random.default_rng(3))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
