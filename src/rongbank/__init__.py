"""Rongbank: an open internet-banking platform on PostgreSQL."""

__version__ = "0.1.0"
