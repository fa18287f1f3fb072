"""Mathematics in report text: `$...$` spans measured and rendered with matplotlib's mathtext (no LaTeX).

A paragraph may hold inline spans (`the step is $\\alpha\\,\\mathrm{sign}(g)$`);
a derivation line that is one span (`$\\hat m_1 = g$`) is display mathematics.
A span mathtext cannot parse is shown as written, dollars included, so a typo
never stops the report (collect reports it as an error line).
"""

from __future__ import annotations

import functools
import io
import re
from typing import NamedTuple

from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.mathtext import MathTextParser

from nndl.report import textfit

_DOLLAR = re.compile(r"(?<!\\)\$")
_PARSER = MathTextParser("path")


class Size(NamedTuple):
    """Extent of a rendered string in points: total height includes the depth below the baseline."""

    width: float
    height: float
    depth: float


def spans(text: str) -> list[tuple[bool, str]]:
    """`text` cut into (is_math, piece) at unescaped dollars; an odd number of dollars means no mathematics."""
    parts = _DOLLAR.split(text)
    if len(parts) % 2 == 0:
        return [(False, text)]
    return [(k % 2 == 1, p) for k, p in enumerate(parts) if p or k % 2 == 1]


def has_math(text: str) -> bool:
    return any(is_math for is_math, _ in spans(text))


def display(line: str) -> str | None:
    """The expression of a display line (the whole stripped line is one `$...$` or `$$...$$`), else None."""
    s = line.strip()
    if s.startswith("$$") and s.endswith("$$") and len(s) > 4:
        s = s[1:-1]
    if len(s) > 2 and s[0] == "$" and s[-1] == "$" and not _DOLLAR.search(s[1:-1]):
        return s[1:-1].strip()
    return None


@functools.lru_cache(maxsize=4096)
def error(expr: str) -> str | None:
    """None when mathtext parses `$expr$`, else the parser's message in one line."""
    try:
        _PARSER.parse(f"${expr}$", dpi=72, prop=_prop(10.0, False))
    except ValueError as e:
        return " ".join(str(e).split())
    return None


def renderable(text: str) -> bool:
    """The text holds mathematics and every span of it parses."""
    pieces = spans(text)
    return any(m for m, _ in pieces) and all(error(p) is None for m, p in pieces if m)


@functools.lru_cache(maxsize=8192)
def measure(text: str, size: float, bold: bool = False) -> Size:
    """Size of `text` (mixed prose and `$...$`) as mathtext draws it, in points."""
    parsed = _PARSER.parse(text, dpi=72, prop=_prop(size, bold))
    return Size(float(parsed.width), float(parsed.height), float(parsed.depth))


def wrap(text: str, max_width: float, size: float, bold: bool = False) -> list[tuple[str, bool]]:
    """Greedy word wrap that never breaks inside a `$...$` span.

    Args:
      text: prose with inline mathematics; newlines force breaks.
      max_width: line width in points.
      size: font size in points.
      bold: bold face.

    Returns:
      (line, drawn_as_math) pairs; lines whose spans do not parse are plain text.
    """
    out: list[tuple[str, bool]] = []
    for paragraph in text.split("\n"):
        if not renderable(paragraph):
            out += [(line, False) for line in textfit.wrap(paragraph, max_width, size, bold)]
            continue
        line = ""
        for word in _words(paragraph):
            candidate = f"{line} {word}" if line else word
            if not line or _width(candidate, size, bold) <= max_width:
                line = candidate
                continue
            out.append((line, has_math(line)))
            line = word
        out.append((line, has_math(line)))
    return out


def _words(paragraph: str) -> list[str]:
    """Space-separated words, a `$...$` span with its spaces counting as part of one word."""
    words: list[str] = []
    inside = False
    for token in paragraph.split(" "):
        if inside:
            words[-1] += " " + token
        else:
            words.append(token)
        inside ^= len(_DOLLAR.findall(token)) % 2 == 1
    return words


def _width(line: str, size: float, bold: bool) -> float:
    return measure(line, size, bold).width if has_math(line) else textfit.width(textfit.clean(line), size, bold)


def svg(text: str, size: float) -> tuple[bytes, Size]:
    """`text` (with `$...$`) drawn alone as a tight SVG image (glyphs as paths), and its size.

    Like matplotlib.mathtext.math_to_image, without the file's date so the same text gives the same bytes.
    """
    extent = measure(text, size)
    fig = Figure(figsize=(max(extent.width, 1.0) / 72, max(extent.height, 1.0) / 72))
    fig.text(0, extent.depth / max(extent.height, 1.0), text, fontproperties=_prop(size, False))
    buf = io.BytesIO()
    fig.savefig(buf, dpi=72, format="svg", transparent=True, metadata={"Date": None})
    return buf.getvalue(), extent


@functools.cache
def _prop(size: float, bold: bool) -> FontProperties:
    return FontProperties(family=textfit.FAMILY, size=size, weight="bold" if bold else "normal")
