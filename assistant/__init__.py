"""Support-desk AI assistant service."""
