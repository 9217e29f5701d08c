"""The figure of an encoder-decoder's blocks: the model view of each kind of attention
(encoder, decoder, cross), stacked, each as wide as its own layout wants and centred."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ...errors import ConfigError
from ...views.blocks import BlocksView
from .heatmap import draw_model
from .layout import DEFAULT_STYLE, Style

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def draw_blocks(view: BlocksView, style: Style = DEFAULT_STYLE) -> Figure:
    """The blocks, one under another on one figure; a style's title heads the first."""
    from matplotlib.figure import Figure

    if style.p.height is not None:
        raise ConfigError(f"`preset` {style.preset} draws one page of fixed size, and the three "
                          "blocks of an encoder-decoder take one each: choose one with "
                          "`attention`, or another `preset`")  # fmt: skip
    styles = [style if n == 0 else replace(style, title=None) for n in range(len(view.blocks))]
    sizes: list[tuple[float, float]] = []

    def measured(w: float, h: float) -> None:
        sizes.append((w, h))

    for block, look in zip(view.blocks, styles, strict=True):  # measured, not drawn
        draw_model(block, look, into=measured)
    W, H = max(w for w, _ in sizes), sum(h for _, h in sizes)
    fig = Figure(figsize=(W, H), dpi=style.p.dpi)
    rows = fig.subfigures(len(sizes), 1, squeeze=False, height_ratios=[h for _, h in sizes],
                          hspace=0)[:, 0]  # fmt: skip
    for block, look, row, (w, _) in zip(view.blocks, styles, rows, sizes, strict=True):
        side = max((W - w) / 2, 1e-6)  # a block narrower than the widest is centred
        sub = row.subfigures(1, 3, squeeze=False, width_ratios=[side, w, side], wspace=0)[0, 1]
        draw_model(block, look, into=lambda _w, _h, sub=sub: sub)  # type: ignore[misc]
    return fig
