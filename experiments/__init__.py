"""Experiments run on top of the demo's data and teacher (see experiments/README.md)."""
