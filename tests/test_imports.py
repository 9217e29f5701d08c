"""The import graph of attnviz: no module imports one that imports it back, however far
round, counting every import (inside functions and for type checking too)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "attnviz"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The attnviz modules ``path`` imports, anywhere in it."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            stem = ".".join([*base, *([node.module] if node.module else [])])
            # from . import bert: the module bert; from .trace import Trace: the module trace
            targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem
                       for a in node.names]  # fmt: skip
        else:
            continue
        found |= {t for t in targets if t in modules}
    return found - {name}


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    # the package's own __init__ only names the public API (imported when first used)
    return {m: imports(p, set(paths)) - {"attnviz"} for m, p in paths.items() if m != "attnviz"}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(edges.get(m, ())):
            if state.get(n) == 1:
                return [*path[path.index(n) :], n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = 2
        path.pop()
        return None

    for m in sorted(edges):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_cycle_finder_finds_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_of_attnviz_imports_itself_round_a_circle():
    edges = graph()
    assert {"attnviz.trace", "attnviz.models"} <= edges["attnviz.pipeline"]
    assert cycle(edges) is None, " -> ".join(cycle(edges) or [])


def test_the_core_knows_nothing_of_checkpoints_renderers_or_the_command_line():
    core = ("tokens", "masks", "attention", "trace", "seeded", "errors")
    above = ("attnviz.models", "attnviz.pipeline", "attnviz.render", "attnviz.cli")
    for name in core:
        reached = {m for m in graph()[f"attnviz.{name}"] if m.startswith(above)}
        assert not reached, (name, reached)


def test_a_survey_worker_starts_without_the_command_line():
    """A ``survey --jobs`` worker imports the console script's module (``attnviz.cli``) and
    what it runs (``attnviz.corpus``): neither loads Typer, Rich, Matplotlib or the commands."""
    import subprocess
    import sys

    code = ("import sys, attnviz.cli, attnviz.corpus; print(sorted(m for m in sys.modules if "
            "m.split('.')[0] in ('typer', 'rich', 'matplotlib', 'click') "
            "or m.startswith('attnviz.cli.')))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    loaded = subprocess.run([sys.executable, "-c", "import sys; from attnviz.cli import app; "
                             "print(type(app).__name__, 'attnviz.cli.commands' in sys.modules)"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert loaded.stdout.split() == ["Typer", "True"]


def loaded_by(args: list[str]) -> set[str]:
    """The modules the console script has loaded once it has run ``args``."""
    import subprocess
    import sys

    code = ("import sys, atexit; from attnviz.cli import main; sys.argv = ['attnviz', *sys.argv[1:]]; "
            "import os; os._exit = lambda code: (print(' '.join(sorted(sys.modules)), "
            "file=sys.stderr), sys.exit(code)); main()")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    return set(done.stderr.split())


def test_the_help_loads_no_numpy_and_a_table_no_other_view():
    """``attnviz --help`` is written without NumPy (it takes less time than importing it);
    a command builds only its own options, and a heatmap's table loads no other command's
    view, Matplotlib, the export module or the streaming of a run (only what a streamed
    run would keep, said before the text is read)."""
    help_ = loaded_by(["--help"])
    assert "attnviz.cli.commands" in help_ and "numpy" not in help_
    table = loaded_by(["heatmap", "The cat sat on the mat", "--format", "table"])
    assert {"numpy", "attnviz.views.heatmap", "attnviz.render.console"} <= table
    others = {"attnviz.views.steps", "attnviz.views.compare", "attnviz.views.stats",
              "attnviz.views.generation", "attnviz.views.survey", "attnviz.export",
              "matplotlib", "attnviz.longrun", "attnviz.stream"}  # fmt: skip
    assert not others & table


def test_each_command_reads_at_once():
    """A command function — its options, docstring and body — is at most 30 lines: it
    parses, builds, hands to a view and writes; the rest is in helpers."""
    long = []
    for path in (PACKAGE / "cli").glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            commands = [d for d in getattr(node, "decorator_list", ())
                        if isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "command"]  # fmt: skip
            if commands and node.end_lineno - node.lineno + 1 > 30:
                long.append((node.name, node.end_lineno - node.lineno + 1))
    assert long == []
