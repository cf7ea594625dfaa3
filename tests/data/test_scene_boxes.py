"""The generated scenes with boxes (common/data/tasks/scene_boxes.py): fixed, and the targets both detection
implementations train on hold every object."""
import numpy as np

from common import data as data_module
from common import detection
from common.data.boxes import DetectionData


def test_scene_boxes_are_fixed_and_their_targets_hold_every_object():
    first, second = data_module.load("scene_boxes"), data_module.load("scene_boxes", seed=3, batch_size=8)
    assert isinstance(first, DetectionData) and first.info.task == "detection" and first.classes == (
        "disc", "square", "triangle")
    assert (first.info.n_train, first.info.n_val, first.info.n_test) == (2000, 250, 500)
    assert first.x_train.shape == (2000, 64, 64, 3) and first.y_train.shape == (2000, 16, 16, 8)
    np.testing.assert_array_equal(first.objects["test"], second.objects["test"])  # the training seed: shuffles only
    objects = first.objects["train"]
    real = objects[..., 4] >= 0
    assert set(np.unique(objects[..., 4][real])) == {0.0, 1.0, 2.0} and (objects[~real] == -1).all()
    assert first.y_train[..., -1].sum() == real.sum()  # every object has its centre cell (none share one)
    np.testing.assert_array_equal(first.y_test, detection.targets(first.objects["test"], (64, 64), 3))
    x, y = next(iter(second.train))
    assert x.shape == (8, 64, 64, 3) and y.shape == (8, 16, 16, 8)
