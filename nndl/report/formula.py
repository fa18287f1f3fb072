"""Formulas laid out by matplotlib's mathtext (no LaTeX): glyphs and rules to place in the PDF, SVG for the HTML.

`layout(expr)` parses `$expr$` once (cached by string) at a reference size and
returns every glyph (font file, size, character, position) and every rule
(fraction bars, root overlines) in points; the PDF draws them as text in the
same fonts, scaled to any size, so a formula stays vector and searchable.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import NamedTuple

from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.mathtext import MathTextParser

FAMILY = "DejaVu Sans"  # mathtext's default fontset ("dejavusans") draws in it too
SIZE = 10.0  # reference size in points; layouts scale linearly (vector output is unhinted)
_DPI = 720  # parse at 10 px per point: mathtext rounds the box to whole pixels
_PARSER = MathTextParser("path")


class Glyph(NamedTuple):
    """One character: font file, size in points, the character, its origin (x right, y up from the baseline)."""

    font: str
    size: float
    char: str
    x: float
    y: float


class Rule(NamedTuple):
    """A filled rectangle (x, y up from the baseline to its bottom edge, width, height) in points."""

    x: float
    y: float
    w: float
    h: float


class Formula(NamedTuple):
    """A laid-out formula at SIZE points: extent above and below the baseline, glyphs and rules."""

    width: float
    height: float  # above the baseline
    depth: float  # below the baseline
    glyphs: tuple[Glyph, ...]
    rules: tuple[Rule, ...]

    def scaled(self, size: float) -> Formula:
        """The same formula at `size` points."""
        k = size / SIZE
        return Formula(self.width * k, self.height * k, self.depth * k,
                       tuple(Glyph(g.font, g.size * k, g.char, g.x * k, g.y * k) for g in self.glyphs),
                       tuple(Rule(r.x * k, r.y * k, r.w * k, r.h * k) for r in self.rules))


@functools.lru_cache(maxsize=4096)
def layout(expr: str) -> Formula:
    """`$expr$` laid out by mathtext at SIZE points.

    Raises:
      ValueError: mathtext cannot parse it (the message says where).
    """
    parsed = _PARSER.parse(f"${expr}$", dpi=_DPI, prop=_prop())
    px = 72.0 / _DPI  # points per pixel
    glyphs = tuple(Glyph(str(font.fname), float(size), chr(num), float(x) * px, float(y) * px)
                   for font, size, num, _index, x, y in parsed.glyphs)
    rules = tuple(Rule(float(x) * px, float(y) * px, float(w) * px, float(h) * px) for x, y, w, h in parsed.rects)
    depth = float(parsed.depth) * px
    return Formula(float(parsed.width) * px, float(parsed.height) * px - depth, depth, glyphs, rules)


@functools.lru_cache(maxsize=4096)
def error(expr: str) -> str | None:
    """None when mathtext lays out `$expr$`, else the parser's message in one line."""
    try:
        layout(expr)
    except ValueError as e:
        return " ".join(str(e).split())
    return None


def fonts(formula: Formula) -> set[Path]:
    """The font files a formula's glyphs use."""
    return {Path(g.font) for g in formula.glyphs}


@functools.lru_cache(maxsize=1024)
def svg(expr: str, size: float) -> tuple[bytes, Formula]:
    """`$expr$` drawn alone as a tight SVG image (glyphs as paths), and its layout at `size`.

    For the HTML page, where MathML cannot express a formula. Like matplotlib.mathtext.math_to_image,
    without the file's date, so the same formula gives the same bytes.
    """
    shape = layout(expr).scaled(size)
    total = max(shape.height + shape.depth, 1.0)
    fig = Figure(figsize=(max(shape.width, 1.0) / 72, total / 72))
    fig.text(0, shape.depth / total, f"${expr}$", fontproperties=_prop(size))
    buf = io.BytesIO()
    fig.savefig(buf, dpi=72, format="svg", transparent=True, metadata={"Date": None})
    return buf.getvalue(), shape


@functools.cache
def _prop(size: float = SIZE) -> FontProperties:
    return FontProperties(family=FAMILY, size=size)
