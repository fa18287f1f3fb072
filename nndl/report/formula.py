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
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import matplotlib
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from nndl.report import mathtext_worker
from nndl.run import runio

FAMILY = "DejaVu Sans"  # mathtext's default fontset ("dejavusans") draws in it too
SIZE = 10.0  # reference size in points; layouts scale linearly (vector output is unhinted)
_DPI = 720  # parse at 10 px per point: mathtext rounds the box to whole pixels
CACHE_ENV = "NNDL_FORMULA_CACHE"
CACHE_LIMIT = 20000  # formulas kept in the file (those of the last build first)
PARALLEL_MIN = 24  # fewer formulas than this to lay out: no helper processes
HELPER_TIMEOUT = 600.0  # seconds; a helper that takes longer is stopped and its formulas laid out here
_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
_WORKER = Path(mathtext_worker.__file__)
_stored: dict[str, Formula] | None = None  # the cache file's layouts, read on first use
_laid: dict[str, Formula | str] = {}  # this process's layouts (or parser messages), in the order first needed


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


def layout(expr: str) -> Formula:
    """`$expr$` laid out by mathtext at SIZE points (from the cache file when it was laid out before).

    Raises:
      ValueError: mathtext cannot parse it (the message says where).
    """
    if expr not in _laid:
        stored = _cache().get(expr)
        _laid[expr] = stored if stored is not None else _decode(_lay_out([expr])[expr])
    shape = _laid[expr]
    if isinstance(shape, str):
        raise ValueError(shape)
    return shape


def error(expr: str) -> str | None:
    """None when mathtext lays out `$expr$`, else the parser's message in one line."""
    try:
        layout(expr)
    except ValueError as e:
        return str(e)
    return None


def prefetch(exprs: Iterable[str]) -> None:
    """Lays out the formulas not laid out yet, side by side in helper processes when there are many.

    mathtext spends tens of milliseconds in pyparsing per formula; a report's few hundred new formulas
    are split between this process and one helper per further CPU (at most 3), each started by path
    (mathtext_worker.py) so that it imports matplotlib only.
    """
    stored = _cache()
    todo = [e for e in dict.fromkeys(exprs) if e not in _laid and e not in stored]
    helpers = min((os.cpu_count() or 1) - 1, 3) if len(todo) >= PARALLEL_MIN else 0
    chunks = [todo[k::helpers + 1] for k in range(helpers + 1)]
    # -P: the script's folder (nndl/report, whose html.py would shadow the standard library's) stays off sys.path
    procs = [subprocess.Popen([sys.executable, "-P", str(_WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, encoding="utf-8") for _ in chunks[1:]]
    for proc, chunk in zip(procs, chunks[1:]):
        proc.stdin.write(json.dumps([*_settings(), chunk]))
        proc.stdin.close()
        proc.stdin = None  # written: communicate() below only reads
    results = _lay_out(chunks[0])
    for proc, chunk in zip(procs, chunks[1:]):
        try:
            out, _ = proc.communicate(timeout=HELPER_TIMEOUT)
            done = json.loads(out) if proc.returncode == 0 else {}
        except (subprocess.TimeoutExpired, ValueError):
            proc.kill()
            proc.communicate()
            done = {}
        results.update(done if set(done) == set(chunk) else _lay_out(chunk))  # a helper failed: here instead
    for expr in todo:
        _laid[expr] = _decode(results[expr])


def _lay_out(exprs: list[str]) -> dict:
    return mathtext_worker.lay_out(exprs, *_settings()) if exprs else {}


def _settings() -> tuple:
    return matplotlib.rcParams["mathtext.fontset"], FAMILY, SIZE, _DPI


def _decode(row) -> Formula | str:
    """A layout from its list form (mathtext_worker, the cache file), or the parser's message."""
    if isinstance(row, dict):
        return row["error"]
    w, h, d, glyphs, rules = row
    return Formula(w, h, d, tuple(Glyph(str(_FONTS / f) if "/" not in f else f, *g) for f, *g in glyphs),
                   tuple(Rule(*r) for r in rules))


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
        return {expr: _decode(row) for expr, row in data["formulas"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save_cache() -> None:
    """Writes the layouts this process used to the cache file, with earlier ones up to CACHE_LIMIT in all.

    Layouts whose glyphs come from fonts outside matplotlib's own are not kept. A cache that cannot be
    written is skipped: it only saves time.
    """
    path = cache_path()
    shapes = {e: f for e, f in reversed(_laid.items()) if isinstance(f, Formula)}  # the latest first
    if path is None or not shapes:
        return
    shapes.update((e, f) for e, f in _read(path).items() if e not in shapes and len(shapes) < CACHE_LIMIT)
    formulas = {e: _encode(f) for e, f in shapes.items() if all(Path(g.font).parent == _FONTS for g in f.glyphs)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        runio.atomic_write_bytes(path, json.dumps({"key": _cache_key(), "formulas": formulas},
                                                  ensure_ascii=False).encode("utf-8"))
    except OSError:
        pass


def _encode(shape: Formula) -> list:
    """The list form of a layout, font files named within matplotlib's font folder."""
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
