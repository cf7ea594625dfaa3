"""common.data.pairs: a .tsv of sentence pairs (the Anki/Tatoeba format), split and turned into character ids.
(Bad files through the CLI, exit 2: tests/test_parity_seq2seq.py.)"""
import pytest

from common import data as data_module
from common.data import DataError
from common.data.pairs import read_pairs
from conftest import generated_pairs, pairs_file


def test_tsv_pairs_load_and_split(tmp_path):
    data = data_module.load(pairs_file(tmp_path, [""] + generated_pairs() + ["", "  "]), batch_size=8)
    assert data.info.kind == "pairs" and data.bleu and data.info.name == "pairs.tsv"
    assert (data.info.n_train, data.info.n_val, data.info.n_test) == (43, 5, 12)  # 60: 12 test, 10% of 48 val
    sources = [s for split in data.texts.values() for s in split[0]]
    assert len(set(sources)) == len(sources) or len(sources) == 60
    assert all(s.endswith(" go") for s in sources) and all(t.endswith(" va") for t in data.texts["test"][1])
    assert data.source_vocabulary.decode(data.x_test[0]) == data.texts["test"][0][0]


def test_read_pairs_skips_blank_lines_ignores_the_third_column_and_a_byte_order_mark(tmp_path):
    path = pairs_file(tmp_path, None, raw="\ufeffgo\tva\tCC-BY\n\n  \nhi\tsalut\n".encode("utf-8"))
    assert read_pairs(path) == [("go", "va", 1), ("hi", "salut", 4)]


@pytest.mark.parametrize("raw,message", [
    (b"go\tva\nhello there\n", "line 2: no tab"),
    (b"go\tva\ncaf\xe9\tcafe\n", "is not UTF-8 text: byte 0xe9 on line 2"),
    (b"\tva\n", "line 1: an empty source"),
    (b"\n \n", "holds no sentence pairs"),
])
def test_read_pairs_names_what_is_wrong_and_where(tmp_path, raw, message):
    with pytest.raises(DataError, match=message):
        read_pairs(pairs_file(tmp_path, None, raw=raw))
    with pytest.raises(DataError, match="no such dataset file"):
        read_pairs(str(tmp_path / "missing.tsv"))
