"""The generated report: collected from fake run folders, laid out on A4 pages, written as PDF and HTML."""

from __future__ import annotations

import re
import shutil
import types
from pathlib import Path

import pytest

from experiments.__main__ import main as experiments_main
from nndl import runio
from nndl.plotting import save_figure, subplots
from nndl.report import collect, fmt, html_page, layout, pdf_bytes, textfit, write_report
from nndl.report.collect import sheet_key
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
    assert written.pages == 1 + 4  # a front page, then each small section on a page of its own
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
    assert pdf_bytes(collect(root, names, modules.__getitem__))[1] == 5


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
