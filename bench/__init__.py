"""Benchmarks: they print figures and never assert times. See bench/generate.py and bench/search.py."""
