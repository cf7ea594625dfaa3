"""keras-io's "Simple MNIST convnet" (fchollet, keras.io/examples/vision/mnist_convnet), as written there.

An outside reference for `twinnets bench`: the plain Keras way, numpy arrays straight
into `model.fit(x, y, batch_size=128)`, no pipeline of ours. The bench runs it for its
own model, and for our `cnn` model, to check that our Keras path is no slower than
plain Keras for the same network.
"""
import keras
from keras import layers


def build(input_shape=(28, 28, 1), num_classes=10):
    model = keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(num_classes, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def fit_plainly(model, x, y_onehot, *, epochs, batch_size=128, callbacks=()):
    """The script's training call (its validation_split left out: the bench times training only)."""
    return model.fit(x, y_onehot, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=list(callbacks))


def epoch_seconds_plainly(model, x, y, *, epochs, batch_size=128, seed=0):
    """Seconds of each epoch's training pass when `model` is fit the keras-io way (arrays, batch 128).

    `y` is what the model's loss takes: one-hot for build()'s model, integer labels for
    our cnn (compiled with sparse cross-entropy from logits). Timed with the same
    callback as our Keras path (keras_impl.supervised.EpochStats).
    """
    from keras_impl.supervised import EpochStats

    keras.utils.set_random_seed(seed)
    stats = EpochStats()
    fit_plainly(model, x, y, epochs=epochs, batch_size=batch_size, callbacks=[stats])
    return stats.history["epoch_seconds"]


def bench_keras_io(x, labels, num_classes, *, epochs, seed=0):
    """keras-io's own model, fit as its script does: per-epoch training seconds."""
    keras.utils.set_random_seed(seed)
    model = build(x.shape[1:], num_classes)
    return epoch_seconds_plainly(model, x, keras.utils.to_categorical(labels, num_classes), epochs=epochs, seed=seed)


def bench_plain_cnn(config, x, labels, num_classes, *, epochs):
    """Our cnn model (keras_impl.cnn.build, same compile) fit the keras-io way: per-epoch training seconds."""
    from keras_impl import cnn

    keras.utils.set_random_seed(config.seed)
    model = cnn.build(config, x.shape[1:], num_classes)
    return epoch_seconds_plainly(model, x, labels, epochs=epochs, batch_size=config.batch_size, seed=config.seed)
