"""The generated report: collected from fake run folders, laid out on A4 pages, written as PDF and HTML."""

from __future__ import annotations

import inspect
import json
import re
import shutil
import types
from pathlib import Path

import pytest

from experiments.__main__ import main as experiments_main
from nndl.run import runio
from nndl.run.plotting import save_figure, subplots
from nndl.report import collect, fmt, html_page, layout, pdf_bytes, pdf_document, textfit, write_report
from nndl.report import coverage, mathfit
from nndl.report.build import coverage_list
from nndl.report.collect import sheet_key
from nndl.report.coverage import master_list
from nndl.report.model import Question
from tests.helpers import run_module

ENV = {"python": "3.11.7", "jax": "0.10.2", "jaxlib": "0.10.2", "flax": "0.12.8", "optax": "0.2.8",
       "numpy": "2.3.0", "platform": "cpu", "device_kind": "cpu", "device_count": "2"}
BOOM = "RuntimeError: boom at epoch 3"


def _figure(path: Path, title: str) -> None:
    fig, ax = subplots(width=4, height=3)
    ax[0, 0].plot([1, 2, 3], [3, 1, 2])
    ax[0, 0].set(title=title, xlabel="epoch", ylabel="loss")
    save_figure(fig, path, dpi=60)


def _run_folder(root: Path, name: str, status: str, metrics: dict | None = None, wall: float = 1.0) -> Path:
    folder = root / name
    runio.write_json(folder / "config.json", {"config": {"seed": 0, "mode": "quick"}, "environment": ENV})
    if metrics is not None:
        runio.write_metrics(folder, metrics)
    runio.write_json(folder / "status.json", {"name": name, "status": status,
                                              "error": BOOM if status == "failed" else None, "wall_time_s": wall})
    return folder


def _alpha_report(m):
    return [{"question": "ex. 1: where does the loss peak?", "figures": ["curve.png"],
             "table": [["peak width", m["peak"]], ["losses", m["losses"]], ["diverged", m["diverged"]]],
             "text": f"The loss peaks at M = {m['peak']}."},
            {"question": "ex. 2: the same curve again", "figures": ["curve.png"], "table": [], "text": ""}]


def _alpha_checks(m):
    return [{"check": "peak inside the range", "reference": 200, "measured": m["peak"], "tolerance": "-",
             "passed": m["peak"] < 200},
            {"check": "loss below 1", "reference": 1.0, "measured": m["losses"][-1], "tolerance": "exact",
             "passed": False}]


def _module(name: str, sheet: str | None, report=None, checks=None) -> types.ModuleType:
    module = types.ModuleType(f"experiments.{name}", f"The {name} experiment, for tests.\n\nMore.")
    if sheet is not None:
        module.SHEET = sheet
    module.report = report or (lambda m: m["no such key"])
    module.checks = checks or (lambda m: [])
    return module


@pytest.fixture(scope="module")
def run_root(tmp_path_factory) -> Path:
    """alpha ok with figures, beta ok (its report() will raise), gamma failed, delta never run."""
    root = tmp_path_factory.mktemp("runs")
    alpha = _run_folder(root, "alpha", "ok", {"peak": 21, "losses": [0.5 * i for i in range(30)], "diverged": None})
    _figure(alpha / "curve.png", "alpha: loss")
    _figure(alpha / "extra.png", "alpha: unreferenced")
    _run_folder(root, "beta", "ok", {"x": 1.0}, wall=75.0)
    _run_folder(root, "gamma", "failed")
    return root


@pytest.fixture
def runs(run_root, tmp_path) -> tuple[Path, list[str], dict]:
    """A fresh copy of the run folders, their names and fake experiment modules."""
    root = Path(shutil.copytree(run_root, tmp_path / "runs"))
    modules = {"alpha": _module("alpha", "seed 003 ex. 1", _alpha_report, _alpha_checks),
               "beta": _module("beta", "seed 001, computer assignment 2"),
               "gamma": _module("gamma", "seed 000 §2, seed 003 ex. 4.3"),
               "delta": _module("delta", None)}
    return root, ["alpha", "beta", "gamma", "delta"], modules


def _pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


def test_sheet_key_reads_the_first_seed_number():
    assert sheet_key("seed 000 §2, seed 003 ex. 4.3") == 0
    assert sheet_key("seed 003 ex. 4.1") == 3
    assert sheet_key("") > sheet_key("seed 004 Q1")


def test_collect_orders_by_sheet_and_records_each_problem(runs):
    root, names, modules = runs
    report = collect(root, names, modules.__getitem__, created="2026-01-01T00:00")
    assert [s.name for s in report.sections] == ["gamma", "beta", "alpha", "delta"]
    gamma, beta, alpha, delta = report.sections
    assert (gamma.status, gamma.errors) == ("failed", (BOOM,))
    assert beta.status == "ok" and re.fullmatch(r"beta\.report\(\) raised KeyError: 'no such key'.*", beta.errors[0])
    assert delta.status == "missing" and "python -m experiments.delta" in delta.errors[0]
    assert alpha.errors == ()
    first, second, extra = alpha.entries
    assert [p.name for p in first.figures] == ["curve.png"] and second.see_above == ("curve.png",)
    assert [p.name for p in extra.figures] == ["extra.png"]  # every figure reaches the report
    assert first.table[1][1] == "[0, 0.5, 1, …, 14.5] (30 items)" and first.table[2][1] == "n/a"
    assert [c.passed for c in report.checks] == [True, False]
    assert report.mode == "quick"
    assert report.total_wall_s == pytest.approx(1.0 + 75.0 + 1.0)  # no all.json: sum of the runs' times


def test_pdf_and_html_show_every_section_error_check_and_figure(runs):
    root, names, modules = runs
    runio.write_json(root / "all.json", {"wall_time_s": 123.4, "finished": "2026-01-01T00:10:00"})
    written = write_report(root, names, modules.__getitem__)
    pdf = written.pdf.read_bytes()
    assert pdf.startswith(b"%PDF") and _pdf_pages(pdf) == written.pages
    doc = pdf_document(collect(root, names, modules.__getitem__))
    first = doc.anchors["gamma"]
    assert first > 1 and written.pages == doc.pages == first - 1 + 4  # front pages, then one page per section
    page = written.html.read_text()
    for k, name in enumerate(["gamma", "beta", "alpha", "delta"], 1):
        assert f'<h2 id="{name}">{k}. {name}</h2>' in page
    assert f"run failed: {BOOM}" in page
    assert "beta.report() raised KeyError" in page
    assert "not run:" in page
    assert "Checks: 1/2 passed, 1 not passed" in page
    assert '<tr class="fail"><td>alpha</td><td>loss below 1</td>' in page
    assert page.count('src="data:image/png;base64,') == 2  # curve.png once, extra.png once
    assert "2 min 03 s" in page  # the total wall time of `all`
    assert "The loss peaks at M = 21." in page


def test_html_escapes_text_from_the_modules(runs):
    root, names, modules = runs
    modules["alpha"].report = lambda m: [{"question": "<b>x</b> & y", "figures": [], "table": [], "text": "$a<b$"}]
    page = html_page(collect(root, names, modules.__getitem__))
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in page and "$a&lt;b$" in page and "<b>x" not in page


def test_malformed_report_items_become_error_lines(runs):
    root, names, modules = runs
    (root / "alpha" / "broken.png").write_text("not an image")
    modules["alpha"].report = lambda m: [{"question": "fine", "figures": ["nope.png", "broken.png"]}, "not a dict"]
    modules["alpha"].checks = lambda m: 7
    alpha = next(s for s in collect(root, names, modules.__getitem__).sections if s.name == "alpha")
    assert alpha.errors[0].startswith("figure nope.png not found")
    assert alpha.errors[1] == "figure broken.png is not a PNG file"
    assert alpha.errors[2] == "report() item 1 is str, not a dict"
    assert alpha.errors[3] == "checks() returned int, not a list of dicts"
    assert pdf_bytes(collect(root, names, modules.__getitem__, questions=()))[1] == 5  # no coverage table


def test_long_tables_split_across_pages_and_repeat_their_header():
    rows = (("n", "value", "note"),) + tuple((str(i), str(i * i), "x " * 30) for i in range(300))
    pages = layout.paginate([layout.Text("title", keep=True), layout.Table(rows, header=True)]).pages
    assert len(pages) > 3
    for page in pages:
        lines = [op for op in page if isinstance(op, layout.Line)]
        assert lines[0].text in ("title", "n")  # every page starts with the header (or the title)
        assert max(op.y for op in page) <= layout.PAGE_H - layout.MARGIN - layout.FOOTER
        assert min(op.x for op in page) >= layout.MARGIN


def test_wrapped_lines_fit_their_width():
    text = "gradient " * 40 + "a" * 300
    lines = textfit.wrap(text, 200.0, 9.0)
    assert all(textfit.width(line, 9.0) <= 200.0 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert textfit.clean("a\tb\x00c") == "a    b?c"


def test_images_scale_to_the_page_and_pack_side_by_side(tmp_path):
    for name, width in (("a.png", 3), ("b.png", 3), ("wide.png", 30)):
        fig, _ = subplots(width=width, height=2)
        save_figure(fig, tmp_path / name, dpi=100)
    w, h = layout.png_size_pt(tmp_path / "a.png")
    assert 150 < w < 3 * 72 + 20 and 80 < h < 2 * 72 + 20  # bbox "tight" trims a little
    page = layout.paginate([layout.Images(tuple(tmp_path / n for n in ("a.png", "b.png", "wide.png")))]).pages[0]
    a, b, wide = page
    assert a.y == b.y and b.x >= a.x + a.w and wide.y >= a.y + a.h
    assert wide.w == pytest.approx(layout.CONTENT_W)


@pytest.mark.parametrize("x, text", [(0.000123456, "0.0001235"), (123456.0, "1.235e+05"), (3, "3"),
                                     (True, "yes"), (None, "n/a"), ([1, 2.5], "[1, 2.5]"),
                                     ({"a": 1, "b": [1, 2, 3, 4, 5]}, "{a: 1, b: [1, …, 5] (5 items)}")])
def test_values_are_compact(x, text):
    assert fmt.value(x) == text


def test_seconds():
    assert (fmt.seconds(8.25), fmt.seconds(245), fmt.seconds(None)) == ("8.2 s", "4 min 05 s", "n/a")


def test_report_command_on_real_experiment_names(tmp_path):
    """Real modules on unreadable metrics: their sections show the error, the command still succeeds."""
    _run_folder(tmp_path, "quadratic", "ok", {"unexpected": 1})
    _run_folder(tmp_path, "autodiff", "failed")
    result = run_module("experiments", "report", "--out", str(tmp_path), timeout=120)
    assert result.returncode == 0, result.stderr
    assert "report.pdf" in result.stdout
    page = (tmp_path / "report.html").read_text()
    assert "quadratic.report() raised KeyError" in page and BOOM in page
    assert _pdf_pages((tmp_path / "report.pdf").read_bytes()) >= 3


def test_report_command_needs_a_folder(tmp_path, capsys):
    assert experiments_main(["report", "--out", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such folder" in err


# ------------------------------------------------------------- ids, derivations, code listings and coverage
QUESTIONS = (Question("000", "§2(a)", "Write down Adam."), Question("000", "§2(b)", "Show the first step."),
             Question("001", "M1(a)", "Draw the graph."))
DERIVATION = """Bias correction divides by $1 - \\beta_1^t$, so at t = 1 the moments are exact:
$\\hat m_1 = \\frac{(1-\\beta_1) g}{1-\\beta_1} = g, \\quad \\hat v_1 = g^2$
$\\Delta\\theta_1 = -\\alpha\\, \\frac{g}{|g| + \\epsilon}$"""


def _answered(m):
    return [{"question": "§2(a)-(b): Adam", "ids": ["000 §2(a)", "000 §2(b)"], "derivation": DERIVATION,
             "code": ["nndl.report.coverage.how", "nndl.report.textfit.wrap"],
             "table": [["step", m["peak"]]], "text": "The step is $\\alpha$ exactly."},
            {"question": "a figure only", "ids": "000 §2(b)", "figures": ["curve.png"]}]


def test_ids_derivations_and_code_reach_the_entries(runs):
    root, names, modules = runs
    modules["alpha"].report = _answered
    report = collect(root, names, modules.__getitem__, questions=QUESTIONS)
    alpha = next(s for s in report.sections if s.name == "alpha")
    assert alpha.errors == ()
    first, second = alpha.entries[:2]
    assert first.ids == ("000 §2(a)", "000 §2(b)") and second.ids == ("000 §2(b)",)
    assert first.derivation == DERIVATION
    for shown, fn in zip(first.code, (coverage.how, textfit.wrap)):  # the listing is the source as it is now
        assert shown.source == inspect.getsource(fn)
        assert shown.where == f"nndl/report/{Path(inspect.getsourcefile(fn)).name}:{inspect.getsourcelines(fn)[1]}"
    assert coverage.how(first) == ("derivation", "computation", "code") and coverage.how(second) == ("figure",)


def test_unknown_ids_bad_mathematics_and_missing_code_are_error_lines(runs):
    root, names, modules = runs
    modules["alpha"].report = lambda m: [{"question": "q", "ids": ["000 §9(z)"], "derivation": "$\\frac{a$",
                                          "code": ["nndl.report.coverage.no_such_function", "no_such_module.f"]}]
    alpha = next(s for s in collect(root, names, modules.__getitem__, questions=QUESTIONS).sections
                 if s.name == "alpha")
    assert [e.split(":")[0] for e in alpha.errors] == [
        "mathematics $\\frac{a$ not rendered", "code 'nndl.report.coverage.no_such_function' not shown",
        "code 'no_such_module.f' not shown", "report() item 0"]
    assert "names no sheet sub-question" in alpha.errors[-1]
    assert pdf_bytes(collect(root, names, modules.__getitem__, questions=QUESTIONS))[0].startswith(b"%PDF")


def test_coverage_lists_every_question_with_its_page_and_how(runs):
    root, names, modules = runs
    modules["alpha"].report = _answered
    report = collect(root, names, modules.__getitem__, questions=QUESTIONS)
    doc = pdf_document(report)
    rows = coverage_list(report, doc.anchors)
    assert [(r["sheet"], r["id"]) for r in rows] == [("000", "§2(a)"), ("000", "§2(b)"), ("001", "M1(a)")]
    alpha_page = doc.anchors["alpha"]
    assert rows[0] == {"sheet": "000", "id": "§2(a)", "question": "Write down Adam.", "page": alpha_page,
                       "how": "derivation+computation+code", "experiments": ["alpha"]}
    assert rows[1]["how"] == "derivation+computation+figure+code" and rows[1]["page"] == alpha_page
    assert rows[2]["page"] is None and rows[2]["how"] == "not answered"


def test_write_report_writes_coverage_json_for_the_master_list(runs):
    root, names, modules = runs
    modules["alpha"].report = lambda m: [{"question": "q", "ids": ["000 §2(b)"], "derivation": DERIVATION}]
    written = write_report(root, names, modules.__getitem__)
    rows = json.loads(written.coverage.read_text())
    assert [(r["sheet"], r["id"]) for r in rows] == [(q.sheet, q.id) for q in master_list()]
    assert all(set(r) == {"sheet", "id", "question", "page", "how", "experiments"} for r in rows)
    answered = [r for r in rows if r["how"] != "not answered"]
    assert [(r["id"], r["how"], r["experiments"]) for r in answered] == [("§2(b)", "derivation", ["alpha"])]
    assert 1 < answered[0]["page"] <= written.pages


def test_master_list_is_well_formed():
    questions = master_list()
    assert {q.sheet for q in questions} == {"000", "001", "002", "003", "004"}
    assert len({q.key for q in questions}) == len(questions) > 50
    assert all(textfit.clean(q.question) == q.question for q in questions)  # every character drawable
    with pytest.raises(ValueError, match="listed twice"):
        coverage.parse_questions("000\t§1(a)\tx\n000\t§1(a)\ty\n")
    with pytest.raises(ValueError, match="line 1"):
        coverage.parse_questions("000 §1(a) x\n")


def test_html_renders_mathematics_as_svg_and_code_highlighted(runs):
    root, names, modules = runs
    modules["alpha"].report = _answered
    page = html_page(collect(root, names, modules.__getitem__, questions=QUESTIONS))
    assert page.count('<div class="display"><img class="math"') == 2  # the two display lines
    assert page.count("data:image/svg+xml;base64,") == 2 + 2  # and one inline span in the derivation and text
    assert '<div class="highlight code">' not in page and page.count('<div class="code"><pre>') == 2
    assert '<span class="k">def</span><span class="w"> </span><span class="nf">how</span>' in page  # pygments tokens
    assert 'href="#alpha-e0"' in page and 'id="alpha-e1"' in page  # coverage rows link to the entries
    assert "Answers seed 000 §2(a), §2(b)" in page


def test_mathematics_wraps_without_breaking_spans_and_measures_taller():
    text = "so " * 30 + "$\\frac{\\partial y}{\\partial x} = e^x (2 e^x + 1)$ " + "and " * 30
    lines = mathfit.wrap(text, 200.0, 9.0)
    math_lines = [line for line, math in lines if math]
    assert len(math_lines) == 1 and "$\\frac{\\partial y}{\\partial x} = e^x (2 e^x + 1)$" in math_lines[0]
    assert all(mathfit.measure(line, 9.0).width <= 200.0 if math else textfit.width(line, 9.0) <= 200.0
               for line, math in lines)
    assert mathfit.measure("$\\frac{a}{b}$", 9.0).height > mathfit.measure("$ab$", 9.0).height
    assert mathfit.spans("costs $5 only") == [(False, "costs $5 only")]  # one dollar: no mathematics
    assert mathfit.display(" $x^2$ ") == "x^2" and mathfit.display("$a$ and $b$") is None


def test_code_listings_split_across_pages_on_a_tinted_band():
    source = "\n".join(f"    x_{i} = {'y' * (200 if i == 3 else 10)}" for i in range(200))
    pages = layout.paginate([layout.Text("title", keep=True), layout.Code("f (here.py:1)", source)]).pages
    assert len(pages) >= 2
    lines = [op for page in pages for op in page if isinstance(op, layout.Line) and op.family == textfit.MONO]
    assert len(lines) == 201  # line 3 is cut in two, nothing is lost
    assert all(op.x + textfit.width(op.text, op.size, family=textfit.MONO) <= layout.PAGE_W - layout.MARGIN
               for op in lines)
