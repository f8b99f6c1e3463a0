"""FAQ entries: admin management, bulk import and the customer portal's search."""
