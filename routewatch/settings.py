"""Settings: command-line flags first, then ROUTEWATCH_* environment variables, then routewatch.toml."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_STORE_PATH = Path(".routewatch") / "store"
CONFIG_FILE = "routewatch.toml"
# Tables of routewatch.toml that their own modules read (alerts.rules reads [alerts]).
SECTIONS = ("alerts", "sources")  # [alerts] rules (alerts/rules.py), [sources.*] field maps (ingest/mapping.py)

# How ingest streams a file (issue 16): lines a chunk, and chunks in flight at once (one parses and validates while the
# other decides and writes). Peak memory grows mostly with the chunk's size; speed too, with two in flight (each chunk
# costs a validation, a parse analysed anew and a write of fixed cost). Chosen by a sweep at 1M rows and checked at 5M
# (BENCHMARKS.md, the sixteenth session): 0.92 GB at 1M rows and 0.96 GB at 5M on 2 cores. Smaller machines lower them
# (40,000 x 2: 0.86 to 0.90 GB, about a tenth slower); 60,000 x 2 peaked at 0.92 to 0.96 GB at 1M, 80,000 x 2 at 1.0.
INGEST_CHUNK_ROWS = 50_000
INGEST_CHUNKS_IN_FLIGHT = 2

# Setting name -> environment variable. Every setting is documented in the README; a test checks that.
ENVIRONMENT = {
    "store": "ROUTEWATCH_STORE",
    "state_db": "ROUTEWATCH_STATE_DB",
    "smtp_host": "ROUTEWATCH_SMTP_HOST",
    "smtp_port": "ROUTEWATCH_SMTP_PORT",
    "smtp_user": "ROUTEWATCH_SMTP_USER",
    "smtp_password": "ROUTEWATCH_SMTP_PASSWORD",
    "smtp_tls": "ROUTEWATCH_SMTP_TLS",
    "mail_from": "ROUTEWATCH_MAIL_FROM",
    "alert_to": "ROUTEWATCH_ALERT_TO",
    "dashboard_url": "ROUTEWATCH_DASHBOARD_URL",
    "lock_timeout_s": "ROUTEWATCH_LOCK_TIMEOUT",
    "route_order": "ROUTEWATCH_ROUTE_ORDER",
    "query_time_limit_s": "ROUTEWATCH_QUERY_TIME_LIMIT",
    "reask_window_s": "ROUTEWATCH_REASK_WINDOW",
    "ingest_chunk_rows": "ROUTEWATCH_INGEST_CHUNK_ROWS",
    "ingest_chunks_in_flight": "ROUTEWATCH_INGEST_CHUNKS_IN_FLIGHT",
}


class SettingsError(ValueError):
    """A setting has a value routewatch cannot use."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Resolved settings of one routewatch invocation."""

    store: str = ""
    state_db: str = ""
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_tls: str = "none"
    mail_from: str = "routewatch@localhost"
    alert_to: str = ""
    dashboard_url: str = "http://localhost:8501"
    # How long a command waits for an embedded store that another process holds.
    lock_timeout_s: float = 60.0
    # Routes from cheapest to most expensive; the first one is "the cheap route".
    route_order: tuple[str, ...] = field(default=("cheap", "mid", "frontier"))
    # How long one query of a read-only client (`routewatch sql`, the dashboard) may run (ClickHouse's
    # max_execution_time): a heavy panel fails alone instead of holding the store.
    query_time_limit_s: float = 60.0
    # How soon another request of the same user in the same session makes a request re-asked (metrics.reask).
    reask_window_s: float = 600.0
    ingest_chunk_rows: int = INGEST_CHUNK_ROWS
    ingest_chunks_in_flight: int = INGEST_CHUNKS_IN_FLIGHT

    @property
    def store_dsn(self) -> str:
        """The store DSN, defaulting to the embedded store under the working directory."""
        return self.store or f"chdb://{DEFAULT_STORE_PATH.resolve()}"


def _coerce(where: str, raw: Any, kind: type) -> Any:
    try:
        if kind is tuple:
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(str(item).strip() for item in items if str(item).strip())
        return kind(raw)
    except (TypeError, ValueError) as exc:
        wanted = {int: "a whole number", float: "a number"}.get(kind, kind.__name__)
        raise SettingsError(f"{where}: cannot read {raw!r} as {wanted}") from exc


def config_file() -> Path:
    """The configuration file: ``ROUTEWATCH_CONFIG`` or ``routewatch.toml`` in the working directory."""
    return Path(os.environ.get("ROUTEWATCH_CONFIG", CONFIG_FILE))


def read_config(path: Path) -> dict[str, Any]:
    """The parsed TOML of ``path`` ({} when there is no such file); a syntax error names the file and line."""
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from exc


def load_settings(overrides: dict[str, Any] | None = None, config_path: Path | None = None) -> Settings:
    """Resolve settings from flags (``overrides``), the environment and ``routewatch.toml``."""
    path = config_path or config_file()
    from_file = read_config(path)
    if from_file:
        unknown = set(from_file) - {f.name for f in fields(Settings)} - set(SECTIONS)
        if unknown:
            raise SettingsError(f"{path}: unknown settings {sorted(unknown)}")
    values: dict[str, Any] = {}
    where: dict[str, str] = {}  # each value's source, as the person who set it calls it
    kinds = {f.name: f.type for f in fields(Settings)}
    for f in fields(Settings):
        kind = {"str": str, "int": int, "float": float}.get(str(kinds[f.name]), tuple)
        for source, raw in (
            (f"setting {f.name}", (overrides or {}).get(f.name)),
            (ENVIRONMENT[f.name], os.environ.get(ENVIRONMENT[f.name])),
            (f"{path}: {f.name}", from_file.get(f.name)),
        ):
            if raw not in (None, ""):
                values[f.name], where[f.name] = _coerce(source, raw, kind), source
                break
    settings = Settings(**values)
    if settings.smtp_tls not in ("none", "starttls", "ssl"):
        raise SettingsError(f"{where['smtp_tls']}: must be none, starttls or ssl, not {settings.smtp_tls!r}")
    if not settings.reask_window_s > 0:
        raise SettingsError(
            f"{where['reask_window_s']}: must be a positive number of seconds, not {settings.reask_window_s!r}"
        )
    for name in ("ingest_chunk_rows", "ingest_chunks_in_flight"):
        if getattr(settings, name) < 1:
            raise SettingsError(f"{where[name]}: must be a whole number of at least 1, not {getattr(settings, name)!r}")
    return settings
