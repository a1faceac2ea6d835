"""Metrics, computed in the store: the registry of per-request metrics (``registry``) over the allow-listed
dimensions (``dimensions``), latency quantiles, costs, the overview's KPIs, data health, segment gaps with their
statistics (``gaps``, ``adjust``) and the daily decisions (``decisions``).

Never imports ``app``, ``ingest`` or ``alerts``: everything above reads metrics, metrics reads only the store.
"""
