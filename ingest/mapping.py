"""Where each source keeps the user, session and segment fields: defaults, overridden in routewatch.toml.

Each source has a list of places per canonical field, tried in order (the first non-empty value wins):
OpenTelemetry attribute names (span attributes first, then the resource's), or dotted paths into a LiteLLM row
(``metadata.spend_logs_metadata.language``: ``metadata`` is JSON text in the row). ``segments`` lists prefixes
(OTLP) or objects (LiteLLM) whose every key becomes a ``segments.<key>`` of the request. A team changes them in
routewatch.toml, for instance::

    [sources.otlp]
    language = ["app.user.language"]
    tier = ["app.plan"]
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from routewatch.settings import CONFIG_FILE, SettingsError

Mapping = dict[str, tuple[str, ...]]
FIELDS = ("user_id", "session_id", "account_id", "language", "channel", "tier", "task_type", "region", "segments")

DEFAULTS: dict[str, Mapping] = {
    "otlp": {
        "user_id": ("user.id", "enduser.id"),
        "session_id": ("gen_ai.conversation.id", "session.id"),
        "account_id": ("tenant.id", "routewatch.account_id"),
        "language": ("routewatch.language", "user.language"),
        "channel": ("routewatch.channel",),
        "tier": ("routewatch.tier", "user.tier"),
        "task_type": ("routewatch.task_type",),
        "region": ("routewatch.region", "cloud.region"),
        "segments": ("routewatch.segment.",),
    },
    "litellm": {
        "user_id": ("end_user", "metadata.user_api_key_end_user_id"),
        "session_id": ("session_id",),
        "account_id": ("team_id", "metadata.user_api_key_team_id"),
        "language": ("metadata.spend_logs_metadata.language",),
        "channel": ("metadata.spend_logs_metadata.channel",),
        "tier": ("metadata.spend_logs_metadata.tier",),
        "task_type": ("metadata.spend_logs_metadata.task_type",),
        "region": ("metadata.spend_logs_metadata.region",),
        "segments": ("metadata.spend_logs_metadata",),
    },
    "helicone": {
        "user_id": ("request_user_id",),
        "session_id": ("request_properties.Helicone-Session-Id",),
        "account_id": ("request_properties.account_id",),
        "language": ("request_properties.language",),
        "channel": ("request_properties.channel",),
        "tier": ("request_properties.tier",),
        "task_type": ("request_properties.task_type",),
        "region": ("request_properties.region", "country_code"),
        "segments": ("request_properties",),
        # score names (of the row's scores) that are user feedback, case-insensitive: Helicone's own thumbs
        # (POST /v1/request/{id}/feedback) are the score helicone-score-feedback, 1 for up and 0 for down
        "thumb": ("helicone-score-feedback",),
        "csat": ("csat", "satisfaction"),
        "resolved": ("resolved", "resolution", "task_resolved"),
    },
    "langfuse": {
        "user_id": ("userId", "metadata.user_id"),
        "session_id": ("sessionId",),
        "account_id": ("metadata.account_id",),
        "language": ("metadata.language",),
        "channel": ("metadata.channel",),
        "tier": ("metadata.tier",),
        "task_type": ("metadata.task_type",),
        "region": ("metadata.region",),
        "segments": (),  # metadata holds anything: name the object of segment fields, e.g. ["metadata.segments"]
        # score names that are user feedback, case-insensitive
        "thumb": ("user-feedback", "user_feedback", "feedback", "thumbs", "thumb"),
        "csat": ("csat", "satisfaction"),
        "resolved": ("resolved", "resolution", "task_resolved"),
    },
}
DEFAULTS["langfuse-scores"] = DEFAULTS["langfuse"]


def load_mapping(source: str, config_path: Path | None = None) -> Mapping:
    """The mapping of ``source``: its defaults with the fields routewatch.toml's ``[sources.<source>]`` sets."""
    mapping = dict(DEFAULTS[source])
    source = source.removesuffix("-scores")  # one [sources.langfuse] table for traces and scores
    path = config_path or Path(os.environ.get("ROUTEWATCH_CONFIG", CONFIG_FILE))
    if not path.is_file():
        return mapping
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("sources", {}).get(source, {})
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None
    known = sorted(set(FIELDS) | set(DEFAULTS[source]))
    for name, places in table.items():
        if name not in known:
            raise SettingsError(f"{path}: [sources.{source}] {name}: unknown field; use one of {', '.join(known)}")
        if isinstance(places, str):
            places = [places]
        if not isinstance(places, list) or not all(isinstance(p, str) for p in places):
            raise SettingsError(f"{path}: [sources.{source}] {name}: expected a list of names")
        mapping[name] = tuple(places)
    return mapping
