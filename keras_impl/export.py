"""--export DIR for Keras: the trained model as a SavedModel, through model.export.

The archive serves `serve(x)`: the model called in inference mode on a batch of inputs
(signature "serving_default"). What the model is per network is the RunResult's `model`
(common/results.py): a classifier's logits, the autoencoder's reconstruction, the VAE
decoder's pixel logits, the GAN generator's image. Twin: tf_impl/export.py.
"""
import tensorflow as tf


def export(model, directory, input_shape, dtype="float32"):
    spec = tf.TensorSpec([None, *input_shape], dtype)  # any batch size
    model.export(directory, format="tf_saved_model", input_signature=[spec], verbose=False)
    return directory
