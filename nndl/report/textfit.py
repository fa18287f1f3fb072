"""Text measured in DejaVu Sans (the font matplotlib ships): widths in points, greedy line wrapping."""

from __future__ import annotations

import functools

from matplotlib import ft2font
from matplotlib.font_manager import FontProperties, findfont

FAMILY = "DejaVu Sans"
MONO = "DejaVu Sans Mono"  # code listings
_UNIT = 100.0  # measure glyphs at 100 pt, scale linearly


@functools.cache
def _font(bold: bool, family: str = FAMILY) -> ft2font.FT2Font:
    font = ft2font.FT2Font(findfont(FontProperties(family=family, weight="bold" if bold else "normal")))
    font.set_size(_UNIT, 72)
    return font


@functools.cache
def _advance(char: str, bold: bool, family: str = FAMILY) -> float:
    """Advance width of one glyph at 1 pt."""
    glyph = _font(bold, family).load_char(ord(char), flags=ft2font.LoadFlags.NO_HINTING)
    return glyph.linearHoriAdvance / 65536 / _UNIT


@functools.cache
def _charmap(family: str = FAMILY) -> frozenset[int]:
    return frozenset(_font(False, family).get_charmap()) & frozenset(_font(True, family).get_charmap())


def clean(text: str, family: str = FAMILY) -> str:
    """Text the font can draw: tabs to spaces, other control and missing characters to '?'."""
    text = text.replace("\t", "    ").replace("\r", "")
    charmap = _charmap(family)
    return "".join(c if c == "\n" or (c.isprintable() and ord(c) in charmap) else "?" for c in text)


def width(text: str, size: float, bold: bool = False, family: str = FAMILY) -> float:
    """Width of one line of cleaned `text` in points (kerning ignored: slightly generous)."""
    return size * sum(_advance(c, bold, family) for c in text)


def wrap(text: str, max_width: float, size: float, bold: bool = False) -> list[str]:
    """Greedy word wrap of cleaned `text` to lines at most `max_width` points wide.

    Args:
      text: text; newlines force breaks, words wider than a line are cut.
      max_width: line width in points.
      size: font size in points.
      bold: bold face.

    Returns:
      The lines (at least one, possibly empty).
    """
    lines: list[str] = []
    for paragraph in clean(text).split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if width(candidate, size, bold) <= max_width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = word
            while width(line, size, bold) > max_width and len(line) > 1:
                cut = _fit(line, max_width, size, bold)
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return lines


def cut(line: str, max_width: float, size: float, family: str = FAMILY) -> list[str]:
    """A line of cleaned text cut (anywhere, not at spaces) into pieces at most `max_width` wide: code lines."""
    pieces = []
    while width(line, size, family=family) > max_width and len(line) > 1:
        k = _fit(line, max_width, size, False, family)
        pieces.append(line[:k])
        line = line[k:]
    return pieces + [line]


def _fit(word: str, max_width: float, size: float, bold: bool, family: str = FAMILY) -> int:
    """Longest prefix length (>= 1) of `word` that fits."""
    total = 0.0
    for i, c in enumerate(word):
        total += size * _advance(c, bold, family)
        if total > max_width:
            return max(i, 1)
    return len(word)
