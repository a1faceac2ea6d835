"""Synthetic router traffic that plays the failure stories of routing in production, with a known truth.

Seeded and vectorized (a million requests in seconds). The stories and their planted truth (``PLANTED``):

1. **Second-class language.** Within every task type, requests in Hindi (``hi``) are escalated at half the rate
   of the same request in English, and are resolved 12 points less often, rated lower and thumbed down more.
2. **Scripted bulk account.** Account ``acct-bulk-007`` sends API extraction scripts from a few users; the
   router sends them to the cheap route, where 14 % fail (HTTP 429 and 503) and only 55 % resolve.
3. **Escalations double-pay and stretch the tail.** An escalated request pays the cheap call and the stronger
   one, and its latency is the sum of both.
4. **Cheap-share drift.** Router ``bert-router@v7`` replaces ``@v6`` halfway through the window and routes
   more traffic to the cheap route, creeping up day by day.
5. **Simpson's task mix.** German (``de``) speakers ask mostly hard questions (code, math), so their raw
   escalation rate is higher than English, while within each task type they are escalated *less* (x0.85).
6. Non-Latin scripts (``hi``, ``ja``) use 1.6x the tokens for the same request: cost and latency rise
   through tokens, which is the harm, not a confounder.
7. **A mis-scored language.** The router's difficulty score (``router_score``) under-rates Hindi prompts by
   0.15, so at the same score a Hindi request is harder, and resolved less often.
8. **A shadow candidate that would move one language to the cheap route.** The shadow router (``shadow_route``)
   sends every Spanish (``es``) request to the cheap route, where answers resolve less often than on the routes
   the live router chose for them; elsewhere it asks one tier more for hard tasks.
9. **Code is cheaper frontier-first.** An unresolved ``code`` answer that started below the frontier goes to a
   $0.50 human review 10 % of the time (3 % elsewhere), so per resolved request, frontier-first is the cheapest
   first route for code.
10. **Hindi speakers re-ask.** 60 % of Hindi escalations happen because the user asked again
   (``escalation_reason = user_retry``), a re-ask beyond those the timing of requests shows.

Stories 8 to 10 draw from their own generator (``PLANTED_SEED``), so the draws of every other column, and the
stories above, are the same as without them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

ESCALATION_MULTIPLIER: dict[str, float] = {"hi": 0.5, "de": 0.85}
RESOLUTION_PENALTY: dict[str, float] = {"hi": 0.12}
TOKEN_MULTIPLIER: dict[str, float] = {"hi": 1.6, "ja": 1.6}
BULK_ACCOUNT = "acct-bulk-007"
BULK_ERROR_RATE = 0.14
BULK_RESOLUTION_RATE = 0.55
SIMPSON_LANGUAGE = "de"
SCORE_SHIFT: dict[str, float] = {"hi": -0.15}
SHADOW_CHEAP_LANGUAGE = "es"
REVIEWED_TASK = "code"
REVIEW_RATE: dict[str, float] = {"reviewed": 0.10, "other": 0.03}  # unresolved answers sent to a human review
REVIEW_COST_USD = 0.5
USER_RETRY_SHARE: dict[str, float] = {"hi": 0.6}  # of escalations
PLANTED_SEED = 18  # the later stories' own generator: np.random.default_rng([seed, PLANTED_SEED])
STORIES = (
    f"hi: escalated x{ESCALATION_MULTIPLIER['hi']} within every task, resolved {RESOLUTION_PENALTY['hi']:.0%} less",
    f"{BULK_ACCOUNT}: API scripts routed cheap, {BULK_ERROR_RATE:.0%} errors, {BULK_RESOLUTION_RATE:.0%} resolved",
    "escalations pay for two calls and add both latencies",
    "bert-router@v7 replaces @v6 halfway and sends more traffic to the cheap route",
    f"{SIMPSON_LANGUAGE}: escalated more in aggregate, less within each task (task mix, Simpson)",
    f"hi: the router score under-rates its prompts by {-SCORE_SHIFT['hi']}",
    f"shadow router: sends every {SHADOW_CHEAP_LANGUAGE} request to the cheap route",
    f"{REVIEWED_TASK}: unresolved answers below the frontier reviewed by a human {REVIEW_RATE['reviewed']:.0%} of the "
    "time, so frontier-first is cheapest per resolved request",
    f"hi: {USER_RETRY_SHARE['hi']:.0%} of escalations are the user asking again (user_retry)",
)
PLANTED = {
    "escalation_multiplier": ESCALATION_MULTIPLIER,
    "resolution_penalty": RESOLUTION_PENALTY,
    "token_multiplier": TOKEN_MULTIPLIER,
    "bulk_account": BULK_ACCOUNT,
    "bulk_error_rate": BULK_ERROR_RATE,
    "bulk_resolution_rate": BULK_RESOLUTION_RATE,
    "router_switch": "bert-router@v6 -> bert-router@v7 at the middle of the window",
    "simpson_language": SIMPSON_LANGUAGE,
    "score_shift": SCORE_SHIFT,
    "shadow_cheap_language": SHADOW_CHEAP_LANGUAGE,
    "reviewed_task": REVIEWED_TASK,
    "review_rate": REVIEW_RATE,
    "user_retry_share": USER_RETRY_SHARE,
}

LANGUAGES = np.array(["en", "es", "hi", "de", "ja"])
LANGUAGE_SHARE = np.array([0.62, 0.12, 0.10, 0.08, 0.08])
REGIONS = {"en": ["us", "uk"], "es": ["es", "mx"], "hi": ["in"], "de": ["de"], "ja": ["jp"]}
TIERS = np.array(["free", "pro", "enterprise"])
TASKS = np.array(["code", "math", "extraction", "summarization", "chat"])
HARD = np.array([True, True, False, False, False])
TASK_MIX = np.array([0.18, 0.14, 0.16, 0.22, 0.30])
TASK_MIX_DE = np.array([0.38, 0.34, 0.08, 0.10, 0.10])
ROUTES = np.array(["cheap", "mid", "frontier"])
MODELS = np.array(["llama-3.1-8b", "mixtral-8x22b", "gpt-4o"])
PRICE_PER_1K = np.array([0.0002, 0.0012, 0.0100])  # blended input+output, USD
LATENCY_MEDIAN_MS = np.array([450.0, 900.0, 1800.0])


def _masked(values: np.ndarray, keep: np.ndarray) -> list[Any]:
    """Values where ``keep`` holds, None elsewhere (a field that is absent from the record)."""
    return [v if k else None for v, k in zip(values.tolist(), keep.tolist(), strict=True)]


def generate(
    rows: int, *, seed: int = 42, end: datetime | None = None, days: int = 28, first_user: int = 0
) -> pd.DataFrame:
    """A frame of canonical records (``calls`` included), deterministic for a given seed and end.

    Users are numbered from ``first_user``: traffic generated in parts (to bound memory) gives each part its own
    users, so that no user changes language or account from one part to the next."""
    rng = np.random.default_rng(seed)
    end = (end or datetime(2026, 11, 1, tzinfo=UTC)).astimezone(UTC)
    start = end - timedelta(days=days)

    # Users and their attributes.
    n_users = max(400, rows // 25)
    user_lang = rng.choice(LANGUAGES, n_users, p=LANGUAGE_SHARE)
    user_tier = rng.choice(TIERS, n_users, p=[0.6, 0.3, 0.1])
    user_api = rng.random(n_users) < 0.2
    user_account = np.where(user_api, rng.integers(0, 12, n_users), rng.integers(12, 60, n_users))
    bulk_users = np.arange(min(15, n_users))
    user_api[bulk_users] = True
    user_lang[bulk_users] = "en"
    activity = rng.lognormal(0, 1.0, n_users)
    activity[bulk_users] = activity.mean() * n_users * 0.05 / len(bulk_users)  # 5 % of all traffic
    user_region = np.array([rng.choice(REGIONS[lang]) for lang in user_lang])
    account_names = np.array([f"acct-{k:03d}" for k in range(60)], dtype=object)
    account_names[7] = BULK_ACCOUNT
    user_account[bulk_users] = 7
    user_account[(user_account == 7) & ~np.isin(np.arange(n_users), bulk_users)] = 8

    # Requests.
    user = rng.choice(n_users, rows, p=activity / activity.sum())
    lang = user_lang[user]
    is_bulk = np.isin(user, bulk_users)
    is_api = user_api[user]
    offset_s = np.sort(rng.random(rows)) * days * 86_400
    progress = offset_s / (days * 86_400)
    ts = np.datetime64(start.replace(tzinfo=None), "ms") + (offset_s * 1000).astype("timedelta64[ms]")

    task = np.where(lang == "de", rng.choice(len(TASKS), rows, p=TASK_MIX_DE), rng.choice(len(TASKS), rows, p=TASK_MIX))
    task[is_bulk] = 2  # extraction scripts
    hard = HARD[task]

    v7 = progress >= 0.5
    cheap_p = np.where(hard, 0.35, 0.72) + v7 * (0.12 + 0.10 * (progress - 0.5))
    cheap_p = np.where(is_bulk, 0.97, np.clip(cheap_p, 0, 0.97))
    draw = rng.random(rows)
    route = np.where(draw < cheap_p, 0, np.where(draw < cheap_p + (1 - cheap_p) * 0.6, 1, 2))

    esc_p = np.where(hard, 0.42, 0.10)
    for language, factor in ESCALATION_MULTIPLIER.items():
        esc_p = np.where(lang == language, esc_p * factor, esc_p)
    esc_p = np.where(is_bulk, 0.02, esc_p)
    escalated = (route < 2) & (rng.random(rows) < esc_p)
    final = route + escalated

    token_factor = np.ones(rows)
    for language, factor in TOKEN_MULTIPLIER.items():
        token_factor[lang == language] = factor
    input_tokens = (rng.lognormal(6.0, 0.8, rows) * token_factor * np.where(hard, 1.5, 1.0)).astype(np.int64) + 5
    output_tokens = (rng.lognormal(5.3, 0.7, rows) * token_factor).astype(np.int64) + 1
    tokens_k = (input_tokens + output_tokens) / 1000
    first_cost = tokens_k * PRICE_PER_1K[route]
    final_cost = tokens_k * PRICE_PER_1K[final]
    cost = np.where(escalated, first_cost + final_cost, first_cost)

    first_latency = rng.lognormal(np.log(LATENCY_MEDIAN_MS[route]), 0.45) * np.sqrt(token_factor)
    final_latency = rng.lognormal(np.log(LATENCY_MEDIAN_MS[final]), 0.45) * np.sqrt(token_factor)
    latency = np.where(escalated, first_latency + final_latency, first_latency)
    router_latency = rng.gamma(2.0, 6.0, rows)
    latency = latency + router_latency

    error_p = np.where(is_bulk & (route == 0), BULK_ERROR_RATE, 0.01)
    error = rng.random(rows) < error_p
    error_type = np.where(error, rng.choice(["http_429", "http_503", "timeout"], rows, p=[0.6, 0.3, 0.1]), "")

    resolve_p = np.where(hard, 0.55, 0.80) + 0.12 * final - np.where(hard & (final == 0), 0.15, 0.0)
    resolve_p = resolve_p - np.where(lang == "hi", RESOLUTION_PENALTY["hi"], 0.0)
    resolve_p = np.where(is_bulk, BULK_RESOLUTION_RATE, resolve_p)
    resolve_p = np.clip(np.where(error, 0.05, resolve_p), 0, 1)
    resolved = rng.random(rows) < resolve_p
    resolved_known = rng.random(rows) < 0.85

    rated = rng.random(rows) < np.where(is_api, 0.02, 0.25)
    thumb_up = rng.random(rows) < np.where(resolved, 0.85, 0.25) - np.where(lang == "hi", 0.08, 0.0)
    csat_rated = rng.random(rows) < np.where(is_api, 0.0, 0.12)
    csat = np.clip(np.round(rng.normal(np.where(resolved, 4.2, 2.6) - np.where(lang == "hi", 0.5, 0.0), 0.8)), 1, 5)

    score_shift = np.zeros(rows)
    for language, shift in SCORE_SHIFT.items():
        score_shift[lang == language] = shift

    shadow_on = rng.random(rows) < 0.5
    shadow = np.where(lang == SHADOW_CHEAP_LANGUAGE, 0, np.where(hard, np.minimum(route + 1, 2), route))
    reviewed = (TASKS[task] == REVIEWED_TASK) & (route < 2)
    review_p = np.where(reviewed, REVIEW_RATE["reviewed"], REVIEW_RATE["other"])

    frame = pd.DataFrame(
        {
            "request_id": np.char.add(f"req-{seed}-", np.char.zfill(np.arange(rows).astype(str), 9)),
            "ts": np.char.add(np.datetime_as_string(ts, unit="ms"), "Z"),
            "user_id": np.char.add("u-", (first_user + user).astype(str)),
            "account_id": account_names[user_account[user]],
            "session_id": np.char.add(
                np.char.add("s-", (first_user + user).astype(str)),
                np.char.add("-", (offset_s // 1800).astype(int).astype(str)),
            ),
            "language": lang,
            "channel": np.where(is_api, "api", "chat"),
            "tier": np.where(is_bulk, "enterprise", user_tier[user]),
            "region": user_region[user],
            "task_type": TASKS[task],
            "router": np.where(v7, "bert-router@v7", "bert-router@v6"),
            "router_score": np.round(np.clip(rng.normal(np.where(hard, 0.7, 0.3), 0.15) + score_shift, 0, 1), 4),
            "route": ROUTES[route],
            "final_route": ROUTES[final],
            "model": MODELS[final],
            "escalated": escalated,
            "escalation_reason": np.where(
                escalated,
                rng.choice(["low_confidence", "validator_failed", "error"], rows, p=[0.6, 0.3, 0.1]),
                "",
            ),
            "attempts": 1 + escalated.astype(int),
            "retries": error.astype(int),
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost_usd": np.round(cost, 9),
            "router_cost_usd": np.full(rows, 0.00002),
            "human_cost_usd": np.where(~resolved & (rng.random(rows) < review_p), REVIEW_COST_USD, 0.0),
            "latency_ms": np.round(latency, 1),
            "ttft_ms": np.round(latency * rng.uniform(0.15, 0.35, rows), 1),
            "router_latency_ms": np.round(router_latency, 2),
            "status": np.where(error, "error", "ok"),
            "error_type": error_type,
            "resolved": _masked(resolved, resolved_known),
            "thumb": _masked(np.where(thumb_up, 1, -1), rated),
            "csat": _masked(csat.astype(int), csat_rated),
            "shadow_route": np.where(shadow_on, ROUTES[shadow], ""),
        }
    )
    planted = np.random.default_rng([seed, PLANTED_SEED])
    retry_p = np.zeros(rows)
    for language, share in USER_RETRY_SHARE.items():
        retry_p[lang == language] = share
    frame.loc[escalated & (planted.random(rows) < retry_p), "escalation_reason"] = "user_retry"
    frame["segments"] = [
        {"native_speaker": "yes" if lg == "en" else "no", "client": "sdk" if api else "web"}
        for lg, api in zip(lang, is_api, strict=True)
    ]
    calls: list[list[dict[str, Any]] | None] = [None] * rows
    for i in map(int, np.flatnonzero(escalated)):
        calls[i] = [
            {"model": MODELS[route[i]], "route": ROUTES[route[i]], "cost_usd": round(float(first_cost[i]), 9),
             "latency_ms": round(float(first_latency[i]), 1), "status": "ok"},
            {"model": MODELS[final[i]], "route": ROUTES[final[i]], "cost_usd": round(float(final_cost[i]), 9),
             "latency_ms": round(float(final_latency[i]), 1), "status": "error" if error[i] else "ok"},
        ]  # fmt: skip
    frame["calls"] = calls
    return frame


def write_jsonl(frame: pd.DataFrame, path: Path) -> Path:
    """Write canonical records as JSON lines, leaving out null fields."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(frame.columns)
    with path.open("wb") as out:
        for values in zip(*(frame[c].tolist() for c in columns), strict=True):
            record = {c: v for c, v in zip(columns, values, strict=True) if v is not None and v != ""}
            out.write(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY))
            out.write(b"\n")
    return path
