"""Import TensorFlow without its start-up noise.

TF 2.2x writes INFO lines (oneDNN, CUDA stubs, cuInit) to file descriptor 2 before its
logging is initialised, where TF_CPP_MIN_LOG_LEVEL cannot reach them. For later C++
messages we set the level to 3 (none: not even graph-optimizer "errors" such as a failed
remapper fusion, which are diagnostics; a real failure raises in Python); a user's own
TF_CPP_MIN_LOG_LEVEL wins. And we hold fd 2 in a temporary file while TensorFlow loads
and looks for devices; if that fails, what it wrote is replayed so no error is hidden.
Unless the user set TF_CPP_MIN_LOG_LEVEL, TF's Python logger is set to errors only.
"""
import os
import sys
import tempfile


def import_tensorflow_quietly():
    if "tensorflow" in sys.modules:
        return
    user_chose_level = "TF_CPP_MIN_LOG_LEVEL" in os.environ
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ logs at every level: real failures raise in Python
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
    if not user_chose_level:
        # TF's Python warnings too, such as "N out of the last M calls ... triggered tf.function
        # retracing" when compare/bench build model after model in one process (the training
        # functions themselves are tested never to retrace after the first epoch).
        tf.get_logger().setLevel("ERROR")
