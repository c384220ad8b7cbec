"""Benchmarks: they print tables and write JSON into bench/results/; tests never time anything."""
