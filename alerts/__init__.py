"""Alerts: the scheduled job that judges closed days, applies the rules, keeps each alert's lifecycle in the state
database and delivers emails and webhooks through an outbox.

An *alert* (an incident) is one open problem per (dimension, segment, metric): it opens on a decided gap the
rules watch, re-notifies only when it gets worse, and closes on equivalence or two clean weekly audits
(STATISTICS.md R7). Modules: ``judge`` (``routewatch decide``: the verdict of each closed day), ``rules``
(routewatch.toml), ``verdicts`` (the stored verdicts and the metric facts, read), ``state`` (SQLAlchemy +
Alembic), ``lifecycle``, ``message`` (the email), ``delivery`` (outbox, SMTP, webhooks) and ``job``
(``routewatch alerts run``/``preview``).
"""
