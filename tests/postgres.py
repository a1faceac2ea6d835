"""A real PostgreSQL for the tests: $ROUTEWATCH_TEST_POSTGRES_URL (CI starts one), else a private server started
with .ci/postgres for this test session; skipped with the reason only when PostgreSQL is not installed outside CI."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Iterator
from itertools import count
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import ROOT

_DATABASES = count(1)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a running PostgreSQL server (its ``postgres`` database)."""
    given = os.environ.get("ROUTEWATCH_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    started = subprocess.run([str(ROOT / ".ci" / "postgres")], capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have PostgreSQL (.ci/run installs it): {started.stderr.strip()}")
        pytest.skip(f"no PostgreSQL here: {started.stderr.strip()}")
    url = started.stdout.strip()
    yield url
    directory = parse_qs(urlsplit(url).query)["host"][0]
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # the server's owner
    pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]
    subprocess.run([*as_postgres, pg_ctl, "-D", f"{directory}/data", "stop", "-m", "fast"], capture_output=True)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_server: str) -> str:
    """A URL of a new, empty database on the server."""
    import psycopg

    name = f"routewatch_test_{os.getpid()}_{next(_DATABASES)}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(postgres_server)
    return parts._replace(path=f"/{name}").geturl()
