"""Writes report.pdf and report.html from the run folders under one root."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from nndl import runio
from nndl.report.collect import collect
from nndl.report.html import html_page
from nndl.report.pdf import pdf_bytes


@dataclass(frozen=True)
class Written:
    """Paths of the written report and the PDF's page count."""

    pdf: Path
    html: Path
    pages: int


def write_report(root: Path, names: Sequence[str], load: Callable[[str], ModuleType]) -> Written:
    """Collects `root/<name>/` for every name and writes `root/report.pdf` and `root/report.html` atomically.

    Args:
      root: folder of run folders (`runs/`).
      names: experiment names (fallback order when sheets tie or are unknown).
      load: returns an experiment's module (its SHEET, report() and checks()).

    Returns:
      The written paths and the PDF's page count.
    """
    report = collect(Path(root), names, load)
    pdf, n_pages = pdf_bytes(report)
    pdf_path = runio.atomic_write_bytes(Path(root) / "report.pdf", pdf)
    html_path = runio.atomic_write_bytes(Path(root) / "report.html", html_page(report).encode())
    return Written(pdf=pdf_path, html=html_path, pages=n_pages)
