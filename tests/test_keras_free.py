"""tf_impl/ and common/ never refer to keras.

`import tensorflow` loads keras into sys.modules by itself, so a sys.modules check
proves nothing: we parse the sources instead.
"""
import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


def keras_references(source):
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] in ("keras", "tf_keras")
                      or alias.name.startswith("tensorflow.keras")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in ("keras", "tf_keras") or node.module.startswith("tensorflow.keras"):
                found.append(node.module)
            elif node.module == "tensorflow" and any(alias.name == "keras" for alias in node.names):
                found.append("from tensorflow import keras")
        elif isinstance(node, ast.Attribute) and node.attr == "keras":
            found.append(f"<expr>.keras at line {node.lineno}")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
            "import_module", "__import__"
        ):
            if any(isinstance(arg, ast.Constant) and str(arg.value).split(".")[0] in ("keras", "tf_keras")
                   for arg in node.args):
                found.append(f"dynamic import at line {node.lineno}")
    return found


@pytest.mark.parametrize("path", sorted(p.relative_to(REPO).as_posix() for d in ("tf_impl", "common")
                                        for p in (REPO / d).rglob("*.py")))
def test_no_keras_reference(path):
    assert keras_references((REPO / path).read_text()) == []


def test_the_check_can_fail():
    for offender in ("import keras", "from keras import layers", "import tensorflow as tf\ntf.keras.layers.Dense(1)",
                     "from tensorflow import keras", "from tensorflow.keras import layers",
                     "import importlib\nimportlib.import_module('keras')"):
        assert keras_references(offender), offender
    assert keras_references("import tensorflow as tf\nfrom keras_impl import cnn\nx = 'keras'") == []
    assert keras_references("import importlib\nimportlib.import_module('keras_impl.cnn')") == []
