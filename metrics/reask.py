"""Re-asks: a user who asks again soon after an answer is a quality signal that needs no feedback widget.

A request is *re-asked* when the same user sends another request in the same session (or, when neither has a
session, another without one) at most the re-ask window later (10 minutes by default, ``ROUTEWATCH_REASK_WINDOW``),
or when it escalated because the user asked again (``escalation_reason = user_retry``). The follow-up may be of any
kind and may fall after the time window: it says something about the request it follows. The metric
``reask_rate`` (metrics.registry) and the gap statistics' binary metric of the same name read the flag from
the part sql/parts/reask_requests.sql.
"""

from __future__ import annotations

from routewatch.sqlfiles import part

REASK_WINDOW_S = 600.0


def reask_source(wanted: bool = True) -> str:
    """What a query's reask_source slot holds: the live requests with their re-ask flag (the part reask_requests,
    which binds reask_window_ms), or unless ``wanted`` the live requests alone."""
    return part("reask_requests").render() if wanted else "requests_live"


def window_ms(seconds: float) -> int:
    """The re-ask window as whole milliseconds, the store's precision; raises ValueError unless it is positive."""
    if not seconds > 0:
        raise ValueError(f"the re-ask window must be a positive number of seconds, not {seconds!r}")
    return round(seconds * 1000)
