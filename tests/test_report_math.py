"""Mathematics in the report: `$...$` spans, simple TeX as styled Unicode, mathtext layouts (cached, in
parallel helpers), and MathML (or mathtext SVG) in the HTML."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from nndl.report import formula, html, texmath
from nndl.report.collect import math_errors


@pytest.fixture(autouse=True)
def formula_cache(tmp_path, monkeypatch) -> Path:
    """Formula layouts persist in a file of the test's own."""
    path = tmp_path / "formula-cache.json"
    monkeypatch.setenv(formula.CACHE_ENV, str(path))
    return path


@functools.cache
def cmap(font: str) -> set[int]:
    """The characters a font file has glyphs for."""
    with TTFont(font, lazy=True) as f:
        return set(f.getBestCmap())


@pytest.mark.parametrize("tex, runs", [
    ("f_1", [("f", "I", ""), ("1", "", "SUB")]),
    ("\\sigma^2 = 2/M", [("σ", "I", ""), ("2", "", "SUP"), ("\u2005=\u20052/", "", ""), ("M", "I", "")]),
    ("\\|W\\|_2 \\leq 1", [("‖", "", ""), ("W", "I", ""), ("‖", "", ""), ("2", "", "SUB"), ("\u2005≤\u20051", "", "")]),
    ("-\\log p", [("−log\u2009", "", ""), ("p", "I", "")]),
    ("\\mathbf{W}_k \\in \\mathbb{R}^{n}", [("W", "B", ""), ("k", "I", "SUB"), ("\u2005∈\u2005ℝ", "", ""),
                                          ("n", "I", "SUP")]),
    ("\\leq 1", [("≤\u20051", "", "")]),  # a span that starts with a relation has no space before it
])
def test_simple_tex_becomes_styled_unicode(tex, runs):
    assert [tuple(r) for r in texmath.runs(tex)] == runs


@pytest.mark.parametrize("tex", ["\\frac{a}{b}", "\\hat v_t", "\\beta_1^t", "e^{-c m_i}", "\\mathcal{N}(0, 1)",
                                 "\\sqrt{x}", "\\left(x\\right)", "\\sum_{i=1}^{n} x_i", "\\frac{a", "x \\unknown"])
def test_other_tex_is_left_to_mathtext(tex):
    assert texmath.runs(tex) is None


FORMULAS = ["\\hat m_1 = \\frac{(1-\\beta_1) g}{1-\\beta_1} = g, \\quad \\hat v_1 = g^2",
            "\\mathrm{BN}_{\\mathrm{eval}}(z)_j = \\frac{\\gamma_j}{\\sqrt{\\hat\\sigma_j^2 + \\epsilon}}",
            "\\left(1 - \\frac{1}{n}\\right)^{n} = \\left[\\left(1 + \\frac{1}{x}\\right)^{x}\\right]^{-1}",
            "\\boldsymbol{\\delta}_{K+1} = \\frac{\\partial J}{\\partial \\hat{\\mathbf{y}}} \\in \\mathbb{R}^{O}",
            "w'_j \\sim \\mathcal{N}(0, \\sigma^2)", "\\overline{x^2}^{(L)}", "\\dfrac{a}{b}", "\\blacksquare",
            "\\|x(t) - x_{\\min}\\| \\leq e^{-\\lambda_{\\min} t}\\, \\|x(0)\\| \\;\\to\\; 0"]


def test_every_formula_is_laid_out_in_characters_the_pdf_can_draw():
    """mathtext places glyphs by character; the PDF draws the same characters in the same font files."""
    for tex in FORMULAS:
        shape = formula.layout(tex)
        assert shape.width > 0 and shape.glyphs and shape.height > 0, tex
        for g in shape.glyphs:
            assert ord(g.char) in cmap(g.font), (tex, g)
    text = "Lines: " + " and ".join(f"${t}$" for t in FORMULAS) + " but $\\frac{a$ is broken."
    broken = "\\frac{a"
    assert math_errors(text) == [f"mathematics ${broken}$ not rendered: {formula.error(broken)}"]
    frac, ab = formula.layout("\\frac{a}{b}"), formula.layout("ab")
    assert frac.height + frac.depth > ab.height + ab.depth + 3
    assert formula.layout("x").scaled(20).width == pytest.approx(2 * formula.layout("x").width)


def test_formula_layouts_persist_between_builds(formula_cache):
    formula.layout("\\frac{p}{q} + \\sqrt{r}")
    formula.save_cache()
    stored = json.loads(formula_cache.read_text())
    assert "\\frac{p}{q} + \\sqrt{r}" in stored["formulas"]
    expr = "\\frac{p}{q} + \\sqrt{r}"
    assert formula._read(formula_cache)[expr] == formula._decode(formula._lay_out([expr])[expr])
    stored["key"][0] = "0.0"  # another matplotlib: its layouts are not used
    formula_cache.write_text(json.dumps(stored))
    assert formula._read(formula_cache) == {}
    formula_cache.write_text("{not json")
    assert formula._read(formula_cache) == {}


def test_many_formulas_are_laid_out_side_by_side_in_helper_processes(monkeypatch):
    exprs = [f"\\frac{{a_{{{k}}}}}{{\\sqrt{{b + {k}}}}}" for k in range(12)] + ["\\frac{broken"]
    monkeypatch.setattr(formula, "PARALLEL_MIN", 4)
    monkeypatch.setattr(formula.os, "cpu_count", lambda: 3)  # two helper processes and this one
    started = []
    popen = formula.subprocess.Popen
    monkeypatch.setattr(formula.subprocess, "Popen", lambda *a, **kw: started.append(a) or popen(*a, **kw))
    in_process = []
    lay_out = formula._lay_out
    monkeypatch.setattr(formula, "_lay_out", lambda chunk: in_process.extend(chunk) or lay_out(chunk))
    formula.prefetch(exprs)
    assert len(started) == 2 and all(str(formula._WORKER) in a[0] for a in started)
    assert len(in_process) == 5  # a third of the 13 here, the rest from the helpers (none fell back)
    here = lay_out(exprs)
    for expr in exprs[:-1]:
        assert formula.layout(expr) == formula._decode(here[expr])  # the same layout as in this process
    assert formula.error("\\frac{broken") == here["\\frac{broken"]["error"]


def test_spans_and_display_lines():
    assert texmath.spans("costs $5 only") == [(False, "costs $5 only")]  # one dollar: no mathematics
    assert texmath.display(" $x^2$ ") == "x^2" and texmath.display("$a$ and $b$") is None
    assert texmath.formulas("a $x$ b\n$y_1$") == ["x", "y_1"]
    assert texmath.plain("the step $\\alpha\\,\\mathrm{sign}(g)$ and $\\frac{a}{b}$") == (
        "the step α sign(g) and \\frac{a}{b}")  # bookmarks and table cells: complex spans as written
    assert texmath.plain("$E[h^2]$, $x_{i,j}$, $W^{(1)}$, $\\lambda_{\\max}$") == "E[h²], x_(i,j), W⁽¹⁾, λ_(max)"


def test_html_draws_a_formula_mathml_cannot_hold_with_mathtext(monkeypatch):
    real = html.latex2mathml.converter.convert
    monkeypatch.setattr(html.latex2mathml.converter, "convert",
                        lambda tex, **kw: real("\\unknownthing", **kw) if "\\wp" in tex else real(tex, **kw))
    html.math.cache_clear()
    try:
        assert html.math("x + 1").startswith("<math")
        shown = html.math("\\wp(x)")
        assert shown.startswith('<img class="math" alt="$\\wp(x)$"') and "data:image/svg+xml;base64," in shown
        assert html.math("\\frac{a") == "$\\frac{a$"  # no renderer: as written
    finally:
        html.math.cache_clear()
