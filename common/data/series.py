"""Time series for the forecaster: one series split by time, normalised, cut into windows; and `path.csv`.

    series s_0 .. s_{L-1}  ->  train | validation | test      contiguous parts, in time order, never shuffled across
    z = (s - mean) / std                                      mean and std of the TRAINING part only, applied to all
    window i of a part:  x = z[i : i + window]                (window, 1): the past values
                         y = z[i + window : i + window + H]   (H,): the next H values (direct multi-output)

Windows are cut after splitting, so no window straddles two parts, and within a part they
slide by one step (keras.utils.timeseries_dataset_from_array's sequence_stride 1). Only the
training windows are shuffled (common.data.core.Data.train), as `fit` does. The forecasts
are de-normalised (`SeriesData.denormalise`) before common.evaluate scores them, in the
series' own units.

Sources built on this module: tasks/mackey_glass.py (the default), tasks/sine.py (a noisy
sine with trend, its period known) and a user's CSV file here: `--dataset path.csv --column NAME`,
one column of a CSV with a header row, rows in time order.
"""
import csv
import os
from dataclasses import dataclass

import numpy as np

from common.data.core import Data, DataError, DataInfo

NAMES = ("path/to/file.csv",)
FRACTIONS = (0.7, 0.1, 0.2)  # train, validation, test: shares of the series, in time order
DEFAULT_WINDOW = 16  # options.window when the caller gives none: ForecasterConfig's default (a test checks it)
DEFAULT_HORIZON = 10  # options.horizon likewise: ForecasterConfig's default H


@dataclass
class SeriesData(Data):
    """Data of windows, with what scoring needs: the normalisation, the parts in original units, the period."""

    mean: float = 0.0  # of the training part: z = (s - mean) / std
    std: float = 1.0
    parts: dict = None  # {"train", "val", "test"}: the series' parts, original units, time order
    window: int = 0
    horizon: int = 0
    period: int = 0  # the season in steps where one is known (sine: yes; Mackey-Glass, CSV: 0, none)

    def denormalise(self, z):
        return np.asarray(z, dtype=np.float64) * self.std + self.mean


def matches(name):
    return name.endswith(".csv")


def load(path, options):
    return windowed(os.path.basename(path), read_column(path, options.column), options, period=0)


def read_column(path, column):
    """The column `column` of the CSV file at `path` as float64, in file order; one DataError per problem."""
    if not column:
        raise DataError(f"{path}: name the column to forecast with --column NAME")
    if not os.path.isfile(path):
        raise DataError(f"no such dataset file: {path}")
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            rows = csv.reader(stream)
            header = next(rows, None)
            if header is None:
                raise DataError(f"{path} is empty: expected a header row, then one row per time step")
            header = [name.strip() for name in header]
            if column not in header:
                raise DataError(f"{path} has no column {column!r} (its columns: {', '.join(header)})")
            index = header.index(column)
            values = []
            for line, row in enumerate(rows, start=2):
                if not row:
                    continue  # a blank line, e.g. at the end
                text = row[index].strip() if index < len(row) else ""
                try:
                    value = float(text)
                except ValueError:
                    raise DataError(f"{path}: column {column!r} holds {text!r} on line {line}, not a number") from None
                if not np.isfinite(value):
                    raise DataError(f"{path}: column {column!r} holds {text!r} on line {line}, not a finite number")
                values.append(value)
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: not a readable CSV file ({type(error).__name__}: {error})") from None
    return np.asarray(values, dtype=np.float64)


def split_by_time(series, fractions=FRACTIONS):
    """Three contiguous parts of `series` (train, validation, test), in time order."""
    n_train = int(round(fractions[0] * len(series)))
    n_val = int(round(fractions[1] * len(series)))
    return series[:n_train], series[n_train:n_train + n_val], series[n_train + n_val:]


def windows(z, window, horizon):
    """(x (N, window, 1), y (N, horizon)) of every window of z, sliding by one step."""
    count = len(z) - window - horizon + 1
    starts = np.arange(count)[:, np.newaxis]
    x = z[starts + np.arange(window)]  # (N, window)
    y = z[starts + window + np.arange(horizon)]  # (N, horizon)
    return x[..., np.newaxis], y  # (N, window) -> (N, window, 1): one feature per step


def windowed(name, series, options, period=0):
    """SeriesData of `series`: split by time, normalised on the training part, cut into windows."""
    window = options.window if options.window is not None else DEFAULT_WINDOW
    horizon = options.horizon if options.horizon is not None else DEFAULT_HORIZON
    if window < 1 or horizon < 1:
        raise DataError(f"window and horizon must be at least 1, got window {window}, horizon {horizon}")
    series = np.asarray(series, dtype=np.float64)
    parts = dict(zip(("train", "val", "test"), split_by_time(series)))
    needed = window + horizon
    for part, values in parts.items():
        if len(values) < needed:
            part = {"train": "training", "val": "validation", "test": "test"}[part]
            raise DataError(
                f"{name}: the series is too short: {len(series)} values give a {part} part of {len(values)}, shorter "
                f"than window + horizon = {window} + {horizon} = {needed} (the parts are {', '.join(map(str, FRACTIONS))} "
                f"of the series, so it needs at least {int(np.ceil(needed / min(FRACTIONS)))} values)")
    mean, std = float(parts["train"].mean()), float(parts["train"].std())
    if not std > 0:
        raise DataError(f"{name}: the training part of the series is constant ({mean:g}): nothing to forecast")
    arrays = {part: windows((values - mean) / std, window, horizon) for part, values in parts.items()}
    as_float = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    info = DataInfo(name=name, kind="sequence", input_shape=(window, 1), num_classes=horizon,  # the outputs: one per forecast step
                    n_train=len(arrays["train"][0]), n_val=len(arrays["val"][0]), n_test=len(arrays["test"][0]),
                    task="forecast", target_mean=mean, target_std=std)
    return SeriesData(
        x_train=as_float(arrays["train"][0]), y_train=as_float(arrays["train"][1]),
        x_val=as_float(arrays["val"][0]), y_val=as_float(arrays["val"][1]),
        x_test=as_float(arrays["test"][0]), y_test=as_float(arrays["test"][1]),
        info=info, batch_size=options.batch_size, seed=options.seed,
        mean=mean, std=std, parts=parts, window=window, horizon=horizon, period=period,
    )
