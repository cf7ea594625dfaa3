"""Data for the segmentation network: the generated scenes, masks in an .npz, oxford_iiit_pet through tfds (mock data
only, never a download), and the bad input each refuses with one DataError."""
import json

import numpy as np
import pytest

from common import data as data_module
from common import registry
from common.data import DataError
from common.data import tfds as tfds_source
from common.data.tasks import scenes as scenes_task
from conftest import run_main

SPEC = registry.get("segmentation")
TINY = ["--filters", "2,3,4", "--epochs", "1", "--batch-size", "4"]  # a tiny two-pooling U-Net: the route, not quality


def masks_npz(tmp_path, name="masks.npz", **changes):
    """A small valid segmentation .npz: 16 + 6 RGB images of 10 x 12 and their masks of classes 0..2."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=(22, 10, 12))
    arrays = {"x_train": rng.uniform(size=(16, 10, 12, 3)), "y_train": y[:16],
              "x_test": rng.uniform(size=(6, 10, 12, 3)), "y_test": y[16:]}
    arrays.update(changes)
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def test_scenes_are_images_with_a_class_per_pixel():
    data = data_module.load("scenes")
    info = data.info
    assert (info.kind, info.task, info.input_shape, info.num_classes) == ("image", "segmentation", (64, 64, 3), 4)
    assert (info.n_train, info.n_val, info.n_test) == scenes_task.SCENES_SIZES
    assert data.y_train.shape == (info.n_train, 64, 64) and data.y_test.dtype == np.int32
    assert set(np.unique(data.y_test)) == {0, 1, 2, 3}
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    again = data_module.load("scenes", seed=5)  # another training seed: the same scenes (only shuffling differs)
    np.testing.assert_array_equal(again.x_test, data.x_test)
    np.testing.assert_array_equal(again.y_train, data.y_train)
    data.x_train[0] = -1.0  # a caller's change does not reach the next load (the drawn scenes are cached)
    assert data_module.load("scenes").x_train.min() >= 0.0


def test_masks_in_an_npz(tmp_path):
    grey = np.random.default_rng(1).integers(0, 256, size=(22, 10, 12))  # (N, H, W) 8-bit grey images
    data = data_module.load(masks_npz(tmp_path, x_train=grey[:16], x_test=grey[16:]))
    info = data.info
    assert (info.kind, info.task, info.input_shape, info.num_classes) == ("image", "segmentation", (10, 12, 1), 3)
    assert info.n_train + info.n_val == 16 and info.n_test == 6  # a validation split held out of the masks' images
    assert data.y_val.shape == (info.n_val, 10, 12) and data.x_train.max() <= 1.0  # 8-bit grey pixels scaled
    with np.load(masks_npz(tmp_path)) as arrays:
        channel = arrays["y_train"][..., np.newaxis]  # (N, H, W, 1) masks
    single = data_module.load(masks_npz(tmp_path, "channel.npz", y_train=channel))
    assert single.y_train.shape == (single.info.n_train, 10, 12)  # read as (N, H, W)


BAD_MASKS = {
    "a mask value out of range": (dict(y_train=np.where(np.arange(16 * 10 * 12).reshape(16, 10, 12) == 7, 5,
                                                        np.arange(16 * 10 * 12).reshape(16, 10, 12) % 3)),
                                  {"num_classes": 3},
                                  "label 5 is out of range for --num-classes 3"),
    "a mask value no training mask shows": (dict(y_test=np.full((6, 10, 12), 4)), {},
                                            "y_test has label 4, which y_train never shows"),
    "a negative mask value": (dict(y_test=np.full((6, 10, 12), -1)), {}, "y_test has a mask value -1"),
    "fractional mask values": (dict(y_train=np.full((16, 10, 12), 0.5)), {}, "not whole numbers"),
    "masks of another size": (dict(y_test=np.zeros((6, 12, 10), int)), {},
                              "x_test has images of shape (6, 10, 12) (N, H, W) but y_test has masks of shape (6, 12, 10)"),
    "fewer masks than images": (dict(y_train=np.zeros((15, 10, 12), int)), {}, "y_train has masks of shape (15, 10, 12)"),
    "a mask of one value": (dict(y_train=np.zeros((16, 10, 12), int), y_test=np.zeros((6, 10, 12), int)), {},
                            "the training labels hold a single class"),
}


@pytest.mark.parametrize("case", list(BAD_MASKS))
def test_bad_masks_are_one_data_error(tmp_path, case):
    changes, options, message = BAD_MASKS[case]
    with pytest.raises(DataError, match="masks.npz") as error:
        data_module.load(masks_npz(tmp_path, **changes), **options)
    assert message in str(error.value)


@pytest.mark.parametrize("case", ["a mask value out of range", "masks of another size"])
def test_bad_masks_exit_2_from_the_command_line_with_nothing_written(capsys, tmp_path, case):
    changes, options, message = BAD_MASKS[case]
    extra = ["--num-classes", str(options["num_classes"])] if options else []
    out = tmp_path / "out"
    code, _, err = run_main(capsys, ["train", "segmentation", "--impl", "tf", "--dataset",
                                     masks_npz(tmp_path, **changes), *extra, "--out", str(out)])
    assert code == 2 and "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert not out.exists() or list(out.iterdir()) == []  # nothing half-written


@pytest.mark.parametrize("argv,message", [
    (["train", "segmentation", "--impl", "keras", "--dataset", "digits"],
     "segmentation labels every pixel (scenes, oxford_iiit_pet, an .npz with masks (N, H, W) as y); digits holds one"),
    (["train", "cnn", "--impl", "tf", "--dataset", "scenes"], "scenes holds a mask per image: train segmentation on it"),
])
def test_masks_and_labels_go_to_their_own_networks(capsys, tmp_path, argv, message):
    code, _, err = run_main(capsys, [*argv, "--out", str(tmp_path / "out")])
    assert code == 2 and message in err and "Traceback" not in err


def test_a_short_training_on_masks_in_an_npz_from_the_command_line(capsys, tmp_path):
    """10 x 12 images (two poolings: 2 rows of padding) train and are scored by mean IoU, through the command line a
    user runs: Keras's (the data reach both sides alike; tf_impl's command line trains in tests/test_determinism.py)."""
    path = masks_npz(tmp_path)
    for impl in ("keras",):
        code, out, err = run_main(capsys, ["train", "segmentation", "--impl", impl, "--dataset", path, *TINY,
                                           "--out", str(tmp_path / impl)])
        assert code == 0, err
        assert "3 classes" in out and "no floor is set for segmentation on masks.npz" in out
        metrics = json.loads((tmp_path / impl / "metrics.json").read_text())
        assert metrics["metric"] == "mean_iou" and 0.0 <= metrics["value"] <= 1.0
        assert {"mean_iou", "pixel_accuracy", "majority_mean_iou", "iou_0", "iou_2"} <= set(metrics["metrics"])


def pet_examples(count, rng, size=(40, 30)):
    """oxford_iiit_pet-like examples: an RGB image and its trimap (1 pet, 2 background, 3 outline) of the same size."""
    for _ in range(count):
        mask = np.full((*size, 1), 2, np.uint8)
        top, left = rng.integers(0, 10, size=2)
        mask[top:top + 20, left:left + 15] = 3
        mask[top + 1:top + 19, left + 1:left + 14] = 1
        yield {"image": rng.integers(0, 256, size=(*size, 3), dtype=np.uint8), "segmentation_mask": mask,
               "label": 0, "species": 0, "file_name": "pet.jpg", "head_bbox": np.zeros(4, np.float32)}


def test_oxford_iiit_pet_under_mock_data():
    import tensorflow as tf
    import tensorflow_datasets as tfds

    def as_dataset(self, split, **kwargs):  # valid trimaps of the images' own size (mock_data's are random bytes)
        examples = list(pet_examples(12 if split == "train" else 4, np.random.default_rng(len(split))))
        return tf.data.Dataset.from_tensor_slices({key: np.stack([example[key] for example in examples])
                                                   for key in ("image", "segmentation_mask")})

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        data = data_module.load("oxford_iiit_pet", data_dir="/nonexistent")
    info = data.info
    size = tfds_source.PET_SIZE
    assert (info.kind, info.task, info.input_shape, info.num_classes) == ("image", "segmentation", (size, size, 3), 3)
    assert info.n_train + info.n_val == 12 and info.n_test == 4
    assert set(np.unique(data.y_train)) == {0, 1, 2}  # trimap 1, 2, 3 -> 0 pet, 1 background, 2 outline
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    # nearest-neighbour masks: the 20 x 15 pet region of a 40 x 30 image is 1/4 of the height and 1/2 of the width
    assert np.mean(data.y_test != 1) == pytest.approx(20 * 15 / (40 * 30), abs=0.02)


def test_oxford_iiit_pet_refuses_a_trimap_value_out_of_range():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=3):  # random bytes: trimap values far outside 1-3, sizes unlike the image's
        with pytest.raises(DataError, match="oxford_iiit_pet \\(train\\): (a trimap value|an image of)"):
            data_module.load("oxford_iiit_pet", data_dir="/nonexistent")


def test_unprepared_oxford_iiit_pet_fails_at_once(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    with pytest.raises(DataError, match="not prepared .*`twinnets prepare oxford_iiit_pet --data-dir"):
        data_module.load("oxford_iiit_pet", data_dir=str(tmp_path))
