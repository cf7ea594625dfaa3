"""CoNLL-2003 files (common/data/conll.py): read, split, encoded; bad input is one clear DataError (and exit 2)."""
import numpy as np
import pytest

from common import data as data_module
from common import tagging
from common.data import DataError
from common.data.conll import OUT_OF_VOCABULARY, WordVocabulary, read_conll
from conftest import run_main

HEADER = "-DOCSTART- -X- -X- O\n\n"
# Four columns as in CoNLL-2003 (token, part of speech, chunk, entity tag), MISC entities, an IOB1-style I- start.
SENTENCES = [
    [("EU", "NNP", "B-NP", "B-ORG"), ("rejects", "VBZ", "B-VP", "O"), ("German", "JJ", "B-NP", "B-MISC"),
     ("call", "NN", "I-NP", "O"), (".", ".", "O", "O")],
    [("Peter", "NNP", "B-NP", "B-PER"), ("Blackburn", "NNP", "I-NP", "I-PER")],
    [("BRUSSELS", "NNP", "B-NP", "B-LOC"), ("1996-08-22", "CD", "I-NP", "O")],
    [("Germany", "NNP", "B-NP", "I-LOC"), ("'s", "POS", "B-NP", "O"), ("representative", "NN", "I-NP", "O")],
]


def conll_text(sentences, header=HEADER):
    return header + "\n\n".join("\n".join(" ".join(columns) for columns in sentence) for sentence in sentences) + "\n"


def conll_file(tmp_path, sentences=None, count=30, name="corpus.conll", text=None, raw=None):
    """A .conll file: `count` sentences cycling through SENTENCES (or `sentences`), or the given text / bytes."""
    path = tmp_path / name
    if raw is None:
        if text is None:
            chosen = sentences or [SENTENCES[index % len(SENTENCES)] for index in range(count)]
            text = conll_text(chosen)
        raw = text.encode("utf-8")
    path.write_bytes(raw)
    return str(path)


def test_a_conll_file_is_read_split_and_encoded(tmp_path):
    data = data_module.load(conll_file(tmp_path, count=40), batch_size=8)
    assert data.info.name == "corpus.conll" and data.info.task == "tagging" and data.info.kind == "tokens"
    assert (data.info.n_train, data.info.n_val, data.info.n_test) == (29, 3, 8)  # 20% test, 10% of the rest val
    assert data.tags == ("<pad>", "O", "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-PER")
    assert data.info.num_classes == 8 and data.info.input_shape == (5,)  # the longest sentence
    first = data.sentences["train"][0][0]
    assert first in [[columns[0] for columns in sentence] for sentence in SENTENCES]
    for split in ("train", "val", "test"):  # the tags of the last column, the tokens of the first, in order
        tokens, tags = data.sentences[split]
        for sentence_tokens, sentence_tags in zip(tokens, tags):
            original = next(s for s in SENTENCES if [c[0] for c in s] == sentence_tokens)
            assert sentence_tags == [c[-1] for c in original]
        assert tagging.true_tags(data, split) == tags
    x, y = next(iter(data.train))
    assert x.shape[1] == 5 and y.shape == x.shape


def test_the_vocabulary_is_the_training_words_seen_min_count_times():
    sentences = [["a", "b", "a"], ["c", "a", "b"], ["d"]]
    vocabulary = WordVocabulary.from_sentences(sentences, min_count=2)
    assert vocabulary.words == ["a", "b"] and vocabulary.size == 4  # most frequent first; c and d once only
    np.testing.assert_array_equal(vocabulary.encode(["b", "a", "c", "zebra"]), [3, 2, OUT_OF_VOCABULARY, 1])
    assert WordVocabulary.from_sentences(sentences, min_count=1).words == ["a", "b", "c", "d"]


def test_min_count_reaches_the_vocabulary_through_load(tmp_path):
    path = conll_file(tmp_path, count=40)
    sizes = {count: data_module.load(path, min_count=count).info.vocabulary_size for count in (1, 2, 100)}
    assert sizes[1] >= sizes[2] > sizes[100] == 2  # at 100 every word is out of vocabulary


def test_read_conll_skips_docstart_and_blank_lines_and_a_byte_order_mark(tmp_path):
    text = "\ufeff" + HEADER + "\n\n" + conll_text(SENTENCES[:2], header="") + "\n\n" + HEADER + "\n\n"
    assert read_conll(conll_file(tmp_path, text=text)) == [
        ([c[0] for c in SENTENCES[0]], [c[-1] for c in SENTENCES[0]]),
        ([c[0] for c in SENTENCES[1]], [c[-1] for c in SENTENCES[1]]),
    ]
    two_columns = "Paris B-LOC\nis O\nnice O\n"  # the tag is the last column, whatever the count
    assert read_conll(conll_file(tmp_path, text=two_columns, name="two.conll")) == [
        (["Paris", "is", "nice"], ["B-LOC", "O", "O"])]


BAD = {
    # case: (file text or bytes, a piece of the one-line message)
    "tag outside IOB": ("EU NNP B-NP B-ORG\nrejects VBZ B-VP X-PER\n", "line 2: 'X-PER' is not an IOB tag"),
    "tag without a type": ("EU B-\n", "line 1: 'B-' is not an IOB tag"),
    "lower-case tag": ("EU per\n", "line 1: 'per' is not an IOB tag"),
    "a line without a tag": ("EU B-ORG\nrejects\n", "line 2: no tag after the token 'rejects'"),
    "empty file": ("", "holds no tagged sentences"),
    "only a document start": (HEADER, "holds no tagged sentences"),
    "too few sentences": ("EU B-ORG\n\nrejects O\n", "2 sentences are too few to split"),
    "not UTF-8": (b"EU B-ORG\nM\xfcnchen B-LOC\n", "is not UTF-8 text: byte 0xfc on line 2"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_are_one_clear_data_error(case, tmp_path):
    content, message = BAD[case]
    path = conll_file(tmp_path, **({"raw": content} if isinstance(content, bytes) else {"text": content}))
    with pytest.raises(DataError) as raised:
        data_module.load(path)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="no such dataset file"):
        data_module.load(str(tmp_path / "absent.conll"))


@pytest.mark.parametrize("case", ["tag outside IOB", "a line without a tag", "empty file"])
def test_bad_files_exit_2_with_one_line_from_the_cli(case, tmp_path, capsys):
    content, message = BAD[case]
    impl = ("keras", "tf")[list(BAD).index(case) % 2]
    out = tmp_path / "out"
    code, _, err = run_main(capsys, ["train", "tagger", "--impl", impl, "--dataset", conll_file(tmp_path, text=content),
                                     "--epochs", "1", "--out", str(out)])
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and message in lines[0] and "Traceback" not in err
    assert not out.exists() or list(out.iterdir()) == []


def test_other_networks_refuse_tagged_sentences_and_the_tagger_other_data(tmp_path, capsys):
    path = conll_file(tmp_path)
    code, _, err = run_main(capsys, ["train", "lstm", "--impl", "tf", "--dataset", path, "--epochs", "1",
                                     "--out", str(tmp_path / "out")])
    assert code == 2 and "corpus.conll holds tagged sentences: train tagger on it" in err
    code, _, err = run_main(capsys, ["train", "tagger", "--impl", "keras", "--dataset", "digits", "--epochs", "1",
                                     "--out", str(tmp_path / "out")])
    assert code == 2 and "tagger tags the tokens of sentences" in err and err.count("\n") == 1
