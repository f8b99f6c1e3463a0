"""Interaction events from ticketing systems, and each ticket's timings derived from them."""
