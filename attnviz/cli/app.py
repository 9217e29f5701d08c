"""The application: the Typer app, and how every error, warning and interruption reaches the
user. Errors end here as one line on stderr and an exit code: 2 for bad usage or input
(ConfigError, a usage error), 1 for a failure at run time (RunError), 130 for Ctrl-C;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import signal
import sys
import threading
import traceback
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from .. import __version__
from ..errors import AttnvizError, ConfigError, Interrupted, RunError
from ..views.labels import visible


def _error(message: str, code: int) -> None:
    line = " ".join(visible(message).split())  # one line, whatever the message holds
    print(f"attnviz: error: {line}", file=sys.stderr)
    sys.exit(code)


_warned: set[str] = set()


def note(message: str) -> None:
    """One line on stderr that says what was done (not a warning: nothing is wrong)."""
    print(f"attnviz: {' '.join(visible(message).split())}", file=sys.stderr)


def warn(message: str) -> None:
    """One line on stderr, once a run (compare's two runs would say it twice)."""
    line = f"attnviz: warning: {' '.join(visible(message).split())}"
    if line not in _warned:
        _warned.add(line)
        print(line, file=sys.stderr)


def _repeated_option(command: Any, args: list[str]) -> str | None:
    """The first option given twice that takes one value (click would keep the last silently)."""
    from typer.core import TyperOption

    # option -> (its long name, whether it takes a value, whether it may be repeated)
    names: dict[str, tuple[str, bool, bool]] = {}
    for param in getattr(command, "params", []):
        if isinstance(param, TyperOption):
            for opt in param.opts + param.secondary_opts:
                name = "/".join([max(param.opts, key=len), *param.secondary_opts])  # --a/--no-a
                names[opt] = (name, not param.is_flag, param.multiple)
    seen: set[str] = set()
    i = 0
    while i < len(args) and args[i] != "--":
        key = args[i].split("=", 1)[0]
        if key in names:
            name, takes_value, repeatable = names[key]
            if name in seen and not repeatable:
                return name
            seen.add(name)
            i += takes_value and "=" not in args[i]
        i += 1
    return None


class _Progress:
    """A spinner on stderr for work that lasts more than a second, saying which step runs;
    nothing at all when stderr is not a terminal (pipes, CI, tests)."""

    def __init__(self) -> None:
        self.label = "starting"
        self.status: Any = None
        self.lock = threading.Lock()
        self.timer: threading.Timer | None = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            self.timer = threading.Timer(1.0, self._show)
            self.timer.daemon = True
            self.timer.start()
        return self

    def _show(self) -> None:
        from rich.console import Console

        with self.lock:
            if self.timer is not None:  # not finished in the meantime
                self.status = Console(stderr=True).status(self.label)
                self.status.start()

    def step(self, label: str) -> None:
        with self.lock:
            self.label = label
            if self.status is not None:
                self.status.update(label)

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """No spinner from now on: standard output is about to be written (on a terminal, the
        two would mix)."""
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.status is not None:
                self.status.stop()
                self.status = None


progress = _Progress()  # the one spinner of this process; step() is harmless when unseen


class _Group(TyperGroup):
    """Runs the app and turns every exception into one line on stderr and an exit code."""

    def main(self, args: Any = None, *pos: Any, **kwargs: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        end = argv.index("--") if "--" in argv else len(argv)
        debug = "--debug" in argv[:end]  # accepted anywhere before "--", not only first
        argv = [a for a in argv[:end] if a != "--debug"] + argv[end:] or ["--help"]
        kwargs["standalone_mode"] = False
        _warned.clear()
        try:
            check_line(self, argv)
            with warnings.catch_warnings(), progress:
                warnings.showwarning = _show_warning
                code = super().main(argv, *pos, **kwargs)
        except Exception as e:
            if debug:
                traceback.print_exc()
            _handle(e)
        except KeyboardInterrupt:
            code = 130
        if code == 130:  # typer turns Ctrl-C into exit code 130 itself
            _error(*_interrupted("interrupted"))
        sys.exit(code if isinstance(code, int) else 0)


def check_line(group: Any, argv: list[str]) -> None:
    """ConfigError for what click would take silently: bytes that are not UTF-8, an option
    that takes one value given twice."""
    _check_decodable(argv)
    if argv and argv[0] in group.commands:
        twice = _repeated_option(group.commands[argv[0]], argv[1:])
        if twice:
            raise ConfigError(f"{twice} is given more than once: give it once")


_signalled: list[int] = []  # the signal that stopped the run, when one did


def _on_signal(signum: int, frame: object) -> None:
    """SIGTERM and SIGHUP stop a run as Ctrl-C does: every temporary file is removed on the
    way out (the exit code then says which signal it was: 128 + n)."""
    _signalled.append(signum)
    raise KeyboardInterrupt


def _interrupted(message: str) -> tuple[str, int]:
    """The message and exit code of a run stopped by Ctrl-C, or by the signal that stopped it."""
    if not _signalled:
        return message, 130
    name = signal.Signals(_signalled[0]).name
    return message.replace("interrupted", f"stopped by {name}", 1), 128 + _signalled[0]


def _check_decodable(argv: list[str]) -> None:
    """ConfigError naming the first argument that is not UTF-8 (Python keeps its bytes as
    surrogates: a text, a path or a value made of them would fail later, far from here)."""
    for n, arg in enumerate(argv):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as e:
            after = f" (the value of {argv[n - 1]})" if n and argv[n - 1].startswith("-") else ""
            raise ConfigError(f"the argument {visible(repr(arg))}{after} is not valid UTF-8 "
                              f"(byte {e.start}): give it in UTF-8") from None  # fmt: skip


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    """Warnings (ours, and any a library raises) as one line each, never a stack."""
    warn(str(message))


def _handle(e: Exception) -> None:
    from .options import in_flags

    if isinstance(e, typer.TyperException):  # a usage error of the click Typer bundles, too
        _error(e.format_message(), e.exit_code)
    if isinstance(e, ConfigError):
        _error(in_flags(str(e)), 2)
    if isinstance(e, Interrupted):
        _error(*_interrupted(str(e)))
    if isinstance(e, (RunError, AttnvizError)):
        _error(in_flags(str(e)), 1)
    if isinstance(e, MemoryError):
        _error("out of memory: try fewer heads, --dtype float32 or a shorter text", 1)
    if isinstance(e, OSError):
        _error(f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""), 1)
    _error(f"internal error: {type(e).__name__}: {e} (run with --debug for the traceback)", 1)


app = typer.Typer(
    cls=_Group,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: it prints in a third of the time Rich's panels take
    help="See multi-head masked attention: exact NumPy numbers, heatmaps with the mask drawn on.",
)


def _version(value: bool) -> None:
    if value:
        print(f"attnviz {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an error (for developers).")
    ] = False,
) -> None:
    """attnviz: tokenise a text, run seeded multi-head masked attention, show what happened."""


def read_text(text: str | None, file: Path | None, max_bytes: int = 4 * 2**20) -> str:
    """The input text from TEXT, standard input (TEXT is -) or --file, strictly UTF-8, read in
    chunks and no further than ``max_bytes``, a NUL byte or a byte that is not UTF-8."""
    if text is not None and file is not None:
        raise ConfigError("give the text or --file, not both")
    if file is not None:
        name = str(file)
        if file.is_dir():
            raise ConfigError(f"--file {name!r} is a folder, not a text file")
        try:
            with open(file, "rb") as f:
                return _read_bounded(f, f"--file {name!r}", max_bytes)
        except OSError as e:
            raise ConfigError(f"cannot read --file {name!r}: {e.strerror or e}") from e
    if text == "-":
        return _read_bounded(sys.stdin.buffer, "standard input", max_bytes)
    if text is None:
        raise ConfigError("no text: give TEXT, - for standard input, or --file PATH")
    if len(text.encode("utf-8")) > max_bytes:
        raise _too_big("the text", max_bytes, "")
    return text


CHUNK = 2**20  # bytes read at a time


def _too_big(source: str, max_bytes: int, note: str = " (read no further)") -> ConfigError:
    whole = max_bytes % 2**20 == 0
    said = f"{max_bytes // 2**20} MiB" if whole else f"{max_bytes:,} bytes"
    return ConfigError(f"{source} is over --max-bytes {said}{note}: give a shorter text, or "
                       "raise --max-bytes")  # fmt: skip


def _read_bounded(handle: Any, source: str, max_bytes: int) -> str:
    """What ``handle`` holds, as UTF-8 text, read a chunk at a time up to ``max_bytes``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    parts, done = [], 0
    while chunk := handle.read(min(CHUNK, max_bytes + 1 - done)):
        if b"\0" in chunk:
            raise ConfigError(f"{source} holds NUL bytes (byte {done + chunk.index(0)}): it is "
                              "a binary file, not text")  # fmt: skip
        pending = len(decoder.getstate()[0])  # the bytes of a character the last chunk began
        try:
            parts.append(decoder.decode(chunk))
        except UnicodeDecodeError as e:
            at = done - pending + e.start
            raise ConfigError(f"{source} is not valid UTF-8 (byte {at})") from None
        done += len(chunk)
        if done > max_bytes:
            raise _too_big(source, max_bytes)
    if decoder.getstate()[0]:  # it ends inside a character
        raise ConfigError(f"{source} is not valid UTF-8 (byte {done - len(decoder.getstate()[0])}"
                          ")")  # fmt: skip
    return "".join(parts)


def console() -> Any:
    """A Rich console for standard output (imported only when printing: --help does not pay)."""
    from rich.console import Console

    return Console(highlight=False)


def main() -> None:
    """The console script's entry point."""
    if hasattr(signal, "SIGPIPE"):  # a closed pipe (| head) ends us quietly, as other Unix tools
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _on_signal)
    try:
        app()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else int(e.code is not None)
    # Everything is written (files atomically, and now the streams): skip the interpreter's
    # teardown of Matplotlib's objects, a quarter of a second that nobody waits for gladly.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
