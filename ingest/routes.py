"""routes.toml: which tier a model belongs to and what its tokens cost.

A source that logs model calls (OpenTelemetry spans, LiteLLM spend logs) names models, not routewatch tiers; this
table maps model name patterns to a tier, and to a price per million input and output tokens for the calls whose
source reports no cost. The default (ingest/routes.toml, shipped with routewatch) covers common models; a team's
own ``routes.toml`` (in the working directory, or where ``ROUTEWATCH_ROUTES`` points) replaces it.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

ROUTES_FILE = "routes.toml"


class RoutesError(ValueError):
    """A routes.toml that cannot be used (bad TOML, a tier missing from ``order``, a negative price)."""


@dataclass(frozen=True)
class ModelRoute:
    """One ``[[model]]`` entry: a shell-style name pattern, its tier and its prices in USD per million tokens."""

    pattern: str
    tier: str
    input_per_mtok: float | None = None
    output_per_mtok: float | None = None

    def cost_usd(self, input_tokens: int, output_tokens: int) -> float | None:
        """Tokens x price in USD, or None when this entry has no price."""
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return None
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


@dataclass(frozen=True)
class RouteTable:
    """The tiers from cheapest to strongest and the model entries, first match wins."""

    order: tuple[str, ...]
    models: tuple[ModelRoute, ...]
    source: str = ""

    def match(self, model: str) -> ModelRoute | None:
        """The first entry whose pattern matches ``model`` (case-insensitive; a ``provider/`` prefix is ignored)."""
        return _match(self, model.strip().lower())

    def tier(self, model: str) -> str:
        """The tier of ``model``; a model no pattern matches is its own tier (named by the model)."""
        found = self.match(model)
        return found.tier if found else model

    def rank(self, tier: str) -> int:
        """The position of ``tier`` in ``order`` (-1 when it is not listed: stronger than nothing)."""
        return self.order.index(tier) if tier in self.order else -1


@cache
def _match(table: RouteTable, model: str) -> ModelRoute | None:
    names = (model, model.rsplit("/", 1)[-1]) if "/" in model else (model,)
    for entry in table.models:
        if any(fnmatch.fnmatchcase(name, entry.pattern.lower()) for name in names):
            return entry
    return None


def parse_routes(text: str, source: str) -> RouteTable:
    """A RouteTable from the text of a routes.toml; ``source`` names it in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RoutesError(f"{source}: {exc}") from None
    order = tuple(str(t) for t in data.get("order", ()))
    models = []
    for number, entry in enumerate(data.get("model", []), start=1):
        where = f"{source}: [[model]] #{number}"
        if not isinstance(entry, dict) or not entry.get("pattern") or not entry.get("tier"):
            raise RoutesError(f"{where}: needs a pattern and a tier")
        prices = [entry.get("input_per_mtok"), entry.get("output_per_mtok")]
        if any(p is not None and (not isinstance(p, int | float) or p < 0) for p in prices):
            raise RoutesError(f"{where}: prices must be numbers >= 0")
        if order and entry["tier"] not in order:
            raise RoutesError(f"{where}: tier {entry['tier']!r} is not in order {list(order)}")
        models.append(ModelRoute(str(entry["pattern"]), str(entry["tier"]), *prices))
    return RouteTable(order, tuple(models), source)


def load_routes(path: Path | None = None) -> RouteTable:
    """The team's routes.toml (``path``, ``$ROUTEWATCH_ROUTES`` or ./routes.toml), else routewatch's default."""
    chosen = path or (Path(os.environ["ROUTEWATCH_ROUTES"]) if os.environ.get("ROUTEWATCH_ROUTES") else None)
    if chosen is None and Path(ROUTES_FILE).is_file():
        chosen = Path(ROUTES_FILE)
    if chosen is not None:
        try:
            return parse_routes(chosen.read_text(encoding="utf-8"), str(chosen))
        except OSError as exc:
            raise RoutesError(f"{chosen}: cannot read: {exc}") from None
    default = resources.files("ingest").joinpath(ROUTES_FILE)
    return parse_routes(default.read_text(encoding="utf-8"), "routewatch's default routes.toml")
