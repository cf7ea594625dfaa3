"""Every data source has a test file of its own: tests/data/test_<module>.py."""
import os
import pkgutil

from common import data
from common.data import tasks

HERE = os.path.dirname(os.path.abspath(__file__))


def test_every_source_module_has_its_own_tests():
    modules = [m.name for m in pkgutil.iter_modules(data.__path__) if not m.ispkg]
    modules += [m.name for m in pkgutil.iter_modules(tasks.__path__)]
    missing = [name for name in modules if not os.path.exists(os.path.join(HERE, f"test_{name}.py"))]
    assert not missing, f"no tests/data/test_<module>.py for: {missing}"
