"""The vector indexes derived from the database, kept current in every process by a change log."""
