"""The attention-sink figure: the first-token share per layer, a faint line per head and the
heads' mean in bold, beside what an even spread over the keys would give."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ...errors import ConfigError
from ...views.labels import strings
from ...views.sink import SinkView
from .draw import add_title
from .layout import DEFAULT_STYLE, Style, theme_rc, wrap_to

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def draw_sink(view: SinkView, style: Style = DEFAULT_STYLE) -> Figure:
    """The figure of a SinkView."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    if style.annotate is not None or style.labels != "auto":
        raise ConfigError("the sink figure draws lines: it takes no annotate or labels")
    p, s = style.p, strings(view.lang)
    width, height, em = p.width or 7.5, p.height or 4.6, p.font / 72
    x = np.array(view.layers)
    with rc_context(theme_rc(style.theme, p.font)):
        fig = Figure(figsize=(width, height), dpi=p.dpi)
        heading = wrap_to(style.title if style.title is not None else view.title,
                          width - 2 * em, p.font * 1.1)  # fmt: skip
        top = 0.8 * em + (heading.count("\n") + 1) * 1.45 * em
        ax = fig.add_axes((4.6 * em / width, 7.6 * em / height, 1 - 5.6 * em / width,
                           1 - (top + 8.2 * em) / height))  # fmt: skip
        for c in range(len(view.heads)):
            ax.plot(x, view.shares[:, c], color="#4c72b0", alpha=0.3, linewidth=p.font / 12,
                    marker="o" if len(x) == 1 else None, markersize=p.font * 0.3)  # fmt: skip
        ax.plot(x, view.shares.mean(axis=1), color="#c44e52", linewidth=p.font / 5, marker="o",
                markersize=p.font * 0.4, label=s["sink_mean"])  # fmt: skip
        ax.axhline(view.uniform, color="#888888", linestyle=":", linewidth=1.4,
                   label=s["sink_uniform"])  # fmt: skip
        ax.set_ylim(0, 1)
        ax.set_xticks(x if len(x) <= 16 else x[:: -(-len(x) // 16)])
        ax.set_xlabel(s["layer_word"], fontsize=p.font * 0.9)
        ax.set_ylabel(s["sink_axis"], fontsize=p.font * 0.8)
        ax.tick_params(labelsize=p.font * 0.8)
        fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=2, frameon=False,
                   bbox_to_anchor=(0.5, 1.5 * em / height), fontsize=p.font * 0.85)  # fmt: skip
        fig.text(0.5, 0.4 * em / height, s["sink_caption"], ha="center", va="bottom",
                 fontsize=p.font * 0.8)  # fmt: skip
        add_title(fig, heading, p.font, height)
    return fig
