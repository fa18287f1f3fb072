"""Flow layout on A4 pages: text, tables and image rows placed top to bottom, in points from the top."""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nndl.report import mathfit, textfit

PAGE_W, PAGE_H = 595.28, 841.89  # A4 portrait, points
MARGIN = 48.0
FOOTER = 18.0  # space kept free for the page footer
CONTENT_W = PAGE_W - 2 * MARGIN
CONTENT_H = PAGE_H - 2 * MARGIN - FOOTER
LINE = 1.3  # line height / font size
CELL_PAD = 3.0
IMAGE_GAP = 8.0
ZEBRA, HEADER_FILL, RULE = "#f2f2f2", "#d9e2ec", "#b0b0b0"
CODE_FILL = "#f4f4f0"
INDENT = 18.0  # display mathematics and code listings


# ------------------------------------------------------------------- blocks
@dataclass(frozen=True)
class Text:
    """A paragraph wrapped to the content width; `keep` keeps it on the page of what follows."""

    text: str
    size: float = 9.0
    bold: bool = False
    color: str = "black"
    gap: float = 4.0
    keep: bool = False
    math: bool = False  # draw `$...$` spans as mathematics (mathtext)


@dataclass(frozen=True)
class Formula:
    """One line of display mathematics (`expr` without dollars), indented; shrunk to fit the width."""

    expr: str
    size: float = 10.0
    gap: float = 3.0
    keep: bool = False


@dataclass(frozen=True)
class Code:
    """A source listing in a monospaced face on a tinted band: a title line, then the lines (long ones cut)."""

    title: str
    source: str
    size: float = 6.8
    gap: float = 5.0


@dataclass(frozen=True)
class Table:
    """Rows of cell strings; `widths` are column fractions of the content width (default: fitted)."""

    rows: tuple[tuple[str, ...], ...]
    header: bool = False
    size: float = 8.0
    widths: tuple[float, ...] | None = None
    colors: tuple[str, ...] | None = None  # text colour per row
    gap: float = 5.0


@dataclass(frozen=True)
class Images:
    """PNG files packed side by side in rows, each scaled to fit the page (never enlarged)."""

    paths: tuple[Path, ...]
    max_height: float = 0.42 * CONTENT_H  # two questions with figures fit on a page
    gap: float = 6.0


@dataclass(frozen=True)
class PageBreak:
    """Starts a new page unless the current one is empty."""


@dataclass(frozen=True)
class Anchor:
    """Records the page on which the next block starts."""

    name: str


# ---------------------------------------------------------- drawing operations
@dataclass(frozen=True)
class Line:
    x: float
    y: float  # baseline, from the page top
    text: str
    size: float
    bold: bool = False
    color: str = "black"
    math: bool = False  # mathtext parses the text
    family: str = textfit.FAMILY


@dataclass(frozen=True)
class Picture:
    path: Path
    x: float
    y: float  # top edge, from the page top
    w: float
    h: float


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    color: str


@dataclass(frozen=True)
class _Piece:
    """An unbreakable strip of a block: its height and operations relative to its top-left corner."""

    height: float
    ops: tuple = ()
    gap: float = 0.0  # space above, dropped at the top of a page
    keep: bool = False  # no page break after this piece
    repeat: _Piece | None = None  # drawn first when this piece opens a page (a table's header)
    anchor: str | None = None
    brk: bool = False


@dataclass(frozen=True)
class Layout:
    """Pages of drawing operations (absolute positions) and the page index of every anchor."""

    pages: tuple[tuple, ...]
    anchors: dict = field(default_factory=dict)


def paginate(blocks: Sequence) -> Layout:
    """Places blocks on as many pages as they need.

    Args:
      blocks: Text, Table, Images, PageBreak and Anchor blocks, in reading order.

    Returns:
      The layout; a block taller than a page is cut between lines or rows.
    """
    pieces = [p for b in blocks for p in _pieces(b)]
    pages: list[list] = [[]]
    anchors: dict[str, int] = {}
    pending: list[str] = []  # anchors waiting for the page of the next drawn piece
    y = 0.0
    for i, piece in enumerate(pieces):
        if piece.brk:
            if pages[-1]:
                pages.append([])
                y = 0.0
            continue
        if piece.anchor is not None:
            pending.append(piece.anchor)
            continue
        need = _kept_height(pieces, i, at_top=y == 0)
        if y > 0 and y + need > CONTENT_H and need <= CONTENT_H:
            pages.append([])
            y = 0.0
        if y > 0 and y + piece.gap + piece.height > CONTENT_H:
            pages.append([])
            y = 0.0
        if y == 0 and pages[-1] == [] and piece.repeat is not None:
            y = _place(pages[-1], piece.repeat, y)
        anchors.update((name, len(pages) - 1) for name in pending)
        pending.clear()
        y = _place(pages[-1], piece, y + (piece.gap if y > 0 else 0.0))
    return Layout(pages=tuple(tuple(p) for p in pages if p) or ((),), anchors=anchors)


def _kept_height(pieces: Sequence[_Piece], i: int, at_top: bool) -> float:
    """Height of piece i and every following piece it must stay with."""
    total, j = 0.0, i
    while j < len(pieces):
        p = pieces[j]
        total += p.height + (p.gap if (j > i or not at_top) else 0.0)
        if not p.keep:
            break
        j += 1
    return total


def _place(page: list, piece: _Piece, y: float) -> float:
    dx, dy = MARGIN, MARGIN + y
    for op in piece.ops:
        page.append(dataclasses.replace(op, x=op.x + dx, y=op.y + dy))
    return y + piece.height


# -------------------------------------------------------------- block pieces
def _pieces(block) -> list[_Piece]:
    if isinstance(block, PageBreak):
        return [_Piece(0.0, brk=True)]
    if isinstance(block, Anchor):
        return [_Piece(0.0, anchor=block.name)]
    if isinstance(block, Text):
        return _math_text_pieces(block) if block.math and mathfit.has_math(block.text) else _text_pieces(block)
    if isinstance(block, Formula):
        return [_formula_piece(block)]
    if isinstance(block, Code):
        return _code_pieces(block)
    if isinstance(block, Table):
        return _table_pieces(block)
    if isinstance(block, Images):
        return _image_pieces(block)
    raise TypeError(f"unknown block {type(block).__name__}")


def _text_pieces(block: Text) -> list[_Piece]:
    lines = textfit.wrap(block.text, CONTENT_W, block.size, block.bold)
    h = block.size * LINE
    n = len(lines)
    return [_Piece(h, (Line(0.0, 0.95 * block.size, line, block.size, block.bold, block.color),),
                   gap=block.gap if k == 0 else 0.0, keep=block.keep or (n > 1 and k in (0, n - 2)))
            for k, line in enumerate(lines)]  # no lone first or last line of a paragraph on a page


def _math_text_pieces(block: Text) -> list[_Piece]:
    """A paragraph with inline mathematics: lines as tall as their formulas need."""
    lines = mathfit.wrap(block.text, CONTENT_W, block.size, block.bold)
    n, pieces = len(lines), []
    for k, (line, math) in enumerate(lines):
        ascent, depth = 0.95 * block.size, (LINE - 0.95) * block.size
        if math:
            extent = mathfit.measure(line, block.size, block.bold)
            ascent, depth = max(ascent, extent.height - extent.depth + 1), max(depth, extent.depth + 1)
        op = Line(0.0, ascent, line, block.size, block.bold, block.color, math=math)
        pieces.append(_Piece(ascent + depth, (op,), gap=block.gap if k == 0 else 0.0,
                             keep=block.keep or (n > 1 and k in (0, n - 2))))
    return pieces


def _formula_piece(block: Formula) -> _Piece:
    """Display mathematics; an expression mathtext cannot parse is shown as written."""
    text = f"${block.expr}$"
    if mathfit.error(block.expr) is not None:
        return _text_pieces(Text(text, size=block.size, gap=block.gap, keep=block.keep))[0]
    size = block.size
    extent = mathfit.measure(text, size)
    if extent.width > CONTENT_W - INDENT:
        size *= (CONTENT_W - INDENT) / extent.width
        extent = mathfit.measure(text, size)
    op = Line(INDENT, extent.height - extent.depth + 2, text, size, math=True)
    return _Piece(extent.height + 4, (op,), gap=block.gap, keep=block.keep)


def _code_pieces(block: Code) -> list[_Piece]:
    """Title and code lines; each line (or cut piece of a long one) is a piece, so listings split across pages."""
    h = block.size * 1.25
    width = CONTENT_W - INDENT - 2 * CELL_PAD
    title = Line(INDENT, 0.95 * block.size * LINE, block.title, block.size * 1.1, color="#555555")
    pieces = [_Piece(block.size * 1.1 * LINE + 1, (title,), gap=block.gap, keep=True)]
    lines = [part for line in textfit.clean(block.source.rstrip("\n"), textfit.MONO).split("\n")
             for part in textfit.cut(line, width, block.size, textfit.MONO)]
    for k, line in enumerate(lines):
        ops = (Box(INDENT, 0.0, CONTENT_W - INDENT, h, CODE_FILL),
               Line(INDENT + CELL_PAD, 0.9 * block.size, line, block.size, family=textfit.MONO))
        pieces.append(_Piece(h, ops, keep=k == 0 or k == len(lines) - 2))
    return pieces


def _table_pieces(block: Table) -> list[_Piece]:
    rows = [tuple(r) for r in block.rows]
    if not rows:
        return []
    n = max(len(r) for r in rows)
    rows = [r + ("",) * (n - len(r)) for r in rows]
    widths = _column_widths(rows, block)
    pieces = []
    for k, row in enumerate(rows):
        head = block.header and k == 0
        color = block.colors[k] if block.colors and k < len(block.colors) else "black"
        fill = HEADER_FILL if head else (ZEBRA if k % 2 == (0 if block.header else 1) else None)
        pieces.append(_row_piece(row, widths, block.size, head, color, fill, gap=block.gap if k == 0 else 0.0))
    for k in {0, len(pieces) - 2} if len(pieces) > 1 else ():  # no lone first or last row on a page
        p = pieces[k]
        pieces[k] = _Piece(p.height, p.ops, p.gap, keep=True)
    if block.header and len(pieces) > 1:
        plain = _Piece(pieces[0].height, pieces[0].ops)
        pieces[1:] = [_Piece(p.height, p.ops, p.gap, p.keep, repeat=plain) for p in pieces[1:]]
    return pieces


def _row_piece(row, widths, size, bold, color, fill, gap) -> _Piece:
    cells = [textfit.wrap(c, w - 2 * CELL_PAD, size, bold) for c, w in zip(row, widths)]
    h = max(len(c) for c in cells) * size * LINE + 2 * CELL_PAD
    ops: list = [Box(0.0, 0.0, sum(widths), h, fill)] if fill else []
    ops.append(Box(0.0, h - 0.4, sum(widths), 0.4, RULE))
    x = 0.0
    for lines, w in zip(cells, widths):
        ops += [Line(x + CELL_PAD, CELL_PAD + (j + 0.95) * size * LINE - 0.25 * size, s, size, bold, color)
                for j, s in enumerate(lines)]
        x += w
    return _Piece(h, tuple(ops), gap=gap)


def _column_widths(rows, block: Table) -> list[float]:
    """Natural widths when they fit; otherwise narrow columns keep theirs and wide ones share the rest."""
    if block.widths is not None:
        return [f * CONTENT_W for f in block.widths]
    n = len(rows[0])
    natural = [max(textfit.width(textfit.clean(r[i]), block.size, block.header and k == 0)
                   for k, r in enumerate(rows)) + 2 * CELL_PAD + 1 for i in range(n)]
    if sum(natural) <= CONTENT_W:
        return natural
    widths = [0.0] * n
    todo, room = set(range(n)), CONTENT_W
    while todo:
        share = room / len(todo)
        small = {i for i in todo if natural[i] <= share}
        if not small:
            for i in todo:
                widths[i] = share
            break
        for i in small:
            widths[i] = natural[i]
            room -= natural[i]
        todo -= small
    return widths


def _image_pieces(block: Images) -> list[_Piece]:
    sizes = []
    for path in block.paths:
        w, h = png_size_pt(path)
        scale = image_scale(w, h, block.max_height)
        sizes.append((path, w * scale, h * scale))
    rows: list[list] = []
    for item in sizes:
        if rows and sum(s[1] for s in rows[-1]) + IMAGE_GAP * len(rows[-1]) + item[1] <= CONTENT_W:
            rows[-1].append(item)
        else:
            rows.append([item])
    pieces = []
    for k, row in enumerate(rows):
        total = sum(s[1] for s in row) + IMAGE_GAP * (len(row) - 1)
        x, ops = (CONTENT_W - total) / 2, []
        for path, w, h in row:
            ops.append(Picture(path, x, 0.0, w, h))
            x += w + IMAGE_GAP
        pieces.append(_Piece(max(s[2] for s in row), tuple(ops), gap=block.gap if k == 0 else IMAGE_GAP))
    return pieces


def image_scale(w: float, h: float, max_height: float) -> float:
    """Scale of a w x h figure: fit the width and `max_height`, never enlarge.

    A tall grid of panels that the height limit would shrink below 70 % of the
    width it could have gets up to 85 % of the page height instead, so its
    labels stay readable.
    """
    fit_width = min(1.0, CONTENT_W / w)
    scale = min(fit_width, max_height / h)
    if scale < 0.7 * fit_width:
        scale = min(fit_width, 0.85 * CONTENT_H / h)
    return scale


def png_size_pt(path: Path, default_dpi: float = 100.0) -> tuple[float, float]:
    """Width and height of a PNG in points, from its IHDR and pHYs chunks (no decoding).

    Args:
      path: a PNG file.
      default_dpi: resolution assumed when the file does not state one.

    Returns:
      (width, height) in points.
    """
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG file")
    w_px, h_px = struct.unpack(">II", data[16:24])
    dpi = default_dpi
    at = data.find(b"pHYs")
    if at > 0:
        ppx, ppy, unit = struct.unpack(">IIB", data[at + 4: at + 13])
        if unit == 1 and ppx > 0:
            dpi = ppx * 0.0254  # pixels per metre -> per inch
    return w_px / dpi * 72, h_px / dpi * 72
