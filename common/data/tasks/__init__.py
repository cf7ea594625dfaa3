"""Generated tasks: one module per task, found by `common.data.load` without being listed.

A task module exposes NAMES, matches(name) and load(name, options) -> common.data.core.Arrays
(see common/data/core.py). Its data is generated from a fixed seed, so every run and both
implementations see the same examples, and it needs no network.
"""
