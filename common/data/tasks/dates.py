"""Dates written the ways people write them, to be translated into ISO 8601: `dates`.

    "tuesday 8 december 2026", "12/8/26", "Dec 8, 2026", "8.12.2026", "8 dec 2026",
    "December 8, 2026", "2026-12-08", "Tue, 08 Dec 2026"   ->   "2026-12-08"

The seq2seq network's default task: a known answer for every input, character by
character. Dates are drawn from 1950-01-01 .. 2049-12-31 (two-digit years: 50-99 are
19xx, 00-49 are 20xx), each written in one of FORMATS at random, from the fixed
DATES_SEED. The split is by date: the test and validation dates (and so every test
date-format pair) occur in no training pair, in any format; every format occurs in
training (checked). The seq2seq config's train_pairs takes the first pairs of the
training pool (common/seq2seq.py).
"""
import datetime

import numpy as np

from common.data.core import DataError

NAMES = ("dates",)
DATES_SIZES = (12000, 500, 1000)  # training pool, validation, test pairs (distinct dates, no date in two splits)
DATES_SEED = 2026  # fixed, like SPLIT_SEED: every run sees the same pairs
FIRST_DAY, LAST_DAY = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
FORMATS = {
    "weekday day month year": lambda d: f"{WEEKDAYS[d.weekday()]} {d.day} {MONTHS[d.month - 1]} {d.year}",
    "m/d/yy": lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}",
    "Mon d, yyyy": lambda d: f"{MONTHS[d.month - 1][:3].title()} {d.day}, {d.year}",
    "d.m.yyyy": lambda d: f"{d.day}.{d.month}.{d.year}",
    "d mon yyyy": lambda d: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    "Month d, yyyy": lambda d: f"{MONTHS[d.month - 1].title()} {d.day}, {d.year}",
    "iso": lambda d: d.isoformat(),
    "rfc 2822": lambda d: f"{WEEKDAYS[d.weekday()][:3].title()}, {d.day:02d} {MONTHS[d.month - 1][:3].title()} {d.year}",
}


def matches(name):
    return name == "dates"


def load(name, options):
    from common.data.pairs import translation_data

    return translation_data(name, dates_texts(), options)


def dates_texts(sizes=DATES_SIZES, seed=DATES_SEED):
    """{"train" | "val" | "test": (written dates, ISO dates)}: distinct dates, each in a random format."""
    rng = np.random.default_rng(seed)
    days = (LAST_DAY - FIRST_DAY).days + 1
    offsets = rng.choice(days, size=sum(sizes), replace=False)  # distinct dates: none in two splits
    formats = rng.integers(0, len(FORMATS), size=sum(sizes))
    writers = list(FORMATS.values())
    texts, start = {}, 0
    for split, size in zip(("train", "val", "test"), sizes):
        dates = [FIRST_DAY + datetime.timedelta(days=int(offset)) for offset in offsets[start:start + size]]
        texts[split] = ([writers[f](date) for f, date in zip(formats[start:start + size], dates)],
                        [date.isoformat() for date in dates])
        start += size
    missing = set(range(len(FORMATS))) - set(formats[:sizes[0]].tolist())
    if missing:  # cannot happen at the default sizes; a smaller pool must still show every format
        raise DataError(f"dates: the training pool of {sizes[0]} pairs misses formats {sorted(missing)}")
    return texts
