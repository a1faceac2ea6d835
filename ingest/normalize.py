"""Turn parsed records into typed columns, one per contract field, noting every value of the wrong type.

Columns are built field by field. When a column holds only the types the contract expects (the common case),
it is converted in one vectorized step; only columns with stray types take the per-value path.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ingest.contract import CALL_FIELDS, Field

Reasons = dict[int, list[str]]
_NONE = type(None)
_OFFSET = re.compile(r"(Z|z|[+-]\d\d(:?\d\d)?)$")
_TRUE = {"true": True, "1": True, "false": False, "0": False}
_EPOCH_MS_FROM = 1e11  # an epoch in seconds passes this only in the year 5138


class _Bad(ValueError):
    """A value that does not fit its field's kind; the message is the reason."""


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad(f"expected a number, got {_describe(value)}")
    try:
        number = float(value)
    except ValueError:
        raise _Bad(f"expected a number, got {_describe(value)}") from None
    if not math.isfinite(number):
        raise _Bad(f"expected a finite number, got {_describe(value)}")
    return number


def _to_int(value: Any) -> int:
    number = _to_float(value)
    if not number.is_integer():
        raise _Bad(f"expected a whole number, got {_describe(value)}")
    return int(number)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE:
        return _TRUE[value.strip().lower()]
    raise _Bad(f"expected true/false or 0/1, got {_describe(value)}")


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _Bad(f"expected a string, got {_describe(value)}")


def _to_epoch_ms(value: Any) -> int:
    if isinstance(value, str):
        text = value.strip()
        try:
            return round(_to_float(text) * (1 if float(text) >= _EPOCH_MS_FROM else 1000))
        except (_Bad, ValueError):
            pass
        if not _OFFSET.search(text):
            raise _Bad(f"timestamp {_describe(value)} has no UTC offset (add Z or +00:00)")
        try:
            parsed = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise _Bad(f"not an ISO 8601 timestamp: {_describe(value)}") from None
        return round(parsed.timestamp() * 1000)
    number = _to_float(value)
    return round(number if number >= _EPOCH_MS_FROM else number * 1000)


def _to_map(value: Any) -> dict[str, str]:
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise _Bad("expected an object of strings") from None
    if not isinstance(value, dict):
        raise _Bad(f"expected an object of strings, got {_describe(value)}")
    out = {}
    for key, item in value.items():
        if isinstance(item, dict | list) or item is None:
            raise _Bad(f"key {key!r} must hold a string, got {_describe(item)}")
        out[str(key)] = item if isinstance(item, str) else orjson.dumps(item).decode()
    return out


_CONVERTERS = {
    "string": _to_string,
    "float": _to_float,
    "decimal": _to_float,
    "int": _to_int,
    "bool": _to_bool,
    "timestamp": _to_epoch_ms,
    "map": _to_map,
}
# The types that each kind takes without conversion (the vectorized path).
_NATIVE: dict[str, set[type]] = {
    "string": {str, _NONE},
    "float": {float, int, _NONE},
    "decimal": {float, int, _NONE},
    "int": {int, _NONE},
    "bool": {bool, _NONE},
}


def _column(field: Field, raw: list[Any], reasons: Reasons) -> Any:
    """One typed column; wrong values become missing and add a reason for their row."""
    if field.kind == "calls":
        return raw  # flattened into its own table by normalize_calls
    kinds = set(map(type, raw))
    if field.kind in _NATIVE and kinds <= _NATIVE[field.kind] and not (field.kind == "float" and bool in kinds):
        values: list[Any] = raw
    else:
        convert = _CONVERTERS[field.kind]
        values = [None] * len(raw)
        for i, value in enumerate(raw):
            if value is None or (isinstance(value, str) and value == ""):
                continue
            try:
                values[i] = convert(value)
            except _Bad as exc:
                reasons[i].append(f"{field.name}: {exc}")
    return _typed(field, values)


def _typed(field: Field, values: list[Any]) -> Any:
    if field.kind in ("float", "decimal"):
        return np.array(values, dtype="float64")  # None becomes NaN
    if field.kind in ("int", "timestamp"):
        return pd.array(values, dtype="Int64")
    if field.kind == "bool":
        return pd.array(values, dtype="boolean")
    return values


def normalize(records: Sequence[dict[str, Any]], fields: Sequence[Field]) -> tuple[pd.DataFrame, Reasons]:
    """Typed frame (one column per field, missing values as NA) and the type errors of each row."""
    reasons: Reasons = defaultdict(list)
    columns = {field.name: _column(field, [r.get(field.name) for r in records], reasons) for field in fields}
    frame = pd.DataFrame(columns)
    for field in fields:
        if field.default is not None:
            frame[field.name] = frame[field.name].fillna(field.default)
            if field.kind == "string":
                frame.loc[frame[field.name] == "", field.name] = field.default
    return frame, reasons


def normalize_calls(values: Sequence[Any], reasons: Reasons) -> pd.DataFrame:
    """Flatten each row's ``calls`` list into one frame with a ``row`` column pointing back at the request."""
    rows: list[int] = []
    flat: list[dict[str, Any]] = []
    for i, calls in enumerate(values):
        if calls is None:
            continue
        if isinstance(calls, str) and calls.strip().startswith("["):
            with contextlib.suppress(orjson.JSONDecodeError):
                calls = orjson.loads(calls)
        if not isinstance(calls, list) or not all(isinstance(c, dict) for c in calls):
            reasons[i].append("calls: expected a list of objects")
            continue
        rows.extend([i] * len(calls))
        flat.extend(calls)
    call_frame, call_reasons = normalize(flat, CALL_FIELDS)
    for j, messages in call_reasons.items():
        reasons[rows[j]].extend(f"calls.{m}" for m in messages)
    call_frame.insert(0, "row", np.array(rows, dtype="int64"))
    return call_frame
