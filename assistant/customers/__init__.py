"""A customer's data as one unit: erasure on request."""
