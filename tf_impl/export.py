"""--export DIR for tf_impl: the trained model as a SavedModel, through tf.saved_model.save.

A tf.Module holding the model and one tf.function with an input_signature, `serve(x)`:
the model called in inference mode on a batch of inputs, also the "serving_default"
signature, the same endpoint Keras's model.export writes (twin: keras_impl/export.py), so
a server loads either and gets the same answers.
"""
import tensorflow as tf


class Serving(tf.Module):
    def __init__(self, model, input_shape, dtype="float32"):
        super().__init__(name="serving")
        self.model = model  # its variables are saved with it
        spec = tf.TensorSpec([None, *input_shape], dtype)  # any batch size
        self.serve = tf.function(lambda x: self.model(x, training=False), input_signature=[spec])


def export(model, directory, input_shape, dtype="float32"):
    serving = Serving(model, input_shape, dtype)
    tf.saved_model.save(serving, directory, signatures={"serving_default": serving.serve})
    return directory
