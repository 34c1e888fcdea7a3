"""Fits to config/targets.yaml, parameter uncertainty and parameter sets."""
