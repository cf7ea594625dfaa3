"""Finding implementation modules by name: how shared code reaches keras_impl/ and tf_impl/.

common/ never imports keras_impl or tf_impl statically (tests/test_imports.py checks it):
the commands that drive both implementations look a module up here, by name, when they
run. Three kinds of module are found this way:

- a network's implementation: keras_impl/<network>.py, tf_impl/<network>.py;
- an implementation's exporter: keras_impl/export.py, tf_impl/export.py;
- an outside reference model, which is not one of our networks and has no twin:
  keras_impl/references/<name>.py (REFERENCES below).
"""
import importlib

from common import registry

IMPLS = ("keras", "tf")
# name -> (module, where it comes from)
REFERENCES = {
    "mnist_convnet": ("keras_impl.references.mnist_convnet",
                      "keras-io examples/vision/mnist_convnet.py (fchollet), Keras only"),
}


def network_module(network, impl):
    """keras_impl.<network> or tf_impl.<network>: build, train, main."""
    if impl not in IMPLS:
        raise ValueError(f"unknown implementation {impl!r}; use one of {', '.join(IMPLS)}")
    return importlib.import_module(f"{impl}_impl.{registry.get(network).name}")


def export_module(impl):
    return importlib.import_module(f"{impl}_impl.export")


def reference_module(name):
    module, _ = REFERENCES[name]
    return importlib.import_module(module)
