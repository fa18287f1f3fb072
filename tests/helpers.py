"""Test helpers: run an experiment's CLI in a subprocess; check its report entries and that listed code ran."""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_module(module: str, *args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m module args...` from the repo root, CPU only, captured output."""
    full_env = {**os.environ, "JAX_PLATFORMS": "cpu", "NNDL_PROGRESS": "0", **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def calls_recorded(names):
    """Records which of the functions named by dotted `names` are entered (Python frames) inside the block.

    Yields the set of names called so far. A jitted function counts when it is traced, which is when its
    Python body runs; JAX's in-memory caches are cleared on entry, so a function another test of this worker
    process traced already is traced (and recorded) again. Uses sys.setprofile/threading.setprofile with a set
    lookup per call.
    """
    import jax

    from nndl.report.collect import resolve

    jax.clear_caches()

    targets = {inspect.unwrap(resolve(n)).__code__: n for n in names if hasattr(inspect.unwrap(resolve(n)), "__code__")}
    classes = [n for n in names if inspect.isclass(resolve(n))]
    for n in classes:  # a class "ran" when one of its methods did
        for member in vars(resolve(n)).values():
            fn = inspect.unwrap(member.__func__ if isinstance(member, (staticmethod, classmethod)) else member)
            if hasattr(fn, "__code__"):
                targets[fn.__code__] = n
    called: set[str] = set()

    def profile(frame, event, arg):
        if event == "call":
            name = targets.get(frame.f_code)
            if name is not None:
                called.add(name)

    previous = sys.getprofile()
    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        yield called
    finally:
        sys.setprofile(previous)
        threading.setprofile(None)


_DOLLAR = re.compile(r"(?<!\\)\$")
ENTRY_KEYS = ("question", "ids", "derivation", "text", "code", "figures", "table")


def _assert_text(where: str, value) -> None:
    """A report string: no unfilled field, dollars paired on every line, every `$...$` renders in the PDF
    (as Unicode text when simple, else laid out by mathtext: nndl.report.collect.math_errors)."""
    from nndl.report.collect import math_errors

    assert isinstance(value, str), f"{where}: {type(value).__name__}, not a string"
    assert "{{" not in value, f"{where}: unfilled field"
    for line in value.splitlines():
        assert len(_DOLLAR.findall(line)) % 2 == 0, f"{where}: unbalanced $ in {line[:120]!r}"
    assert math_errors(value) == [], f"{where}: {math_errors(value)}"


def check_report_entries(module, metrics: dict, ran: set[str] | None = None, *,
                         required: tuple[str, ...] = ("question", "ids")) -> list[dict]:
    """Asserts an experiment's report(metrics) is complete; returns the entries.

    Every template field filled (report() raises TemplateError otherwise; no "{{" is left), only the known
    entry keys, text fields are strings whose `$...$` pair up per line and render, every id names a sheet
    sub-question of the master list, every code name resolves and its listing is inspect.getsource of that
    object, and (with `ran`) every listed function ran during the smoke run. `required`: keys every entry
    must have (ENTRY_KEYS for an experiment whose entries all carry derivation, text, code, figures, table).
    """
    from nndl.report import Answer, coverage
    from nndl.report.collect import _answer_dict, listing, resolve

    # typed Answers are checked in the dict form the report reads (the header as the first table row)
    entries = [_answer_dict(e) if isinstance(e, Answer) else e for e in module.report(metrics)]
    known = {q.key for q in coverage.master_list()}
    for entry in entries:
        unknown = set(entry) - set(ENTRY_KEYS) - {"header"}
        assert not unknown, f"{entry.get('question')}: unknown keys {unknown}"
        assert set(required) <= set(entry), f"{entry.get('question')}: missing keys {set(required) - set(entry)}"
        for key in ("text", "derivation", "question"):
            if entry.get(key) is not None:
                _assert_text(f"{entry.get('question')}: {key}", entry[key])
        ids = entry.get("ids") or []
        assert ids and set(ids) <= known, f"{entry['question']}: ids {ids} not all in the master list"
        for name in entry.get("code") or []:
            assert isinstance(name, str), name
            assert listing(name).source == inspect.getsource(inspect.unwrap(resolve(name)))
            if ran is not None:
                assert name in ran, f"{name} is listed for {entry['question']!r} but did not run"
    return entries


def check_template(sections: dict[str, str], fields: dict, per_section: dict[str, dict] | None = None) -> None:
    """Every section of a template: its fields exist, and its mathematics parses once filled.

    Sections are filled from `fields`, or from `per_section[prefix]` for keys starting with a prefix
    (sentences rendered once per axis or per item, from fields of their own).
    """
    from nndl.run import templates

    per_section = per_section or {}
    for key, body in sections.items():
        own = next((f for prefix, f in per_section.items() if key.startswith(prefix)), fields)
        for name in templates.field_names(body):
            templates.lookup(own, name)  # raises TemplateError naming the missing field
        _assert_text(f"template section {key!r}", templates.fill(body, own))


def toy_experiment(argv: list[str], run=None) -> int:
    """A minimal experiment through cli.run_experiment with hand-written flags (the harness's own validators);
    `run(config, out)` defaults to returning the width and lr as metrics."""
    from nndl.run import cli

    def get_config(full):
        return {"width": 100 if full else 10, "lr": 0.1, "seed": 0}

    def add(parser):
        parser.add_argument("--width", type=cli.positive_int, default=None)
        parser.add_argument("--lr", type=cli.positive_float, default=None)

    return cli.run_experiment("toy", doc="Toy.\nmore", get_config=get_config,
                              run=run or (lambda c, out: {"w": c["width"], "lr": c["lr"]}), add_arguments=add,
                              argv=argv)
