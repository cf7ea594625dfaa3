"""Layers as tf.Module, from tf.Variable and tf.nn ops only.

Each layer lists its variables in `weights` in the order Keras keeps them (trainable
first, then non-trainable, in creation order), because tf.Module's own `variables` are
sorted by attribute name. A model's `get_weights()` is then the concatenation over its
layers, the same list `keras.Model.get_weights()` returns, and weights transplant
between the two implementations unchanged.

Initial values come from a numpy Generator (`rng`): deterministic for a seed, and plain
arrays, so variables can be created under any tf.distribute strategy's scope.
Defaults follow Keras: Glorot-uniform kernels, zero biases.
"""
import contextlib

import numpy as np
import tensorflow as tf

ACTIVATIONS = {
    None: tf.identity,
    "linear": tf.identity,
    "relu": tf.nn.relu,
    "tanh": tf.math.tanh,
    "sigmoid": tf.math.sigmoid,
}


def glorot_uniform(rng, shape, fan_in, fan_out):
    """U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)), as keras.initializers.GlorotUniform."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(np.float32)


PRECISIONS = {"float32": tf.float32, "mixed_bfloat16": tf.bfloat16, "mixed_float16": tf.float16}  # -> compute dtype
_COMPUTE_DTYPES = [tf.float32]  # innermost precision() context last


def current_compute_dtype():
    """The compute dtype of layers built here and now (float32 outside any precision() context)."""
    return _COMPUTE_DTYPES[-1]


def add_bias(x, bias):
    """x + bias as Keras's ops.add computes it: tf.nn.bias_add for a bias of several entries, a plain add
    for one. Same values; but the gradients (BiasAddGrad vs a broadcast sum) sum the batch in different
    orders, which shows in float16/bfloat16."""
    return tf.nn.bias_add(x, bias) if bias.shape[0] > 1 else x + bias


@contextlib.contextmanager
def precision(policy):
    """Layers built inside compute in bfloat16 ("mixed_bfloat16") or float16 ("mixed_float16"), variables
    staying float32, like a Keras dtype policy. The loss is computed in float32 (tf_impl/supervised.py)."""
    _COMPUTE_DTYPES.append(PRECISIONS[policy])
    try:
        yield
    finally:
        _COMPUTE_DTYPES.pop()


class Layer(tf.Module):
    """Base: `weights` in Keras order; no trainable state unless a subclass adds it."""

    def __init__(self, name=None):
        super().__init__(name=name)
        self.trainable_weights = []
        self.non_trainable_weights = []
        self.compute_dtype = _COMPUTE_DTYPES[-1]  # variables are float32; layers with weights compute in this

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    def regularization_loss(self):
        return tf.constant(0.0)


def kernel_penalty(kernel, l1=0.0, l2=0.0):
    """keras.regularizers.L1L2(l1, l2) on a kernel: l1 * sum(|w|) + l2 * sum(w ** 2), no 1/2; elastic net when both > 0.

    In Keras's order (0, then the L1 term, then the L2 term), each term only when its factor is
    non-zero, on the float32 variable itself. The gradient of |w| at w = 0 is 0 (tf.abs), as in Keras.
    """
    penalty = tf.constant(0.0)
    if l1:
        penalty += l1 * tf.reduce_sum(tf.abs(kernel))
    if l2:
        penalty += l2 * tf.reduce_sum(tf.square(kernel))
    return penalty


class Dense(Layer):
    """y = activation(x @ kernel + bias); kernel (in_features, units); optional L1/L2 penalty on the kernel."""

    def __init__(self, in_features, units, activation=None, l2=0.0, l1=0.0, *, rng, name=None):
        super().__init__(name=name)
        self.kernel = tf.Variable(glorot_uniform(rng, (in_features, units), in_features, units), name="kernel")
        self.bias = tf.Variable(tf.zeros([units]), name="bias")
        self.activation = ACTIVATIONS[activation]
        self.l1, self.l2 = l1, l2
        self.trainable_weights = [self.kernel, self.bias]

    def __call__(self, x, training=False):
        dtype = self.compute_dtype  # float32, or bfloat16/float16 under mixed precision (casts are free for float32)
        y = tf.matmul(tf.cast(x, dtype), tf.cast(self.kernel, dtype))
        return self.activation(add_bias(y, tf.cast(self.bias, dtype)))

    def regularization_loss(self):
        return kernel_penalty(self.kernel, self.l1, self.l2)  # kernel only, as kernel_regularizer


class Conv2D(Layer):
    """2-D convolution over (batch, height, width, channels), stride 1; kernel (kh, kw, in, out); optional L1/L2."""

    def __init__(self, in_channels, filters, kernel_size, activation=None, padding="SAME", l2=0.0, l1=0.0, *, rng,
                 name=None):
        super().__init__(name=name)
        shape = (kernel_size, kernel_size, in_channels, filters)
        receptive_field = kernel_size * kernel_size
        self.kernel = tf.Variable(
            glorot_uniform(rng, shape, receptive_field * in_channels, receptive_field * filters), name="kernel"
        )
        self.bias = tf.Variable(tf.zeros([filters]), name="bias")
        self.activation = ACTIVATIONS[activation]
        self.padding = padding
        self.l1, self.l2 = l1, l2
        self.trainable_weights = [self.kernel, self.bias]

    def __call__(self, x, training=False):
        dtype = self.compute_dtype
        y = tf.nn.conv2d(tf.cast(x, dtype), tf.cast(self.kernel, dtype), strides=1, padding=self.padding)
        return self.activation(add_bias(y, tf.cast(self.bias, dtype)))

    def regularization_loss(self):
        return kernel_penalty(self.kernel, self.l1, self.l2)


class MaxPool2D(Layer):
    """Non-overlapping max pooling, 'valid' padding (Keras MaxPooling2D defaults)."""

    def __init__(self, pool_size=2, name=None):
        super().__init__(name=name)
        self.pool_size = pool_size

    def __call__(self, x, training=False):
        return tf.nn.max_pool2d(x, ksize=self.pool_size, strides=self.pool_size, padding="VALID")


class Flatten(Layer):
    def __call__(self, x, training=False):
        return tf.reshape(x, [tf.shape(x)[0], -1])  # (batch, ...) -> (batch, features), row-major like Keras


class Dropout(Layer):
    """Inverted dropout: in training, zero a fraction `rate` and scale survivors by 1/(1-rate).

    The masks come from a seeded tf.random.Generator, so a run is reproducible.
    At inference it is the identity, as in Keras.
    """

    def __init__(self, rate, *, seed, name=None):
        super().__init__(name=name)
        self.rate = rate
        self.generator = tf.random.Generator.from_seed(seed)

    def __call__(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        keep = self.generator.uniform(tf.shape(x)) >= self.rate
        return tf.where(keep, x / (1.0 - self.rate), tf.zeros_like(x))


class Sequential(tf.Module):
    """Layers applied in order; the container every tf_impl feed-forward model uses."""

    def __init__(self, layers, name=None):
        super().__init__(name=name)
        self.layers = list(layers)

    def __call__(self, x, training=False):
        for layer in self.layers:
            x = layer(x, training=training)
        return x

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self.layers for w in layer.trainable_weights]

    def regularization_loss(self):
        return tf.add_n([layer.regularization_loss() for layer in self.layers])

    def get_weights(self):
        """Numpy arrays in Keras order: what keras.Model.get_weights() returns for the twin."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, arrays):
        if len(arrays) != len(self.weights):
            raise ValueError(f"expected {len(self.weights)} arrays, got {len(arrays)}")
        for variable, array in zip(self.weights, arrays):
            if tuple(variable.shape) != tuple(np.shape(array)):
                raise ValueError(f"{variable.name}: shape {tuple(variable.shape)} != {np.shape(array)}")
            variable.assign(array)

    def count_params(self):
        return int(sum(np.prod(w.shape) for w in self.weights))


# --- recurrent cells and layers (rnn, lstm, gru) ---


def orthogonal(rng, shape):
    """keras.initializers.Orthogonal(gain=1): Q of the QR of a normal matrix, signs fixed by diag(R)."""
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
    q *= np.sign(np.diag(r))
    return (q.T if rows < cols else q).reshape(shape).astype(np.float32)


class SimpleRNNCell(Layer):
    """Elman: h_t = tanh(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel).

    A step computes what Keras's cell computes, in Keras's order, reading (and, under mixed
    precision, casting) the weights inside the loop as Keras does at every step: so in
    float16/bfloat16 the values round alike, and each weight's gradient is summed over the
    steps in float32. (Projecting every step's input at once outside the loop gives the same
    float32 values, but sums a kernel's gradient over time*batch in float16: measured 1e-3
    of its scale off, and a bias gradient up to 20% off where padded steps cancel.)
    """

    gates = 1  # blocks of `units` columns in the kernels

    def __init__(self, in_features, units, *, rng, name=None):
        super().__init__(name=name)
        self.units = units
        width = self.gates * units
        self.kernel = tf.Variable(glorot_uniform(rng, (in_features, width), in_features, width), name="kernel")
        self.recurrent_kernel = tf.Variable(orthogonal(rng, (units, width)), name="recurrent_kernel")
        self.bias = tf.Variable(self.initial_bias(), name="bias")
        self.trainable_weights = [self.kernel, self.recurrent_kernel, self.bias]

    def initial_bias(self):
        return np.zeros([self.gates * self.units], np.float32)

    def initial_state(self, batch_size):
        return (tf.zeros([batch_size, self.units], self.compute_dtype),)

    def cast_weights(self):
        """kernel, recurrent_kernel, bias in the compute dtype (no-op casts in float32)."""
        return [tf.cast(w, self.compute_dtype) for w in (self.kernel, self.recurrent_kernel, self.bias)]

    def step(self, x, state):
        """One time step from x_t (batch, F); returns the new state tuple, whose [0] is the output h_t."""
        (h,) = state
        kernel, recurrent_kernel, bias = self.cast_weights()
        return (tf.math.tanh(add_bias(tf.matmul(x, kernel), bias) + tf.matmul(h, recurrent_kernel)),)


class LSTMCell(SimpleRNNCell):
    """LSTM (Hochreiter & Schmidhuber 1997), Keras layout: gates i, f, c, o side by side in each kernel.

        z = x_t @ kernel + h @ recurrent_kernel + bias;  i, f, c~, o = split(z)
        c_t = sigmoid(f) * c + sigmoid(i) * tanh(c~);   h_t = sigmoid(o) * tanh(c_t)
    """

    gates = 4

    def initial_bias(self):
        bias = np.zeros([4, self.units], np.float32)
        bias[1] = 1.0  # unit_forget_bias: remember by default at the start of training
        return bias.reshape(-1)

    def initial_state(self, batch_size):
        return (tf.zeros([batch_size, self.units], self.compute_dtype),) * 2  # h, c

    def step(self, x, state):
        h, c = state
        kernel, recurrent_kernel, bias = self.cast_weights()
        z = add_bias(tf.matmul(x, kernel) + tf.matmul(h, recurrent_kernel), bias)  # (batch, 4*units)
        i, f, candidate, o = tf.split(z, 4, axis=-1)
        c = tf.math.sigmoid(f) * c + tf.math.sigmoid(i) * tf.math.tanh(candidate)
        return tf.math.sigmoid(o) * tf.math.tanh(c), c


class GRUCell(SimpleRNNCell):
    """GRU (Cho et al. 2014), Keras's reset_after=True form: gates z, r, h; bias row 0 input, row 1 recurrent.

        xz, xr, xh = split(x_t @ kernel + bias[0]);  rz, rr, rh = split(h @ recurrent_kernel + bias[1])
        z = sigmoid(xz + rz);  r = sigmoid(xr + rr);  h~ = tanh(xh + r * rh)
        h_t = z * h + (1 - z) * h~
    """

    gates = 3

    def initial_bias(self):
        return np.zeros([2, 3 * self.units], np.float32)  # (input bias, recurrent bias)

    def step(self, x, state):
        (h,) = state
        kernel, recurrent_kernel, bias = self.cast_weights()
        x_z, x_r, x_h = tf.split(add_bias(tf.matmul(x, kernel), bias[0]), 3, axis=-1)
        recurrent = tf.matmul(h, recurrent_kernel) + bias[1]  # Keras: `+=`, a plain add
        recurrent_z, recurrent_r, recurrent_h = tf.split(recurrent, 3, axis=-1)
        z = tf.math.sigmoid(x_z + recurrent_z)
        r = tf.math.sigmoid(x_r + recurrent_r)
        candidate = tf.math.tanh(x_h + r * recurrent_h)
        return (z * h + (1.0 - z) * candidate,)


CELLS = {"rnn": SimpleRNNCell, "lstm": LSTMCell, "gru": GRUCell}


class Recurrent(Layer):
    """A cell run over time with a tf.while_loop: any sequence length, one trace.

    x: (batch, time, features); mask: (batch, time) bool or None. A masked (padded) step
    leaves the state unchanged and outputs the previous output, or zeros when
    `zero_output_for_mask` (what keras.layers.Bidirectional asks of its layers when they
    return sequences). go_backwards reads the sequence from its end and returns the
    outputs in reading order, as Keras does.
    Returns (batch, time, units) with return_sequences, else the last output (batch, units);
    with return_state, (that, *final state) as Keras's return_state=True: an LSTM's h and c, the
    state of each row's last real step. initial_state: a state tuple to start from (Keras's
    initial_state=[h, c]: an encoder's final state handed to a decoder), else zeros.
    """

    def __init__(self, cell, return_sequences=False, go_backwards=False, zero_output_for_mask=False,
                 return_state=False, name=None):
        super().__init__(name=name)
        self.cell = cell
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.zero_output_for_mask = zero_output_for_mask
        self.trainable_weights = list(cell.trainable_weights)

    def __call__(self, x, mask=None, training=False, initial_state=None):
        x = tf.cast(x, self.cell.compute_dtype)  # as Keras's Layer.__call__ casts a float input (autocast)
        x = tf.transpose(x, [1, 0, 2])  # (batch, time, features) -> (time, batch, features)
        if mask is None:
            mask = tf.ones(tf.shape(x)[:2], tf.bool)
        else:
            mask = tf.transpose(tf.cast(mask, tf.bool))  # (batch, time) -> (time, batch)
        if self.go_backwards:
            x, mask = tf.reverse(x, [0]), tf.reverse(mask, [0])

        # Keras's loop (keras/src/backend/tensorflow/rnn.py) written out: a masked step keeps the state and
        # outputs the previous output (or zeros), the output and the state masked apart, and only the outputs
        # stacked. The gradients reaching h_t then add up in the same order as in Keras: it shows in float16.
        steps, batch = tf.shape(x)[0], tf.shape(x)[1]
        inputs = tf.TensorArray(x.dtype, size=steps).unstack(x)  # read per step; its gradient is per step too
        masks = tf.TensorArray(tf.bool, size=steps).unstack(mask)
        state = self.cell.initial_state(batch) if initial_state is None else tuple(initial_state)
        no_output = tf.zeros_like(state[0])

        def step(time, outputs, *state):
            new_state = self.cell.step(inputs.read(time), state)
            keep = masks.read(time)[:, tf.newaxis]  # (batch, 1)
            output = tf.where(keep, new_state[0], no_output if self.zero_output_for_mask else state[0])
            state = tuple(tf.where(keep, new, old) for new, old in zip(new_state, state))
            return (time + 1, outputs.write(time, output), *state)

        outputs = tf.TensorArray(state[0].dtype, size=steps)
        _, outputs, *state = tf.while_loop(lambda time, *_: time < steps, step, (0, outputs, *state))
        outputs = outputs.stack()  # (time, batch, units): the output of every step
        if self.return_sequences:
            outputs = tf.transpose(outputs, [1, 0, 2])  # (time, batch, units) -> (batch, time, units)
        else:
            outputs = outputs[-1]
        return (outputs, *state) if self.return_state else outputs


class Bidirectional(Layer):
    """Two layers, one reading forwards and one backwards; outputs concatenated (merge_mode="concat").

    Weights: the forward layer's, then the backward layer's, as in Keras. With
    return_sequences the backward outputs are flipped back to the original time order.
    """

    def __init__(self, forward, backward, name=None):
        super().__init__(name=name)
        self.forward, self.backward = forward, backward
        for layer in (forward, backward):
            layer.zero_output_for_mask = layer.return_sequences  # keras.layers.Bidirectional forces this
        self.backward.go_backwards = True
        self.return_sequences = forward.return_sequences
        self.trainable_weights = forward.trainable_weights + backward.trainable_weights

    def __call__(self, x, mask=None, training=False):
        forward = self.forward(x, mask=mask, training=training)
        backward = self.backward(x, mask=mask, training=training)
        if self.return_sequences:
            backward = tf.reverse(backward, [1])  # reading order -> time order
        return tf.concat([forward, backward], axis=-1)


class Embedding(Layer):
    """Token ids (batch, time) -> vectors (batch, time, dim); init U(-0.05, 0.05) as Keras's 'uniform'."""

    def __init__(self, vocabulary_size, dim, *, rng, name=None):
        super().__init__(name=name)
        self.embeddings = tf.Variable(
            rng.uniform(-0.05, 0.05, size=(vocabulary_size, dim)).astype(np.float32), name="embeddings"
        )
        self.trainable_weights = [self.embeddings]

    def __call__(self, ids, training=False):
        # looked up in float32, then cast (keras.layers.Embedding: the gradient stays float32 IndexedSlices)
        return tf.cast(tf.gather(self.embeddings, tf.cast(ids, tf.int32)), self.compute_dtype)


# --- generative layers (transposed convolution, batch normalisation, reshape) ---


class StridedConv2D(Conv2D):
    """Conv2D with a stride: keras.layers.Conv2D(filters, k, strides, padding="same").

    'SAME' with stride s gives ceil(size / s) outputs; for even sizes TensorFlow pads the
    bottom/right by one, and Keras's TensorFlow backend calls the same op.
    """

    def __init__(self, in_channels, filters, kernel_size, strides=2, activation=None, *, rng, name=None):
        super().__init__(in_channels, filters, kernel_size, activation=activation, padding="SAME", rng=rng, name=name)
        self.strides = strides

    def __call__(self, x, training=False):
        dtype = self.compute_dtype
        y = tf.nn.conv2d(tf.cast(x, dtype), tf.cast(self.kernel, dtype), strides=self.strides, padding=self.padding)
        return self.activation(add_bias(y, tf.cast(self.bias, dtype)))


class Conv2DTranspose(Layer):
    """keras.layers.Conv2DTranspose(filters, k, strides, padding="same"): (h, w) -> (h*s, w*s).

    The kernel is (kh, kw, filters, in_channels): output channels before input channels,
    the layout tf.nn.conv2d_transpose takes and Keras keeps. Glorot fans are the same sum.
    use_bias=False before a BatchNormalization, whose beta would cancel the bias anyway.
    """

    def __init__(self, in_channels, filters, kernel_size, strides=2, activation=None, use_bias=True, *, rng, name=None):
        super().__init__(name=name)
        shape = (kernel_size, kernel_size, filters, in_channels)
        receptive_field = kernel_size * kernel_size
        self.kernel = tf.Variable(
            glorot_uniform(rng, shape, receptive_field * filters, receptive_field * in_channels), name="kernel"
        )
        self.bias = tf.Variable(tf.zeros([filters]), name="bias") if use_bias else None
        self.filters, self.strides = filters, strides
        self.activation = ACTIVATIONS[activation]
        self.trainable_weights = [self.kernel, self.bias] if use_bias else [self.kernel]

    def __call__(self, x, training=False):
        batch, height, width = tf.shape(x)[0], x.shape[1], x.shape[2]
        output_shape = tf.stack([batch, height * self.strides, width * self.strides, self.filters])  # 'same'
        dtype = self.compute_dtype
        y = tf.nn.conv2d_transpose(tf.cast(x, dtype), tf.cast(self.kernel, dtype), output_shape, strides=self.strides,
                                   padding="SAME")
        return self.activation(y if self.bias is None else add_bias(y, tf.cast(self.bias, dtype)))


class BiaslessDense(Dense):
    """keras.layers.Dense(units, use_bias=False): x @ kernel, before a BatchNormalization (which centres anyway)."""

    def __init__(self, in_features, units, activation=None, *, rng, name=None):
        super().__init__(in_features, units, activation, rng=rng, name=name)
        self.bias = None
        self.trainable_weights = [self.kernel]

    def __call__(self, x, training=False):
        dtype = self.compute_dtype
        return self.activation(tf.matmul(tf.cast(x, dtype), tf.cast(self.kernel, dtype)))


class BatchNormalization(Layer):
    """keras.layers.BatchNormalization(synchronized=True) over the last axis, Keras 3 numerics.

    Training: normalise with the batch mean and *biased* variance over every axis but the
    last, then move the statistics:
        moving = moving * momentum + batch_statistic * (1 - momentum),   momentum 0.99
    Inference: normalise with the moving statistics. Both: gamma * (x - mean) / sqrt(var + eps)
    + beta with eps 1e-3. Weights in Keras order: gamma, beta (trainable), moving_mean,
    moving_variance (non-trainable).

    Under a tf.distribute strategy the statistics are synchronised: each replica sums x, x^2
    and its count, one all-reduce adds them over the replicas, and mean = E[x], variance =
    E[x^2] - E[x]^2 are those of the *global* batch, so training on several devices is
    training on one. (Per-replica statistics, Keras's default synchronized=False, would
    normalise 32 examples at a time on two replicas where one device normalises 64: a
    different network.) Every replica then holds the same statistics, so the moving averages
    take the first replica's update (VariableAggregation.ONLY_FIRST_REPLICA).
    """

    def __init__(self, features, momentum=0.99, epsilon=1e-3, name=None):
        super().__init__(name=name)
        self.gamma = tf.Variable(tf.ones([features]), name="gamma")
        self.beta = tf.Variable(tf.zeros([features]), name="beta")
        first = tf.VariableAggregation.ONLY_FIRST_REPLICA
        self.moving_mean = tf.Variable(tf.zeros([features]), trainable=False, aggregation=first, name="moving_mean")
        self.moving_variance = tf.Variable(tf.ones([features]), trainable=False, aggregation=first,
                                           name="moving_variance")
        self.momentum, self.epsilon = momentum, epsilon
        self.trainable_weights = [self.gamma, self.beta]
        self.non_trainable_weights = [self.moving_mean, self.moving_variance]

    def __call__(self, x, training=False):
        x = tf.cast(x, tf.float32)  # mixed precision: statistics in float32 (float16 sums overflow), as Keras
        if training:
            mean, variance = synchronized_moments(x)
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        else:
            mean, variance = self.moving_mean, self.moving_variance
        y = tf.nn.batch_normalization(x, mean, variance, self.beta, self.gamma, self.epsilon)
        return tf.cast(y, self.compute_dtype)


def synchronized_moments(x):
    """Mean and biased variance over every axis but the last, across all replicas: Keras's synchronised moments."""
    axes = list(range(len(x.shape) - 1))
    sums = [tf.reduce_sum(x, axis=axes), tf.reduce_sum(tf.square(x), axis=axes),
            tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), x.dtype)]
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        sums = context.all_reduce(tf.distribute.ReduceOp.SUM, sums)  # one collective for the three
    total, squares, count = sums
    mean = tf.math.divide_no_nan(total, count)
    return mean, tf.maximum(tf.math.divide_no_nan(squares, count) - tf.square(mean), 0.0)


class Reshape(Layer):
    """keras.layers.Reshape(target_shape): (batch, features) -> (batch, *target_shape), row-major."""

    def __init__(self, target_shape, name=None):
        super().__init__(name=name)
        self.target_shape = tuple(target_shape)

    def __call__(self, x, training=False):
        return tf.reshape(x, [tf.shape(x)[0], *self.target_shape])


class Activation(Layer):
    """A nonlinearity as its own layer: keras.layers.Activation / ReLU / LeakyReLU(negative_slope)."""

    def __init__(self, activation, negative_slope=0.2, name=None):
        super().__init__(name=name)
        if activation == "leaky_relu":
            self.function = lambda x: tf.nn.leaky_relu(x, alpha=negative_slope)
        else:
            self.function = ACTIVATIONS[activation]

    def __call__(self, x, training=False):
        return self.function(x)


# Detection: upsampling


class UpSampling2D(Layer):
    """keras.layers.UpSampling2D(size) with interpolation "nearest": each pixel repeated size times down and across,
    (batch, h, w, c) -> (batch, h * size, w * size, c). Keras's TensorFlow backend repeats too (ops.repeat, rows
    then columns), so values and gradients are the same ops."""

    def __init__(self, size=2, name=None):
        super().__init__(name=name)
        self.size = size

    def __call__(self, x, training=False):
        return tf.repeat(tf.repeat(x, self.size, axis=1), self.size, axis=2)  # (batch, h * s, w * s, c)


# Segmentation: transposed convolution
# (The U-Net of tf_impl/segmentation.py upsamples with Conv2DTranspose above, 2x2 at stride 2, and concatenates with
# tf.concat; what it adds here is the convolution its blocks put before a batch normalisation.)


class BiaslessConv2D(Conv2D):
    """keras.layers.Conv2D(filters, k, padding="same", use_bias=False): before a BatchNormalization, whose beta does
    what a bias would (and whose centring would cancel it: its gradient would be zero)."""

    def __init__(self, in_channels, filters, kernel_size, *, rng, name=None):
        super().__init__(in_channels, filters, kernel_size, rng=rng, name=name)
        self.bias = None
        self.trainable_weights = [self.kernel]

    def __call__(self, x, training=False):
        dtype = self.compute_dtype
        return tf.nn.conv2d(tf.cast(x, dtype), tf.cast(self.kernel, dtype), strides=1, padding=self.padding)
