"""Support-desk AI assistant service."""

__version__ = "0.1.0"
