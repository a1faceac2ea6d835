"""The SQL in sql/: named queries (one a file, with a header) and ordered schema migrations.

sql/ ships as the package data of ``routewatch.sql`` and is read through ``importlib.resources``, so an installed
wheel and a checkout read the same files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable

SQL_DIR: Traversable = files("routewatch.sql")
_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Query:
    """One statement from sql/queries/<name>.sql with the header that documents it."""

    name: str
    params: str
    returns: str
    text: str


@dataclass(frozen=True)
class Migration:
    """One schema file, sql/schema/NNN_name.sql, split into statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def _header(text: str, key: str) -> str:
    match = re.search(rf"^--\s*{key}:\s*(.*)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else ""


@cache
def query(name: str) -> Query:
    """Load a named query; the name must be one of the files in sql/queries/."""
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise KeyError(f"invalid query name {name!r}")
    path = SQL_DIR / "queries" / f"{name}.sql"
    if not path.is_file():
        raise KeyError(f"no query named {name!r} in {SQL_DIR / 'queries'}")
    text = path.read_text(encoding="utf-8")
    if _header(text, "name") != name:
        raise ValueError(f"{path}: header '-- name: {name}' is missing or wrong")
    return Query(name=name, params=_header(text, "params"), returns=_header(text, "returns"), text=text.strip())


def split_statements(text: str) -> tuple[str, ...]:
    """Split a schema file on semicolons that end a line (our SQL never has one inside a literal)."""
    statements = []
    for chunk in re.split(r";\s*$", text, flags=re.MULTILINE):
        body = "\n".join(line for line in chunk.splitlines() if line.strip()).strip()
        if body and not all(line.lstrip().startswith("--") for line in body.splitlines()):
            statements.append(body)
    return tuple(statements)


def migrations() -> list[Migration]:
    """All schema migrations in version order."""
    found = []
    for path in sorted((SQL_DIR / "schema").iterdir(), key=lambda item: item.name):
        if not path.name.endswith(".sql"):
            continue
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise ValueError(f"{path}: schema files are named NNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), split_statements(path.read_text(encoding="utf-8"))))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate schema versions in {SQL_DIR / 'schema'}")
    return found
