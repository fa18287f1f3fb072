"""The report as one self-contained HTML page: inline CSS, figures embedded as base64 PNG."""

from __future__ import annotations

import base64
import functools
from html import escape
from pathlib import Path

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from nndl.report import coverage, mathfit, pages
from nndl.report.model import Entry, Listing, Report, Section

MATH_PT = 12.0  # mathtext size for the page's ~12 pt body text

CSS = """
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222;
line-height:1.4}
h1{font-size:1.6em}h2{margin-top:2.2em;border-bottom:1px solid #ccc}h3{font-size:1.05em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}td,th{border-bottom:1px solid #ddd;padding:.2em .5em;
text-align:left;vertical-align:top}th{background:#d9e2ec}tr:nth-child(even) td{background:#f6f6f6}
.meta{color:#555;font-size:.9em}.error,.fail td{color:#b00020}.figs img{max-width:100%;margin:.3em 0}
.display{margin:.4em 0 .4em 2em}.derivation p{margin:.3em 0}
.listing{margin:.6em 0}.listing .where{color:#555;font-size:.85em}
.code{background:#f8f8f8;font-size:.8em;overflow-x:auto;padding:.2em .6em}.code pre{margin:0}
"""


@functools.cache
def _code_css() -> str:
    return HtmlFormatter(style="default").get_style_defs(".code")


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
            f'<h2 id="coverage">Coverage: {escape(pages.coverage_summary(report))}</h2>', _coverage(report),
            f'<h2 id="checks">Checks: {escape(pages.check_summary(report.checks))}</h2>', _checks(report)]
    body += [_section(k, s) for k, s in enumerate(report.sections, 1)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(pages.TITLE)}</title><style>{CSS}{_code_css()}</style></head>\n<body>\n"
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


def _coverage(report: Report) -> str:
    """Every sheet sub-question, linked to the entries that answer it."""
    rows = ["<tr><th>sheet</th><th>id</th><th>question</th><th>answered in</th><th>how</th></tr>"]
    for r in coverage.rows(report):
        cls = ' class="fail"' if r["how"] == coverage.NOT_ANSWERED else ""
        links = ", ".join(f'<a href="#{escape(_entry_id(s, j))}">{escape(s)}</a>' for s, j in r["where"])
        rows.append(f"<tr{cls}><td>{escape(r['sheet'])}</td><td>{escape(r['id'])}</td>"
                    f"<td>{escape(r['question'])}</td><td>{links}</td><td>{escape(r['how'])}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _entry_id(section: str, index: int) -> str:
    return f"{section}-e{index}"


def _checks(report: Report) -> str:
    if not report.checks:
        return '<p class="meta">No experiment reported a check.</p>'
    classes = [None] + ["fail" if c.passed is not True else None for c in report.checks]
    return _table(pages.check_rows(report), header=True, classes=classes)


def _section(k: int, section: Section) -> str:
    parts = [f'<h2 id="{escape(section.name)}">{k}. {escape(section.name)}</h2>',
             f'<p class="meta">{escape(section.summary)}<br>{escape(pages.section_meta(section))}</p>']
    parts += [f'<p class="error">{escape(e)}</p>' for e in pages.section_errors(section)]
    parts += [_entry(e, _entry_id(section.name, j)) for j, e in enumerate(section.entries)]
    return "<section>\n" + "\n".join(parts) + "\n</section>"


def _entry(entry: Entry, anchor: str) -> str:
    parts = [f'<h3 id="{escape(anchor)}">{escape(entry.question)}</h3>']
    if entry.ids:
        parts.append(f'<p class="meta">{escape(pages.answers_line(entry))}</p>')
    if entry.derivation.strip():
        parts.append(_derivation(entry.derivation))
    if entry.figures:
        parts.append('<div class="figs">' + "".join(_image(p) for p in entry.figures) + "</div>")
    if entry.see_above:
        parts.append(f'<p class="meta">Figure {escape(", ".join(entry.see_above))}: shown above.</p>')
    if entry.table:
        parts.append(_table(entry.table, header=entry.header))
    if entry.text:
        parts.append(f"<p>{rich(entry.text)}</p>")
    parts += [_listing(c) for c in entry.code]
    return "\n".join(parts)


def _derivation(derivation: str) -> str:
    out = []
    for line in derivation.strip().splitlines():
        if not line.strip():
            continue
        expr = mathfit.display(line)
        if expr is not None and mathfit.error(expr) is None:
            out.append(f'<div class="display">{_math_image(f"${expr}$", MATH_PT * 1.1)}</div>')
        else:
            out.append(f"<p>{rich(line.strip())}</p>")
    return '<div class="derivation">' + "".join(out) + "</div>"


def rich(text: str) -> str:
    """Escaped text whose `$...$` spans are inline SVG images drawn by mathtext (shown as written if unparsable)."""
    pieces = mathfit.spans(text)
    if not mathfit.renderable(text):
        return escape(text).replace("\n", "<br>")
    return "".join(_math_image(f"${p}$", MATH_PT) if is_math else escape(p).replace("\n", "<br>")
                   for is_math, p in pieces)


@functools.lru_cache(maxsize=4096)
def _math_image(text: str, size: float) -> str:
    data, extent = mathfit.svg(text, size)
    alt = escape(text, quote=True)
    return (f'<img class="math" alt="{alt}" title="{alt}" style="vertical-align:-{extent.depth:.1f}pt;'
            f'height:{extent.height:.1f}pt" src="data:image/svg+xml;base64,{base64.b64encode(data).decode()}">')


def _listing(listing: Listing) -> str:
    """The source, syntax-highlighted by pygments."""
    code = highlight(listing.source, PythonLexer(), HtmlFormatter(cssclass="code"))
    return (f'<div class="listing"><div class="where"><code>{escape(listing.name)}</code> '
            f"({escape(listing.where)})</div>{code}</div>")


def _image(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{escape(path.name)}" title="{escape(path.name)}" src="data:image/png;base64,{data}">'
