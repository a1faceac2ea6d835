"""The SQL in sql/: named queries (one a file, with a header), the parts they include, and schema migrations.

sql/ ships as the package data of ``routewatch.sql`` and is read through ``importlib.resources``, so an installed
wheel and a checkout read the same files.

A query is a template when its header declares slots, ``-- slots: dims, filters, group_by``: each ``{{dims}}`` in
its body is filled by ``Query.render(dims=...)`` with an SQL fragment that code builds only from allow-listed
identifiers and other files of sql/ (values are never slot text: they stay bound, ``{name:Type}``). A part is a
fragment filed in sql/parts/ (header ``-- part: name``) rather than a statement: ``{{> name}}`` includes it where it
stands, and its slots become the includer's; a part that is there or not (the columns only some runs need) fills a
slot instead, ``part(name).render()`` or nothing. Rendering fails with ``SlotError`` on a slot left unfilled, an
unknown slot, or a ``{{...}}`` left in the result; a file whose markers and ``-- slots:`` line disagree fails to load.
A multi-line value takes the indentation of its marker's line, and a marker alone on its line that is filled with
nothing takes its line away, so that what runs reads as it is shown (``routewatch sql --show NAME``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Literal

SQL_DIR: Traversable = files("routewatch.sql")
_MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_NAME = re.compile(r"[a-z0-9_]+")
Kind = Literal["query", "part"]
# Each kind's folder in sql/ and the header line that names it.
_KINDS: dict[str, tuple[str, str]] = {"query": ("queries", "name"), "part": ("parts", "part")}
# {{slot}} or {{> part}}; MARKER finds anything else that looks like one, so that a typo cannot pass as SQL.
_SLOT = re.compile(r"\{\{\s*(>?)\s*([a-z0-9_]+)\s*\}\}")
_MARKER = re.compile(r"\{\{.*?\}\}")


class SlotError(ValueError):
    """A template rendered with a slot unfilled or unknown, or with a ``{{...}}`` left in its SQL."""


@dataclass(frozen=True)
class Query:
    """One statement from sql/queries/<name>.sql (or one part from sql/parts/<name>.sql) with its header.

    ``text`` is the whole file (header and template); ``template`` is the body with its parts included, and
    ``slots`` every slot ``render`` takes: the declared ones and those of the included parts, in order.
    """

    name: str
    params: str
    returns: str
    text: str
    template: str = ""
    slots: tuple[str, ...] = ()

    def render(self, **values: str) -> str:
        """The body with every slot filled by its SQL fragment (``""`` for none); the header is left out.

        Raises SlotError naming the query and the slots when one is unfilled or unknown, or when a ``{{...}}``
        is left after filling (a value may not carry a slot of its own).
        """
        missing = [slot for slot in self.slots if slot not in values]
        unknown = sorted(set(values) - set(self.slots))
        if missing or unknown:
            problems = [f"slot(s) {', '.join(missing)} not filled"] if missing else []
            problems += [f"unknown slot(s) {', '.join(unknown)}"] if unknown else []
            takes = ", ".join(self.slots) or "none"
            raise SlotError(f"{self.name}: {'; '.join(problems)} (its slots: {takes})")
        lines = []
        for line in self.template.splitlines():
            marker = _SLOT.fullmatch(line.strip())
            if marker and not values[marker.group(2)]:
                continue
            lines.append(_filled(line, values))
        sql = "\n".join(lines)
        left = _MARKER.search(sql)
        if left:
            raise SlotError(f"{self.name}: {left.group(0)} is left in the rendered SQL (a slot value holds a slot)")
        return sql


@dataclass(frozen=True)
class Migration:
    """One schema file, sql/schema/NNN_name.sql, split into statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def _header(text: str, key: str) -> str:
    match = re.search(rf"^--\s*{key}:\s*(.*)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else ""


def _body(text: str) -> str:
    """The file without its header: the comment lines it starts with."""
    lines = text.strip().splitlines()
    while lines and lines[0].startswith("--"):
        lines.pop(0)
    return "\n".join(lines)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _filled(line: str, values: dict[str, str]) -> str:
    """One line of a template with its slots filled (in one pass: a value is never searched for slots)."""
    return _SLOT.sub(lambda found: _indented(values[found.group(2)], _indent(line)), line)


def _indented(value: str, indent: str) -> str:
    """A fragment's lines after its first indented like the line its marker stands on (blank lines kept blank)."""
    first, *rest = value.strip("\n").splitlines() or [""]
    return "\n".join([first, *(indent + line if line.strip() else "" for line in rest)])


def load(name: str, *, kind: Kind = "query", root: Traversable = SQL_DIR, including: tuple[str, ...] = ()) -> Query:
    """Read <root>/queries/<name>.sql (or parts/ for a ``kind`` of part), check its header and its markers against
    its ``-- slots:`` line, and include its parts (read from <root>/parts/).

    KeyError for a name that is not a file there; ValueError naming the file for a wrong header, a marker that is
    not declared (or declared and not used), a malformed marker, or a part that includes itself.
    """
    folder, key = _KINDS[kind]
    if not _NAME.fullmatch(name):
        raise KeyError(f"invalid {kind} name {name!r}")
    path = root / folder / f"{name}.sql"
    if not path.is_file():
        raise KeyError(f"no {kind} named {name!r} in {root / folder}")
    text = path.read_text(encoding="utf-8")
    if _header(text, key) != name:
        raise ValueError(f"{path}: header '-- {key}: {name}' is missing or wrong")
    body = _body(text)
    declared = [slot.strip() for slot in _header(text, "slots").split(",") if slot.strip()]
    markers = _SLOT.findall(body)
    used = {slot for include, slot in markers if not include}
    if len(markers) != len(_MARKER.findall(body)):
        raise ValueError(f"{path}: a {{{{...}}}} marker is neither {{{{slot}}}} nor {{{{> part}}}}")
    if used != set(declared):
        raise ValueError(
            f"{path}: the '-- slots:' line ({', '.join(declared) or 'none'}) does not match the slots the SQL "
            f"uses ({', '.join(sorted(used)) or 'none'})"
        )
    slots = dict.fromkeys(declared)
    chain = (*including, name) if kind == "part" else including  # the parts being included, to refuse a cycle
    lines = []
    for line in body.splitlines():
        include = _SLOT.fullmatch(line.strip())
        if include and include.group(1):
            if include.group(2) in chain:
                raise ValueError(f"{path}: part {include.group(2)!r} includes itself")
            included = load(include.group(2), kind="part", root=root, including=chain)
            slots.update(dict.fromkeys(included.slots))
            lines.append(_indent(line) + _indented(included.template, _indent(line)))
        elif any(found.group(1) for found in _SLOT.finditer(line)):
            raise ValueError(f"{path}: an include, {{{{> part}}}}, stands alone on its line")
        else:
            lines.append(line)
    params, returns = _header(text, "params"), _header(text, "returns")
    return Query(name, params, returns, text.strip(), "\n".join(lines), tuple(slots))


@cache
def query(name: str) -> Query:
    """Load a named query; the name must be one of the files in sql/queries/. KeyError for an unknown name,
    ValueError for a file whose header or slots are wrong."""
    return load(name)


@cache
def part(name: str) -> Query:
    """Load a part, sql/parts/<name>.sql: a fragment that queries include (``{{> name}}``) or that fills a slot."""
    return load(name, kind="part")


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
