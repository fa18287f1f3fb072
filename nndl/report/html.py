"""The report as one self-contained HTML page: inline CSS, figures embedded as base64 PNG, formulas as MathML.

Browsers draw MathML natively; latex2mathml writes it from the same `$...$` TeX
the PDF typesets. A formula it cannot express (a command it leaves as text) is
drawn by mathtext as an inline SVG image instead.
"""

from __future__ import annotations

import base64
import functools
import re
from html import escape
from pathlib import Path

import latex2mathml.converter
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from nndl.report import content, coverage, formula, texmath
from nndl.report.model import Entry, Listing, Report, Section

MATH_PT = 12.0  # SVG fallback size for the page's ~12 pt body text
MATHML_NAMES = {r"\arg": r"\operatorname{arg}"}  # TeX that latex2mathml spells otherwise
_LEFT_AS_TEXT = re.compile(r">[^<]*\\[A-Za-z]")  # a command latex2mathml did not know, left in the output

CSS = """
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222;
line-height:1.4}
h1{font-size:1.6em}h2{margin-top:2.2em;border-bottom:1px solid #ccc}h3{font-size:1.05em;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}td,th{border-bottom:1px solid #ddd;padding:.2em .5em;
text-align:left;vertical-align:top}th{background:#d9e2ec}tr:nth-child(even) td{background:#f6f6f6}
.meta{color:#555;font-size:.9em}.error,.fail td{color:#b00020}.figs img{max-width:100%;margin:.3em 0}
.display{margin:.4em 0 .4em 2em}.derivation p{margin:.3em 0}math{font-size:1.05em}
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
    body = [f"<h1>{escape(content.TITLE)}</h1>", f"<p>{escape(content.SUBTITLE)}</p>",
            f'<p class="meta">Generated {escape(report.created)}. {escape(content.INTRO)}</p>',
            "<h2>Run</h2>", _table(content.environment_rows(report)),
            "<h2>Contents</h2>", _contents(report),
            f'<h2 id="coverage">Coverage: {escape(content.coverage_summary(report))}</h2>', _coverage(report),
            f'<h2 id="checks">Checks: {escape(content.check_summary(report.checks))}</h2>', _checks(report)]
    body += [_section(k, s) for k, s in enumerate(report.sections, 1)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(content.TITLE)}</title><style>{CSS}{_code_css()}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _table(rows, header=(), classes=None) -> str:
    """A table: the header row (if any) in <th>, one <tr> per row, `classes[k]` on row k; `$...$` as MathML."""
    out = ["<tr>" + "".join(f"<th>{rich(str(c))}</th>" for c in header) + "</tr>"] if header else []
    for k, row in enumerate(rows):
        cls = f' class="{classes[k]}"' if classes and classes[k] else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{rich(str(c))}</td>" for c in row) + "</tr>")
    return "<table>" + "".join(out) + "</table>"


def _contents(report: Report) -> str:
    rows = ["<tr><th>#</th><th>experiment</th><th>what it shows</th><th>sheet</th><th>status</th></tr>"]
    for k, s in enumerate(report.sections, 1):
        cls = "" if s.status == "ok" and not s.errors else ' class="fail"'
        rows.append(f'<tr{cls}><td>{k}</td><td><a href="#{escape(s.name)}">{escape(s.name)}</a></td>'
                    f"<td>{escape(s.summary)}</td><td>{escape(s.sheet)}</td>"
                    f"<td>{escape(content.status_word(s))}</td></tr>")
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
    classes = ["fail" if c.passed is not True else None for c in report.checks]
    return _table(content.check_rows(report), header=content.CHECK_HEADER, classes=classes)


def _section(k: int, section: Section) -> str:
    parts = [f'<h2 id="{escape(section.name)}">{k}. {escape(section.name)}</h2>',
             f'<p class="meta">{escape(section.summary)}<br>{escape(content.section_meta(section))}</p>']
    parts += [f'<p class="error">{escape(e)}</p>' for e in content.section_errors(section)]
    for j, entry in enumerate(section.entries):
        try:
            parts.append(_entry(entry, _entry_id(section.name, j)))
        except Exception as e:  # one answer that cannot be written must not cost the page
            parts.append(f'<p class="error">error: this answer could not be written: {escape(type(e).__name__)}: '
                         f"{escape(str(e))}</p>")
    return "<section>\n" + "\n".join(parts) + "\n</section>"


def _entry(entry: Entry, anchor: str) -> str:
    parts = [f'<h3 id="{escape(anchor)}">{escape(entry.question)}</h3>']
    if entry.ids:
        parts.append(f'<p class="meta">{escape(content.answers_line(entry))}</p>')
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
        expr = texmath.display(line)
        if expr is not None:
            out.append(f'<div class="display">{math(expr, display=True)}</div>')
        else:
            out.append(f"<p>{rich(line.strip())}</p>")
    return '<div class="derivation">' + "".join(out) + "</div>"


def rich(text: str) -> str:
    """Escaped text whose `$...$` spans are MathML (a span no renderer can draw is shown as written)."""
    return "".join(math(p) if is_math else escape(p) for is_math, p in texmath.spans(text)).replace("\n", "<br>")


@functools.lru_cache(maxsize=4096)
def math(expr: str, display: bool = False) -> str:
    """`expr` (TeX without dollars) as MathML; as a mathtext SVG image where MathML falls short.

    A formula the PDF cannot draw either (reported as an error line) is shown as written, dollars included.
    """
    if texmath.runs(expr) is None and formula.error(expr) is not None:
        return escape(f"${expr}$")
    tex = expr
    for name, spelled in MATHML_NAMES.items():
        tex = re.sub(re.escape(name) + r"(?![A-Za-z])", lambda _m, s=spelled: s, tex)
    try:
        mathml = latex2mathml.converter.convert(tex, display="block" if display else "inline")
    except Exception:  # latex2mathml raises its own errors (and others) on TeX it cannot read
        mathml = None
    if mathml is not None and not _LEFT_AS_TEXT.search(mathml):
        return mathml
    data, shape = formula.svg(expr, MATH_PT * (1.1 if display else 1.0))
    alt = escape(f"${expr}$", quote=True)
    return (f'<img class="math" alt="{alt}" title="{alt}" style="vertical-align:-{shape.depth:.1f}pt;'
            f'height:{shape.height + shape.depth:.1f}pt" src="data:image/svg+xml;base64,'
            f'{base64.b64encode(data).decode()}">')


def _listing(listing: Listing) -> str:
    """The source, syntax-highlighted by pygments."""
    code = highlight(listing.source, PythonLexer(), HtmlFormatter(cssclass="code"))
    return (f'<div class="listing"><div class="where"><code>{escape(listing.name)}</code> '
            f"({escape(listing.where)})</div>{code}</div>")


def _image(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{escape(path.name)}" title="{escape(path.name)}" src="data:image/png;base64,{data}">'
