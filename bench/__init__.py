"""Benchmarks and evaluations: `python -m bench` runs them all and prints figures (see README)."""
