"""The time window every query takes: ``since <= ts < until`` in UTC, at the store's millisecond precision."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

# The open ends of a window: DateTime64(3, 'UTC') holds every stored time between them.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)


class WindowError(ValueError):
    """A time that cannot be read, or a window that ends before it starts."""


def _utc(moment: datetime | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as a UTC datetime (UTC when it has no offset), rounded up to the millisecond.

    Raises WindowError naming the text when it is not a time.
    """
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        raise WindowError(
            f"cannot read {text!r} as a time (use ISO 8601, e.g. 2026-11-01 or 2026-11-01T12:00Z)"
        ) from None
    # Stored times are whole milliseconds: rounding a bound up keeps `since <= ts < until` exact (see window).
    return _utc(stamp).ceil("ms").to_pydatetime()


def window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """The bounds ``since <= ts < until`` in UTC as the store compares them, at its millisecond precision.

    Open ends become EPOCH and FAR_FUTURE. Both bounds round *up* to the millisecond: a stored ts (whole
    milliseconds) is >= since exactly when it is >= the ceiling, and likewise < until (truncating 10:00:00.0005
    would drop a row at 10:00:00.000). Raises WindowError when ``since`` is after ``until``.
    """
    low, high = (_utc(t or default).ceil("ms") for t, default in ((since, EPOCH), (until, FAR_FUTURE)))
    if low > high:
        raise WindowError(f"the window starts ({low.isoformat()}) after it ends ({high.isoformat()})")
    return low.to_pydatetime(), high.to_pydatetime()
