"""The command line: the app (``app``), every option declared once (``options``), the run and
its outputs (``emit``), and the commands (``commands``). It holds no logic the Python API
lacks: it parses strings into the API's values, calls the API, and emits the views.

The app and its commands are imported when first asked for: a ``survey --jobs`` worker,
which starts by importing the console script's module, does not load the command line.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app", "main", "view"]


def main() -> None:
    """The console script and ``python -m attnviz``: the app, its commands registered."""
    import sys

    from .app import main as run

    _only(__getattr__("app"), sys.argv[1:])  # the commands registered on the app before it runs
    run()


def _only(app: Any, argv: list[str]) -> None:
    """When the line names a command, only that command is built: Typer builds every
    command's options before it runs one (a sixth of a table's start)."""
    from typer.main import get_command_name

    words = [a for a in argv if a != "--debug"]
    named = {c.name or get_command_name(c.callback.__name__): c for c in app.registered_commands}
    if words and words[0] in named:
        app.registered_commands = [named[words[0]]]


def view(args: list[str]) -> Any:
    """The view the command line ``args`` (the command, then its arguments) shows, written
    and printed nowhere; its errors raised, in the command line's words."""
    import typer

    from ..errors import ConfigError, RunError
    from .app import check_line
    from .emit import keeping
    from .options import in_flags

    group: Any = typer.main.get_command(__getattr__("app"))
    shows = sorted(set(group.commands) - {"tokens", "export", "lesson"})  # these only write
    if not args or args[0] not in shows:
        raise ConfigError((f"{args[0]!r} is not a command with a view" if args else "no command")
                          + f": give one of {', '.join(shows)}")  # fmt: skip
    check_line(group, args)
    command = group.commands[args[0]]
    with keeping() as kept:
        try:
            with command.make_context(args[0], args[1:]) as ctx:
                command.invoke(ctx)
        except typer.TyperException as e:  # a usage error
            raise ConfigError(e.format_message()) from None
        except typer.Exit:  # --help: printed
            return None
        except (ConfigError, RunError) as e:
            raise type(e)(in_flags(str(e))) from None
    return kept[0]


def __getattr__(name: str) -> Any:
    """``app``: the Typer app with every command registered on it."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import commands  # noqa: F401  (registers the commands on the app)
    from .app import app

    globals()["app"] = app  # the app itself, not its module (``attnviz.cli.app``)
    return app
