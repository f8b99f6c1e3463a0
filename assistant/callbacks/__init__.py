"""Durable callbacks: routing decisions posted to subscribers from an outbox, retried, dead-lettered."""
