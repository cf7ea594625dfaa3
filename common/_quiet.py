"""Import TensorFlow without its start-up noise.

TF 2.2x writes INFO lines (oneDNN, CUDA stubs, cuInit) to file descriptor 2 before its
logging is initialised, where TF_CPP_MIN_LOG_LEVEL cannot reach them. We set the level
for later messages, and hold fd 2 in a temporary file while TensorFlow loads and looks
for devices. If that fails, what it wrote is replayed so no real error is hidden.
"""
import os
import sys
import tempfile


def import_tensorflow_quietly():
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # device discovery logs happen here
        except BaseException:
            os.dup2(saved_fd, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)
