"""Who may import whom (README, "Layout"), checked on the sources.

- common/ imports neither implementation: it reaches keras_impl/ and tf_impl/ only by name,
  through common/modules.py, when a command runs.
- keras_impl/ and tf_impl/ import common/ and themselves, never each other.
- common/cli.py (what a network module's `main` needs) imports none of the `twinnets`
  subcommands (compare, bench, report, twinnets).
- No import circles among the package's modules, counting imports inside functions too.
"""
import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("common", "keras_impl", "tf_impl")


def module_name(path):
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source, name, is_package=False, modules=()):
    """The project modules a module's source imports, statically, anywhere in the file.

    `from package import submodule` counts as importing the submodule (given the known
    `modules`), not the package: that the package's __init__ runs first is Python's rule.
    """
    found = set()
    base = name.split(".") if is_package else name.split(".")[:-1]  # the package a relative import starts from
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = ".".join(base[: len(base) - node.level + 1] + ([module] if module else []))
            submodules = {f"{module}.{alias.name}" for alias in node.names} & set(modules)
            found.update(submodules)
            if len(submodules) < len(node.names):  # some names are the package's own
                found.add(module)
    return {module for module in found if module.split(".")[0] in PACKAGES}


def graph(sources):
    """{module: set of project modules it imports}, only modules that exist."""
    names = set(sources)
    edges = {}
    for name, (source, is_package) in sources.items():
        edges[name] = {target for target in imports_of(source, name, is_package, names) if target in names and target != name}
    return edges


def project_sources():
    sources = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            sources[module_name(path)] = (path.read_text(), path.name == "__init__.py")
    return sources


def cycle(edges):
    """One import circle as a list of modules, or None."""
    state = {}

    def visit(node, path):
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target, path + [target])
                if found:
                    return found
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


def package_of(module):
    return module.split(".")[0]


def forbidden(edges):
    """Imports that break the layer rules, as "a -> b" strings."""
    found = []
    for source, targets in edges.items():
        for target in targets:
            if package_of(source) == "common" and package_of(target) != "common":
                found.append(f"{source} -> {target}")
            if {package_of(source), package_of(target)} == {"keras_impl", "tf_impl"}:
                found.append(f"{source} -> {target}")
            if source == "common.cli" and target in ("common.compare", "common.bench", "common.report", "common.twinnets"):
                found.append(f"{source} -> {target}")
    return sorted(found)


def test_no_import_circles():
    edges = graph(project_sources())
    assert len(edges) > 40  # the walk found the package
    assert cycle(edges) is None, " -> ".join(cycle(edges))


def test_the_layers_import_only_downwards():
    assert forbidden(graph(project_sources())) == []


def test_implementations_are_reached_by_name_only_through_common_modules():
    """Dynamic imports of keras_impl / tf_impl from common/ live in common/modules.py alone."""
    offenders = []
    for path in (REPO / "common").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
                text = ast.unparse(node)
                if "_impl" in text and path.name != "modules.py":
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {text}")
    assert offenders == []


@pytest.mark.parametrize("sources,expected", [
    ({"common.a": ("from common import b", False), "common.b": ("import common.a", False)}, ["common.a", "common.b", "common.a"]),
    ({"common.a": ("def f():\n    from common.b import x", False), "common.b": ("from common.a import y", False)},
     ["common.a", "common.b", "common.a"]),
    ({"common.a": ("from common import b", False), "common.b": ("import os", False)}, None),
])
def test_the_circle_check_can_fail(sources, expected):
    assert cycle(graph(sources)) == expected


def test_the_layer_check_can_fail():
    sources = {"common.x": ("import keras_impl.cnn", False), "keras_impl.cnn": ("from tf_impl import layers", False),
               "tf_impl.layers": ("", False), "common.cli": ("from common import compare", False),
               "common.compare": ("", False)}
    assert forbidden(graph(sources)) == ["common.cli -> common.compare", "common.x -> keras_impl.cnn",
                                         "keras_impl.cnn -> tf_impl.layers"]


def test_modules_finds_networks_exporters_and_references_by_name():
    from common import modules, registry

    assert modules.network_module("cnn", "tf").__name__ == "tf_impl.cnn"
    assert modules.network_module("cnn", "keras").__name__ == "keras_impl.cnn"
    assert modules.export_module("tf").__name__ == "tf_impl.export"
    reference = modules.reference_module("mnist_convnet")
    assert reference.__name__ == "keras_impl.references.mnist_convnet" and callable(reference.bench_keras_io)
    assert "mnist_convnet" not in registry.NETWORKS  # an outside reference is not one of our networks
    with pytest.raises(ValueError, match="unknown implementation 'jax'"):
        modules.network_module("cnn", "jax")
    with pytest.raises(registry.UnknownNetworkError):
        modules.network_module("resnet", "tf")
