"""notebooks/ (one per sheet) and nndl.run.notebook / nndl.run.nbexec: stored without outputs, quotes in the sheets'
words, every sheet question covered, the markdown renderers, and every notebook executed top to bottom at smoke size
(NNDL_NOTEBOOK_SMOKE=1) with no error output, at least one figure and its checks tables."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

import experiments
from experiments.__main__ import main as experiments_main
from nndl.report import Answer, Check
from nndl.report.coverage import master_list
from nndl.run import nbexec, notebook

SHEETS = ("000", "001", "002", "003", "004")
QUOTE = re.compile(r"^> \*\*(\d{3}) (\S+)\*\* (.+)$")
ANSWERED = re.compile(r"^\*Answers (.+)\.\*$", re.MULTILINE)
SHOW = re.compile(r"notebook\.show\((\w+), metrics, out, sheet=\"(\d{3})\"\)")


def stored(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def cells(nb: dict, kind: str) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def quoted(nb: dict) -> list[tuple[str, str]]:
    """(id as "000 §1(a)", quoted text) of every quote line of the notebook's markdown."""
    return [(f"{m.group(1)} {m.group(2)}", m.group(3)) for text in cells(nb, "markdown")
            for m in map(QUOTE.match, text.splitlines()) if m]


PATHS = nbexec.notebooks()


def test_five_notebooks_one_per_sheet():
    assert [p.name[:3] for p in PATHS] == list(SHEETS)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    nb = stored(path)
    assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["id"]
        assert cell["metadata"] == {}, cell["id"]  # no widget state, no collapsed flags: diffs show source only


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_first_cell_installs_on_colab_without_jax_and_says_how_to_get_a_gpu(path):
    first = cells(stored(path), "code")[0]
    assert '"--no-deps"' in first and "google.colab" in first
    assert "Change runtime type" in first
    assert 'jax=={version(\'jax\')}' in first  # what pip adds keeps Colab's jax


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_code_cells_only_call_the_packages(path):
    """After the set-up cell: imports, config lines, notebook.run and notebook.show; no maths, no rendering."""
    allowed = re.compile(r"^(from (experiments|nndl\.run) import [\w, ]+|notebook\.setup\(\).*|config = \w+\.get_config"
                         r"\(\).*|config\.update\(.*\).*|metrics, out = notebook\.run\(\w+, config\)|" + SHOW.pattern
                         + r"|)$")
    for source in cells(stored(path), "code")[1:]:
        for line in source.splitlines():
            assert allowed.match(line), line


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_quotes_are_the_sheets_words(path):
    questions = {q.key: q.question for q in master_list()}
    quotes = quoted(stored(path))
    assert quotes
    for key, text in quotes:
        assert key.split()[0] == path.name[:3], key
        assert questions.get(key) == text, key


def test_every_sheet_question_is_quoted_once():
    keys = [key for path in PATHS for key, _ in quoted(stored(path))]
    assert len(keys) == len(set(keys))
    assert set(keys) == {q.key for q in master_list()}, "questions no notebook covers: " + ", ".join(
        sorted({q.key for q in master_list()} - set(keys)))


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_each_shown_experiment_runs_with_its_config_and_shows_its_own_sheet(path):
    code = "\n".join(cells(stored(path), "code"))
    shown = SHOW.findall(code)
    assert shown and {sheet for _, sheet in shown} == {path.name[:3]}
    for name, _ in shown:
        assert name in experiments.ORDER
        assert f"config = {name}.get_config()" in code and f"notebook.run({name}, config)" in code


# ------------------------------------------------------------------------------------ nndl.run.notebook
def test_smoke_sizes_are_config_keys_and_valid(monkeypatch):
    monkeypatch.setenv(notebook.SMOKE_ENV, "1")
    assert set(notebook.SMOKE) == set(experiments.ORDER)
    for name in experiments.ORDER:
        module = experiments.load(name)
        assert set(notebook.SMOKE[name]) <= set(module.get_config()), name
        config = notebook.sized(module, module.get_config())
        assert config["mode"] == "smoke"
        module.validate(config)


def test_sized_records_the_mode(monkeypatch):
    monkeypatch.delenv(notebook.SMOKE_ENV, raising=False)
    module = experiments.load("sgd_noise")
    assert notebook.sized(module, module.get_config())["mode"] == "quick"
    assert notebook.sized(module, module.get_config(True))["mode"] == "full"
    assert notebook.sized(module, {**module.get_config(), "trials": 7})["mode"] == "custom"
    monkeypatch.setenv(notebook.SMOKE_ENV, "0")
    assert not notebook.smoke()


def test_table_markdown_header_escapes_and_pairs():
    table = notebook.table_markdown([["a|b", 0.123456789, None], ["x*y", 3]], ["name", "value", "note"])
    assert table.splitlines() == ["| name | value | note |", "|---|---|---|", "| a\\|b | 0.1235 | n/a |",
                                  "| x\\*y | 3 |  |"]
    assert notebook.table_markdown([["ratio", 2.0]], None).splitlines()[0] == "|  |  |"


def test_derivation_markdown_display_lines_and_prose():
    md = notebook.derivation_markdown("First a_1 and $x_1$ in words:\n$\\hat m_1 = g$\n\nthen <b>.")
    assert md.split("\n\n") == ["First a\\_1 and $x_1$ in words:", "$$\n\\hat m_1 = g\n$$", "then &lt;b>."]


def test_answer_and_checks_markdown():
    answer = Answer(question="q (a)", ids=["004 Q2"], derivation="$x = 1$", table=[[1, 2.5]], header=["n", "v"],
                    text="so x* = 1", code=["nndl.run.notebook.smoke"])
    before, after = notebook.answer_markdown(answer)
    assert before == "### q (a)\n\n*Answers 004 Q2.*\n\n$$\nx = 1\n$$"
    assert "| 1 | 2.5 |" in after and "so x\\* = 1" in after
    assert "```python\ndef smoke() -> bool:" in after and "(nndl/run/notebook.py:" in after
    checks = notebook.checks_markdown([Check("c", 1.0, 1.01, "2%", True), Check("d", 0, 5, "1", False)], "x")
    assert checks.startswith("#### Checks of `x`: 1 of 2 passed")
    assert nbexec.CHECKS_MARK in checks and "| d | 0 | 5 | 1 | FAIL |" in checks


def test_for_sheet_keeps_answers_naming_the_sheet():
    answers = [Answer("a", ids=["000 §2(a)", "003 4.3(a)"]), Answer("b", ids=["003 4.3(b)"]), Answer("c", ids=[])]
    assert [a.question for a in notebook.for_sheet(answers, "003")] == ["a", "b"]
    assert [a.question for a in notebook.for_sheet(answers, "000")] == ["a"]
    assert len(notebook.for_sheet(answers, None)) == 3


# ----------------------------------------------------------------------------- python -m experiments notebooks
def test_notebooks_command_without_the_extra_is_a_user_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(nbexec, "missing", lambda: ["nbclient"])
    assert experiments_main(["notebooks", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and '.[notebooks]' in err


def test_notebooks_command_exit_status_follows_the_errors(monkeypatch, tmp_path):
    def fake(out, smoke):
        return [nbexec.Executed(Path("a.ipynb"), Path(out) / "a.ipynb", None, 1.0, errors=errors)]

    monkeypatch.setattr(nbexec, "missing", list)
    monkeypatch.setattr(nbexec, "execute_all", fake)
    errors = ()
    assert experiments_main(["notebooks", "--out", str(tmp_path)]) == 0
    errors = ("ValueError: x",)
    assert experiments_main(["notebooks", "--out", str(tmp_path)]) == 1


# ------------------------------------------------------------------------------- executed at smoke size
def needs_the_extra():
    if nbexec.missing():
        message = f"the [notebooks] extra is not installed ({', '.join(nbexec.missing())})"
        if os.environ.get("CI"):  # CI must execute the notebooks: install the extra in .ci/run
            pytest.fail(message)
        pytest.skip(message)


def test_an_error_stops_the_run_and_is_reported(tmp_path):
    needs_the_extra()
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    source = tmp_path / "broken.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("print('first')"), new_code_cell("raise ValueError('boom')"),
                                       new_code_cell("print('never')")]), source)
    result = nbexec.execute(source, tmp_path / "out", html=False, timeout=120)
    assert result.errors == ("ValueError: boom",) and result.html is None and result.figures == 0
    assert result.cpu_s > 0  # the kernel ran, exited and was reaped
    executed = nbformat.read(result.ipynb, as_version=4)
    assert [len(c.outputs) for c in executed.cells] == [1, 1, 0]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Every notebook run top to bottom in a fresh kernel at smoke size, as `python -m experiments notebooks`
    runs them (NNDL_NOTEBOOK_SMOKE=1). The kernels share a compilation cache of their own, so an experiment
    two sheets use compiles once."""
    needs_the_extra()
    out = tmp_path_factory.mktemp("notebooks")
    env = {"NNDL_COMPILATION_CACHE": "1", "JAX_COMPILATION_CACHE_DIR": str(out / "jax-cache")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        results = nbexec.execute_all(out, smoke=True, log=lambda line: None)
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    return out, {r.source.name: r for r in results}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_executes_without_error_with_figures_checks_and_every_quoted_answer(executed, path):
    out, results = executed
    result = results[path.name]
    assert result.errors == ()
    assert not [s for s in result.stderr if "Traceback" in s or "Error" in s]
    assert result.figures >= 1
    shown = SHOW.findall("\n".join(cells(stored(path), "code")))
    assert result.checks_tables == len(shown)
    nb = stored(result.ipynb)
    markdown = ["".join(o["data"]["text/markdown"]) for c in nb["cells"] if c["cell_type"] == "code"
                for o in c["outputs"] if "text/markdown" in o.get("data", {})]  # stored as a list of lines
    answered = {i.strip() for md in markdown for ids in ANSWERED.findall(md) for i in ids.split(",")}
    assert {key for key, _ in quoted(nb)} <= answered
    assert result.html is not None and "data:image/png;base64" in result.html.read_text(encoding="utf-8")
    summary = json.loads((out / "notebooks.json").read_text())
    assert summary["mode"] == "smoke" and len(summary["notebooks"]) == len(PATHS)
