"""Text as characters for charlm (common/data/characters.py): .txt files, tiny_shakespeare through tfds."""
import pytest

from common import data as data_module
from common.data import DataError
from common.vocabulary import Vocabulary


def test_a_text_file_becomes_windows_of_characters(tmp_path):
    text = "to be, or not to be: that is the question. " * 30
    path = tmp_path / "hamlet.txt"
    path.write_text(text, encoding="utf-8")
    data = data_module.load(str(path), sequence_length=40)
    assert data.info.task == "next_character" and data.info.input_shape == (40,)
    assert data.vocabulary.characters == "".join(sorted(set(text)))
    assert data.info.num_classes == data.vocabulary.size == len(set(text)) + 3
    first = int(0.8 * len(text))
    assert data.info.n_train == first // 40
    assert data.vocabulary.decode(data.y_train[0]) == text[:40]  # y: the window; x: <start> and all but its last
    assert data.x_train[0, 0] == Vocabulary.START and list(data.x_train[0, 1:]) == list(data.y_train[0, :-1])


def test_tiny_shakespeare_through_tfds(tmp_path):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=1):
        data = data_module.load("tiny_shakespeare", sequence_length=16)
    assert data.info.name == "tiny_shakespeare" and data.info.task == "next_character"
    assert data.info.n_train >= 1 and data.x_train.shape[1] == 16
    assert (data.y_test != 0).sum() > 0



def test_a_text_shorter_than_a_window_is_one_padded_window(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("abcdefghij" * 3, encoding="utf-8")  # 24 training, 3 validation, 3 test characters
    data = data_module.load(str(path), sequence_length=50)
    assert data.x_test.shape == (1, 50) and (data.y_test != 0).sum() == 3


@pytest.mark.parametrize("content,message", [
    (b"", "holds 0 characters"),
    (b"a", "holds 1 character:"),
    ("é".encode("utf-8") * 5, "holds 5 characters"),  # characters, not bytes
    (b"caf\xe9 " * 10, "is not UTF-8 text (byte 0xe9 at offset 3)"),
])
def test_unusable_text_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        data_module.load(str(path))


def test_tiny_shakespeare_not_prepared_says_how(tmp_path):
    with pytest.raises(DataError, match="twinnets prepare tiny_shakespeare"):
        data_module.load("tiny_shakespeare", data_dir=str(tmp_path))
