"""What a streamed run keeps: its own module, so that a command that may stream (and says
what it would keep before it knows) loads no streaming for a text it runs dense."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import ConfigError
from .pooling import cell_size, check_pool
from .rowstats import ROW_MEASURES
from .trace import Crop


@dataclass(frozen=True)
class Wanted:
    """What a streamed run keeps: of ``heads`` in ``layers`` (None: the one the config names,
    by default the last; a seeded run has layer 0), a map of at most ``resolution`` cells a
    side (None: no map) pooled by ``pool`` over ``crop`` (None: the whole run; or the crop
    of a run of T tokens, a function of T), the row ``measures`` of ``attnviz.rowstats``,
    and ``progress``, told the share done as the run goes."""

    heads: tuple[int, ...]
    layers: tuple[int, ...] | None = None
    resolution: int | None = 512
    pool: str = "mean"
    crop: Crop | Callable[[int], Crop | None] | None = None
    measures: tuple[str, ...] = ()
    progress: Callable[[float], None] | None = None

    def region(self, T: int) -> Crop:
        """The queries and keys kept of a run of T tokens."""
        crop = self.crop(T) if callable(self.crop) else self.crop
        return crop or Crop(0, T, 0, T)

    def __post_init__(self) -> None:
        if self.resolution is not None:
            cell_size(1, 1, self.resolution)  # ConfigError unless a whole number >= 1
        check_pool(self.pool)
        unknown = sorted(set(self.measures) - set(ROW_MEASURES))
        if unknown:
            raise ConfigError(f"unknown row measures: {', '.join(unknown)}")
