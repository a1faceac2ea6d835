"""The house's rules as tests: the arrows that never point, and SQL that lives only in sql/.

Read from the source (every import, the lazy ones inside functions too), so a new module or package (alerts/, a
split of a module into a package) is held to the same rules the day it appears.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from routewatch.sqlfiles import SQL_DIR, part, query

ROOT = Path(__file__).resolve().parent.parent
# Top-level packages of the product.
PACKAGES = ("routewatch", "ingest", "metrics", "app", "alerts", "cli")
# package -> the packages it must never import. The command line (cli/) is the face: it may import every room,
# and no room imports it.
NEVER = {
    "routewatch": {"app", "ingest", "metrics", "alerts", "cli"},
    "metrics": {"app", "ingest", "alerts", "cli"},
    "ingest": {"app", "alerts", "cli"},
    "alerts": {"app", "cli"},
    "app": {"ingest", "cli"},
}
# Where code that may hold SQL lives (tests are exempt: they check the store with their own statements).
CODE = (*PACKAGES, "bench")
STATEMENT = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|CREATE\s+(TABLE|VIEW|DATABASE|FUNCTION)|ALTER\s+TABLE|DROP\s+TABLE"
    r"|OPTIMIZE\s+TABLE|TRUNCATE\s+TABLE)\b",
    re.DOTALL,
)


def _modules(packages: tuple[str, ...]) -> Iterator[tuple[str, Path]]:
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_arrows_that_never_point() -> None:
    wrong = []
    for module, path in _modules(PACKAGES):
        package = module.split(".")[0]
        if package not in NEVER:
            continue
        for imported in _imports(path):
            if imported.split(".")[0] in NEVER[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_the_rule_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def late():\n    from app import context\n    import ingest.load\n")
    assert _imports(module) == {"app", "ingest.load"}


def _strings(path: Path) -> Iterator[tuple[int, str, bool]]:
    """Each string constant (an f-string as its pattern, ``{}`` for a value) with its line; docstrings marked."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    # Parts of an f-string are read with it; a regular expression recognises SQL, it is none.
    skipped = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    skipped |= {
        id(arg)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "re"
        for arg in node.args[:1]
    }
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            yield node.lineno, text, False
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value, id(node) in docstrings


def test_no_sql_lives_outside_sql() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text.strip()[:80]!r}"
        for _, path in _modules(CODE)
        for line, text, docstring in _strings(path)
        if not docstring and STATEMENT.search(text)
    ]
    assert not found, "SQL belongs in sql/queries/ (one named query a file):\n" + "\n".join(found)


def _query_files(folder: str = "queries") -> list[str]:
    return sorted(p.name.removesuffix(".sql") for p in (SQL_DIR / folder).iterdir() if p.name.endswith(".sql"))


def test_every_query_file_is_used_by_code() -> None:
    constants: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for _, path in _modules(CODE):
        for _, text, _ in _strings(path):
            if "{}" in text:
                patterns.append(re.compile(".+".join(map(re.escape, text.split("{}")))))
            else:
                constants.add(text)
    unused = [
        name
        for name in _query_files()
        if name not in constants and not any(pattern.fullmatch(name) for pattern in patterns)
    ]
    assert not unused, f"query files no code reads: {unused}"


def test_every_part_is_included_or_read_by_code() -> None:
    """A part (sql/parts/) is used by a query that includes it, ``{{> name}}``, or by code that fills a slot with it."""
    included = {
        name
        for folder in ("queries", "parts")
        for path in (SQL_DIR / folder).iterdir()
        for name in re.findall(r"\{\{>\s*([a-z0-9_]+)\s*\}\}", path.read_text(encoding="utf-8"))
    }
    read = [text for _, path in _modules(CODE) for _, text, _ in _strings(path)]
    patterns = [re.compile(".+".join(map(re.escape, text.split("{}")))) for text in read if "{}" in text]
    unused = [
        name
        for name in _query_files("parts")
        if name not in included and name not in read and not any(pattern.fullmatch(name) for pattern in patterns)
    ]
    assert not unused, f"parts no query includes and no code reads: {unused}"


@pytest.mark.parametrize(
    ("folder", "name"), [(folder, name) for folder in ("queries", "parts") for name in _query_files(folder)]
)
def test_every_query_file_carries_its_header(folder: str, name: str) -> None:
    """``-- name`` (``-- part`` for a part), ``-- params`` and ``-- returns``; a template's ``-- slots`` line must
    name the slots it uses, which loading it checks."""
    key = "name" if folder == "queries" else "part"
    text = (SQL_DIR / folder / f"{name}.sql").read_text(encoding="utf-8")
    header = dict(re.findall(rf"^--\s*({key}|params|returns):\s*(.*\S)\s*$", text, flags=re.MULTILINE))
    assert header.get(key) == name, f"{name}.sql: '-- {key}: {name}' is missing or wrong"
    assert header.get("params"), f"{name}.sql: '-- params:' is missing (write 'none' when it takes none)"
    assert header.get("returns"), f"{name}.sql: '-- returns:' is missing"
    (query if folder == "queries" else part)(name)
