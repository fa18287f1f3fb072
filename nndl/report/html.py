"""The report as one self-contained HTML page: inline CSS, figures embedded as base64 PNG."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from nndl.report import pages
from nndl.report.model import Entry, Report, Section

CSS = """
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222;
line-height:1.4}
h1{font-size:1.6em}h2{margin-top:2.2em;border-bottom:1px solid #ccc}h3{font-size:1.05em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}td,th{border-bottom:1px solid #ddd;padding:.2em .5em;
text-align:left;vertical-align:top}th{background:#d9e2ec}tr:nth-child(even) td{background:#f6f6f6}
.meta{color:#555;font-size:.9em}.error,.fail td{color:#b00020}.figs img{max-width:100%;margin:.3em 0}
"""


def html_page(report: Report) -> str:
    """The whole report as an HTML document.

    Args:
      report: the collected report.

    Returns:
      HTML text; every figure is inlined, so the page is one file.
    """
    body = [f"<h1>{escape(pages.TITLE)}</h1>", f"<p>{escape(pages.SUBTITLE)}</p>",
            f'<p class="meta">Generated {escape(report.created)}.</p>',
            "<h2>Run</h2>", _table(pages.environment_rows(report)),
            "<h2>Contents</h2>", _contents(report),
            f'<h2 id="checks">Checks: {escape(pages.check_summary(report.checks))}</h2>', _checks(report)]
    body += [_section(k, s) for k, s in enumerate(report.sections, 1)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(pages.TITLE)}</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _table(rows, header: bool = False, classes=None) -> str:
    out = []
    for k, row in enumerate(rows):
        tag = "th" if header and k == 0 else "td"
        cls = f' class="{classes[k]}"' if classes and classes[k] else ""
        out.append(f"<tr{cls}>" + "".join(f"<{tag}>{escape(str(c))}</{tag}>" for c in row) + "</tr>")
    return "<table>" + "".join(out) + "</table>"


def _contents(report: Report) -> str:
    rows = ["<tr><th>#</th><th>experiment</th><th>what it shows</th><th>sheet</th><th>status</th></tr>"]
    for k, s in enumerate(report.sections, 1):
        cls = "" if s.status == "ok" and not s.errors else ' class="fail"'
        rows.append(f'<tr{cls}><td>{k}</td><td><a href="#{escape(s.name)}">{escape(s.name)}</a></td>'
                    f"<td>{escape(s.summary)}</td><td>{escape(s.sheet)}</td>"
                    f"<td>{escape(pages.status_word(s))}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _checks(report: Report) -> str:
    if not report.checks:
        return '<p class="meta">No experiment reported a check.</p>'
    classes = [None] + ["fail" if c.passed is not True else None for c in report.checks]
    return _table(pages.check_rows(report), header=True, classes=classes)


def _section(k: int, section: Section) -> str:
    parts = [f'<h2 id="{escape(section.name)}">{k}. {escape(section.name)}</h2>',
             f'<p class="meta">{escape(section.summary)}<br>{escape(pages.section_meta(section))}</p>']
    parts += [f'<p class="error">{escape(e)}</p>' for e in pages.section_errors(section)]
    parts += [_entry(e) for e in section.entries]
    return "<section>\n" + "\n".join(parts) + "\n</section>"


def _entry(entry: Entry) -> str:
    parts = [f"<h3>{escape(entry.question)}</h3>"]
    if entry.figures:
        parts.append('<div class="figs">' + "".join(_image(p) for p in entry.figures) + "</div>")
    if entry.see_above:
        parts.append(f'<p class="meta">Figure {escape(", ".join(entry.see_above))}: shown above.</p>')
    if entry.table:
        parts.append(_table(entry.table, header=entry.header))
    if entry.text:
        parts.append(f"<p>{escape(entry.text)}</p>")
    return "\n".join(parts)


def _image(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{escape(path.name)}" title="{escape(path.name)}" src="data:image/png;base64,{data}">'
