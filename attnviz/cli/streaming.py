"""What a command keeps of a run it may stream (--stream, or a dense run over the budget):
--pool and --resolution, the heads and layers shown, the window, as a ``Wanted``; the
resolution by default what the output shows."""

from __future__ import annotations

from collections.abc import Sequence

from ..wanted import Wanted
from .app import console, progress
from .options import FIGURE, Options, crop, written

TERMINAL_LABELS = 15  # the columns a heat view's row labels take beside its cells, about


def resolution(o: Options, shown: str | None, panels: int, layers: int = 1,
               every_layer: bool = False) -> int:  # fmt: skip
    """--resolution, or what the output shows: a cell per pixel of a figure's panel, the
    cells the terminal's width holds, else 512."""
    if o.resolution is not None:
        return int(o.resolution)
    if written(o) == FIGURE:
        from ..render.figures.save import figure_cells

        return figure_cells(o.preset, panels, o.dpi, every_layer, layers)
    if shown in ("table", "heat"):
        return max(1, (console().width - TERMINAL_LABELS) // 2)
    return 512


def wanted(o: Options, heads: Sequence[int], shown: str | None, *, layers: int = 1,
           every_layer: bool = False, measures: tuple[str, ...] = (),
           maps: bool = True) -> Wanted:  # fmt: skip
    """What a streamed run of the command keeps: maps of ``heads`` (every layer's with
    ``every_layer``) at the output's resolution (none without ``maps``), row ``measures``;
    the share done told to the spinner."""
    cells = resolution(o, shown, len(heads) * (layers if every_layer else 1), layers,
                       every_layer) if maps else None  # fmt: skip
    return Wanted(tuple(heads), tuple(range(layers)) if every_layer else None, cells,
                  getattr(o, "pool", "mean"),
                  (lambda T: crop(o, T)) if hasattr(o, "window") else None, measures,
                  _told)  # fmt: skip


def _told(share: float) -> None:
    progress.step(f"computing attention, streamed: {100 * share:.0f}%")
