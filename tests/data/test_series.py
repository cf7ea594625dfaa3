"""common.data.series: a user's CSV column as a series (`--dataset path.csv --column NAME`), and what it refuses."""
import numpy as np
import pytest

from common import data as data_module
from common.data import DataError


def write(tmp_path, text, name="prices.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_csv_column_in_file_order(tmp_path):
    values = 20 + np.sin(np.arange(200) / 5.0)
    text = "date,price,volume\n" + "".join(f"d{i}, {v:.6f} ,{i * 3}\n" for i, v in enumerate(values)) + "\n"
    data = data_module.load(write(tmp_path, text), window=6, horizon=2, column="price")
    assert data.info.name == "prices.csv" and data.info.task == "forecast" and data.period == 0
    np.testing.assert_allclose(np.concatenate([data.parts[p] for p in ("train", "val", "test")]), values, atol=1e-6)
    assert data.mean == pytest.approx(values[:140].mean(), abs=1e-6)  # the training part's 70%
    other = data_module.load(write(tmp_path, text), window=6, horizon=2, column="volume")
    assert other.parts["train"][3] == 9.0


@pytest.mark.parametrize("text,column,message", [
    ("a,b\n1,2\n", "c", "prices.csv has no column 'c' (its columns: a, b)"),
    ("a,b\n1,2\n3,x7\n", "b", "column 'b' holds 'x7' on line 3, not a number"),
    ("a,b\n1,2\n3,\n", "b", "column 'b' holds '' on line 3, not a number"),
    ("a,b\n1,2\n3,nan\n", "b", "column 'b' holds 'nan' on line 3, not a finite number"),
    ("", "b", "is empty: expected a header row"),
    ("a,b\n" + "1,5\n" * 400, "b", "the training part of the series is constant (5)"),
    ("a,b\n" + "".join(f"{i},{i}\n" for i in range(30)), "b",
     "30 values give a training part of 21, shorter than window + horizon = 24 + 10 = 34"),
], ids=["no such column", "text", "blank", "nan", "empty file", "constant", "too short"])
def test_bad_csv_files_say_what_is_wrong(tmp_path, text, column, message):
    with pytest.raises(DataError) as error:
        data_module.load(write(tmp_path, text), window=24, horizon=10, column=column)
    assert message in str(error.value)


def test_a_missing_file_or_no_column(tmp_path):
    with pytest.raises(DataError, match="no such dataset file"):
        data_module.load(str(tmp_path / "absent.csv"), column="b")
    with pytest.raises(DataError, match="name the column to forecast with --column NAME"):
        data_module.load(write(tmp_path, "a,b\n1,2\n"))
