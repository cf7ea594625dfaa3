"""common.data.tasks.dates: dates written many ways -> ISO, split by date (seq2seq's default task)."""
import datetime

import pytest

from common import configs
from common import data as data_module
from common.data import DataError
from common.data.tasks import dates


def test_dates_split_keeps_test_dates_out_of_training():
    texts = dates.dates_texts()
    train_dates, test_dates, val_dates = (set(texts[split][1]) for split in ("train", "test", "val"))
    assert not (train_dates & test_dates) and not (train_dates & val_dates) and not (val_dates & test_dates)
    assert [len(texts[split][0]) for split in ("train", "val", "test")] == list(dates.DATES_SIZES)
    for source, iso in zip(*texts["test"]):  # every source writes the date its ISO form says
        day = datetime.date.fromisoformat(iso)
        assert source in [write(day) for write in dates.FORMATS.values()]
    training_pairs = list(zip(*texts["train"]))[:configs.Seq2SeqConfig().train_pairs]  # what the default trains on
    for name, write in dates.FORMATS.items():  # every format in training
        assert any(source == write(datetime.date.fromisoformat(iso)) for source, iso in training_pairs), name
    assert dates.FORMATS["weekday day month year"](datetime.date(2026, 12, 4)) == "friday 4 december 2026"
    assert dates.FORMATS["m/d/yy"](datetime.date(2026, 12, 4)) == "12/4/26"
    data = data_module.load("dates")
    assert data.x_train.shape[0] == dates.DATES_SIZES[0] and data.y_train.shape[1] == 11  # 10 characters + END
    assert data.target_vocabulary.decode(data.y_test[0]) == texts["test"][1][0]


def test_the_same_pairs_every_time_and_a_pool_too_small_for_every_format_is_refused():
    assert dates.dates_texts() == dates.dates_texts()
    with pytest.raises(DataError, match="misses formats"):
        dates.dates_texts(sizes=(3, 1, 1))
