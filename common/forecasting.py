"""What both forecaster implementations share: the data check, scoring and the forecast figure.

keras_impl/forecaster.py and tf_impl/forecaster.py each hand in the normalised forecasts of
their own model on the test windows; from there on it is this module's code for both: the
forecasts de-normalised with the training part's mean and std (common/data/series.py),
scored by common.evaluate.forecasting against persistence (and the seasonal-naive forecast
where a period is known), and the figure's curve: the test series tiled with consecutive,
non-overlapping H-step forecasts.
"""
import numpy as np

from common import evaluate
from common.data import DataError
from common.data.series import SeriesData
from common.results import RunResult


def require_series(network, data):
    if not isinstance(data, SeriesData):
        raise DataError(f"{network} forecasts a time series; {data.info.name} holds {data.info.kind} data: use "
                        "mackey_glass, sine or path/to/file.csv --column NAME")
    return data


def period_of(config, data):
    """The season for the seasonal-naive baseline: --period where given, else the data's own (sine's)."""
    return config.period or data.period


def scores(config, data, normalised_forecasts):
    """common.evaluate.forecasting of the test windows' forecasts, in the series' own units."""
    return evaluate.forecasting(data.denormalise(data.y_test), data.denormalise(normalised_forecasts),
                                data.denormalise(data.x_test), period=period_of(config, data))


def figure_curve(data, normalised_forecasts):
    """{"series": the test part (own units), "start": index of the first forecast value, "forecast": values}:
    the forecasts of windows 0, H, 2H, ... laid end to end, so each value is forecast from at most H steps back."""
    tiled = data.denormalise(normalised_forecasts[::data.horizon]).reshape(-1)  # (N / H, H) -> (N / H * H,)
    return {"series": np.asarray(data.parts["test"]), "start": data.window, "forecast": tiled}


def scored_result(network, impl, config, data, forecasts, *, history, epochs_run, seconds, model, model_input):
    """The RunResult of a trained forecaster from its normalised test forecasts (N, H)."""
    metrics = scores(config, data, forecasts)
    return RunResult.scored(
        network, impl, config, data, "rmse_over_persistence", metrics,
        history=history, epochs_run=epochs_run, seconds=seconds,
        figures={"forecast": figure_curve(data, forecasts)},
        model=model,
        model_input=model_input,
    )
