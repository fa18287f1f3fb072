"""Draws laid-out pages into a PDF with matplotlib's PdfPages (no LaTeX, no browser)."""

from __future__ import annotations

import io
from typing import NamedTuple

import matplotlib.image
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from nndl.report import layout, pages, textfit
from nndl.report.layout import Box, Line, Picture
from nndl.report.model import Report


class Document(NamedTuple):
    """A rendered PDF: its bytes, page count and the 1-based page of every anchor (sections, entries)."""

    data: bytes
    pages: int
    anchors: dict


def pdf_document(report: Report) -> Document:
    """The report as a PDF document.

    The contents and coverage tables need page numbers, so the pages are laid
    out twice: the second pass only changes those numbers (fixed column widths).

    Args:
      report: the collected report.

    Returns:
      The PDF's bytes, page count and anchor pages (`pages.entry_anchor` names an entry's).
    """
    first = layout.paginate(pages.report_blocks(report))
    numbers = {name: i + 1 for name, i in first.anchors.items()}
    final = layout.paginate(pages.report_blocks(report, numbers))
    anchors = {name: i + 1 for name, i in final.anchors.items()}
    return Document(render(final.pages, title=pages.TITLE), len(final.pages), anchors)


def pdf_bytes(report: Report) -> tuple[bytes, int]:
    """(the PDF file's bytes, its number of pages): `pdf_document` without the anchors."""
    doc = pdf_document(report)
    return doc.data, doc.pages


def render(page_ops, *, title: str) -> bytes:
    """Draws each page's operations on an A4 figure and returns the PDF's bytes.

    Args:
      page_ops: per page, Line/Picture/Box operations in points from the top-left corner.
      title: PDF metadata title (also in each page's footer).

    Returns:
      The PDF file's bytes.
    """
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": title, "Creator": "nndl (python -m experiments report)"}) as pdf:
        for i, ops in enumerate(page_ops, 1):
            footer = Line(layout.MARGIN, layout.PAGE_H - layout.MARGIN / 2, f"nndl report · page {i} of "
                          f"{len(page_ops)}", 7.5, color=pages.GREY)
            fig = _page(tuple(ops) + (footer,))
            pdf.savefig(fig)
    return buf.getvalue()


def _page(ops) -> Figure:
    fig = Figure(figsize=(layout.PAGE_W / 72, layout.PAGE_H / 72))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, layout.PAGE_W)
    ax.set_ylim(layout.PAGE_H, 0)  # y grows downwards, like the layout
    ax.axis("off")
    for op in ops:
        if isinstance(op, Line):
            ax.text(op.x, op.y, op.text if op.math else textfit.clean(op.text, op.family), fontsize=op.size,
                    color=op.color, fontweight="bold" if op.bold else "normal", family=op.family,
                    va="baseline", ha="left", parse_math=op.math)
        elif isinstance(op, Picture):
            ax.imshow(matplotlib.image.imread(op.path), extent=(op.x, op.x + op.w, op.y + op.h, op.y),
                      interpolation="none", aspect="auto", zorder=1)
        elif isinstance(op, Box):
            ax.add_patch(Rectangle((op.x, op.y), op.w, op.h, facecolor=op.color, edgecolor="none", zorder=0))
    ax.set_xlim(0, layout.PAGE_W)  # imshow resets the limits
    ax.set_ylim(layout.PAGE_H, 0)
    return fig
