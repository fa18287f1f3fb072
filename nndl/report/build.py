"""Writes report.pdf and report.html from the run folders under one root."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from nndl.errors import ConfigError
from nndl.report import coverage, formula
from nndl.report.collect import collect
from nndl.report.content import entry_pages
from nndl.report.html import html_page
from nndl.report.model import Report
from nndl.report.pdf import pdf_document
from nndl.run import runio

COVERAGE = "coverage.json"
OUTPUTS = ("report.pdf", "report.html", COVERAGE)


@dataclass(frozen=True)
class Written:
    """Paths of the written report and coverage list, and the PDF's page count."""

    pdf: Path
    html: Path
    pages: int
    coverage: Path | None = None


def coverage_list(report: Report, anchors: dict[str, int]) -> list[dict]:
    """runs/coverage.json: per sheet sub-question {sheet, id, question, page, how, experiments}.

    `page` is the PDF page of the first entry answering it (null and how "not answered" when none does).
    """
    return [{"sheet": r["sheet"], "id": r["id"], "question": r["question"], "page": r["page"], "how": r["how"],
             "experiments": list(dict.fromkeys(s for s, _ in r["where"]))}
            for r in coverage.rows(report, entry_pages(anchors))]


def write_report(root: Path, names: Sequence[str], load: Callable[[str], ModuleType]) -> Written:
    """Collects `root/<name>/` for every name; writes `root/report.pdf`, `report.html` and `coverage.json` atomically.

    Args:
      root: folder of run folders (`runs/`).
      names: experiment names (fallback order when sheets tie or are unknown).
      load: returns an experiment's module (its SHEET, report() and checks()).

    Returns:
      The written paths and the PDF's page count.

    Raises:
      ConfigError: `root` is not a folder the report can be written into (checked before any work).
    """
    check_writable(Path(root))
    report = collect(Path(root), names, load)
    doc = pdf_document(report)
    pdf_path = runio.atomic_write_bytes(Path(root) / "report.pdf", doc.data)
    html_path = runio.atomic_write_bytes(Path(root) / "report.html", html_page(report).encode())
    coverage_path = runio.atomic_write_bytes(
        Path(root) / COVERAGE, (json.dumps(coverage_list(report, doc.anchors), indent=1, ensure_ascii=False)
                                + "\n").encode())
    formula.save_cache()  # the next build of these formulas skips mathtext's parser
    return Written(pdf=pdf_path, html=html_path, pages=doc.pages, coverage=coverage_path)


def check_writable(root: Path) -> None:
    """Raises ConfigError (one line) unless the report's files can be written into `root`.

    A temporary file is made and removed there (permissions, read-only file systems), and no output
    name may be taken by something that is not a file.
    """
    try:
        runio.probe_writable(root)
    except OSError as e:
        raise ConfigError(f"cannot write the report into {root}: {e.strerror or e}") from e
    for name in OUTPUTS:
        target = root / name
        if target.exists() and not target.is_file():
            raise ConfigError(f"cannot write the report into {root}: {target} is not a file")
