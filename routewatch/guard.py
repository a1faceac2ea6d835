"""What a read-only client may run: nothing that reaches outside the store.

ClickHouse reads files, URLs, object stores and other databases through table functions (``file``, ``url``, ``s3``,
``remote``, ``mysql``, ``postgresql``, ``jdbc``, ``hdfs``, ``executable``, ...) and the scalar ``file()``, and writes
files with ``INTO OUTFILE``. The engine refuses the table functions under ``readonly=1`` (the ``routewatch sql``
session), but not ``file()`` nor ``INTO OUTFILE``, and not under ``readonly=2``, which the dashboard's own queries need
to carry their settings. So every statement of a read-only client is also checked here, against the engine's own list
of table functions: all but those that only generate rows or read the store's tables are refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Table functions that only generate rows or read the store's own tables (``format`` is also the string formatter).
IN_STORE = frozenset(
    {
        "format",
        "generaterandom",
        "generateseries",
        "generate_series",
        "loop",
        "merge",
        "null",
        "numbers",
        "numbers_mt",
        "primes",
        "values",
        "view",
        "zeros",
        "zeros_mt",
    }
)
# Functions that reach outside though the engine does not list them as table functions.
OUTSIDE_FUNCTIONS = frozenset({"file"})

# Read as the engine's lexer does: comments and string literals are blanked (they hide nothing), quoted identifiers
# are kept (a function can be called by a quoted name), so no quote inside one can start a literal.
_TOKEN = re.compile(
    r"""(?P<comment>--[^\n]*|\#[ !][^\n]*|/\*.*?\*/)
    |(?P<literal>'(?:[^'\\]|\\.|'')*'|\$(?P<tag>\w*)\$.*?\$(?P=tag)\$)
    |(?P<quoted>"(?:[^"\\]|\\.|"")*"|`(?:[^`\\]|\\.|``)*`)
    """,
    re.DOTALL | re.VERBOSE,
)
_CALL = re.compile(r"""(?:"((?:[^"\\]|\\.|"")+)"|`((?:[^`\\]|\\.|``)+)`|\b([A-Za-z_][A-Za-z0-9_]*))\s*\(""")
_INTO_OUTFILE = re.compile(r"\bINTO\s+OUTFILE\b", re.IGNORECASE)


def _code(sql: str) -> str:
    return _TOKEN.sub(lambda match: match.group("quoted") or " ", sql)


class OutsideTheStore(ValueError):
    """A read-only client's statement would read or write outside the store."""


def check(sql: str, table_functions: Iterable[str], own_cluster: str = "") -> None:
    """Raise ``OutsideTheStore`` if ``sql`` calls a function that reaches outside the store or writes a file.

    ``table_functions``: the engine's table functions (``SELECT name FROM system.table_functions``); names are
    compared without case, so a spelling the engine would reject is refused too. ``own_cluster``: the cluster that
    holds the store, whose shards the gap queries read with ``cluster('<own_cluster>', view(...))``
    (sql/queries/cluster_shards.sql); the query inside is checked like any other.
    """
    if own_cluster:
        sql = sql.replace(f"cluster('{own_cluster}', view(", "(view(")
    code = _code(sql)
    if _INTO_OUTFILE.search(code):
        raise OutsideTheStore("read-only clients cannot write files (INTO OUTFILE)")
    refused = {name.lower() for name in table_functions} - IN_STORE | OUTSIDE_FUNCTIONS
    for match in _CALL.finditer(code):
        name = next(group for group in match.groups() if group is not None)
        if name.lower() in refused:
            raise OutsideTheStore(
                f"read-only clients cannot call {name}(): it reads outside the store (files, URLs, other databases)"
            )
