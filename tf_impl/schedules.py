"""Learning-rate schedules, keras.optimizers.schedules written out: ExponentialDecay, CosineDecay (with warm-up).

Each is a callable step -> rate, in float32 as Keras computes it; an optimizer of
tf_impl/optim.py with a `schedule` sets its rate from it before every update.
`schedule_from_config` picks one by TrainConfig.learning_rate_schedule, as
keras_impl/supervised.py's schedule_from_config does.
"""
import math

import tensorflow as tf


class ExponentialDecay:
    """keras.optimizers.schedules.ExponentialDecay (staircase=False):

        lr(step) = initial * decay_rate ** (step / decay_steps)      in float32
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate):
        self.initial_learning_rate, self.decay_steps, self.decay_rate = initial_learning_rate, decay_steps, decay_rate

    def __call__(self, step):
        initial = tf.convert_to_tensor(self.initial_learning_rate)  # float32, as Keras converts it
        progress = tf.cast(step, initial.dtype) / tf.cast(self.decay_steps, initial.dtype)
        return initial * tf.pow(tf.cast(self.decay_rate, initial.dtype), progress)


class CosineDecay:
    """keras.optimizers.schedules.CosineDecay, with its optional linear warm-up (Loshchilov & Hutter 2016):

        without warm-up:  lr(step) = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps)) + alpha)
        with warm-up:     step < warmup_steps:  lr = initial + (warmup_target - initial) * step / warmup_steps
                          after:                the formula above from warmup_target, at step - warmup_steps
                                                (steps capped at decay_steps + warmup_steps)
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0):
        if decay_steps <= 0:
            raise ValueError(f"decay_steps must be > 0, got {decay_steps}")
        self.initial_learning_rate, self.decay_steps, self.alpha = initial_learning_rate, decay_steps, alpha
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    def _decayed(self, step, decay_steps, decay_from, dtype):
        completed = step / decay_steps
        cosine = 0.5 * (1.0 + tf.cos(tf.constant(math.pi, dtype) * completed))
        return decay_from * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step):
        initial = tf.convert_to_tensor(self.initial_learning_rate)
        dtype = initial.dtype
        decay_steps = tf.cast(self.decay_steps, dtype)
        step = tf.cast(step, dtype)
        if self.warmup_target is None:
            return self._decayed(tf.minimum(step, decay_steps), decay_steps, initial, dtype)
        target, warmup_steps = tf.cast(self.warmup_target, dtype), tf.cast(self.warmup_steps, dtype)
        step = tf.minimum(step, decay_steps + warmup_steps)
        return tf.cond(step < warmup_steps,
                       lambda: (target - initial) * (step / warmup_steps) + initial,
                       lambda: self._decayed(step - warmup_steps, decay_steps, target, dtype))


def schedule_from_config(config, steps_per_epoch):
    """The schedule a config names (None for a constant rate), in steps: keras_impl's twin of the same name."""
    if config.learning_rate_schedule == "exponential":
        return ExponentialDecay(config.learning_rate, decay_steps=steps_per_epoch, decay_rate=config.decay_rate)
    if config.learning_rate_schedule == "cosine":
        decay_steps = (config.epochs - config.warmup_epochs) * steps_per_epoch
        if config.warmup_epochs:  # from 0 up to learning_rate, then down
            return CosineDecay(0.0, decay_steps, warmup_target=config.learning_rate,
                               warmup_steps=config.warmup_epochs * steps_per_epoch)
        return CosineDecay(config.learning_rate, decay_steps)
    return None
