"""The heatmap panels of a figure, as the tests look at them.

Every figure of panels (heatmap, model view, rollout, compare, steps) draws them on one
canvas Axes, each panel's artists labelled "panel N"; a panel with an Axes of its own is read
too. ``panels_of`` returns both kinds alike, with the few methods of an Axes the tests use
(the titles are texts of their own: gid "panel-title", "key-title").
"""

from matplotlib.collections import Collection
from matplotlib.image import AxesImage
from matplotlib.patches import Patch
from matplotlib.text import Text


class CanvasPanel:
    """The artists of one panel of a shared canvas, read like an Axes."""

    def __init__(self, artists, ax=None):
        self.artists, self.ax = artists, ax  # ax: the panel's own Axes, if it has one
        self.texts = [a for a in artists if isinstance(a, Text)]
        self.patches = [a for a in artists if isinstance(a, Patch)]
        self.collections = [a for a in artists if isinstance(a, Collection)]

    def get_images(self):
        return [a for a in self.artists if isinstance(a, AxesImage)]

    def _text(self, gid):
        return "".join(t.get_text() for t in self.texts if t.get_gid() == gid)

    def get_title(self):
        """The panel's title (a panel with an Axes of its own may keep the Axes' title)."""
        return self._text("panel-title") or (self.ax.get_title() if self.ax else "")

    def get_xlabel(self):
        return self._text("key-title")

    def get_position(self):
        """The image's box in figure fractions."""
        image = self.get_images()[0]
        fig = image.get_figure(root=True)
        return image.get_window_extent().transformed(fig.transFigure.inverted())


def panels_of(fig):
    """Every heatmap panel of ``fig``, in drawing order."""
    panels = []
    for ax in fig.axes:
        images = ax.get_images()
        if not images:
            continue
        if not images[0].get_label().startswith("panel "):  # a panel with an Axes of its own
            panels.append(CanvasPanel([*ax.images, *ax.texts, *ax.patches, *ax.collections], ax))
            continue
        groups = {}
        for artist in ax.get_children():
            label = artist.get_label()  # an Axis answers with its Text
            if isinstance(label, str) and label.startswith("panel "):
                groups.setdefault(label, []).append(artist)
        panels += [CanvasPanel(artists) for artists in groups.values()]
    return panels
