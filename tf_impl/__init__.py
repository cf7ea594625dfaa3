"""The networks in raw TensorFlow: tf.Module, tf.Variable, tf.nn ops, tf.GradientTape.

Nothing here refers to keras; a test parses these sources to prove it.
"""
from common._quiet import import_tensorflow_quietly

import_tensorflow_quietly()
