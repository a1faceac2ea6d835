"""The wheel is the product: build it, install it (not editable) into a fresh virtual environment, and run it there.

The fresh environment borrows the test environment's third-party packages through a ``.pth`` line, but not
routewatch: a ``.pth`` path is not a site directory, so the editable install's finder that lives there never runs,
and every command runs from a directory outside the checkout. A file the wheel lacks is a file routewatch cannot
read, so a missing query, page or config fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import urllib.request
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.browser import browser, chromium_path, dashboard, open_page

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
# Where each source folder lands in the wheel (pyproject.toml's [tool.setuptools.package-dir]).
RENAMED = {"sql": "routewatch/sql", ".streamlit": "routewatch/streamlit_config"}
SKIP_DIRS = {"__pycache__", "tests", "bench", "build", ".venv", ".git", ".routewatch"}


def _source_files() -> set[str]:
    """Every file the product is made of, as its path inside the wheel."""
    product_dirs = [p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").is_file()]
    wanted = set()
    for top in product_dirs:
        if top in SKIP_DIRS:
            continue
        for path in (ROOT / top).rglob("*"):
            if path.is_file() and not SKIP_DIRS & set(path.relative_to(ROOT).parts) and path.suffix != ".pyc":
                relative = path.relative_to(ROOT).as_posix()
                head, _, rest = relative.partition("/")
                wanted.add(f"{RENAMED.get(head, head)}/{rest}")
    return wanted


@dataclass(frozen=True)
class Installed:
    """The wheel, the environment it is installed in, and a working directory outside the checkout."""

    wheel: Path
    python: Path
    routewatch: Path
    workdir: Path

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Any:
        """``routewatch ARGS`` from the installed console script; fails with its stderr on a non-zero exit."""
        result = subprocess.run(
            [str(self.routewatch), *args],
            cwd=self.workdir,
            env={**_clean_env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, f"routewatch {' '.join(args)}: {result.stderr[-3000:]}"
        return result


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ROUTEWATCH_CONFIG", "VIRTUAL_ENV")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    # Build from a copy, so the build leaves no build/ or egg-info in the checkout.
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*SKIP_DIRS - {"tests", "bench"}, "*.egg-info", ".*"))
    shutil.copytree(ROOT / ".streamlit", source / ".streamlit")
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
        env=_clean_env(),
        timeout=300,
    )
    (wheel,) = dist.glob("routewatch-*.whl")
    environment = base / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    site = Path(
        subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
        .decode()
        .strip()
    )
    # The test environment's dependencies, after the fresh environment's own packages.
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        capture_output=True,
        env=_clean_env(),
        timeout=300,
    )
    workdir = base / "elsewhere"
    workdir.mkdir()
    yield Installed(wheel, python, environment / "bin" / "routewatch", workdir)


def test_the_wheel_holds_every_module_query_and_config(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    missing = sorted(_source_files() - names)
    assert not missing, f"the wheel lacks {missing}: list their packages in pyproject.toml's [tool.setuptools]"
    assert any(name.startswith("routewatch/sql/queries/") for name in names)
    assert "routewatch/streamlit_config/config.toml" in names


def test_the_installed_packages_are_the_wheels(installed: Installed) -> None:
    code = (
        "import json, app, ingest, metrics, routewatch, routewatch.sqlfiles as s;"
        "print(json.dumps([m.__file__ for m in (app, ingest, metrics, routewatch)] + [str(s.SQL_DIR)]))"
    )
    result = subprocess.run(
        [str(installed.python), "-c", code], cwd=installed.workdir, env=_clean_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    environment = installed.python.parent.parent
    for path in json.loads(result.stdout):
        assert Path(path).is_relative_to(environment), f"{path} is not from the installed wheel"


@pytest.fixture(scope="module")
def loaded(installed: Installed, synthetic_file: Path) -> dict[str, str]:
    """A store loaded by the installed ``routewatch ingest``; the environment that points at it."""
    env = {"ROUTEWATCH_STORE": f"chdb://{installed.workdir / 'store'}"}
    result = installed.run("ingest", str(synthetic_file), "--json", env=env)
    assert json.loads(result.stdout)["loaded"] == 5_000
    return env


def test_ingest_a_metric_and_gaps_run_from_the_wheel(installed: Installed, loaded: dict[str, str]) -> None:
    escalation = json.loads(
        installed.run("metrics", "escalation_rate", "--by", "language", "--format", "json", env=loaded).stdout
    )
    assert sum(row["requests"] for row in escalation) == 5_000
    gaps = json.loads(installed.run("gaps", "--by", "language", "--format", "json", env=loaded).stdout)
    assert {row["metric"] for row in gaps} >= {"escalation_rate", "resolution_rate"}
    assert {row["dimension"] for row in gaps} == {"language"}


@pytest.mark.skipif(chromium_path() is None, reason="no Chromium (apt-get install chromium; .ci/run installs it)")
def test_the_dashboard_serves_from_the_wheel(installed: Installed, loaded: dict[str, str]) -> None:
    log = installed.workdir / "dashboard.log"
    with dashboard(
        loaded["ROUTEWATCH_STORE"], log, command=(str(installed.routewatch),), cwd=installed.workdir
    ) as base:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=10) as reply:
            assert reply.read() == b"ok"
        with browser() as chromium:
            page = chromium.new_page(viewport={"width": 1400, "height": 1000})
            open_page(page, base, charts=1)
            assert page.locator("[data-testid='stException']").count() == 0
            assert page.locator("h1").first.inner_text().strip() == "Overview"
            # The theme of the shipped .streamlit/config.toml, though the server runs outside the checkout.
            theme = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["theme"]
            sidebar = page.locator("[data-testid='stSidebar']").first
            drawn = sidebar.evaluate("e => getComputedStyle(e).backgroundColor")
            assert drawn == _rgb(theme["secondaryBackgroundColor"]), drawn


def _rgb(hex_color: str) -> str:
    red, green, blue = (int(hex_color.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgb({red}, {green}, {blue})"
