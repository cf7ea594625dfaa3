"""Characters as ids, the same for both implementations and saved with a trained model.

    vocabulary = Vocabulary.from_texts(training_texts)
    ids = vocabulary.encode("2026-12-04", start=True, end=True)   # int32 [1, ..., 2]
    vocabulary.decode(ids)                                          # "2026-12-04"

Ids 0, 1 and 2 are reserved (padding, start of sequence, end of sequence); the characters
take 3, 4, ... in the order given. Built from training text only, so a character met first
at test or generation time is an error that names it, not a silent out-of-vocabulary id.
"""
import json

import numpy as np

from common.data.core import DataError


class Vocabulary:
    PAD, START, END = 0, 1, 2
    RESERVED = ("<pad>", "<start>", "<end>")

    def __init__(self, characters):
        characters = list(characters)
        if any(not isinstance(c, str) or len(c) != 1 for c in characters):
            raise ValueError("a vocabulary holds single characters")
        if len(set(characters)) != len(characters):
            raise ValueError("a vocabulary's characters must be distinct")
        self.characters = "".join(characters)
        self._ids = {c: index + len(self.RESERVED) for index, c in enumerate(characters)}

    @classmethod
    def from_texts(cls, texts):
        """The distinct characters of `texts`, sorted by code point (the same ids on every run)."""
        return cls(sorted(set().union(*map(set, texts))))

    @property
    def size(self):
        """The softmax width: the reserved ids and every character."""
        return len(self.RESERVED) + len(self.characters)

    def encode(self, text, *, start=False, end=False):
        unknown = [c for c in dict.fromkeys(text) if c not in self._ids]
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:5])
            raise DataError(f"{shown} {'is' if len(unknown) == 1 else 'are'} not in the vocabulary "
                            f"(the {len(self.characters)} characters of the training text)")
        ids = [self.START] * start + [self._ids[c] for c in text] + [self.END] * end
        return np.asarray(ids, dtype=np.int32)

    def decode(self, ids):
        """The text of `ids`: stops at the first end id, skips padding and start ids."""
        out = []
        for i in np.asarray(ids).reshape(-1).tolist():
            if i == self.END:
                break
            if i >= len(self.RESERVED):
                out.append(self.characters[i - len(self.RESERVED)])
        return "".join(out)

    def pad(self, id_lists, length=None):
        """Id sequences as one (N, length) int32 array, padded with PAD (length: the longest)."""
        length = max((len(ids) for ids in id_lists), default=0) if length is None else length
        out = np.full((len(id_lists), length), self.PAD, dtype=np.int32)
        for row, ids in zip(out, id_lists):
            ids = np.asarray(ids, dtype=np.int32)[:length]
            row[: len(ids)] = ids
        return out

    def save(self, path):
        with open(path, "w", encoding="utf-8") as stream:
            json.dump({"characters": list(self.characters)}, stream, ensure_ascii=False)

    @classmethod
    def load(cls, path):
        try:
            with open(path, encoding="utf-8") as stream:
                return cls(json.load(stream)["characters"])
        except FileNotFoundError:
            raise DataError(f"no vocabulary at {path}") from None
        except (ValueError, KeyError, TypeError) as error:
            raise DataError(f"{path} is not a twinnets vocabulary file ({error})") from None

    def __eq__(self, other):
        return isinstance(other, Vocabulary) and other.characters == self.characters

    def __repr__(self):
        return f"Vocabulary({self.characters!r})"
