"""The report as layout blocks: a front page (environment, contents, checks), then one section per experiment."""

from __future__ import annotations

from nndl.report import coverage, fmt, mathfit
from nndl.report.layout import Anchor, Code, Formula, Images, PageBreak, Table, Text
from nndl.report.model import Entry, Report, Section

TITLE = "nndl report"
SUBTITLE = "The five coursework sheets, answered by running them"
GREY, RED, GREEN = "#555555", "#b00020", "#1b6e20"
CHECK_WIDTHS = (0.13, 0.33, 0.13, 0.13, 0.19, 0.09)
TOC_WIDTHS = (0.05, 0.2, 0.4, 0.27, 0.08)
COVERAGE_WIDTHS = (0.06, 0.1, 0.55, 0.06, 0.23)


def entry_anchor(section: str, index: int) -> str:
    """Anchor name of a section's entry `index` (0-based); the PDF records its page."""
    return f"{section}#{index}"


def entry_pages(pages: dict[str, int]) -> dict[tuple[str, int], int]:
    """{(section, entry index): page} from anchor pages."""
    out = {}
    for name, page in pages.items():
        section, sep, index = name.rpartition("#")
        if sep and index.isdigit():
            out[(section, int(index))] = page
    return out


def report_blocks(report: Report, pages: dict[str, int] | None = None) -> list:
    """Every block of the PDF, front page first.

    Args:
      report: the collected report.
      pages: 1-based page number of each section (by name), for the contents; "?" when None.

    Returns:
      Layout blocks; each section starts on a new page behind an Anchor named after it.
    """
    blocks = front_blocks(report, pages or {})
    for k, section in enumerate(report.sections, 1):
        blocks += [PageBreak(), Anchor(section.name)] + section_blocks(k, section)
    return blocks


def coverage_rows(report: Report, pages: dict[str, int]) -> tuple[tuple[str, ...], ...]:
    """Header plus one row per sheet sub-question: sheet, id, question, page, how."""
    rows = coverage.rows(report, entry_pages(pages))
    return (("sheet", "id", "question", "page", "how"),) + tuple(
        (r["sheet"], r["id"], r["question"], "?" if r["page"] is None else str(r["page"]), r["how"]) for r in rows)


def coverage_summary(report: Report) -> str:
    rows = coverage.rows(report)
    answered = sum(r["how"] != coverage.NOT_ANSWERED for r in rows)
    return f"{answered}/{len(rows)} sub-questions answered"


def front_blocks(report: Report, pages: dict[str, int]) -> list:
    """Title, environment, table of contents and the table of every check."""
    checks = report.checks
    return [
        Text(TITLE, size=18, bold=True, gap=0),
        Text(SUBTITLE, size=12, color=GREY, gap=2),
        Text(f"Generated {report.created}. Each section quotes a sheet question, answers it with the "
             "experiment's figures and key numbers, and interprets the numbers in sentences generated from "
             "them.", size=9, color=GREY, gap=6),
        Text("Run", size=12, bold=True, gap=12, keep=True),
        Table(environment_rows(report), size=8.5),
        Text("Contents", size=12, bold=True, gap=12, keep=True),
        Table(toc_rows(report, pages), header=True, size=8.5, widths=TOC_WIDTHS,
              colors=("black",) + tuple("black" if s.status == "ok" and not s.errors else RED
                                        for s in report.sections)),
        Text(f"Coverage: {coverage_summary(report)}", size=12, bold=True, gap=12, keep=True),
        Text("Every sub-question of the five sheets, the page of the first answer and how it is answered "
             "(derivation: written mathematics; computation: numbers checked against a reference; figure; "
             "code: the source that ran).", size=8.5, color=GREY, gap=2, keep=True),
        Table(coverage_rows(report, pages), header=True, size=7.5, widths=COVERAGE_WIDTHS,
              colors=("black",) + tuple(RED if r["how"] == coverage.NOT_ANSWERED else "black"
                                        for r in coverage.rows(report)))
        if report.questions else Text("No sub-question list.", color=GREY),
        Text(f"Checks: {check_summary(checks)}", size=12, bold=True, gap=12, keep=True),
        Table(check_rows(report), header=True, size=7, widths=CHECK_WIDTHS,
              colors=("black",) + tuple(RED if c.passed is not True else "black" for c in checks))
        if checks else Text("No experiment reported a check.", color=GREY),
    ]


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


def toc_rows(report: Report, pages: dict[str, int]) -> tuple[tuple[str, ...], ...]:
    """Header plus one row per section: number, name, sheet, status, page."""
    rows = [("#", "experiment", "sheet", "status", "page")]
    for k, s in enumerate(report.sections, 1):
        rows.append((str(k), s.name, s.sheet, status_word(s), str(pages.get(s.name, "?"))))
    return tuple(rows)


def check_rows(report: Report) -> tuple[tuple[str, ...], ...]:
    """Header plus one row per check of every experiment."""
    return (("experiment", "check", "reference", "measured", "tolerance", "result"),) + tuple(
        (c.experiment, c.check, c.reference, c.measured, c.tolerance, fmt.verdict(c.passed)) for c in report.checks)


def check_summary(checks) -> str:
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


def section_blocks(k: int, section: Section) -> list:
    """Heading, status line, error lines, then each answered question."""
    blocks: list = [Text(f"{k}. {section.name}", size=15, bold=True, gap=0, keep=True),
                    Text(section.summary, size=10, color=GREY, gap=2, keep=True),
                    Text(section_meta(section), size=8.5, color=GREY, gap=3)]
    blocks += [Text(e, size=8.5, color=RED, gap=3) for e in section_errors(section)]
    for j, entry in enumerate(section.entries):
        blocks += [Anchor(entry_anchor(section.name, j))] + entry_blocks(entry)
    return blocks


def answers_line(entry: Entry) -> str:
    """'Answers seed 000 §2(a), §2(b); seed 003 4.3(a)' from the entry's ids."""
    by_sheet: dict[str, list[str]] = {}
    for key in entry.ids:
        sheet, _, qid = key.partition(" ")
        by_sheet.setdefault(sheet, []).append(qid or sheet)
    return "Answers " + "; ".join(f"seed {sheet} {', '.join(ids)}" for sheet, ids in by_sheet.items())


def derivation_blocks(derivation: str) -> list:
    """Display lines (one `$...$`) as formulas, other lines as paragraphs with inline mathematics."""
    blocks: list = []
    for line in derivation.strip().splitlines():
        if not line.strip():
            continue
        expr = mathfit.display(line)
        blocks.append(Formula(expr) if expr is not None else Text(line.strip(), size=9, gap=3, math=True))
    return blocks


def entry_blocks(entry: Entry) -> list:
    """The question (kept with what follows), the ids it answers, derivation, figures, table, text and code."""
    blocks: list = [Text(entry.question, size=10.5, bold=True, gap=14, keep=True)]
    if entry.ids:
        blocks.append(Text(answers_line(entry), size=8, color=GREY, gap=1, keep=True))
    blocks += derivation_blocks(entry.derivation)
    if entry.figures:
        blocks.append(Images(entry.figures))
    if entry.see_above:
        blocks.append(Text(f"Figure {', '.join(entry.see_above)}: shown above.", size=8.5, color=GREY))
    if entry.table:
        blocks.append(Table(entry.table, header=entry.header, size=8))
    if entry.text:
        blocks.append(Text(entry.text, size=9, gap=5, math=True))
    blocks += [Code(f"{c.name}  ({c.where})", c.source) for c in entry.code]
    return blocks
