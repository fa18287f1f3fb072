"""Test helpers: run an experiment's CLI in a subprocess; check its report entries and that listed code ran."""

from __future__ import annotations

import contextlib
import inspect
import os
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
    Python body runs. Uses sys.setprofile/threading.setprofile with a set lookup per call.
    """
    from nndl.report.collect import resolve

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


def check_report_entries(module, metrics: dict, ran: set[str] | None = None) -> list[dict]:
    """Asserts an experiment's report(metrics) is complete; returns the entries.

    Every template field filled (report() raises TemplateError otherwise; no "{{" is left), every id names a
    sheet sub-question of the master list, every `$...$` parses, every code name resolves and its listing is
    inspect.getsource of that object, and (with `ran`) every listed function ran during the smoke run.
    """
    from nndl.report import coverage
    from nndl.report.collect import listing, math_errors, resolve

    entries = module.report(metrics)
    known = {q.key for q in coverage.master_list()}
    for entry in entries:
        for key in ("text", "derivation", "question"):
            value = str(entry.get(key) or "")
            assert "{{" not in value, f"{entry['question']}: unfilled field in {key}"
            assert math_errors(value) == [], f"{entry['question']}: {math_errors(value)}"
        ids = entry.get("ids") or []
        assert ids and set(ids) <= known, f"{entry['question']}: ids {ids} not all in the master list"
        for name in entry.get("code") or []:
            assert listing(name).source == inspect.getsource(inspect.unwrap(resolve(name)))
            if ran is not None:
                assert name in ran, f"{name} is listed for {entry['question']!r} but did not run"
    return entries
