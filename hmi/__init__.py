"""Operator HMI for manufacturing."""

__version__ = "0.1.0"
