"""The networks in Keras 3: layers, compile, fit."""
from common._quiet import import_tensorflow_quietly

import_tensorflow_quietly()
