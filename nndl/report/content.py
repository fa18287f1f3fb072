"""What the PDF and the HTML page both say: titles, the front page's rows, status lines and error lines."""

from __future__ import annotations

from collections.abc import Mapping

from nndl.report import coverage, fmt
from nndl.report.model import Entry, Report, Section

TITLE = "nndl report"
SUBTITLE = "The five coursework sheets, answered by running them"
INTRO = ("Each section quotes a sheet question, answers it with the experiment's figures and key numbers, and "
         "interprets the numbers in sentences generated from them.")
COVERAGE_NOTE = ("Every sub-question of the five sheets, the page of the first answer and how it is answered "
                 "(derivation: written mathematics; computation: numbers checked against a reference; figure; "
                 "code: the source that ran).")
TOC_HEADER = ("#", "experiment", "sheet", "status", "page")
COVERAGE_HEADER = ("sheet", "id", "question", "page", "how")
CHECK_HEADER = ("experiment", "check", "reference", "measured", "tolerance", "result")


def entry_anchor(section: str, index: int) -> str:
    """Anchor name of a section's entry `index` (0-based); the PDF records its page."""
    return f"{section}#{index}"


def entry_pages(pages: Mapping[str, int]) -> dict[tuple[str, int], int]:
    """{(section, entry index): page} from anchor pages."""
    out = {}
    for name, page in pages.items():
        section, sep, index = name.rpartition("#")
        if sep and index.isdigit():
            out[(section, int(index))] = page
    return out


def coverage_rows(report: Report, pages: Mapping[str, int]) -> list[tuple[list, tuple[str, ...]]]:
    """One (where, row) per sheet sub-question: the answering entries' anchors and sheet, id, question, page, how."""
    return [([entry_anchor(s, j) for s, j in r["where"]],
             (r["sheet"], r["id"], r["question"], "?" if r["page"] is None else str(r["page"]), r["how"]))
            for r in coverage.rows(report, entry_pages(pages))]


def coverage_summary(report: Report) -> str:
    """'64/65 sub-questions answered'."""
    rows = coverage.rows(report)
    answered = sum(r["how"] != coverage.NOT_ANSWERED for r in rows)
    return f"{answered}/{len(rows)} sub-questions answered"


def environment_rows(report: Report) -> tuple[tuple[str, str], ...]:
    """Label/value rows: mode, wall time, device, versions, experiment and check counts."""
    env = {k: v for k, v in report.environment.items() if v}
    count = {status: sum(s.status == status for s in report.sections) for status in ("ok", "failed", "missing")}
    rows = [("mode", report.mode),
            ("total wall time", f"{fmt.seconds(report.total_wall_s)} ({report.total_note})"),
            ("device", f"{env['platform']}: {env['device_kind']} × {env['device_count']}"
             if {"platform", "device_kind", "device_count"} <= env.keys() else fmt.MISSING),
            ("python, jax, jaxlib", ", ".join(str(env.get(k, fmt.MISSING)) for k in ("python", "jax", "jaxlib"))),
            ("flax, optax, numpy", ", ".join(str(env.get(k, fmt.MISSING)) for k in ("flax", "optax", "numpy"))),
            ("experiments", f"{len(report.sections)}: {count['ok']} ok, {count['failed']} failed, "
                            f"{count['missing']} missing"),
            ("checks", check_summary(report.checks))]
    if "differs in" in env:
        rows.append(("runs that differ", env["differs in"]))
    return tuple(rows)


def toc_rows(report: Report, pages: Mapping[str, int]) -> list[tuple[str, ...]]:
    """One row per section (TOC_HEADER): number, name, sheet, status, page."""
    return [(str(k), s.name, s.sheet, status_word(s), str(pages.get(s.name, "?")))
            for k, s in enumerate(report.sections, 1)]


def check_rows(report: Report) -> list[tuple[str, ...]]:
    """One row per check of every experiment (CHECK_HEADER)."""
    return [(c.experiment, c.check, c.reference, c.measured, c.tolerance, fmt.verdict(c.passed))
            for c in report.checks]


def check_summary(checks) -> str:
    """'216/217 passed, 1 not passed'."""
    passed = sum(c.passed is True for c in checks)
    failed = [c for c in checks if c.passed is not True]
    return f"{passed}/{len(checks)} passed" + (f", {len(failed)} not passed" if failed else "")


def status_word(section: Section) -> str:
    """'ok (12.3 s)', 'ok, 1 error', 'FAILED' or 'missing'."""
    if section.status == "ok":
        errors = f", {len(section.errors)} error{'s' * (len(section.errors) > 1)}" if section.errors else ""
        return f"ok ({fmt.seconds(section.wall_time_s)}){errors}"
    return "FAILED" if section.status == "failed" else "missing"


def section_meta(section: Section) -> str:
    """'Sheet: … · run: ok in 12 s (quick) · checks: 5/5 passed'."""
    run = {"ok": f"ok in {fmt.seconds(section.wall_time_s)}", "failed": "FAILED", "missing": "not run"}
    mode = f" ({section.mode})" if section.mode else ""
    checks = f" · checks: {check_summary(section.checks)}" if section.checks else ""
    return f"Sheet: {section.sheet or '?'} · run: {run.get(section.status, section.status)}{mode}{checks}"


def section_errors(section: Section) -> list[str]:
    """Error lines to show in red: the failed run's error or problems reading the section."""
    prefix = {"failed": "run failed: ", "missing": ""}.get(section.status, "error: ")
    failed = [f"failed check: {c.check} (reference {c.reference}, measured {c.measured}, tolerance {c.tolerance})"
              for c in section.checks if c.passed is not True]
    return [prefix + e for e in section.errors] + failed


def answers_line(entry: Entry) -> str:
    """'Answers seed 000 §2(a), §2(b); seed 003 4.3(a)' from the entry's ids."""
    by_sheet: dict[str, list[str]] = {}
    for key in entry.ids:
        sheet, _, qid = key.partition(" ")
        by_sheet.setdefault(sheet, []).append(qid or sheet)
    return "Answers " + "; ".join(f"seed {sheet} {', '.join(ids)}" for sheet, ids in by_sheet.items())
