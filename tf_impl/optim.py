"""SGD (with momentum, optionally Nesterov's), RMSprop, Adagrad, Adam and AdamW, written out to match
keras.optimizers numerics exactly.

    optimizer = Adam(learning_rate=1e-3)
    optimizer.build(model.trainable_weights)   # slots, created eagerly under the strategy scope
    optimizer.apply(gradients, model.trainable_weights)   # inside the compiled step

The update rules are those of Keras 3 (keras/src/optimizers/{sgd,rmsprop,adagrad,adam,adamw}.py),
each written as a formula in its class's docstring; `from_config` picks one by TrainConfig.optimizer
(sgd | adam | rmsprop | adagrad | adamw), as keras_impl/supervised.py's optimizer_from_config does.

A sparse gradient (tf.IndexedSlices, from an embedding lookup) is used as Keras uses it. Keras's ops
keep slices sparse through squares and products with a scalar or a gathered dense value, and densify
them (summing the rows of a token that occurs several times in the batch) only where a slice meets a
dense tensor in a sum; an update left sparse is scattered, one row per occurrence. So, e.g., Adam's
g^2 is a sum of squares, not the square of the sum, and SGD subtracts lr * g row by row. `Sparse`
below does those steps in the same order, so the twins round alike.

Under a tf.distribute strategy with several replicas, `apply` is called in replica
context: the gradients are summed across replicas (each replica's loss was already
divided by the global batch, so the sum is the global mean's gradient), and the
update runs once per variable through `strategy.extended.update`.

Mixed float16 (--precision mixed_float16) wraps the optimizer in LossScaleOptimizer,
dynamic loss scaling as keras.optimizers.LossScaleOptimizer does it (rule in its docstring).

An optimizer may follow a learning-rate schedule (tf_impl/schedules.py): as in Keras, it
sets its rate from the steps already taken, `schedule(iterations)`, before each update:
the first step uses schedule(0).
"""
import tensorflow as tf

from tf_impl.schedules import schedule_from_config


class Optimizer(tf.Module):
    def __init__(self, learning_rate, name=None):
        super().__init__(name=name)
        # Variables, so a schedule or a fine-tuning phase can change them without retracing.
        self.learning_rate = tf.Variable(float(learning_rate), trainable=False, name="learning_rate")
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self.schedule = None  # step -> learning rate (ExponentialDecay, CosineDecay), or None for a constant rate
        self._slots = {}

    def slot_names(self):
        return ()

    def initial_slot_value(self, name):
        return 0.0

    def build(self, variables):
        """Create the per-variable state (zeros, or the optimizer's initial value), once per variable."""
        for variable in variables:
            if variable.ref() in self._slots:
                continue
            self._slots[variable.ref()] = {
                name: tf.Variable(tf.zeros_like(variable) + self.initial_slot_value(name), trainable=False,
                                  name=f"{name}")
                for name in self.slot_names()
            }

    def state(self):
        """What a checkpoint must keep (tf_impl/loop.py Checkpoint): learning rate, step count, every slot.

        The slots live in a dict keyed by variable references, which tf.train.Checkpoint cannot
        track; this lists them in build order, the same order in every run of the same model.
        """
        slots = [slot for per_variable in self._slots.values() for slot in per_variable.values()]
        return tf.train.Checkpoint(learning_rate=self.learning_rate, iterations=self.iterations, slots=slots)

    def scale_loss(self, loss):
        """The loss to differentiate: the loss itself (LossScaleOptimizer multiplies it by its scale)."""
        return loss

    def apply(self, gradients, variables):
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, list(gradients))
            context.merge_call(self._apply_cross_replica, args=(gradients, list(variables)))
        else:
            self._apply_local(gradients, variables)

    def current_learning_rate(self):
        """The rate of the next step (what Keras's optimizer.learning_rate reads): schedule(iterations) or the rate."""
        return self.schedule(self.iterations) if self.schedule is not None else tf.convert_to_tensor(self.learning_rate)

    def follow_schedule(self):
        """learning_rate = schedule(steps taken so far); nothing without a schedule."""
        if self.schedule is not None:
            self.learning_rate.assign(self.schedule(self.iterations))

    def _apply_cross_replica(self, strategy, gradients, variables):
        self.follow_schedule()  # cross-replica context: the mirrored rate is set on every device
        for gradient, variable in zip(gradients, variables):
            slots = self._slots[variable.ref()]
            # fn runs once per device on that device's copy of the variable and its slots
            strategy.extended.update(variable, self._update, args=(gradient, slots))
        strategy.extended.update(self.iterations, lambda iterations: iterations.assign_add(1))

    def _apply_local(self, gradients, variables):
        self.follow_schedule()
        for gradient, variable in zip(gradients, variables):
            self._update(variable, gradient, self._slots[variable.ref()])
        self.iterations.assign_add(1)

    def _update(self, variable, gradient, slots):
        raise NotImplementedError


class Sparse:
    """Keras's ops on a gradient that may be tf.IndexedSlices (keras/src/backend/tensorflow/sparse.py),
    for the steps the optimizers take; a dense gradient goes through the plain op."""

    @staticmethod
    def times(gradient, factor):
        """gradient * a scalar factor: the slices stay slices."""
        if isinstance(gradient, tf.IndexedSlices):
            return tf.IndexedSlices(gradient.values * factor, gradient.indices, gradient.dense_shape)
        return gradient * factor

    @staticmethod
    def square(gradient):
        """Each slice squared: a repeated row contributes the sum of its squares once densified."""
        if isinstance(gradient, tf.IndexedSlices):
            return tf.IndexedSlices(tf.square(gradient.values), gradient.indices, gradient.dense_shape)
        return tf.square(gradient)

    @staticmethod
    def over(gradient, divisor):
        """gradient / a dense divisor (positive everywhere): each slice divided by its row of the divisor."""
        if isinstance(gradient, tf.IndexedSlices):
            return tf.IndexedSlices(gradient.values / tf.gather(divisor, gradient.indices), gradient.indices,
                                    gradient.dense_shape)
        return gradient / divisor

    @staticmethod
    def dense(gradient):
        """Where slices meet a dense tensor in a sum, Keras densifies them: the rows of a repeated index summed."""
        return tf.convert_to_tensor(gradient)

    @staticmethod
    def add_to(variable, update):
        """variable += update; slices scattered one occurrence at a time, as Keras's assign_add does."""
        if isinstance(update, tf.IndexedSlices):
            return variable.scatter_add(update)
        return variable.assign_add(update)

    @staticmethod
    def subtract_from(variable, update):
        """variable -= update; slices scattered one occurrence at a time, as Keras's assign_sub does."""
        if isinstance(update, tf.IndexedSlices):
            return variable.scatter_sub(update)
        return variable.assign_sub(update)


class SGD(Optimizer):
    """Stochastic gradient descent, with momentum mu and optionally Nesterov's look-ahead (keras.optimizers.SGD):

        mu = 0:            w -= lr * g
        mu > 0:            m = mu * m - lr * g;  w += m
        mu > 0, nesterov:  m = mu * m - lr * g;  w += mu * m - lr * g

    (nesterov with mu = 0 is plain SGD, as in Keras.)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name=None):
        super().__init__(learning_rate, name=name)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)

    def slot_names(self):
        return ("momentum",) if self.momentum else ()

    def _update(self, variable, gradient, slots):
        step = Sparse.times(gradient, self.learning_rate)  # lr * g
        if not self.momentum:
            return Sparse.subtract_from(variable, step)
        velocity = slots["momentum"]
        velocity.assign(velocity * self.momentum - Sparse.dense(step))
        if self.nesterov:
            return variable.assign_add(velocity * self.momentum - Sparse.dense(step))
        return variable.assign_add(velocity)


class RMSprop(Optimizer):
    """Divide the gradient by a running root mean square of its recent values (keras.optimizers.RMSprop):

        v = rho * v + (1 - rho) * g^2
        centered:      a = rho * a + (1 - rho) * g;  d = v - a^2 + eps      (else d = v + eps)
        step = lr * g / sqrt(d)                      eps = 1e-7, inside the sqrt
        momentum mu:   s = mu * s + step;  w -= s                           (mu = 0: w -= step)
    """

    def __init__(self, learning_rate=1e-3, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, name=None):
        super().__init__(learning_rate, name=name)
        self.rho, self.momentum, self.epsilon, self.centered = rho, float(momentum), epsilon, bool(centered)

    def slot_names(self):
        return ("velocity",) + (("momentum",) if self.momentum else ()) + \
            (("average_gradient",) if self.centered else ())

    def _update(self, variable, gradient, slots):
        velocity = slots["velocity"]
        velocity.assign(self.rho * velocity + Sparse.dense(Sparse.times(Sparse.square(gradient), 1 - self.rho)))
        if self.centered:
            average = slots["average_gradient"]
            average.assign(self.rho * average + Sparse.dense(Sparse.times(gradient, 1 - self.rho)))
            denominator = velocity - tf.square(average) + self.epsilon
        else:
            denominator = velocity + self.epsilon
        step = Sparse.over(Sparse.times(gradient, self.learning_rate), tf.sqrt(denominator))
        if not self.momentum:
            return Sparse.subtract_from(variable, step)
        accumulated = slots["momentum"]
        accumulated.assign(self.momentum * accumulated + Sparse.dense(step))
        return variable.assign_sub(accumulated)


class Adagrad(Optimizer):
    """Per-parameter steps that shrink with the squared gradients seen so far (keras.optimizers.Adagrad):

        a += g^2                        a starts at 0.1 (initial_accumulator_value)
        w -= lr * g / sqrt(a + eps)     eps = 1e-7, inside the sqrt
    """

    def __init__(self, learning_rate=1e-3, initial_accumulator_value=0.1, epsilon=1e-7, name=None):
        super().__init__(learning_rate, name=name)
        self.initial_accumulator_value, self.epsilon = float(initial_accumulator_value), epsilon

    def slot_names(self):
        return ("accumulator",)

    def initial_slot_value(self, name):
        return self.initial_accumulator_value

    def _update(self, variable, gradient, slots):
        accumulator = slots["accumulator"]
        Sparse.add_to(accumulator, Sparse.square(gradient))
        step = Sparse.over(Sparse.times(gradient, self.learning_rate), tf.sqrt(accumulator + self.epsilon))
        return Sparse.subtract_from(variable, step)


class Adam(Optimizer):
    """Adaptive moment estimation (keras.optimizers.Adam), step t >= 1:

        m += (g - m) * (1 - b1);  v += (g^2 - v) * (1 - b2)
        lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t)
        w -= lr_t * m / (sqrt(v) + eps)      eps = 1e-7, outside the sqrt
    """

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None):
        super().__init__(learning_rate, name=name)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def slot_names(self):
        return ("m", "v")

    def _update(self, variable, gradient, slots):
        m, v = slots["m"], slots["v"]
        step = tf.cast(self.iterations + 1, variable.dtype)
        alpha = self.learning_rate * tf.sqrt(1.0 - self.beta_2**step) / (1.0 - self.beta_1**step)
        m.assign_add((Sparse.dense(gradient) - m) * (1.0 - self.beta_1))
        v.assign_add((Sparse.dense(Sparse.square(gradient)) - v) * (1.0 - self.beta_2))
        return variable.assign_sub(m * alpha / (tf.sqrt(v) + self.epsilon))


class AdamW(Adam):
    """Adam with decoupled weight decay wd (keras.optimizers.AdamW; Loshchilov & Hutter 2019):

        w -= w * wd * lr        every variable, every step, before the Adam step (wd = 0.004)
        then Adam's update, above
    """

    def __init__(self, learning_rate=1e-3, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7, name=None):
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, name=name)
        self.weight_decay = float(weight_decay)

    def _update(self, variable, gradient, slots):
        variable.assign_sub(variable * self.weight_decay * self.learning_rate)
        return super()._update(variable, gradient, slots)


def all_finite(gradients):
    """True when no gradient holds an inf or a NaN (a scalar bool tensor)."""
    values = [g.values if isinstance(g, tf.IndexedSlices) else g for g in gradients if g is not None]
    return tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(v)) for v in values]))


def unscale(gradient, scale):
    if isinstance(gradient, tf.IndexedSlices):
        return tf.IndexedSlices(gradient.values / scale, gradient.indices, gradient.dense_shape)
    return gradient / scale


class LossScaleOptimizer(tf.Module):
    """Dynamic loss scaling around another optimizer, keras.optimizers.LossScaleOptimizer's rule written out.

    float16 keeps numbers down to 2**-24 only, so small gradients would underflow to zero in
    the float16 backward pass. The step differentiates `scale_loss(loss)` = loss * scale
    instead, so every intermediate gradient is `scale` times larger, and `apply` then does:

        if every gradient is finite:   inner.apply(g / scale)     (inner iterations += 1)
                                       counter == growth_steps - 1 ? (scale *= 2, counter = 0) : counter += 1
        else (inf or NaN: overflow):   scale *= 0.5, counter = 0  (weights, slots and inner
                                                                  iterations untouched)

    scale starts at 2**15, growth_steps is 2000 (Keras's initial_scale, dynamic_growth_steps);
    both are float32/int64 variables, saved by `state()`. Keras `compile` wraps the optimizer
    in its LossScaleOptimizer by itself when the model's dtype policy is mixed_float16.

    Under a strategy with several replicas the finite check is on the all-reduced gradients,
    so every replica takes the same branch (a tf.cond inside each device's update). Keras
    checks the first replica's own gradients instead: the same branch unless a replica's
    local gradients overflow where the sum does not.
    """

    def __init__(self, inner, initial_scale=2.0**15, growth_steps=2000, name=None):
        super().__init__(name=name)
        self.inner = inner
        self.growth_steps = int(growth_steps)
        self.scale = tf.Variable(float(initial_scale), trainable=False, name="loss_scale")
        self.counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="growth_counter")  # finite steps in a row

    @property
    def learning_rate(self):
        return self.inner.learning_rate

    @property
    def iterations(self):
        """Steps applied (skipped ones not counted), as Keras's LossScaleOptimizer.iterations."""
        return self.inner.iterations

    def current_learning_rate(self):
        return self.inner.current_learning_rate()

    def build(self, variables):
        self.inner.build(variables)

    def state(self):
        """What a checkpoint must keep: the inner optimizer's state, the scale and the growth counter."""
        return tf.train.Checkpoint(inner=self.inner.state(), loss_scale=self.scale, growth_counter=self.counter)

    def scale_loss(self, loss):
        return loss * tf.cast(self.scale, loss.dtype)

    def apply(self, gradients, variables):
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, list(gradients))
            finite = all_finite(gradients)  # the same on every replica: the gradients are the same sums
            context.merge_call(self._apply_cross_replica, args=(gradients, list(variables), finite))
        else:
            finite = all_finite(gradients)
            self.inner.follow_schedule()  # from the inner steps taken: a skipped step does not advance it
            for gradient, variable in zip(gradients, variables):
                self._update_if_finite(variable, gradient, self.inner._slots[variable.ref()], finite)
            self._count_step(self.inner.iterations, finite)
            self._update_scale(self.scale, self.counter, finite)

    def _apply_cross_replica(self, strategy, gradients, variables, finite):
        self.inner.follow_schedule()
        # each fn runs once per device, on that device's copies (finite: that replica's value)
        for gradient, variable in zip(gradients, variables):
            slots = self.inner._slots[variable.ref()]
            strategy.extended.update(variable, self._update_if_finite, args=(gradient, slots, finite))
        strategy.extended.update(self.inner.iterations, self._count_step, args=(finite,))
        strategy.extended.update(self.scale, self._update_scale, args=(self.counter, finite))

    def _update_if_finite(self, variable, gradient, slots, finite):
        def update():
            self.inner._update(variable, unscale(gradient, self.scale), slots)
            return tf.constant(True)

        return tf.cond(finite, update, lambda: tf.constant(False))

    @staticmethod
    def _count_step(iterations, finite):
        return iterations.assign_add(tf.cast(finite, tf.int64))

    def _update_scale(self, scale, counter, finite):
        grow = finite & tf.equal(counter, self.growth_steps - 1)
        scale.assign(tf.where(finite, tf.where(grow, scale * 2.0, scale), scale * 0.5))  # read before assigned
        return counter.assign(tf.where(finite & tf.logical_not(grow), counter + 1, tf.zeros_like(counter)))


def from_config(config, beta_1=0.9, steps_per_epoch=None):
    """The optimizer a config names: the tf_impl twin of keras_impl's optimizer_from_config.

    beta_1: Adam's and AdamW's first-moment decay (the GAN passes its adam_beta_1).
    steps_per_epoch: what a learning-rate schedule counts in (needed when the config names one).
    Under mixed_float16 it is wrapped in LossScaleOptimizer, as Keras `compile` wraps it.
    """
    name = config.optimizer
    if name == "sgd":
        optimizer = SGD(config.learning_rate, momentum=config.momentum, nesterov=config.nesterov)
    elif name == "rmsprop":
        optimizer = RMSprop(config.learning_rate, momentum=config.momentum)
    elif name == "adagrad":
        optimizer = Adagrad(config.learning_rate)
    elif name == "adamw":
        optimizer = AdamW(config.learning_rate, weight_decay=config.weight_decay, beta_1=beta_1)
    elif name == "adam":
        optimizer = Adam(config.learning_rate, beta_1=beta_1)
    else:
        raise ValueError(f"unknown optimizer {name!r}")  # TrainConfig refuses it first
    if config.learning_rate_schedule != "constant":
        if steps_per_epoch is None:
            raise ValueError(f"a {config.learning_rate_schedule} schedule needs steps_per_epoch")
        optimizer.schedule = schedule_from_config(config, steps_per_epoch)
    if config.precision == "mixed_float16":
        return LossScaleOptimizer(optimizer)
    return optimizer
