"""Benchmarks and load generators for rankstream (not part of the installed package).

Run from the repository root, e.g. ``python -m bench.engine_bench --quick``.
"""
