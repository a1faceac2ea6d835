"""Metrics: the registry, the dimension allow-list, and (soon) segment gaps and their statistics."""
