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
