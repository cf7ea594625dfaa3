"""Images with boxes (common/data/boxes.py): voc through tensorflow-datasets (mock data, never downloaded) and the
refusals; the generated scenes: tests/data/test_scene_boxes.py."""
import numpy as np
import pytest
import tensorflow as tf

from common import data as data_module
from common.data import DataError


def voc_examples(split, sizes=((50, 80), (120, 60), (64, 64))):
    """VOC-shaped examples of varying image sizes: normalised boxes [ymin, xmin, ymax, xmax], labels 0..19."""
    images, boxes, labels = [], [], []
    for index, (height, width) in enumerate(sizes):
        images.append(np.full((height, width, 3), 40 * index, np.uint8))
        count = index + 1  # apart: each centre in a cell of its own
        boxes.append(np.array([[0.05, 0.1, 0.3, 0.35]] * count, np.float32) + 0.3 * np.arange(count)[:, None])
        labels.append(np.arange(count, dtype=np.int64) + 5 * index)

    def generate():
        for image, box, label in zip(images, boxes, labels):
            yield {"image": image, "objects": {"bbox": box, "label": label}}

    signature = {"image": tf.TensorSpec([None, None, 3], tf.uint8),
                 "objects": {"bbox": tf.TensorSpec([None, 4], tf.float32), "label": tf.TensorSpec([None], tf.int64)}}
    return tf.data.Dataset.from_generator(generate, output_signature=signature)


def test_voc_under_mock_data_resizes_images_and_scales_boxes():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(as_dataset_fn=lambda builder, split, **kwargs: voc_examples(split)):
        data = data_module.load("voc", data_dir="/nonexistent", image_size=32)
    assert data.info.num_classes == 20 and data.classes[0] == "aeroplane" and data.info.input_shape == (32, 32, 3)
    assert data.info.n_train == data.info.n_val == data.info.n_test == 3
    objects = data.objects["test"]
    assert objects.shape == (3, 3, 5)  # the most objects in one image: 3
    np.testing.assert_allclose(objects[0, 0], [0.1 * 32, 0.05 * 32, 0.25 * 32, 0.25 * 32, 0], atol=1e-5)  # [x, y, w, h, class]
    assert objects[0, 1, 4] == -1 and objects[2, 2, 4] == 12
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert data.y_test[..., -1].sum() == 6


def test_voc_boxes_outside_the_image_are_refused():
    import tensorflow_datasets as tfds

    def spoiled(builder, split, **kwargs):
        return voc_examples(split).map(lambda e: {"image": e["image"], "objects": {
            "bbox": e["objects"]["bbox"] + 0.6, "label": e["objects"]["label"]}})

    with tfds.testing.mock_data(as_dataset_fn=spoiled):
        with pytest.raises(DataError, match="reaches outside its 32 x 32 image"):
            data_module.load("voc", data_dir="/nonexistent", image_size=32)


def test_unprepared_voc_fails_at_once_without_downloading(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    with pytest.raises(DataError, match=r"not prepared .* once with --download"):
        data_module.load("voc", data_dir=str(tmp_path))
