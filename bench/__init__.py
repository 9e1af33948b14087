"""Benchmarks of the running assistant; see bench/README.md."""
