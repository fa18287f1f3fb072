"""The generated report: collected from fake run folders, written as PDF (fpdf2, read back with pypdf) and HTML."""

from __future__ import annotations

import inspect
import io
import itertools
import json
import re
import shutil
import types
from pathlib import Path

import pypdf
import pytest

from experiments.__main__ import main as experiments_main
from nndl.errors import ConfigError
from nndl.report import content, coverage, fmt, formula, texmath
from nndl.report.answers import Answer, Check
from nndl.report.build import coverage_list, write_report
from nndl.report.collect import collect, sheet_key
from nndl.report.coverage import master_list
from nndl.report.html import html_page
from nndl.report.model import Question
from nndl.report.pdf import figures, pdf_bytes, pdf_document, table
from nndl.report.pdftext import FACES, FONT_DIR, MARGIN, ReportPDF
from nndl.run import runio
from nndl.run.plotting import save_figure, subplots
from tests.helpers import run_module
from tests.test_report_math import cmap

ENV = {"python": "3.11.7", "jax": "0.10.2", "jaxlib": "0.10.2", "flax": "0.12.8", "optax": "0.2.8",
       "numpy": "2.3.0", "platform": "cpu", "device_kind": "cpu", "device_count": "2"}
BOOM = "RuntimeError: boom at epoch 3"


@pytest.fixture
def pdf():
    """An empty report document on its first page (its font files closed afterwards)."""
    doc = ReportPDF("t")
    doc.add_page()
    yield doc
    doc.close_fonts()


@pytest.fixture(autouse=True)
def formula_cache(tmp_path, monkeypatch) -> Path:
    """Formula layouts persist in a file of the test's own."""
    path = tmp_path / "formula-cache.json"
    monkeypatch.setenv(formula.CACHE_ENV, str(path))
    return path


def _figure(path: Path, title: str, width: float = 4, height: float = 3) -> None:
    fig, ax = subplots(width=width, height=height)
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


def _reader(data: bytes | Path) -> pypdf.PdfReader:
    return pypdf.PdfReader(data if isinstance(data, Path) else io.BytesIO(data))


def _outline(reader: pypdf.PdfReader) -> list[tuple[int, str, int]]:
    """(level, title, 1-based page) of every bookmark, in order."""
    out = []

    def walk(items, level):
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
            else:
                out.append((level, item.title, reader.get_destination_page_number(item) + 1))

    walk(reader.outline, 0)
    return out


def _links(reader: pypdf.PdfReader, page: int) -> list[int]:
    """1-based target pages of the internal links on `page` (1-based), in order."""
    pages = {p.indirect_reference.idnum: k for k, p in enumerate(reader.pages, 1)}
    return [pages[a.get_object()["/Dest"][0].idnum] for a in reader.pages[page - 1].get("/Annots", [])
            if a.get_object().get("/Subtype") == "/Link" and "/Dest" in a.get_object()]


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
    assert first.header == ()  # two columns: label/value rows
    assert [c.passed for c in report.checks] == [True, False]
    assert report.mode == "quick"
    assert report.total_wall_s == pytest.approx(1.0 + 75.0 + 1.0)  # no all.json: sum of the runs' times


def test_typed_answers_and_checks_read_like_their_dicts(runs):
    root, names, modules = runs
    rows = [[1, 0.25, "a"], [2, 0.5, "b"]]
    modules["alpha"].report = lambda m: [Answer("q", ids=["000 §2(a)"], header=["n", "loss", "tag"], table=rows)]
    modules["alpha"].checks = lambda m: [Check("c", reference=1.0, measured=0.98, tolerance="0.05", passed=True)]
    typed = next(s for s in collect(root, names, modules.__getitem__).sections if s.name == "alpha")
    modules["alpha"].report = lambda m: [{"question": "q", "ids": ["000 §2(a)"],
                                          "table": [["n", "loss", "tag"], *rows]}]
    modules["alpha"].checks = lambda m: [{"check": "c", "reference": 1.0, "measured": 0.98, "tolerance": "0.05",
                                          "passed": True}]
    old = next(s for s in collect(root, names, modules.__getitem__).sections if s.name == "alpha")
    assert typed.entries[0].header == old.entries[0].header == ("n", "loss", "tag")  # old dicts: header guessed
    assert typed.entries[0].table == old.entries[0].table == (("1", "0.25", "a"), ("2", "0.5", "b"))
    assert typed.checks == old.checks and typed.errors == old.errors == ()


def test_pdf_and_html_show_every_section_error_check_and_figure(runs):
    root, names, modules = runs
    runio.write_json(root / "all.json", {"wall_time_s": 123.4, "finished": "2026-01-01T00:10:00"})
    written = write_report(root, names, modules.__getitem__)
    reader = _reader(written.pdf)
    assert written.pdf.read_bytes().startswith(b"%PDF") and len(reader.pages) == written.pages
    doc = pdf_document(collect(root, names, modules.__getitem__))
    first = doc.anchors["gamma"]
    assert first > 1 and written.pages == doc.pages == first - 1 + 4  # front pages, then one page per section
    marks = _outline(reader)
    assert [(title, page) for level, title, page in marks if level == 0] == [
        ("Run, contents, coverage and checks", 1), ("1. gamma", first), ("2. beta", first + 1),
        ("3. alpha", first + 2), ("4. delta", first + 3)]
    assert [title for level, title, _ in marks if level == 1] == [  # a bookmark per question
        "ex. 1: where does the loss peak?", "ex. 2: the same curve again", "Further figures from the run folder"]
    text = "\n".join(p.extract_text() for p in reader.pages)
    for needle in (f"run failed: {BOOM}", "beta.report() raised KeyError", "not run:", "Checks: 1/2 passed",
                   "The loss peaks at M = 21.", "2 min 03 s", f"page {first + 2} of {written.pages}"):
        assert needle in text, needle
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


def test_contents_links_lead_to_the_sections(runs):
    root, names, modules = runs
    doc = pdf_document(collect(root, names, modules.__getitem__, questions=QUESTIONS))
    reader = _reader(doc.data)
    sections = [doc.anchors[n] for n in ("gamma", "beta", "alpha", "delta")]
    targets = _links(reader, 1)
    assert targets[:8] == [p for p in sections for _ in range(2)]  # contents: the name and the page number
    assert targets[8:] == [doc.anchors["alpha"]] * 2  # the checks table: each check's experiment
    contents = reader.pages[0].extract_text()
    for k, (name, page) in enumerate(zip(("gamma", "beta", "alpha", "delta"), sections), 1):
        assert re.search(rf"^{k} {name} .* {page}$", contents, re.MULTILINE), name


def test_html_escapes_text_from_the_modules(runs):
    root, names, modules = runs
    modules["alpha"].report = lambda m: [{"question": "<b>x</b> & y", "figures": [], "table": [], "text": "$a<b$"}]
    page = html_page(collect(root, names, modules.__getitem__))
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in page and "<mo>&#x0003C;</mo>" in page and "<b>x" not in page


def test_malformed_report_items_become_error_lines(runs):
    root, names, modules = runs
    (root / "alpha" / "broken.png").write_text("not an image")
    modules["alpha"].report = lambda m: [{"question": "fine", "figures": ["nope.png", "broken.png"]}, "not a dict"]
    modules["alpha"].checks = lambda m: 7
    alpha = next(s for s in collect(root, names, modules.__getitem__).sections if s.name == "alpha")
    assert alpha.errors[0].startswith("figure nope.png not found")
    assert alpha.errors[1] == "figure broken.png is not a PNG file"
    assert alpha.errors[2] == "report() item 1 is str, not an Answer"
    assert alpha.errors[3] == "checks() returned int, not a list of Checks"
    assert pdf_bytes(collect(root, names, modules.__getitem__, questions=()))[1] == 5  # no coverage table


def test_a_truncated_png_is_an_error_line_and_the_report_goes_on(runs):
    root, names, modules = runs
    data = (root / "alpha" / "curve.png").read_bytes()
    (root / "alpha" / "curve.png").write_bytes(data[: len(data) // 2])  # named by both answers
    (root / "alpha" / "extra.png").write_bytes(data[: len(data) - 20])  # named by none
    written = write_report(root, names, modules.__getitem__)
    alpha = next(s for s in collect(root, names, modules.__getitem__).sections if s.name == "alpha")
    assert [e.split(" (")[0] for e in alpha.errors] == ["figure curve.png is not a readable PNG file"] * 2 + [
        "figure extra.png is not a readable PNG file"]
    assert all(e.figures == () for e in alpha.entries)
    text = "".join(p.extract_text() for p in _reader(written.pdf).pages)
    assert "error: figure extra.png is not a readable PNG file" in text
    assert "figure curve.png is not a readable PNG file" in written.html.read_text()


def test_a_figure_that_fails_to_decode_is_an_error_line_where_it_would_be(tmp_path, pdf):
    _figure(tmp_path / "a.png", "a")
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "b.png").write_bytes(data[:-40])  # the header reads; the pixels do not
    figures(pdf, [tmp_path / "a.png", tmp_path / "b.png"])
    text = _reader(pdf.finish()).pages[0].extract_text()
    assert "figure b.png not drawn" in text


def test_an_answer_that_cannot_be_drawn_is_an_error_line(runs, monkeypatch):
    root, names, modules = runs
    modules["alpha"].report = _answered
    monkeypatch.setattr(ReportPDF, "code", lambda *a, **kw: 1 / 0)
    report = collect(root, names, modules.__getitem__, questions=QUESTIONS)
    text = "".join(p.extract_text() for p in _reader(pdf_bytes(report)[0]).pages)
    assert "error: this answer could not be drawn: ZeroDivisionError" in text
    assert "a figure only" in text  # the next answer is drawn


def test_a_folder_the_report_cannot_be_written_into_is_one_line(runs):
    root, names, modules = runs
    (root / "report.pdf").mkdir()  # root writes anywhere, so the name is taken instead
    modules["alpha"].report = lambda m: pytest.fail("collected although nothing can be written")
    with pytest.raises(ConfigError, match=r"^cannot write the report into .*report\.pdf is not a file$"):
        write_report(root, names, modules.__getitem__)


def test_report_command_on_an_unwritable_folder_is_one_line_and_exit_2(tmp_path, capsys):
    _run_folder(tmp_path, "quadratic", "ok", {"unexpected": 1})
    (tmp_path / "report.html").mkdir()
    assert experiments_main(["report", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write the report into" in err


def test_long_tables_split_across_pages_and_repeat_their_header(pdf):
    rows = [(str(i), str(i * i), "x " * 30) for i in range(300)]
    table(pdf, rows, header=("n", "value", "note"))
    reader = _reader(pdf.finish())
    assert len(reader.pages) > 3
    for page in reader.pages:
        lines = page.extract_text().splitlines()
        assert "n value note" in lines[:2]  # every page starts with the header (the footer may come first)
    numbers = [int(line.split()[0]) for p in reader.pages for line in p.extract_text().splitlines()
               if re.match(r"\d+ \d+ x", line)]
    assert numbers == list(range(300))  # every row once, in order


def test_fitted_column_widths_use_the_text_width(pdf):
    from nndl.report.pdf import _fit_widths

    narrow = _fit_widths(pdf, ["a", "b"], [["1", "2"]], 8.0)
    assert sum(narrow) < 60  # natural widths when they fit
    wide = _fit_widths(pdf, ["k", "text"], [["1", "word " * 200], ["2", "x"]], 8.0)
    assert sum(wide) == pytest.approx(pdf.epw) and wide[0] < 30  # the narrow column keeps its width


def test_images_scale_to_the_page_and_pack_side_by_side(tmp_path, monkeypatch, pdf):
    for name, width in (("a.png", 3), ("b.png", 3), ("wide.png", 30)):
        _figure(tmp_path / name, name, width=width, height=2)
    placed = []
    monkeypatch.setattr(ReportPDF, "image", lambda self, path, x, y, w, h: placed.append((Path(path).name, x, y, w, h)))
    figures(pdf, [tmp_path / n for n in ("a.png", "b.png", "wide.png")])
    (_, ax, ay, aw, ah), (_, bx, by, _, _), (_, wx, wy, ww, _) = placed
    assert 150 < aw < 3 * 72 + 20 and 80 < ah < 2 * 72 + 20  # at its own size (bbox "tight" trims a little)
    assert ay == by and bx >= ax + aw and wy >= ay + ah
    assert ww == pytest.approx(pdf.epw) and wx == MARGIN  # wider than the page: scaled to the text width


def test_code_listings_split_across_pages_and_cut_long_lines(pdf):
    source = "\n".join(f"    x_{i} = {'y' * (200 if i == 3 else 10)}" for i in range(200))
    pdf.paragraph("title")
    pdf.code("f (here.py:1)", source)
    reader = _reader(pdf.finish())
    assert len(reader.pages) >= 2
    lines = [line for p in reader.pages for line in p.extract_text().splitlines() if line.strip().startswith(("x_",
                                                                                                              "y"))]
    assert len(lines) == 201  # line 3 is cut in two, nothing is lost
    assert "".join(lines).replace(" ", "") == source.replace("\n", "").replace(" ", "")
    width = 0.602 * 6.8  # DejaVu Sans Mono's advance (1233/2048 em) at the listing's size
    assert max(len(line) for line in lines) * width <= pdf.epw - 18 - 6


def test_inline_mathematics_stays_whole_and_inside_the_margins(monkeypatch, pdf):
    drawn = []
    original = ReportPDF.draw_formula
    monkeypatch.setattr(ReportPDF, "draw_formula",
                        lambda self, shape, x, baseline: drawn.append((x, baseline, shape)) or original(
                            self, shape, x, baseline))
    text = ("so " * 30 + "$\\frac{\\partial y}{\\partial x} = e^x (2 e^x + 1)$ " + "and " * 30 + "$\\sqrt{x}$ ") * 3
    pdf.paragraph(text)
    assert len(drawn) == 6
    for x, baseline, shape in drawn:
        assert x >= pdf.l_margin and x + shape.width <= pdf.w - pdf.r_margin + 1e-6
        ys = [baseline - g.y for g in shape.glyphs]  # all glyphs of one span on its line
        assert max(ys) - min(ys) < shape.height + shape.depth
    baselines = sorted({round(b, 3) for _, b, _ in drawn})
    steps = {round(b - a, 3) for a, b in itertools.pairwise(baselines)}
    tallest = max(s.height + s.depth for _, _, s in drawn)
    assert min(steps) >= tallest  # lines are spaced for their tallest formula: nothing overlaps


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
    result = run_module("experiments", "report", "--out", str(tmp_path), timeout=120,
                        env={formula.CACHE_ENV: "0"})
    assert result.returncode == 0, result.stderr
    assert "report.pdf" in result.stdout and result.stderr == ""
    page = (tmp_path / "report.html").read_text()
    assert "quadratic.report() raised KeyError" in page and BOOM in page
    assert len(_reader(tmp_path / "report.pdf").pages) >= 3


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
             "code": ["nndl.report.coverage.how", "nndl.report.texmath.runs"],
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
    for shown, fn in zip(first.code, (coverage.how, texmath.runs)):  # the listing is the source as it is now
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
    data = pdf_bytes(collect(root, names, modules.__getitem__, questions=QUESTIONS))[0]
    assert "$\\frac{a$" in "".join(p.extract_text() for p in _reader(data).pages)  # shown as written


def test_coverage_pages_are_where_the_answers_start(runs):
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
    reader = _reader(doc.data)
    for j, entry in enumerate(next(s for s in report.sections if s.name == "alpha").entries):
        page = doc.anchors[content.entry_anchor("alpha", j)]
        assert entry.question in reader.pages[page - 1].extract_text()  # the answer is on the page it names
        assert (1, entry.question, page) in _outline(reader)  # and its bookmark leads there
    front = reader.pages[0].extract_text()
    assert re.search(rf"^000 §2\(a\) Write down Adam\. {alpha_page} derivation \+ computation \+ code$", front,
                     re.MULTILINE)
    assert doc.anchors["alpha"] in _links(reader, 1)


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
    drawable = cmap(str(FONT_DIR / FACES[""]))
    assert all(ord(c) in drawable for q in questions for c in q.question)  # every character in the PDF's font
    with pytest.raises(ValueError, match="listed twice"):
        coverage.parse_questions("000\t§1(a)\tx\n000\t§1(a)\ty\n")
    with pytest.raises(ValueError, match="line 1"):
        coverage.parse_questions("000 §1(a) x\n")


def test_mathematics_in_table_cells(runs):
    root, names, modules = runs
    modules["alpha"].report = lambda m: [Answer("q", header=["quantity", "value"], table=[["$E[h^2]$", 1.5]])]
    report = collect(root, names, modules.__getitem__, questions=QUESTIONS)
    assert "<tr><td><math" in html_page(report)
    assert "E[h²] 1.5" in "".join(p.extract_text() for p in _reader(pdf_bytes(report)[0]).pages)


def test_html_renders_mathematics_as_mathml_and_code_highlighted(runs):
    root, names, modules = runs
    modules["alpha"].report = _answered
    page = html_page(collect(root, names, modules.__getitem__, questions=QUESTIONS))
    assert page.count('<div class="display"><math xmlns="http://www.w3.org/1998/Math/MathML" display="block">') == 2
    assert page.count('display="inline">') == 2  # one inline span in the derivation, one in the text
    assert "data:image/svg+xml" not in page
    prose = re.sub(r"<pre>.*?</pre>|<math.*?</math>", "", page, flags=re.S)
    assert "$" not in prose  # every span became MathML
    assert '<div class="highlight code">' not in page and page.count('<div class="code"><pre>') == 2
    assert '<span class="k">def</span><span class="w"> </span><span class="nf">how</span>' in page  # pygments tokens
    assert 'href="#alpha-e0"' in page and 'id="alpha-e1"' in page  # coverage rows link to the entries
    assert "Answers seed 000 §2(a), §2(b)" in page
