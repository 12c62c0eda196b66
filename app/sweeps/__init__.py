"""Sweeps: searches over a base run spec whose trials are ordinary runs."""
