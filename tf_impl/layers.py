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


_COMPUTE_DTYPES = [tf.float32]  # innermost precision() context last


@contextlib.contextmanager
def precision(policy):
    """Layers built inside compute in bfloat16 for "mixed_bfloat16" (variables stay float32), like a Keras dtype policy."""
    _COMPUTE_DTYPES.append({"float32": tf.float32, "mixed_bfloat16": tf.bfloat16}[policy])
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
        self.compute_dtype = _COMPUTE_DTYPES[-1]  # variables are float32; Dense and Conv2D compute in this

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    def regularization_loss(self):
        return tf.constant(0.0)


class Dense(Layer):
    """y = activation(x @ kernel + bias); kernel (in_features, units)."""

    def __init__(self, in_features, units, activation=None, l2=0.0, *, rng, name=None):
        super().__init__(name=name)
        self.kernel = tf.Variable(glorot_uniform(rng, (in_features, units), in_features, units), name="kernel")
        self.bias = tf.Variable(tf.zeros([units]), name="bias")
        self.activation = ACTIVATIONS[activation]
        self.l2 = l2
        self.trainable_weights = [self.kernel, self.bias]

    def __call__(self, x, training=False):
        dtype = self.compute_dtype  # float32, or bfloat16 under mixed precision (casts are free for float32)
        return self.activation(tf.matmul(tf.cast(x, dtype), tf.cast(self.kernel, dtype)) + tf.cast(self.bias, dtype))

    def regularization_loss(self):
        # keras.regularizers.L2: l2 * sum(w ** 2), kernel only
        return self.l2 * tf.reduce_sum(tf.square(self.kernel))


class Conv2D(Layer):
    """2-D convolution over (batch, height, width, channels), stride 1; kernel (kh, kw, in, out)."""

    def __init__(self, in_channels, filters, kernel_size, activation=None, padding="SAME", *, rng, name=None):
        super().__init__(name=name)
        shape = (kernel_size, kernel_size, in_channels, filters)
        receptive_field = kernel_size * kernel_size
        self.kernel = tf.Variable(
            glorot_uniform(rng, shape, receptive_field * in_channels, receptive_field * filters), name="kernel"
        )
        self.bias = tf.Variable(tf.zeros([filters]), name="bias")
        self.activation = ACTIVATIONS[activation]
        self.padding = padding
        self.trainable_weights = [self.kernel, self.bias]

    def __call__(self, x, training=False):
        dtype = self.compute_dtype
        y = tf.nn.conv2d(tf.cast(x, dtype), tf.cast(self.kernel, dtype), strides=1, padding=self.padding)
        return self.activation(tf.nn.bias_add(y, tf.cast(self.bias, dtype)))


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
    """Elman: h_t = tanh(x_t @ kernel + bias + h_{t-1} @ recurrent_kernel)."""

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

    def project_inputs(self, x):
        """The input part of every step at once, outside the loop: (time, batch, F) -> (time, batch, gates*units)."""
        return tf.einsum("tbf,fu->tbu", x, self.kernel) + self.bias

    def initial_state(self, batch_size):
        return (tf.zeros([batch_size, self.units]),)

    def step(self, projected_x, state):
        """One time step from the projected input; returns the new state tuple, whose [0] is the output h_t."""
        (h,) = state
        return (tf.math.tanh(projected_x + tf.matmul(h, self.recurrent_kernel)),)


class LSTMCell(SimpleRNNCell):
    """LSTM (Hochreiter & Schmidhuber 1997), Keras layout: gates i, f, c, o side by side in each kernel.

        z = x_t @ kernel + bias + h @ recurrent_kernel;  i, f, c~, o = split(z)
        c_t = sigmoid(f) * c + sigmoid(i) * tanh(c~);   h_t = sigmoid(o) * tanh(c_t)
    """

    gates = 4

    def initial_bias(self):
        bias = np.zeros([4, self.units], np.float32)
        bias[1] = 1.0  # unit_forget_bias: remember by default at the start of training
        return bias.reshape(-1)

    def initial_state(self, batch_size):
        return (tf.zeros([batch_size, self.units]), tf.zeros([batch_size, self.units]))

    def step(self, projected_x, state):
        h, c = state
        z = projected_x + tf.matmul(h, self.recurrent_kernel)
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

    def project_inputs(self, x):
        return tf.einsum("tbf,fu->tbu", x, self.kernel) + self.bias[0]

    def step(self, projected_x, state):
        (h,) = state
        x_z, x_r, x_h = tf.split(projected_x, 3, axis=-1)
        recurrent = tf.matmul(h, self.recurrent_kernel) + self.bias[1]
        recurrent_z, recurrent_r, recurrent_h = tf.split(recurrent, 3, axis=-1)
        z = tf.math.sigmoid(x_z + recurrent_z)
        r = tf.math.sigmoid(x_r + recurrent_r)
        candidate = tf.math.tanh(x_h + r * recurrent_h)
        return (z * h + (1.0 - z) * candidate,)


CELLS = {"rnn": SimpleRNNCell, "lstm": LSTMCell, "gru": GRUCell}


class Recurrent(Layer):
    """A cell run over time with tf.scan (a tf.while_loop in a tf.function): any sequence length.

    x: (batch, time, features); mask: (batch, time) bool or None. A masked (padded) step
    leaves the state unchanged and outputs the previous output, or zeros when
    `zero_output_for_mask` (what keras.layers.Bidirectional asks of its layers when they
    return sequences). go_backwards reads the sequence from its end and returns the
    outputs in reading order, as Keras does.
    Returns (batch, time, units) with return_sequences, else the last output (batch, units).
    """

    def __init__(self, cell, return_sequences=False, go_backwards=False, zero_output_for_mask=False, name=None):
        super().__init__(name=name)
        self.cell = cell
        self.return_sequences = return_sequences
        self.go_backwards = go_backwards
        self.zero_output_for_mask = zero_output_for_mask
        self.trainable_weights = list(cell.trainable_weights)

    def __call__(self, x, mask=None, training=False):
        x = tf.transpose(x, [1, 0, 2])  # (batch, time, features) -> (time, batch, features)
        if mask is None:
            mask = tf.ones(tf.shape(x)[:2], tf.bool)
        else:
            mask = tf.transpose(tf.cast(mask, tf.bool))  # (batch, time) -> (time, batch)
        if self.go_backwards:
            x, mask = tf.reverse(x, [0]), tf.reverse(mask, [0])
        projected = self.cell.project_inputs(x)  # (time, batch, gates*units)

        def step(state, inputs):
            projected_t, mask_t = inputs
            new_state = self.cell.step(projected_t, state)
            keep = mask_t[:, tf.newaxis]  # (batch, 1)
            return tuple(tf.where(keep, new, old) for new, old in zip(new_state, state))

        states = tf.scan(step, (projected, mask), initializer=self.cell.initial_state(tf.shape(x)[1]))
        outputs = states[0]  # (time, batch, units): h after every step
        if self.zero_output_for_mask:
            outputs = tf.where(mask[:, :, tf.newaxis], outputs, tf.zeros_like(outputs))
        if not self.return_sequences:
            return outputs[-1]
        return tf.transpose(outputs, [1, 0, 2])  # (time, batch, units) -> (batch, time, units)


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
        return tf.gather(self.embeddings, tf.cast(ids, tf.int32))


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
        y = tf.nn.conv2d(x, self.kernel, strides=self.strides, padding=self.padding)
        return self.activation(tf.nn.bias_add(y, self.bias))


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
        y = tf.nn.conv2d_transpose(x, self.kernel, output_shape, strides=self.strides, padding="SAME")
        return self.activation(y if self.bias is None else tf.nn.bias_add(y, self.bias))


class BiaslessDense(Dense):
    """keras.layers.Dense(units, use_bias=False): x @ kernel, before a BatchNormalization (which centres anyway)."""

    def __init__(self, in_features, units, activation=None, *, rng, name=None):
        super().__init__(in_features, units, activation, rng=rng, name=name)
        self.bias = None
        self.trainable_weights = [self.kernel]

    def __call__(self, x, training=False):
        return self.activation(tf.matmul(x, self.kernel))


class BatchNormalization(Layer):
    """keras.layers.BatchNormalization() over the last axis, Keras 3 numerics.

    Training: normalise with the batch mean and *biased* variance (tf.nn.moments over every
    axis but the last), then move the statistics:
        moving = moving * momentum + batch_statistic * (1 - momentum),   momentum 0.99
    Inference: normalise with the moving statistics. Both: gamma * (x - mean) / sqrt(var + eps)
    + beta with eps 1e-3. Weights in Keras order: gamma, beta (trainable), moving_mean,
    moving_variance (non-trainable).
    """

    def __init__(self, features, momentum=0.99, epsilon=1e-3, name=None):
        super().__init__(name=name)
        self.gamma = tf.Variable(tf.ones([features]), name="gamma")
        self.beta = tf.Variable(tf.zeros([features]), name="beta")
        self.moving_mean = tf.Variable(tf.zeros([features]), trainable=False, name="moving_mean")
        self.moving_variance = tf.Variable(tf.ones([features]), trainable=False, name="moving_variance")
        self.momentum, self.epsilon = momentum, epsilon
        self.trainable_weights = [self.gamma, self.beta]
        self.non_trainable_weights = [self.moving_mean, self.moving_variance]

    def __call__(self, x, training=False):
        if training:
            mean, variance = tf.nn.moments(x, axes=list(range(len(x.shape) - 1)))
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        else:
            mean, variance = self.moving_mean, self.moving_variance
        return tf.nn.batch_normalization(x, mean, variance, self.beta, self.gamma, self.epsilon)


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
