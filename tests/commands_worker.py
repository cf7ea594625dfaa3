"""Run by tests/test_nothing_lost.py in a fresh process: several `python -m MODULE ARGV` commands, one after another.

argv: a JSON list of [module, [arg, ...]]. Each command runs as `python -m module args` would
(its `main(argv)`), in this one process, so that TensorFlow starts once for all of them
instead of once each. Exits 1 naming the first command that does not end with 0.
"""
import importlib
import json
import sys

import common  # noqa: F401  (quiet TensorFlow)


def main():
    for module, argv in json.loads(sys.argv[1]):
        try:
            code = importlib.import_module(module).main(list(argv))
        except SystemExit as exit_:
            code = exit_.code
        if code not in (0, None):
            raise SystemExit(f"python -m {module} {' '.join(argv)} ended with {code}")


if __name__ == "__main__":
    main()
