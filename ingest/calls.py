"""Model calls to logical requests: the part every call-level source (spans, spend logs) shares.

A source reader turns each span or row into a ``Call`` (or a ``Rejected`` record with its reason), keyed by what
ties the calls of one request together (a trace id, a request id). ``requests`` groups the calls of each key, in
bounded memory (calls are spilled to disk partitions by key when the input is large), and ``to_request`` folds one
group into one canonical record:

- ``route`` is the tier of the first call, ``model`` the model of the answering call (the last successful one, or
  the last one when all failed), ``final_route`` its tier;
- ``escalated`` when a later call ran on a stronger tier (routes.toml's ``order``), with the reason the call before
  it gives: ``rate_limited`` (HTTP 429), ``timeout``, ``validator_failed``, ``error``, else ``other``;
- ``retries`` counts calls on the same tier as the call before them; ``attempts`` every call;
- tokens and cost are summed over every call, the failed ones too; a call without a reported cost costs tokens x
  its model's price, and ``cost_source`` says which (``reported``, ``tokens_x_price`` or ``mixed``). A call with
  neither makes the request unpriced: it loads with ``cost_usd`` null and ``cost_source`` ``unpriced``, so that it
  counts in volume and quality and in no cost (never as $0).
"""

from __future__ import annotations

import contextlib
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ingest.contract import UNPRICED
from ingest.readers import Chunk
from ingest.routes import RouteTable

UNKNOWN_USER = "unknown"
# Calls held in memory per partition; above this the calls are spilled to disk partitions by key.
SPILL_CALLS = 200_000
# Context fields a call can carry for its request (the first non-empty value over the calls wins).
CONTEXT_FIELDS = ("user_id", "session_id", "account_id", "language", "channel", "tier", "task_type", "region")


@dataclass
class Call:
    """One model call (a span, a spend-log row), with what it tells about its request.

    ``position`` is the call's 1-based place in its input (the quarantine's line number for its request),
    ``where`` says it in words (``line 3, span 2``). Times are in ns since the epoch; ``cost_usd`` is None when
    the source reports no cost. ``is_call`` is False for a span that only carries context (a user id on the root).
    """

    key: str
    position: int
    where: str
    start_ns: int = 0
    end_ns: int = 0
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    ttft_ms: float | None = None
    status: str = "ok"
    error_type: str = ""
    retries: int = 0
    escalation_reason: str = ""
    is_call: bool = True
    context: dict[str, str] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)
    feedback: dict[str, Any] = field(default_factory=dict)  # the request's thumb, csat or resolved, if told


@dataclass
class Rejected:
    """A span or row that cannot be read as a call: quarantined with its reason and raw text."""

    position: int
    reason: str
    raw: str


Item = Call | Rejected


def reason_for(status: str, error_type: str) -> str:
    """The escalation reason a failed (or weak) call gives the call after it."""
    text = error_type.lower()
    if "429" in text or "rate" in text:
        return "rate_limited"
    if "timeout" in text or "timed out" in text or "deadline" in text:
        return "timeout"
    if "valid" in text:
        return "validator_failed"
    return "error" if status == "error" else "other"


def to_request(calls: list[Call], routes: RouteTable) -> dict[str, Any]:
    """One canonical request record (with ``__line``, and ``__error`` when it cannot load) from its calls."""
    context = {name: "" for name in CONTEXT_FIELDS}
    segments: dict[str, str] = {}
    feedback: dict[str, Any] = {}
    for call in sorted(calls, key=lambda c: c.position):
        feedback = {**call.feedback, **feedback}  # the first call that tells a kind wins, as for context
        for name, value in call.context.items():
            context[name] = context[name] or value
        for name, value in call.segments.items():
            segments.setdefault(name, value)
    position = min(c.position for c in calls)
    made = sorted((c for c in calls if c.is_call), key=lambda c: (c.start_ns, c.position))
    record: dict[str, Any] = {"__line": position, "request_id": calls[0].key}
    if not made:
        return record  # context alone: dropped by the caller
    tiers = [routes.tier(c.model) for c in made]
    answering = next((i for i in range(len(made) - 1, -1, -1) if made[i].status == "ok"), len(made) - 1)
    escalated_at = next((i for i in range(1, len(made)) if routes.rank(tiers[i]) > routes.rank(tiers[0])), None)
    reason = ""
    if escalated_at is not None:
        before = made[escalated_at - 1]
        reason = before.escalation_reason or made[escalated_at].escalation_reason
        reason = reason or reason_for(before.status, before.error_type)
    retries = sum(1 for i in range(1, len(made)) if tiers[i] == tiers[i - 1]) + sum(c.retries for c in made)
    costs, sources, unpriced = [], set(), []
    for call in made:
        if call.cost_usd is not None:
            costs.append(call.cost_usd)
            sources.add("reported")
            continue
        entry = routes.match(call.model)
        priced = entry.cost_usd(call.input_tokens, call.output_tokens) if entry else None
        if priced is None:
            unpriced.append(call.model or "(no model)")
        else:
            costs.append(priced)
            sources.add("tokens_x_price")
    start = made[0].start_ns
    end = max(c.end_ns for c in made)
    answer = made[answering]
    ttft = None if answer.ttft_ms is None else (answer.start_ns - start) / 1e6 + answer.ttft_ms
    record.update(
        ts=start // 1_000_000,
        user_id=context.pop("user_id") or UNKNOWN_USER,
        **{k: v for k, v in context.items() if v},
        segments=segments,
        route=tiers[0],
        final_route=tiers[answering],
        model=answer.model,
        escalated=escalated_at is not None,
        escalation_reason=reason,
        attempts=len(made),
        retries=retries,
        input_tokens=sum(c.input_tokens for c in made),
        output_tokens=sum(c.output_tokens for c in made),
        cost_usd=None if unpriced else round(sum(costs), 9),
        cost_source=UNPRICED if unpriced else sources.pop() if len(sources) == 1 else "mixed",
        latency_ms=max(0, end - start) / 1e6,
        ttft_ms=ttft,
        status=answer.status,
        error_type=answer.error_type,
        calls=[_call_detail(c, t, routes) for c, t in zip(made, tiers, strict=True)],
        **feedback,
    )
    return record


def _call_detail(call: Call, tier: str, routes: RouteTable) -> dict[str, Any]:
    cost = call.cost_usd
    if cost is None:
        entry = routes.match(call.model)
        cost = entry.cost_usd(call.input_tokens, call.output_tokens) if entry else None
    return {
        "model": call.model,
        "route": tier,
        "input_tokens": call.input_tokens,
        "output_tokens": call.output_tokens,
        "cost_usd": cost,
        "latency_ms": max(0, call.end_ns - call.start_ns) / 1e6,
        "status": call.status,
        "error_type": call.error_type,
    }


def rejected_record(item: Rejected) -> dict[str, Any]:
    """The record that quarantines a span or row: its position, reason and raw text."""
    return {"__line": item.position, "__error": item.reason, "__raw": item.raw}


def _group(calls: Iterable[Call], routes: RouteTable) -> Iterator[dict[str, Any]]:
    by_key: dict[str, list[Call]] = {}
    for call in calls:
        by_key.setdefault(call.key, []).append(call)
    records = (to_request(group, routes) for group in by_key.values())
    yield from sorted((r for r in records if "route" in r or "__error" in r), key=lambda r: r["__line"])


def requests(items: Iterable[Item], routes: RouteTable, spill_calls: int = SPILL_CALLS) -> Iterator[dict[str, Any]]:
    """Canonical records from calls and rejects: rejects first, then requests by key, in bounded memory.

    Calls are held in memory up to ``spill_calls``; past that every call goes to one of several disk partitions
    by a hash of its key, and each partition is grouped on its own (the calls of one key meet in one partition).
    The output order depends only on the input, so that a replay of one chunk gives the same rows.
    """
    held: list[Call] = []
    with contextlib.ExitStack() as cleanup:  # the spill goes however the caller stops reading: end, error, close
        handles: list[Any] = []
        for item in items:
            if isinstance(item, Rejected):
                yield rejected_record(item)
                continue
            if not handles:
                held.append(item)
                if len(held) < spill_calls:
                    continue
                spill = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="routewatch-calls-")))
                handles = [cleanup.enter_context((spill / f"{i:02d}.jsonl").open("wb")) for i in range(16)]
                for call in held:
                    _spill(handles, call)
                held = []
            else:
                _spill(handles, item)
        if not handles:
            yield from _group(held, routes)
            return
        for handle in handles:
            handle.close()
        for handle in handles:
            with open(handle.name, "rb") as lines:
                yield from _group((Call(**orjson.loads(line)) for line in lines), routes)


def _spill(handles: list[Any], call: Call) -> None:
    handles[zlib.crc32(call.key.encode()) % len(handles)].write(orjson.dumps(asdict(call)) + b"\n")


def record_chunks(records: Iterable[dict[str, Any]], chunk_rows: int, bytes_done: Callable[[], int]) -> Iterator[Chunk]:
    """Canonical records as numbered chunks of at most ``chunk_rows`` for the loader; ``bytes_done`` tells the
    progress bar how much of the input has been read."""
    rows: list[bytes] = []
    for record in records:
        rows.append(orjson.dumps(record, default=str))
        if len(rows) >= chunk_rows:
            yield Chunk(b"\n".join(rows), len(rows), numbered=True, bytes_done=bytes_done())
            rows = []
    yield Chunk(b"\n".join(rows), len(rows), numbered=True, bytes_done=bytes_done())
