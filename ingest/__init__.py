"""Ingest: readers -> normalize -> validate -> quarantine -> load, into the routewatch store."""
