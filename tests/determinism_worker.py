"""Run by tests/test_nothing_lost.py in a fresh process: every job once, with --deterministic.

argv: a JSON {"jobs": [[network, impl], ...], "fast": {network: [flags]}} and a scratch folder.
Prints one JSON line: {"network/impl": metrics.json without its timings}. Op determinism
is switched on for the whole process, as `twinnets train --deterministic` does.
"""
import contextlib
import io
import json
import os
import sys

import common  # noqa: F401  (quiet TensorFlow)
from common import twinnets

TIMING = ("epoch_seconds", "train_traces", "train_seconds", "samples_per_second", "versions")


def without_timings(payload):
    if isinstance(payload, dict):
        return {key: without_timings(value) for key, value in payload.items() if key not in TIMING}
    return payload


def main():
    spec, scratch = json.loads(sys.argv[1]), sys.argv[2]
    results = {}
    for network, impl in spec["jobs"]:
        out = os.path.join(scratch, f"{network}-{impl}")
        flags = spec["fast"].get(network, ["--epochs", "2"])
        with contextlib.redirect_stdout(io.StringIO()):
            code = twinnets.main(["train", network, "--impl", impl, *flags, "--deterministic", "--quiet", "--out", out])
        if code != 0:
            raise SystemExit(f"{network} ({impl}) failed with exit code {code}")
        with open(os.path.join(out, "metrics.json")) as stream:
            results[f"{network}/{impl}"] = without_timings(json.load(stream))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
