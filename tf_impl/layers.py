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


class Layer(tf.Module):
    """Base: `weights` in Keras order; no trainable state unless a subclass adds it."""

    def __init__(self, name=None):
        super().__init__(name=name)
        self.trainable_weights = []
        self.non_trainable_weights = []

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
        return self.activation(tf.matmul(x, self.kernel) + self.bias)

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
        y = tf.nn.conv2d(x, self.kernel, strides=1, padding=self.padding)
        return self.activation(tf.nn.bias_add(y, self.bias))


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

# --- generative layers (transposed convolution, batch normalisation, reshape) ---
