"""tensorflow-datasets: `mnist`, `fashion_mnist`, `cifar10` images, `imdb_reviews` text, `tiny_shakespeare` characters
and `spoken_digit` audio.

Read from `--data-dir` (default ~/tensorflow_datasets). tfds is never asked to download
implicitly (offline, its retries take minutes): an unprepared dataset fails at once and
says how to prepare it (`twinnets prepare NAME`, or `--download`). Tests run this path
under `tfds.testing.mock_data`.
"""
import numpy as np

from common.data import text
from common.data.core import Arrays, DataError

IMAGES = ("mnist", "fashion_mnist", "cifar10")
TEXT = ("imdb_reviews",)  # tokenised here into padded id sequences
CHARACTERS = ("tiny_shakespeare",)  # one text per split, cut into windows of characters (common/data/characters.py)
SEGMENTATION = ("oxford_iiit_pet",)  # images -> a class per pixel, for the segmentation network (pet_masks)
AUDIO = ("spoken_digit",)  # clips of one spoken digit, transcribed for the speech network (common/data/speech.py)
NAMES = IMAGES + TEXT + CHARACTERS + SEGMENTATION + AUDIO
PET_SIZE = 128  # oxford_iiit_pet's images and masks resized to PET_SIZE x PET_SIZE, as the TF segmentation tutorial
IMDB_VOCABULARY_SIZE = 10000  # ids: 0 padding, 1 out of vocabulary, 2.. the most frequent training words
IMDB_LENGTH = 200  # tokens kept per review (the first ones); shorter reviews are padded with 0


def matches(name):
    return name in NAMES


def load(name, options):
    if name in CHARACTERS:  # the train, validation and test texts as CharData, vocabulary from the training text
        from common.data import characters

        return characters.from_text(name, texts(name, options.data_dir, options.download), options)
    if name in SEGMENTATION:
        (x_train, y_train), (x_test, y_test) = pet_masks(name, options.data_dir, options.download)
        return Arrays(x_train, y_train, None, None, x_test, y_test, kind="image", task="segmentation")
    if name in AUDIO:  # one split of clips, divided with the fixed seed; log-mel frames and digit transcripts
        return spoken_digits(name, options)
    (x_train, y_train), (x_test, y_test) = splits(name, options.data_dir, options.download)
    if name in TEXT:
        tokens_train = text.tokenize(x_train)
        table, vocabulary_size = text.build_vocabulary(tokens_train, IMDB_VOCABULARY_SIZE)
        x_train = text.to_ids(tokens_train, table, IMDB_LENGTH)  # (N, IMDB_LENGTH) int64
        x_test = text.to_ids(text.tokenize(x_test), table, IMDB_LENGTH)
        return Arrays(x_train, y_train, None, None, x_test, y_test, kind="tokens", vocabulary_size=vocabulary_size)
    # uint8 pixels -> float in [0, 1]; tfds images are already (N, H, W, C)
    return Arrays(x_train / 255.0, y_train, None, None, x_test / 255.0, y_test, kind="image")


def hint(name, data_dir):
    where = f" --data-dir {data_dir}" if data_dir else ""
    return (
        f"run `twinnets prepare {name}{where}` once on a machine with internet access "
        f"(or add --download to this command)"
    )


def splits(name, data_dir, download):
    """(x, y) numpy arrays of the train and test splits of a tfds dataset; fails at once if not prepared."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    if download and not builder.is_prepared():
        prepare(name, data_dir)
    arrays = []
    for split in ("train", "test"):
        try:
            dataset = builder.as_dataset(split=split, as_supervised=True)
        except AssertionError:  # tfds: "could not find data in <dir>", raised at once, before any download
            raise DataError(
                f"tfds dataset {name!r} is not prepared in {builder.data_dir}; {hint(name, data_dir)}"
            ) from None
        batches = list(tfds.as_numpy(dataset.batch(4096)))
        arrays.append((np.concatenate([x for x, _ in batches]), np.concatenate([y for _, y in batches])))
    return arrays


def pet_masks(name, data_dir, download, size=PET_SIZE):
    """(images, masks) of oxford_iiit_pet's train and test splits: images resized (bilinear) to size x size, in [0, 1];
    the trimaps resized with the nearest neighbour (no new values between classes) and renumbered 1, 2, 3 -> 0, 1, 2
    (pet, background, the pet's outline), as the TF segmentation tutorial does. Fails at once if not prepared, and on
    a trimap value other than 1-3 or a mask whose size is not its image's."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    if download and not builder.is_prepared():
        prepare(name, data_dir)
    arrays = []
    for split in ("train", "test"):
        try:
            dataset = builder.as_dataset(split=split)
        except AssertionError:  # tfds: "could not find data in <dir>", raised at once, before any download
            raise DataError(
                f"tfds dataset {name!r} is not prepared in {builder.data_dir}; {hint(name, data_dir)}"
            ) from None
        images, masks = [], []
        for example in tfds.as_numpy(dataset):
            image, mask = example["image"], example["segmentation_mask"]  # (h, w, 3) uint8, (h, w, 1) uint8
            if image.shape[:2] != mask.shape[:2]:
                raise DataError(f"{name} ({split}): an image of {image.shape[0]}x{image.shape[1]} has a mask of "
                                f"{mask.shape[0]}x{mask.shape[1]}: image and mask must be the same size")
            values = np.unique(mask)
            if values.min() < 1 or values.max() > 3:
                raise DataError(f"{name} ({split}): a trimap value {int(values[(values < 1) | (values > 3)][0])}: "
                                "trimaps hold 1 (pet), 2 (background), 3 (outline)")
            images.append(tf.image.resize(image, (size, size)).numpy() / 255.0)  # bilinear, (size, size, 3)
            masks.append(tf.image.resize(mask, (size, size), method="nearest").numpy()[..., 0].astype(np.int64) - 1)
        arrays.append((np.stack(images), np.stack(masks)))
    return arrays


def spoken_digits(name, options):
    """SpeechData of spoken_digit (Jackson et al., the free spoken digit dataset: 8 kHz recordings of one digit each,
    label 0-9): its one split divided with the fixed SPLIT_SEED (split_pool), each label the transcript "d"
    (common/data/speech.py). Fails at once if the dataset is not prepared."""
    import tensorflow_datasets as tfds

    from common.data import speech
    from common.data.core import split_pool

    builder = tfds.builder(name, data_dir=options.data_dir)
    if options.download and not builder.is_prepared():
        prepare(name, options.data_dir)
    try:
        dataset = builder.as_dataset(split="train", as_supervised=True)
    except AssertionError:  # tfds: "could not find data in <dir>", raised at once, before any download
        raise DataError(
            f"tfds dataset {name!r} is not prepared in {builder.data_dir}; {hint(name, options.data_dir)}"
        ) from None
    clips, transcripts = [], []
    for samples, label in tfds.as_numpy(dataset):
        clips.append(np.asarray(samples, np.float32) / 32768.0)  # 16-bit samples -> [-1, 1)
        transcripts.append(str(int(label)))
    rows = split_pool(len(clips), options.validation_fraction, name, "clips")
    splits = {split: ([clips[i] for i in rows[split]], [transcripts[i] for i in rows[split]]) for split in rows}
    return speech.speech_data(name, splits, builder.info.features["audio"].sample_rate, options)


def texts(name, data_dir, download):
    """(train, validation, test) texts of a tfds dataset whose splits hold a `text` feature (each split's texts
    joined); fails at once if not prepared."""
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    if download and not builder.is_prepared():
        prepare(name, data_dir)
    found = []
    for split in ("train", "validation", "test"):
        try:
            dataset = builder.as_dataset(split=split)
        except AssertionError:  # tfds: "could not find data in <dir>", raised at once, before any download
            raise DataError(
                f"tfds dataset {name!r} is not prepared in {builder.data_dir}; {hint(name, data_dir)}"
            ) from None
        found.append("".join(example["text"].decode("utf-8") for example in tfds.as_numpy(dataset)))
    return tuple(found)


def prepare(name, data_dir=None):
    """Download and prepare a tfds dataset (needs internet). Returns the directory used."""
    if name not in NAMES:
        raise DataError(f"only tfds datasets need preparing ({', '.join(NAMES)}); {name!r} is not one")
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=data_dir)
    try:
        builder.download_and_prepare()
    except Exception as error:
        raise DataError(f"could not download {name!r} ({type(error).__name__}); is this machine online?") from None
    return builder.data_dir
