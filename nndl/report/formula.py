"""Formulas laid out by matplotlib's mathtext (no LaTeX): glyphs and rules to place in the PDF, SVG for the HTML.

`layout(expr)` parses `$expr$` once (cached by string) at a reference size and
returns every glyph (font file, size, character, position) and every rule
(fraction bars, root overlines) in points; the PDF draws them as text in the
same fonts, scaled to any size, so a formula stays vector and searchable.

Parsing is mathtext's cost (tens of milliseconds a formula, in pyparsing), so
layouts also persist between builds in a JSON file beside matplotlib's own
font cache (`NNDL_FORMULA_CACHE` names another file; "0" turns it off): a
rebuilt report parses only formulas it has not laid out before.
"""

from __future__ import annotations

import functools
import io
import json
import os
from pathlib import Path
from typing import NamedTuple

import matplotlib
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.mathtext import MathTextParser

from nndl.run import runio

FAMILY = "DejaVu Sans"  # mathtext's default fontset ("dejavusans") draws in it too
SIZE = 10.0  # reference size in points; layouts scale linearly (vector output is unhinted)
_DPI = 720  # parse at 10 px per point: mathtext rounds the box to whole pixels
_PARSER = MathTextParser("path")
CACHE_ENV = "NNDL_FORMULA_CACHE"
CACHE_LIMIT = 20000  # formulas kept in the file (those of the last build first)
_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_stored: dict[str, Formula] | None = None  # the cache file's layouts, read on first use
_used: list[str] = []  # formulas laid out in this process, in order (save_cache keeps them)


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
    """`$expr$` laid out by mathtext at SIZE points (from the cache file when it was laid out before).

    Raises:
      ValueError: mathtext cannot parse it (the message says where).
    """
    stored = _cache().get(expr)
    shape = stored if stored is not None else _parse(expr)
    _used.append(expr)
    return shape


def _parse(expr: str) -> Formula:
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


def cache_path() -> Path | None:
    """The cache file: $NNDL_FORMULA_CACHE, or one per matplotlib version in matplotlib's cache folder."""
    named = os.environ.get(CACHE_ENV)
    if named is not None:
        return None if named in ("", "0") else Path(named)
    return Path(matplotlib.get_cachedir()) / f"nndl-formulas-mpl{matplotlib.__version__}.json"


def _cache() -> dict[str, Formula]:
    global _stored
    if _stored is None:
        _stored = _read(cache_path())
    return _stored


def _read(path: Path | None) -> dict[str, Formula]:
    """The layouts in a cache file; an unreadable file or one from other fonts counts as empty."""
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path is not None else {}
        if data.get("key") != _cache_key():
            return {}
        return {expr: Formula(w, h, d, tuple(Glyph(str(_FONTS / f), size, c, x, y) for f, size, c, x, y in glyphs),
                              tuple(Rule(*r) for r in rules))
                for expr, (w, h, d, glyphs, rules) in data["formulas"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save_cache() -> None:
    """Writes the layouts this process used to the cache file, with earlier ones up to CACHE_LIMIT in all.

    Layouts whose glyphs come from fonts outside matplotlib's own are not kept. A cache that cannot be
    written is skipped: it only saves time.
    """
    path = cache_path()
    if path is None or not _used:
        return
    shapes = {expr: layout(expr) for expr in reversed(_used)}  # the latest first
    shapes.update((e, f) for e, f in _read(path).items() if e not in shapes and len(shapes) < CACHE_LIMIT)
    formulas = {e: _encode(f) for e, f in shapes.items() if all(Path(g.font).parent == _FONTS for g in f.glyphs)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        runio.atomic_write_bytes(path, json.dumps({"key": _cache_key(), "formulas": formulas},
                                                  ensure_ascii=False).encode("utf-8"))
    except OSError:
        pass


def _encode(shape: Formula) -> list:
    return [shape.width, shape.height, shape.depth, [[Path(g.font).name, *g[1:]] for g in shape.glyphs],
            [list(r) for r in shape.rules]]


def _cache_key() -> list:
    """What a stored layout depends on: matplotlib, the fontset, the reference size and resolution."""
    return [matplotlib.__version__, matplotlib.rcParams["mathtext.fontset"], SIZE, _DPI, FAMILY]


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
