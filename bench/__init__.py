"""Darkroom's own benchmarks (issue 6): `make bench` runs them all and prints one table."""
