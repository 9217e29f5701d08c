"""The command line: the app (``app``), every option declared once (``options``), the run and
its outputs (``emit``), and the commands (``commands``). It holds no logic the Python API
lacks: it parses strings into the API's values, calls the API, and emits the views.

The app and its commands are imported when first asked for: a ``survey --jobs`` worker,
which starts by importing the console script's module, does not load the command line.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app", "main"]


def main() -> None:
    """The console script and ``python -m attnviz``: the app, its commands registered."""
    from .app import main as run

    __getattr__("app")  # the commands registered on the app before it runs
    run()


def __getattr__(name: str) -> Any:
    """``app``: the Typer app with every command registered on it."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import commands  # noqa: F401  (registers the commands on the app)
    from .app import app

    globals()["app"] = app  # the app itself, not its module (``attnviz.cli.app``)
    return app
