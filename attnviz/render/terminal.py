"""Terminal renderers: Rich renderables built from a Trace (or its tokens). No Matplotlib here."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from ..tokens import Token
from .labels import visible


def tokens_table(tokens: Sequence[Token]) -> Table:
    """One row per token: index, token (shown literally), start, end."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("token")
    table.add_column("start", justify="right")
    table.add_column("end", justify="right")
    for i, t in enumerate(tokens):
        shown = Text(visible(t.text), style="italic" if t.special else "")
        table.add_row(str(i), shown, str(t.start), str(t.end))
    return table
