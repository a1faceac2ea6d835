"""Metrics, computed in the store: the metric table (``registry``: every metric once, with its gap test and
margin) over the allow-listed dimensions (``dimensions``) and a time window (``window``), latency quantiles, costs,
the overview's KPIs, data health, segment gaps with their statistics (``gaps``, ``adjust``), router-score
calibration (``calibration``) and the stored verdicts read back (``decisions``).

Never imports ``app``, ``ingest``, ``alerts`` or ``cli``: everything above reads metrics, metrics reads only the
store.
"""
