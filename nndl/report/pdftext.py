"""An fpdf2 document for the report: DejaVu fonts, paragraphs with inline mathematics, display formulas, code.

Paragraph text flows with fpdf2's own line breaking (`write`). A `$...$` span is
typeset in place: as styled Unicode text when it is simple (nndl/report/texmath.py),
else as the glyphs and rules of its mathtext layout (nndl/report/formula.py), drawn
in the same fonts at the text's baseline. A span never breaks across lines.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import matplotlib
from fpdf import FPDF

from nndl.report import formula, texmath
from nndl.report.formula import Formula

FONT, MONO = "DejaVu", "DejaVuMono"
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FACES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf",
         "BI": "DejaVuSans-BoldOblique.ttf"}
MONO_FACES = {"": "DejaVuSansMono.ttf", "B": "DejaVuSansMono-Bold.ttf"}
BLACK, GREY, RED = (0, 0, 0), (85, 85, 85), (176, 0, 32)
CODE_FILL = (244, 244, 240)
MARGIN = 48.0  # points
FOOTER = 18.0
LINE = 1.3  # line height / font size
INDENT = 18.0  # display mathematics and code listings
SCRIPT = 0.7  # fpdf2's sub- and superscript scale (FPDF.sub_scale, sup_scale)


logging.getLogger("fontTools").setLevel(logging.ERROR)  # STIX/BaKoMa font headers make it chatty


class ReportPDF(FPDF):
    """A4 pages in points with the DejaVu faces, a footer line, and text that may hold mathematics."""

    def __init__(self, title: str):
        super().__init__(orientation="P", unit="pt", format="A4")
        self.report_title = title
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.c_margin = 0.0  # text starts at the margin and `x` is where it ends (inline formulas go there)
        self.set_auto_page_break(True, margin=MARGIN + FOOTER)
        self.set_title(title)
        self.set_creator("nndl (python -m experiments report)")
        for style, name in FACES.items():
            self.add_font(FONT, style, FONT_DIR / name)
        for style, name in MONO_FACES.items():
            self.add_font(MONO, style, FONT_DIR / name)
        self._glyph_fonts = {str(FONT_DIR / name): (FONT, style) for style, name in FACES.items()}
        self.set_font(FONT, "", 9)

    def finish(self) -> bytes:
        """The PDF file's bytes; the font files are closed afterwards (fpdf2 reads them lazily until then)."""
        try:
            return bytes(self.output())
        finally:
            self.close_fonts()

    def close_fonts(self) -> None:
        for font in self.fonts.values():
            if hasattr(font, "close"):
                font.close()

    def footer(self) -> None:
        self.set_y(-MARGIN * 0.75)
        self.set_font(FONT, "", 7.5)
        self.set_text_color(*GREY)
        self.cell(0, 10, f"{self.report_title} · page {self.page_no()} of {{nb}}")

    # ------------------------------------------------------------------ vertical space
    @property
    def room(self) -> float:
        """Points left above the bottom margin on this page."""
        return self.page_break_trigger - self.y

    def space(self, gap: float, keep: float = 0.0) -> None:
        """`gap` points of space, none at the top of a page; a new page when less than `keep` would remain."""
        if self.room < gap + keep:
            self.add_page()
        elif self.y > self.t_margin + 0.01:
            self.y += gap

    # ------------------------------------------------------------------ text
    def paragraph(self, text: str, size: float = 9.0, style: str = "", color=BLACK, indent: float = 0.0,
                  gap: float = 3.0, keep: float = 0.0, math: bool = True) -> None:
        """Wrapped text whose `$...$` spans are typeset as mathematics (`math=False`: shown as written)."""
        pieces = _pieces(text, size) if math else [(False, text)]
        tall = max((p.height + p.depth for is_math, p in pieces if isinstance(p, Formula)), default=0.0)
        h = max(size * LINE, tall + 0.35 * size)
        self.space(gap, keep + h)
        left = self.l_margin
        self.set_left_margin(left + indent)
        self.set_x(self.l_margin)
        self.set_text_color(*color)
        try:
            for is_math, piece in pieces:
                if isinstance(piece, Formula):
                    self._inline_formula(piece, h, size)
                elif is_math:
                    self._runs(piece, h, size, style)
                else:
                    self.set_font(FONT, style, size)
                    self.write(h, clean(piece))
            self.ln(h)
        finally:
            self.set_left_margin(left)
            self.char_vpos = "LINE"

    def _runs(self, runs: tuple[texmath.Run, ...], h: float, size: float, style: str) -> None:
        """A simple span as styled text, moved to the next line first unless it fits whole on this one."""
        width = 0.0
        for run in runs:
            self.set_font(FONT, _combine(style, run.style), size)
            width += self.get_string_width(run.text) * (SCRIPT if run.vpos else 1.0)
        self._fit(width, h)
        for run in runs:
            self.set_font(FONT, _combine(style, run.style), size)
            self.char_vpos = run.vpos or "LINE"
            self.write(h, run.text)
        self.char_vpos = "LINE"

    def _inline_formula(self, shape: Formula, h: float, size: float) -> None:
        available = self.w - self.r_margin - self.l_margin
        if shape.width > available:  # wider than a line: shrink it to fit
            shape = shape.scaled(formula.SIZE * available / shape.width)
        self._fit(shape.width, h)
        if self.y + h > self.page_break_trigger:
            self.add_page()
            self.set_x(self.l_margin)
        self.draw_formula(shape, self.x, self.y + 0.5 * h + 0.3 * size)
        self.x += shape.width

    def _fit(self, width: float, h: float) -> None:
        """A new line unless `width` fits between the current position and the right margin."""
        if self.x > self.l_margin + 0.01 and self.x + width > self.w - self.r_margin:
            self.ln(h)

    def display(self, expr: str, size: float = 10.0, gap: float = 3.0) -> None:
        """One line of display mathematics, indented, shrunk to fit the width; shown as written if unparsable."""
        try:
            shape = formula.layout(expr).scaled(size)
        except ValueError:
            self.paragraph(f"${expr}$", indent=INDENT, gap=gap, math=False)
            return
        available = self.epw - INDENT
        if shape.width > available:
            shape = formula.layout(expr).scaled(size * available / shape.width)
        pad = 0.25 * size
        self.space(gap, shape.height + shape.depth + 2 * pad)
        self.set_text_color(*BLACK)
        self.draw_formula(shape, self.l_margin + INDENT, self.y + pad + shape.height)
        self.set_xy(self.l_margin, self.y + shape.height + shape.depth + 2 * pad)

    def draw_formula(self, shape: Formula, x: float, baseline: float) -> None:
        """Places a laid-out formula's glyphs and rules with its origin at (x, baseline), in the text colour."""
        self.set_fill_color(self.text_color)
        for g in shape.glyphs:
            family, style = self._glyph_font(g.font)
            self.set_font(family, style, g.size)
            self.text(x + g.x, baseline - g.y, g.char)
        for r in shape.rules:
            self.rect(x + r.x, baseline - r.y - r.h, r.w, r.h, style="F")

    def _glyph_font(self, path: str) -> tuple[str, str]:
        """The family and style of a font file mathtext used (DejaVu faces are the body's; others added once)."""
        if path not in self._glyph_fonts:
            family = f"math-{Path(path).stem}"
            self.add_font(family, "", path)
            self._glyph_fonts[path] = (family, "")
        return self._glyph_fonts[path]

    def code(self, title: str, source: str, size: float = 6.8) -> None:
        """A source listing: its name and location, then its lines in a monospaced face on a tinted band.

        Lines are set as they are (no wrapping engine: monospaced text is cut at a character count);
        a line longer than the band continues on the next, and the band continues across pages.
        """
        self.paragraph(title, size=7, color=GREY, indent=INDENT, gap=5, keep=4 * size, math=False)
        self.set_font(MONO, "", size)
        step, pad = size * 1.25, 3.0
        x = self.l_margin + INDENT
        per_line = max(int((self.epw - INDENT - 2 * pad) / self.get_string_width("0")), 1)
        lines = [chunk for line in clean(source.rstrip("\n")).split("\n")
                 for chunk in ([line[k:k + per_line] for k in range(0, len(line), per_line)] or [""])]
        self.set_fill_color(*CODE_FILL)
        self.set_text_color(*BLACK)
        k = 0
        while k < len(lines):
            if self.room < step + 2 * pad:
                self.add_page()
            count = min(len(lines) - k, max(int((self.room - 2 * pad) / step), 1))
            top = self.y
            self.rect(x, top, self.epw - INDENT, count * step + 2 * pad, style="F")
            for j in range(count):
                self.text(x + pad, top + pad + (j + 0.8) * step, lines[k + j])
            k += count
            self.set_xy(self.l_margin, top + count * step + 2 * pad)


def _combine(style: str, run_style: str) -> str:
    """A run's face inside a paragraph of `style` ("B" headings keep their weight)."""
    return "".join(s for s in "BI" if s in style or s in run_style)


def _pieces(text: str, size: float) -> list[tuple[bool, object]]:
    """(is_math, piece): text strings, simple spans as runs, other spans as Formulas (unparsable: as written)."""
    out: list[tuple[bool, object]] = []
    for line_no, line in enumerate(text.split("\n")):
        if line_no:
            out.append((False, "\n"))
        for is_math, piece in texmath.spans(line):
            if not is_math:
                out.append((False, piece))
                continue
            runs = texmath.runs(piece)
            if runs is not None:
                out.append((True, runs))
            elif formula.error(piece) is None:
                out.append((True, formula.layout(piece).scaled(size)))
            else:
                out.append((False, f"${piece}$"))
    return out


@functools.lru_cache(maxsize=65536)
def clean(text: str) -> str:
    """Text fpdf2 can set: tabs as four spaces, carriage returns dropped, other control characters as '?'."""
    text = text.replace("\t", "    ").replace("\r", "")
    return "".join(c if c == "\n" or c.isprintable() else "?" for c in text)
