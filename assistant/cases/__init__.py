"""Resolved cases: solved tickets and imported history, the evidence behind agent suggestions."""
