"""Time-series forecasting in Keras: an LSTM over a window of past values -> the next H values at once.

    window (batch, window, 1) -> [LSTM(units)] per layer (all but the last return sequences)
                              -> Dense(H): the next H values, one output each (direct multi-output)

keras-io's timeseries_weather_forecasting, on one series: windows of the past
(common/data/series.py cuts them, as keras.utils.timeseries_dataset_from_array would), an
LSTM (Hochreiter & Schmidhuber 1997) whose last output a Dense layer maps to the forecasts,
mean squared error, `fit`. The series is normalised with the training part's mean and std
(shared code, common/data/series.py); the forecasts are mapped back to the series' units
before common/forecasting.py scores them against persistence (the last value repeated).
The LSTM layer is keras_impl/lstm.py's. What --export serves (`Forecast`) takes windows
in the series' units and returns forecasts in them.
Hyperparameters: common.configs.ForecasterConfig. Twin: tf_impl/forecaster.py.
"""
import sys

import keras

from common import cli, forecasting
from keras_impl import supervised
from keras_impl.lstm import lstm_layer

NETWORK = "forecaster"


def build(config, window=None):
    """The forecaster on normalised values: (batch, window, 1) -> (batch, horizon)."""
    stack = [keras.Input(shape=(window or config.window, 1))]
    for index, units in enumerate(config.units):
        stack.append(lstm_layer(units, return_sequences=index < len(config.units) - 1))
    stack.append(keras.layers.Dense(config.horizon))  # the next H values, linear
    model = keras.Sequential(stack, name=NETWORK)
    return supervised.compile_regressor(model, config)  # mean squared error over the H outputs


class Forecast(keras.Model):
    """What --export serves: windows in the series' units (batch, window, 1) -> forecasts in them (batch, H)."""

    def __init__(self, model, mean, std):
        super().__init__(name="forecast")
        self.forecaster, self.mean, self.std = model, float(mean), float(std)
        self.built = True  # no weights of its own: the trained model's

    def call(self, x):
        return self.forecaster((x - self.mean) / self.std) * self.std + self.mean


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    data = forecasting.require_series(NETWORK, data)
    keras.utils.set_random_seed(config.seed)
    model = build(config, data.window)  # a constant learning rate (common/registry.py: not a scheduled family)
    return supervised.fit_and_score(NETWORK, config, data, model, forecasting.scored_result, verbose=verbose,
                                    out_dir=out_dir, checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir,
                                    served=Forecast(model, data.mean, data.std),
                                    model_input=(data.info.input_shape, "float32"))


def main(argv=None):
    return cli.run_network(NETWORK, "keras", argv)


if __name__ == "__main__":
    sys.exit(main())
