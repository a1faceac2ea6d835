"""How to start the dashboard's Streamlit server from wherever routewatch is installed."""

from __future__ import annotations

import sys
import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

APP = Path(__file__).resolve().parent / "streamlit_app.py"


def _flag_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def config_flags() -> list[str]:
    """The dashboard's Streamlit config (``.streamlit/config.toml``, shipped as ``routewatch.streamlit_config``) as
    ``--section.option value`` flags, so the theme and privacy settings hold whatever the working directory."""
    config = tomllib.loads(files("routewatch.streamlit_config").joinpath("config.toml").read_text(encoding="utf-8"))
    return [
        item
        for section, options in config.items()
        for option, value in options.items()
        for item in (f"--{section}.{option}", _flag_value(value))
    ]


def streamlit_command(port: int, address: str) -> list[str]:
    """The command that serves the dashboard on ``address:port`` with this Python's Streamlit."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        *config_flags(),
        "--server.port", str(port), "--server.address", address,
    ]  # fmt: skip
