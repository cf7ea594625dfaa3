"""Time-series forecasting in raw TensorFlow: an LSTM over a window of past values -> the next H values at once.

    window (batch, window, 1) -> [layers.Recurrent(LSTMCell)] per layer (all but the last return sequences)
                              -> h @ W + b: the next H values, one output each (direct multi-output)

The network of keras-io's timeseries_weather_forecasting written out: the LSTM cell is
tf_impl.layers.LSTMCell (gates i, f, c, o; forget bias 1), run over the window by
tf_impl.layers.Recurrent (a tf.while_loop), its last output mapped to H values by a dense
layer; the loss is the batch mean of the squared error over the H outputs (tf_impl/supervised.py,
task "regression"), the step and the epoch loop tf_impl/supervised.py's and tf_impl/loop.py's.
The series is normalised with the training part's mean and std (common/data/series.py); the
forecasts are mapped back to the series' units before common/forecasting.py scores them
against persistence. What --export serves (`Forecast`) takes windows in the series' units
and returns forecasts in them.
Hyperparameters: common.configs.ForecasterConfig. Twin: keras_impl/forecaster.py.
"""
import sys

import numpy as np
import tensorflow as tf

from common import cli, forecasting
from tf_impl import layers, loop, optim, supervised

NETWORK = "forecaster"


def build(config, window=None):
    """The forecaster on normalised values: (batch, window, 1) -> (batch, horizon). `window` is implied by the
    input (the LSTM reads any length); taken for the Keras twin's signature."""
    rng = np.random.default_rng(config.seed)
    stack, width = [], 1  # one feature per step
    for index, units in enumerate(config.units):
        cell = layers.LSTMCell(width, units, rng=rng)
        stack.append(layers.Recurrent(cell, return_sequences=index < len(config.units) - 1))
        width = units
    stack.append(layers.Dense(width, config.horizon, rng=rng))  # the next H values, linear
    return layers.Sequential(stack, name=NETWORK)


class Forecast(tf.Module):
    """What --export serves: windows in the series' units (batch, window, 1) -> forecasts in them (batch, H)."""

    def __init__(self, model, mean, std):
        super().__init__(name="forecast")
        self.forecaster, self.mean, self.std = model, float(mean), float(std)

    def __call__(self, x, training=False):
        return self.forecaster((x - self.mean) / self.std, training=training) * self.std + self.mean


def train(config, data, *, verbose=1, out_dir=None, checkpoint_dir=None, tensorboard_dir=None):
    data = forecasting.require_series(NETWORK, data)
    tf.random.set_seed(config.seed)  # same global seed as keras.utils.set_random_seed: same shuffles
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        model = build(config, data.window)
        optimizer = optim.from_config(config, steps_per_epoch=loop.steps_of(data.train))
        optimizer.build(model.trainable_weights)
    train_batches = strategy.experimental_distribute_dataset(data.train)  # reshuffled per pass
    train_step = supervised.make_train_step(model, optimizer, strategy, train_batches.element_spec, "regression")
    predict = supervised.make_predict(model)

    def validate():
        forecasts = predict(data.val)
        return {"val_loss": float(tf.reduce_mean(supervised.per_example_loss(tf.constant(forecasts), data.y_val,
                                                                            "regression")))}

    history, epochs_run, seconds = loop.train_and_save(
        NETWORK, config, data, model, optimizer, train_step, train_batches, validate, verbose=verbose, out_dir=out_dir,
        checkpoint_dir=checkpoint_dir, tensorboard_dir=tensorboard_dir)
    return forecasting.scored_result(
        NETWORK, "tf", config, data, predict(data.test), history=history, epochs_run=epochs_run, seconds=seconds,
        model=Forecast(model, data.mean, data.std), model_input=(data.info.input_shape, "float32"),
    )


def main(argv=None):
    return cli.run_network(NETWORK, "tf", argv)


if __name__ == "__main__":
    sys.exit(main())
