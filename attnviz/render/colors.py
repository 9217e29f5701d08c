"""Colour maps shared by the figures and the terminal, without importing Matplotlib.

The default map, viridis, is perceptually uniform and readable with colour-blindness; its
256 colours are stored here (tests check them against Matplotlib's) so that the terminal
path never pays for importing Matplotlib. Any other name is looked up in Matplotlib.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..errors import ConfigError

DEFAULT_CMAP = "viridis"
_VIRIDIS_HEX = (
    "44015444025645045745055946075a46085c460a5d460b5e470d60470e61471063471164471365481467481668481769"
    "48186a481a6c481b6d481c6e481d6f481f70482071482173482374482475482576482677482878482979472a7a472c7a"
    "472d7b472e7c472f7d46307e46327e46337f463480453581453781453882443983443a83443b84433d84433e85423f85"
    "4240864241864142874144874045884046883f47883f48893e49893e4a893e4c8a3d4d8a3d4e8a3c4f8a3c508b3b518b"
    "3b528b3a538b3a548c39558c39568c38588c38598c375a8c375b8d365c8d365d8d355e8d355f8d34608d34618d33628d"
    "33638d32648e32658e31668e31678e31688e30698e306a8e2f6b8e2f6c8e2e6d8e2e6e8e2e6f8e2d708e2d718e2c718e"
    "2c728e2c738e2b748e2b758e2a768e2a778e2a788e29798e297a8e297b8e287c8e287d8e277e8e277f8e27808e26818e"
    "26828e26828e25838e25848e25858e24868e24878e23888e23898e238a8d228b8d228c8d228d8d218e8d218f8d21908d"
    "21918c20928c20928c20938c1f948c1f958b1f968b1f978b1f988b1f998a1f9a8a1e9b8a1e9c891e9d891f9e891f9f88"
    "1fa0881fa1881fa1871fa28720a38620a48621a58521a68522a78522a88423a98324aa8325ab8225ac8226ad8127ad81"
    "28ae8029af7f2ab07f2cb17e2db27d2eb37c2fb47c31b57b32b67a34b67935b77937b87838b9773aba763bbb753dbc74"
    "3fbc7340bd7242be7144bf7046c06f48c16e4ac16d4cc26c4ec36b50c46a52c56954c56856c66758c7655ac8645cc863"
    "5ec96260ca6063cb5f65cb5e67cc5c69cd5b6ccd5a6ece5870cf5773d05675d05477d1537ad1517cd2507fd34e81d34d"
    "84d44b86d54989d5488bd6468ed64590d74393d74195d84098d83e9bd93c9dd93ba0da39a2da37a5db36a8db34aadc32"
    "addc30b0dd2fb2dd2db5de2bb8de29bade28bddf26c0df25c2df23c5e021c8e020cae11fcde11dd0e11cd2e21bd5e21a"
    "d8e219dae319dde318dfe318e2e418e5e419e7e419eae51aece51befe51cf1e51df4e61ef6e620f8e621fbe723fde725"
)
# The diverging map of signed values (B − A, the scores in steps), also stored: the HTML page
# of a comparison then never imports Matplotlib either.
_RDBU_R_HEX = (
    "05306106326407346708366a09386d0a3b700c3d730d3f760e41790f437b10457e114781124984134c87144e8a15508d"
    "1752901854931956961a58991b5a9c1c5c9f1d5fa21e61a51f63a82065ab2267ac2369ad246aae266caf276eb02870b1"
    "2a71b22b73b32c75b42e77b52f79b5307ab6327cb7337eb83480b93681ba3783bb3885bc3a87bd3b88be3c8abe3e8cbf"
    "3f8ec0408fc14291c24393c34695c44997c54c99c64f9bc7529dc8569fc959a1ca5ca3cb5fa5cd62a7ce65a9cf68abd0"
    "6bacd16eaed271b0d375b2d478b4d57bb6d67eb8d781bad884bcd987beda8ac0db8dc2dc90c4dd93c6de96c7df98c8e0"
    "9bc9e09dcbe1a0cce2a2cde3a5cee3a7d0e4a9d1e5acd2e5aed3e6b1d5e7b3d6e8b6d7e8b8d8e9bbdaeabddbeac0dceb"
    "c2ddecc5dfecc7e0edcae1eecce2efcfe4efd1e5f0d2e6f0d4e6f1d5e7f1d7e8f1d8e9f1dae9f2dbeaf2ddebf2deebf2"
    "e0ecf3e1edf3e3edf3e4eef4e6eff4e7f0f4e9f0f4eaf1f5ecf2f5edf2f5eff3f5f0f4f6f2f5f6f3f5f6f5f6f7f6f7f7"
    "f7f6f6f7f5f4f8f4f2f8f3f0f8f2eff8f1edf9f0ebf9efe9f9eee7f9ede5f9ebe3faeae1fae9dffae8defae7dcfbe6da"
    "fbe5d8fbe4d6fbe3d4fce2d2fce0d0fcdfcffcdecdfdddcbfddcc9fddbc7fdd9c4fcd7c2fcd5bffcd3bcfbd0b9fbceb7"
    "fbccb4facab1fac8aff9c6acf9c4a9f9c2a7f8bfa4f8bda1f8bb9ef7b99cf7b799f7b596f6b394f6b191f6af8ef5ac8b"
    "f5aa89f5a886f4a683f3a481f2a17ff19e7df09c7bef9979ee9677ec9374eb9172ea8e70e98b6ee8896ce6866ae58368"
    "e48066e37e64e27b62e17860df765ede735cdd7059dc6e57db6b55da6853d86551d7634fd6604dd55d4cd35a4ad25849"
    "d05548cf5246ce4f45cc4c44cb4942c94741c84440c6413ec53e3dc43b3cc2383ac13639bf3338be3036bd2d35bb2a34"
    "ba2832b82531b72230b61f2eb41c2db3192cb1182bae172aab162aa81529a51429a213289f12289c1127991027960f27"
    "930e26900d268d0c258a0b25870a248409248108237f08237c07227906227605217304217003206d02206a011f67001f"
)
# Cells hidden by the mask: a neutral grey that viridis never takes, hatched in the figures.
HIDDEN = {"light": "#d0d0d0", "dark": "#505050"}
HATCH = {"light": "#8c8c8c", "dark": "#8c8c8c"}
BOUNDARY = {"light": "#000000", "dark": "#ffffff"}
# generated tokens: their labels, and the line between the prompt and them
GENERATED = {"light": "#c2185b", "dark": "#ff80ab"}
THEMES = ("light", "dark")


@cache
def lut(name: str = DEFAULT_CMAP) -> np.ndarray:
    """The 256 colours of a colour map as (256, 3) uint8 RGB. Unknown names: ConfigError."""
    stored = {DEFAULT_CMAP: _VIRIDIS_HEX, "RdBu_r": _RDBU_R_HEX}.get(name)
    if stored is not None:
        return np.frombuffer(bytes.fromhex(stored), dtype=np.uint8).reshape(256, 3)
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        raise ConfigError(
            f"unknown colour map {name!r}; try viridis, cividis, magma, inferno, plasma, "
            "Greys, Blues (any Matplotlib colour map name)"
        ) from None
    rgba = cmap(np.linspace(0, 1, 256))  # (256, 4) floats in [0, 1]
    return (rgba[:, :3] * 255).round().astype(np.uint8)


def rgb(table: np.ndarray, value: float) -> tuple[int, int, int]:
    """The colour of ``value`` in [0, 1], indexed as Matplotlib indexes a 256-colour map."""
    r, g, b = table[index(value)]
    return int(r), int(g), int(b)


@cache
def luminance(color: tuple[int, int, int]) -> float:
    """Relative luminance (WCAG 2) of an sRGB colour, 0 (black) to 1 (white); in plain
    Python and remembered: a table asks it of every cell."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
           for c in (v / 255.0 for v in color)]  # fmt: skip
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def ink(color: tuple[int, int, int]) -> str:
    """Black or white, whichever contrasts more with a cell of this colour."""
    return "#000000" if luminance(color) > 0.179 else "#ffffff"


def index(value: float) -> int:
    """The entry of ``value`` in [0, 1] in a 256-colour map, as Matplotlib indexes it."""
    return min(max(int(value * 256), 0), 255)


def xterm_rgb(n: int) -> tuple[int, int, int]:
    """Colour ``n`` (16-255) of the xterm palette: the 6×6×6 cube, then 24 greys."""
    if n >= 232:
        return (8 + 10 * (n - 232),) * 3
    levels = (0, 95, 135, 175, 215, 255)
    return levels[(n - 16) // 36], levels[(n - 16) // 6 % 6], levels[(n - 16) % 6]


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB colours, (n, 3) in 0-255 to (n, 3)."""
    c = rgb / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ np.array([[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192],
                          [0.1805, 0.0722, 0.9505]]) / [0.95047, 1.0, 1.08883]  # fmt: skip
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


@cache
def xterm_steps(name: str = DEFAULT_CMAP) -> np.ndarray:
    """For each of a colour map's 256 colours, an xterm palette colour (16-255): the nearest
    as the eye sees them (CIELAB) such that lightness goes up and down where the map's does
    (over 17 entries: an 8-bit map's lightness wobbles from one entry to the next),
    so that the order of the weights still reads with 256 colours, and such that every step
    of 0.05 from 0 to 1 changes colour. (Rich's own rounding puts viridis from 0.14 to 0.31
    on one slate grey; the nearest colour alone steps back in lightness where the palette is
    thin.) A shortest path over the map's entries, whose states say whether the colour has
    changed since the last step of 0.05."""
    lab = _lab(lut(name).astype(float))
    numbers = np.arange(16, 256)
    palette = _lab(np.array([xterm_rgb(int(n)) for n in numbers], dtype=float))
    order = np.argsort(palette[:, 0], kind="stable")  # the palette by lightness
    numbers, palette = numbers[order], palette[order]
    cost = ((lab[:, None, :] - palette[None, :, :]) ** 2).sum(axis=2)  # (256, 240)
    marks = {index(n / 20) for n in range(1, 21)}  # the entries of 0.05, 0.10, ... 1
    # total[f, j]: the least cost of a path ending on palette colour j, f: changed since a mark
    total = np.stack([cost[0], np.full(len(numbers), np.inf)])
    back = np.zeros((256, 2, len(numbers), 2), dtype=int)  # (previous f, previous j)
    stay = np.stack(np.meshgrid([0, 1], np.arange(len(numbers)), indexing="ij"), axis=-1)
    trend = _smoothed(lab[:, 0])  # the map's lightness, its 8-bit rounding's wobble evened
    for i in range(1, 256):
        up = trend[i] > trend[i - 1]  # lighter: the palette colour may not get darker
        if trend[i] == trend[i - 1]:  # as light: the same colour
            total, back[i] = total + cost[i], stay
        elif up:
            total, back[i] = _step(total, cost[i])
        else:
            total, back[i] = _step(total[:, ::-1], cost[i, ::-1])
            total, back[i] = total[:, ::-1], _reversed(back[i])
        if i in marks:  # the colour must have changed since the last mark: start again
            total, back[i, 0] = np.stack([total[1], np.full(len(numbers), np.inf)]), back[i, 1]
    f, j = 0, int(total[0].argmin())
    path = [j]
    for i in range(255, 0, -1):
        f, j = (int(x) for x in back[i, f, j])
        path.append(j)
    return numbers[path[::-1]]


def _smoothed(light: np.ndarray, half: int = 8) -> np.ndarray:
    """``light`` averaged over the 2·half + 1 entries around each (fewer at the ends)."""
    padded = np.concatenate([np.full(half, light[0]), light, np.full(half, light[-1])])
    return np.convolve(padded, np.ones(2 * half + 1) / (2 * half + 1), mode="valid")


def _step(total: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One entry of xterm_steps' path, lightness going up (j may only grow): stay on j (its
    flag kept) or come from a darker colour (changed). Returns the totals and, for each
    state, the state it came from."""
    k = np.arange(total.shape[1])
    either = total.min(axis=0)
    came = np.where(total[0] <= total[1], 0, 1)  # the flag of the better of the two at j
    # the best of either over j' < j: exclusive running minimum, and where it is
    running = np.minimum.accumulate(either)
    prev = np.concatenate([[np.inf], running[:-1]])
    where = np.concatenate([[0], np.maximum.accumulate(np.where(either == running, k, 0))[:-1]])
    moved = prev < total[1]
    new = np.stack([total[0], np.where(moved, prev, total[1])]) + cost
    back = np.zeros((2, len(k), 2), dtype=int)
    back[0, :, 0], back[0, :, 1] = 0, k
    back[1, :, 0] = np.where(moved, came[where], 1)
    back[1, :, 1] = np.where(moved, where, k)
    return new, back


def _reversed(back: np.ndarray) -> np.ndarray:
    """``_step``'s states of a path run over the palette reversed, in its own order."""
    n = back.shape[1]
    out = back[:, ::-1].copy()
    out[..., 1] = n - 1 - out[..., 1]
    return out
