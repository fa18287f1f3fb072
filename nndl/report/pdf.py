"""report.pdf with fpdf2: a front page (run, contents, coverage, checks), then one section per experiment.

Every experiment and every question is a bookmark. The front page needs the
pages where sections and answers start, which are known only once the body is
laid out: it is measured first (a dry run with "?" for the numbers, in fixed
column widths), its pages are reserved with fpdf2's table-of-contents
placeholder, and it is drawn last, with the real numbers and links.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from fpdf.fonts import FontFace
from PIL import Image

from nndl.report import content, coverage, texmath
from nndl.report.model import Entry, Report, Section
from nndl.report.pdftext import BLACK, GREY, RED, ReportPDF, clean

HEADER_FILL, ZEBRA = (217, 226, 236), (242, 242, 242)
TOC_WIDTHS = (0.05, 0.2, 0.4, 0.27, 0.08)
COVERAGE_WIDTHS = (0.06, 0.1, 0.55, 0.06, 0.23)
CHECK_WIDTHS = (0.13, 0.33, 0.13, 0.13, 0.19, 0.09)
FIGURE_GAP = 6.0
FIGURE_DPI = 100.0  # a PNG without a resolution is taken to be matplotlib's default
FIGURE_HEIGHT = 0.42  # of the text height at most: two questions with figures fit on a page
ENTRY_KEEP = 110.0  # a question starts on a new page unless its heading and first lines (or figures) fit
TABLE_KEEP = 4  # a table starts on a new page unless about its header and two rows fit (in font sizes)


class Document(NamedTuple):
    """A rendered PDF: its bytes, page count and the 1-based page of every anchor (sections, entries)."""

    data: bytes
    pages: int
    anchors: dict


class Place(NamedTuple):
    """Where an anchor landed: page and distance from the top in points."""

    page: int
    y: float


def pdf_document(report: Report) -> Document:
    """The report as a PDF document.

    Args:
      report: the collected report.

    Returns:
      The PDF's bytes, page count and anchor pages (`content.entry_anchor` names an entry's).
    """
    scratch = ReportPDF(content.TITLE)
    try:
        scratch.add_page()
        front_page(scratch, report, {})
    finally:
        scratch.close_fonts()
    pdf = ReportPDF(content.TITLE)
    places: dict[str, Place] = {}
    try:
        pdf.add_page()
        pdf.start_section("Run, contents, coverage and checks")
        pdf.insert_toc_placeholder(lambda doc, _outline: front_page(doc, report, places), pages=scratch.page)
        for k, section in enumerate(report.sections, 1):
            if k > 1:
                pdf.add_page()
            places[section.name] = Place(pdf.page, pdf.y)
            pdf.start_section(f"{k}. {section.name}", level=0)
            section_body(pdf, k, section, places)
        data = pdf.finish()
    finally:
        pdf.close_fonts()
    return Document(data, pdf.pages_count, {name: place.page for name, place in places.items()})


def pdf_bytes(report: Report) -> tuple[bytes, int]:
    """(the PDF file's bytes, its number of pages): `pdf_document` without the anchors."""
    doc = pdf_document(report)
    return doc.data, doc.pages


# ---------------------------------------------------------------------------------------------- front page
def front_page(pdf: ReportPDF, report: Report, places: Mapping[str, Place]) -> None:
    """Title, run environment, contents, coverage of the sheets' sub-questions and every check.

    `places` gives the page numbers and link targets ("?" and no links when empty: the dry run).
    """
    pages = {name: place.page for name, place in places.items()}
    link = _linker(pdf, places)
    pdf.paragraph(content.TITLE, size=18, style="B", gap=0, math=False)
    pdf.paragraph(content.SUBTITLE, size=12, color=GREY, gap=0, math=False)
    pdf.paragraph(f"Generated {report.created}. {content.INTRO}", size=9, color=GREY, gap=6, math=False)
    _heading(pdf, "Run")
    table(pdf, content.environment_rows(report), size=8.5)
    _heading(pdf, "Contents")
    rows = content.toc_rows(report, pages)
    table(pdf, rows, header=content.TOC_HEADER, size=8.5, widths=TOC_WIDTHS,
          colors=[BLACK if s.status == "ok" and not s.errors else RED for s in report.sections],
          links=[[None, link(s.name), None, None, link(s.name)] for s in report.sections])
    _heading(pdf, f"Coverage: {content.coverage_summary(report)}")
    pdf.paragraph(content.COVERAGE_NOTE, size=8.5, color=GREY, gap=2, keep=40, math=False)
    if report.questions:
        cover = content.coverage_rows(report, pages)
        shown = [(*row[:4], row[4].replace("+", " + ")) for _, row in cover]  # "how" may wrap at its parts
        table(pdf, shown, header=content.COVERAGE_HEADER, size=7.5, widths=COVERAGE_WIDTHS,
              colors=[RED if row[4] == coverage.NOT_ANSWERED else BLACK for _, row in cover],
              links=[[None, None, None, link(where[0]) if where else None, None] for where, _ in cover])
    else:
        pdf.paragraph("No sub-question list.", color=GREY, math=False)
    checks = report.checks
    _heading(pdf, f"Checks: {content.check_summary(checks)}")
    if checks:
        table(pdf, content.check_rows(report), header=content.CHECK_HEADER, size=7, widths=CHECK_WIDTHS,
              colors=[RED if c.passed is not True else BLACK for c in checks],
              links=[[link(c.experiment), None, None, None, None, None] for c in checks])
    else:
        pdf.paragraph("No experiment reported a check.", color=GREY, math=False)


def _linker(pdf: ReportPDF, places: Mapping[str, Place]) -> Callable[[str], int | None]:
    """link(anchor) -> an internal link to where it landed (None in the dry run)."""
    made: dict[str, int] = {}

    def link(name: str) -> int | None:
        if name not in places:
            return None
        if name not in made:
            made[name] = pdf.add_link(y=places[name].y, page=places[name].page)
        return made[name]

    return link


def _heading(pdf: ReportPDF, text: str) -> None:
    pdf.paragraph(text, size=12, style="B", gap=12, keep=60, math=False)


# ---------------------------------------------------------------------------------------------- tables
def table(pdf: ReportPDF, rows: Sequence[Sequence[str]], *, header: Sequence[str] = (), size: float = 8.0,
          widths: Sequence[float] | None = None, colors: Sequence | None = None,
          links: Sequence[Sequence[int | None]] | None = None) -> None:
    """Rows of cell strings on zebra stripes; a header row repeats on every page the table reaches.

    Args:
      pdf: the document.
      rows: the data rows.
      header: column names (none: label/value rows, the first column bold).
      size: font size in points.
      widths: column fractions of the text width (default: fitted to the cells).
      colors: text colour per row.
      links: per row and column, an internal link or None.
    """
    if not rows and not header:
        return
    cells = [[clean(texmath.plain(str(c))) for c in row] for row in rows]
    ncols = max(len(header), *(len(r) for r in cells)) if cells else len(header)
    cells = [r + [""] * (ncols - len(r)) for r in cells]
    head = [clean(texmath.plain(str(c))) for c in header] + [""] * (ncols - len(header)) if header else []
    pdf.set_font("DejaVu", "", size)
    width = pdf.epw
    if widths is None:
        widths = _fit_widths(pdf, head, cells, size)
        width = min(pdf.epw, sum(widths))
    pdf.space(5, keep=size * TABLE_KEEP)
    pdf.set_text_color(*BLACK)
    with pdf.table(width=width, col_widths=tuple(widths), align="LEFT", text_align="LEFT",
                   first_row_as_headings=bool(head), repeat_headings=1, line_height=size * 1.25,
                   headings_style=FontFace(emphasis="BOLD", fill_color=HEADER_FILL),
                   borders_layout="HORIZONTAL_LINES", cell_fill_color=ZEBRA, cell_fill_mode="ROWS",
                   padding=(1.5, 3)) as t:
        if head:
            t.row(head)
        for k, row in enumerate(cells):
            color = colors[k] if colors else BLACK
            r = t.row(style=FontFace(color=color))
            for j, text in enumerate(row):
                style = FontFace(color=color, emphasis="BOLD") if not head and j == 0 else None
                r.cell(text, link=links[k][j] if links and j < len(links[k]) else None, style=style)
    pdf.set_x(pdf.l_margin)


def _fit_widths(pdf: ReportPDF, head: list[str], cells: list[list[str]], size: float) -> list[float]:
    """Column widths from the cells: natural widths when they fit, else narrow columns keep theirs and wide
    ones share the rest in proportion. Bold cells (the header, or a label column) are measured bold."""
    def widest(texts, bold: bool) -> float:
        pdf.set_font("DejaVu", "B" if bold else "", size)
        return max((pdf.get_string_width(line) for t in texts for line in t.split("\n")), default=0.0)

    columns = list(zip(*cells)) if cells else [()] * len(head)
    natural = [max(widest(col, bold=not head and j == 0), widest(head[j:j + 1], bold=True)) + 6.0 + size * 0.5
               for j, col in enumerate(columns)]
    pdf.set_font("DejaVu", "", size)
    if sum(natural) <= pdf.epw:
        return natural
    fixed: dict[int, float] = {}
    while True:
        free = [j for j in range(len(natural)) if j not in fixed]
        share = (pdf.epw - sum(fixed.values())) / max(len(free), 1)
        narrow = [j for j in free if natural[j] <= share]
        if not narrow:
            break
        fixed.update({j: natural[j] for j in narrow})
    rest = pdf.epw - sum(fixed.values())
    total = sum(natural[j] for j in free) or 1.0
    return [fixed.get(j, rest * natural[j] / total) for j in range(len(natural))]


# ---------------------------------------------------------------------------------------------- sections
def section_body(pdf: ReportPDF, k: int, section: Section, places: dict[str, Place]) -> None:
    """Heading, status line, error lines, then each answered question (a bookmark each)."""
    pdf.paragraph(f"{k}. {section.name}", size=15, style="B", gap=0, math=False)
    pdf.paragraph(section.summary, size=10, color=GREY, gap=2, math=False)
    pdf.paragraph(content.section_meta(section), size=8.5, color=GREY, gap=3, math=False)
    for line in content.section_errors(section):
        pdf.paragraph(line, size=8.5, color=RED, gap=3, math=False)
    for j, entry in enumerate(section.entries):
        pdf.space(14, keep=_opening(pdf, entry))
        places[content.entry_anchor(section.name, j)] = Place(pdf.page, pdf.y)
        pdf.start_section(texmath.plain(entry.question) or "(untitled)", level=1)
        try:
            entry_body(pdf, entry)
        except Exception as e:  # one answer that cannot be drawn must not cost the report
            pdf.set_x(pdf.l_margin)
            pdf.paragraph(f"error: this answer could not be drawn: {type(e).__name__}: {e}", size=8.5, color=RED,
                          math=False)


def _opening(pdf: ReportPDF, entry: Entry) -> float:
    """Room a question needs on its first page: the heading with its first lines, or with its first figures
    when those come first."""
    if entry.derivation.strip() or not entry.figures:
        return ENTRY_KEEP
    rows, _ = figure_rows(pdf, entry.figures[:3])
    return 50.0 + (max(h for _, _, h in rows[0]) if rows else 0.0)


def entry_body(pdf: ReportPDF, entry: Entry) -> None:
    """The question, the ids it answers, derivation, figures, table, text and code."""
    pdf.paragraph(entry.question, size=10.5, style="B", gap=0, keep=30)
    if entry.ids:
        pdf.paragraph(content.answers_line(entry), size=8, color=GREY, gap=1, math=False)
    for line in entry.derivation.strip().splitlines():
        if line.strip():
            expr = texmath.display(line)
            if expr is not None:
                pdf.display(expr)
            else:
                pdf.paragraph(line.strip(), size=9, gap=3)
    if entry.figures:
        figures(pdf, entry.figures)
    if entry.see_above:
        pdf.paragraph(f"Figure {', '.join(entry.see_above)}: shown above.", size=8.5, color=GREY, math=False)
    if entry.table:
        table(pdf, entry.table, header=entry.header, size=8)
    if entry.text:
        pdf.paragraph(entry.text, size=9, gap=5)
    for listing in entry.code:
        pdf.code(f"{listing.name}  ({listing.where})", listing.source)


def figures(pdf: ReportPDF, paths: Sequence[Path]) -> None:
    """PNG files side by side in rows that fit the text width, each at most its own size; an unreadable one
    becomes an error line where it would be."""
    rows, errors = figure_rows(pdf, paths)
    for line in errors:
        pdf.paragraph(line, size=8.5, color=RED, math=False)
    for row in rows:
        height = max(h for _, _, h in row)
        pdf.space(FIGURE_GAP, keep=height)
        x, top = pdf.l_margin, pdf.y
        for path, w, h in row:
            try:
                pdf.image(path, x=x, y=top, w=w, h=h)
            except Exception as e:  # the decoder failed after the header read well
                pdf.set_xy(x, top)
                pdf.paragraph(f"figure {Path(path).name} not drawn: {type(e).__name__}: {e}", size=8.5,
                              color=RED, math=False)
            x += w + FIGURE_GAP
        pdf.set_xy(pdf.l_margin, top + height)


def figure_rows(pdf: ReportPDF, paths: Sequence[Path]) -> tuple[list[list[tuple[Path, float, float]]], list[str]]:
    """Rows of (path, width, height) in points (scaled down to the text width and FIGURE_HEIGHT of the page),
    and an error line per file whose header cannot be read."""
    max_height = FIGURE_HEIGHT * (pdf.page_break_trigger - pdf.t_margin)
    sizes, errors = [], []
    for path in paths:
        try:
            with Image.open(path) as image:
                dpi = float((image.info.get("dpi") or (FIGURE_DPI,))[0]) or FIGURE_DPI
                w, h = image.size[0] * 72 / dpi, image.size[1] * 72 / dpi
        except Exception as e:  # truncated or unreadable: skip it, say so
            errors.append(f"figure {Path(path).name} not drawn: {type(e).__name__}: {e}")
            continue
        scale = min(1.0, pdf.epw / w, max_height / h)
        sizes.append((path, w * scale, h * scale))
    return _rows(sizes, pdf.epw), errors


def _rows(sizes: list[tuple[Path, float, float]], width: float) -> list[list[tuple[Path, float, float]]]:
    """Greedy packing of (path, w, h) into rows no wider than `width`."""
    rows: list[list] = []
    used = width + 1
    for item in sizes:
        if used + FIGURE_GAP + item[1] > width:
            rows.append([])
            used = -FIGURE_GAP
        rows[-1].append(item)
        used += FIGURE_GAP + item[1]
    return rows
