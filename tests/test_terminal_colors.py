"""The terminal's colours: true colour as is; with 256 colours the palette's nearest as the eye
sees it, distinct steps of the colour map; with 16 colours (or none) shade characters."""

import math
import re

import pytest
from typer.testing import CliRunner

from attnviz.cli import app
from attnviz.render import colors

runner = CliRunner()
TEXT = "The cat sat on the mat"
SHADES = " ░▒▓█"


def heat(term: str, colorterm: str | None = None) -> str:
    env = {"COLUMNS": "100", "FORCE_COLOR": "1", "TERM": term, "COLORTERM": colorterm,
           "NO_COLOR": None}  # fmt: skip
    result = runner.invoke(app, ["heatmap", TEXT, "--format", "heat", "--head", "0"], env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def legend_line(out: str) -> str:
    """The colour scale under the heat view: its last line."""
    return out.rstrip("\n").splitlines()[-1]


def test_256_colours_give_the_legend_distinct_palette_colours():
    line = legend_line(heat("xterm-256color"))
    codes = [int(n) for n in re.findall(r"48;5;(\d+)", line)]
    assert len(codes) == 11 and "48;2;" not in line  # the palette's, not true colour
    assert len(set(codes)) >= 8 and all(16 <= c <= 255 for c in codes)


def test_true_colour_is_the_colour_map_itself():
    line = legend_line(heat("xterm-256color", "truecolor"))
    found = [tuple(map(int, m)) for m in re.findall(r"48;2;(\d+);(\d+);(\d+)", line)]
    table = colors.lut("viridis")
    assert found == [tuple(int(c) for c in table[min(int(n / 10 * 256), 255)]) for n in range(11)]


def test_16_colours_draw_shades_in_order():
    out = heat("xterm")
    plain = re.sub(r"\x1b\[[0-9;]*m", "", legend_line(out))
    blocks = plain[2 : 2 + 22]
    assert "48;" not in out  # no background colours at all
    ranks = [SHADES.index(blocks[k]) for k in range(0, 22, 2)]
    assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] == len(SHADES) - 1


def srgb_to_lab(rgb):
    """CIELAB of one sRGB colour, written out from the CIE formulas (D65 white)."""
    linear = []
    for c in rgb:
        c = c / 255
        linear.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = linear
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t):
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def xterm_rgb(n):
    """Colour n (16-255) of the xterm palette."""
    if n >= 232:
        return (8 + 10 * (n - 232),) * 3
    levels = [0, 95, 135, 175, 215, 255]
    n -= 16
    return levels[n // 36], levels[n // 6 % 6], levels[n % 6]


def lightness(rgb):
    return srgb_to_lab(rgb)[0]


@pytest.mark.parametrize("name", ["viridis", "magma", "cividis", "Greys", "RdBu_r"])
def test_256_colours_keep_the_maps_order_and_stay_near_it(name):
    """Along the map, the palette colour gets lighter where the map does and darker where it
    does (RdBu_r: up, then down), from each entry to the one 12 further on (an 8-bit map's
    lightness wobbles from one entry to the next); each is within a small distance of the
    map's colour."""
    table = colors.lut(name)
    steps = colors.xterm_steps(name)
    assert steps.shape == (256,) and all(16 <= n <= 255 for n in steps)
    for i in range(256 - 12):
        j = i + 12
        map_change = lightness(table[j]) - lightness(table[i])
        a, b = lightness(xterm_rgb(int(steps[i]))), lightness(xterm_rgb(int(steps[j])))
        assert (b >= a) if map_change > 1 else (b <= a) if map_change < -1 else True, (name, i)
    far = max(math.dist(srgb_to_lab(table[i]), srgb_to_lab(xterm_rgb(int(steps[i]))))
              for i in range(256))  # fmt: skip
    # CIELAB units: the palette's widest gap in these maps is about 32, and a colour for each
    # step of 0.05 takes some a little further
    assert far < 40
    assert len(set(steps[[colors.index(n / 10) for n in range(11)]].tolist())) >= 8


@pytest.mark.parametrize("name", ["viridis", "magma", "plasma", "inferno"])
def test_in_256_colours_every_step_of_a_twentieth_has_its_own_colour(name):
    """Lightness only goes up along these maps: the 21 weights 0, 0.05 ... 1 get 21 palette
    colours, lighter and lighter."""
    steps = colors.xterm_steps(name)
    twentieths = [int(steps[min(int(n / 20 * 256), 255)]) for n in range(21)]
    assert len(set(twentieths)) == 21
    light = [lightness(xterm_rgb(n)) for n in twentieths]
    assert light == sorted(light)


def test_a_grey_map_gets_the_palettes_nearest_greys():
    """Where the palette is dense (the 24 greys and the cube's), the order costs almost
    nothing: each colour of Greys is within 1.5 CIELAB units of as near as the nearest palette
    colour, found here by a slow search (near white, where the palette has few colours, a
    colour for each step of 0.05 costs a little)."""
    table, steps = colors.lut("Greys"), colors.xterm_steps("Greys")
    for i in range(0, 256, 5):
        lab = srgb_to_lab(table[i])
        best = min(range(16, 256), key=lambda n: math.dist(lab, srgb_to_lab(xterm_rgb(n))))
        assert (
            math.dist(lab, srgb_to_lab(xterm_rgb(int(steps[i]))))
            <= math.dist(lab, srgb_to_lab(xterm_rgb(best))) + 1.5
        )


def test_the_palette_colours():
    for n in range(16, 256):
        assert colors.xterm_rgb(n) == xterm_rgb(n)
