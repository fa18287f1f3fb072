"""Reads run folders and asks each experiment module for its report() and checks()."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import importlib
import json
import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType

from PIL import Image

from nndl.report import coverage, fmt, formula, texmath
from nndl.report.answers import Answer
from nndl.report.answers import Check as TypedCheck
from nndl.report.listing import listing, listings, resolve
from nndl.report.model import Check, Entry, Question, Report, Section

__all__ = ["answer_from_dict", "collect", "error_line", "listing", "math_errors", "png_problem", "read_section",
           "resolve", "sheet_key", "sheet_order"]

RUN_SUMMARY = "all.json"  # written by `python -m experiments all`: total wall time and mode
NO_SEED = 10**6  # sorts experiments whose SHEET names no seed after the rest


def collect(root: Path, names: Sequence[str], load: Callable[[str], ModuleType], *,
            created: str | None = None, questions: Sequence[Question] | None = None) -> Report:
    """Builds the report's content from `root/<name>/` run folders.

    Never raises for a broken experiment: a missing folder, a failed run or an
    exception in its `report()`/`checks()` becomes an error line in its section.

    Args:
      root: folder holding one run folder per experiment (and `all.json` after `all`).
      names: experiment names, in the fallback order (SPEC order).
      load: `load(name) -> module` defining SHEET, report(metrics) and checks(metrics).
      created: timestamp shown on the front page (default: now).
      questions: the sheets' sub-questions (default: the master list, nndl/report/questions.tsv);
        an entry id naming none of them is an error line.

    Returns:
      The report, sections in sheet order.
    """
    questions = coverage.master_list() if questions is None else tuple(questions)
    readings = [_Reading(Path(root) / name, name, load) for name in names]
    formula.prefetch(f for r in readings for f in r.formulas() if texmath.runs(f) is None)
    sections = sheet_order([r.section(questions) for r in readings])
    summary = _read_json(Path(root) / RUN_SUMMARY) or {}
    total = summary.get("wall_time_s") if isinstance(summary, dict) else None
    if isinstance(total, (int, float)):
        note = f"python -m experiments all, finished {summary.get('finished', '?')}"
    else:
        times = [s.wall_time_s for s in sections if s.wall_time_s is not None]
        total = sum(times) if times else None
        note = "sum of the experiments' own run times (no all.json)"
    return Report(sections=tuple(sections), environment=_environment(sections), mode=_mode(sections),
                  total_wall_s=total, total_note=note, questions=questions,
                  created=created or datetime.datetime.now().isoformat(timespec="minutes"))


def sheet_key(sheet: str) -> int:
    """The first seed number in a SHEET string ("seed 003 ex. 4.1" -> 3), NO_SEED if none."""
    match = re.search(r"seed\s*0*(\d+)", sheet or "", re.IGNORECASE)
    return int(match.group(1)) if match else NO_SEED


def sheet_order(sections: Sequence[Section]) -> list[Section]:
    """Sections sorted by the sheet of their first question; ties keep the given order."""
    return sorted(sections, key=lambda s: sheet_key(s.sheet))  # sorted() is stable


def read_section(folder: Path, name: str, load: Callable[[str], ModuleType],
                 questions: Sequence[Question] | None = None) -> Section:
    """One experiment's section from its run folder; problems become error lines.

    Args:
      folder: the experiment's run folder.
      name: the experiment's name.
      load: returns the experiment's module.
      questions: the known sub-questions (default: the master list).

    Returns:
      The section (status "ok", "failed" or "missing").
    """
    return _Reading(folder, name, load).section(coverage.master_list() if questions is None else questions)


class _Reading:
    """A run folder read and its experiment's report()/checks() called; `section()` checks and formats them.

    Two steps, so that `collect` can lay out every experiment's formulas at once (in parallel) in between.
    """

    def __init__(self, folder: Path, name: str, load: Callable[[str], ModuleType]):
        self.folder = folder
        self.errors: list[str] = []  # in the order they are shown
        self.items: list[Answer | str] = []  # report()'s answers, or an error line in place of a bad item
        self.checks: list[Check] = []
        self.check_errors: list[str] = []
        try:
            module = load(name)
        except Exception as e:  # a broken module must not stop the report
            module = None
            self.errors.append(error_line(f"import experiments.{name}", e))
        summary = ((getattr(module, "__doc__", None) or name).strip().splitlines() or [name])[0]
        config = _read_json(folder / "config.json")
        config = config if isinstance(config, dict) else {}
        run_config = config.get("config") if isinstance(config.get("config"), dict) else {}
        self.base = dict(name=name, summary=summary, sheet=str(getattr(module, "SHEET", "")),
                         environment=config.get("environment") if isinstance(config.get("environment"), dict) else {},
                         mode=run_config.get("mode"))
        status = _read_json(folder / "status.json")
        self.status = "missing" if not isinstance(status, dict) else "ok" if status.get("status") == "ok" else "failed"
        if self.status == "missing":
            self.errors.append(f"not run: {folder / 'status.json'} not found or unreadable "
                               f"(run: python -m experiments.{name})")
            return
        wall = status.get("wall_time_s")
        self.base["wall_time_s"] = wall if isinstance(wall, (int, float)) else None
        if self.status == "failed":
            self.errors.append(str(status.get("error") or f"status {status.get('status')!r}"))
            return
        metrics = _read_json(folder / "metrics.json")
        if not isinstance(metrics, dict):
            self.errors.append(f"{folder / 'metrics.json'} missing or not a JSON object")
        elif module is not None:
            self.items = _answers(module, metrics)
            self.checks, self.check_errors = _checks(module, metrics, name)

    def formulas(self) -> list[str]:
        """Every `$...$` expression the answers hold."""
        return [f for a in self.items if isinstance(a, Answer) for t in (a.question, a.derivation, a.text)
                for f in texmath.formulas(t)]

    def section(self, questions: Sequence[Question]) -> Section:
        """The section: entries checked (figures, mathematics, code, ids), problems as error lines."""
        if self.status != "ok":
            return Section(**self.base, status=self.status, errors=tuple(self.errors))
        entries, errors, named = [], list(self.errors), set()
        for i, item in enumerate(self.items):
            if isinstance(item, str):
                errors.append(item)
                continue
            named.update((self.folder / str(f)).resolve() for f in item.figures)
            entry, entry_errors = _entry(item, self.folder)
            entries.append(entry)
            errors += entry_errors + [f"report() item {i}: id {u!r} names no sheet sub-question"
                                      for u in coverage.unknown_ids(entry.ids, questions)]
        further, figure_errors = _unreferenced_figures(self.folder, named)
        return Section(**self.base, status="ok", errors=tuple(errors + self.check_errors + figure_errors),
                       entries=tuple(_shown_once(entries) + further), checks=tuple(self.checks))


def error_line(what: str, exc: BaseException, source: str | None = None) -> str:
    """'<what> raised KeyError: 'x' (file.py:12)': the exception and where it happened.

    Args:
      what: what was being done.
      exc: the exception caught.
      source: prefer the innermost frame in this file (the experiment module).

    Returns:
      One line.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if source and f.filename == source] or frames
    where = f" ({Path(mine[-1].filename).name}:{mine[-1].lineno})" if mine else ""
    return f"{what} raised {traceback.format_exception_only(type(exc), exc)[-1].strip()}{where}"


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def answers_module(module: ModuleType) -> ModuleType:
    """Where an experiment's report() and checks() live: `<package>.report` for an experiment package
    (experiments/<name>/report.py), the module itself for a single-file experiment."""
    if hasattr(module, "__path__"):
        return importlib.import_module(f"{module.__name__}.report")
    return module


def _call(module: ModuleType, fn: str, metrics: dict) -> tuple[object, list[str]]:
    """module.fn(copy of metrics), or None and the error line."""
    try:
        return getattr(answers_module(module), fn)(copy.deepcopy(metrics)), []
    except Exception as e:
        return None, [error_line(f"{module.__name__.rsplit('.', 1)[-1]}.{fn}()", e,
                                 getattr(module, "__file__", None))]


def _answers(module: ModuleType, metrics: dict) -> list[Answer | str]:
    """report(metrics) as Answers (dicts converted), an error line in place of each item that is neither."""
    raw, errors = _call(module, "report", metrics)
    if raw is None:
        return list(errors)
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        return [f"report() returned {type(raw).__name__}, not a list of Answers"]
    items: list[Answer | str] = []
    for i, item in enumerate(raw):
        if isinstance(item, Mapping):
            item = answer_from_dict(item)
        items.append(item if isinstance(item, Answer) else f"report() item {i} is {type(item).__name__}, not an Answer")
    return items


def answer_from_dict(item: Mapping) -> Answer:
    """An Answer from the dict form experiments returned before typed answers (kept while they convert).

    Without a "header" key, a first table row of >= 3 non-empty strings above other rows names the columns.
    """
    table = [row if _is_row(row) else [row] for row in (item.get("table") or [])]
    header = item.get("header")
    if header is None:
        header = _looks_like_header(table)
    if header is True or header is False:  # the old flag: the first row names the columns
        header, table = (table[0], table[1:]) if header and table else (None, table)
    return Answer(question=str(item.get("question", "")), ids=_strings(item.get("ids")),
                  derivation=str(item.get("derivation") or ""), figures=_strings(item.get("figures")),
                  table=table, header=header, text=str(item.get("text") or ""), code=_strings(item.get("code")))


def _answer_dict(a: Answer) -> dict:
    """A typed Answer in the dict form experiments returned before (its header, if any, as the first table row)."""
    table = ([list(a.header)] if a.header else []) + [list(r) for r in a.table]
    return {"question": a.question, "ids": list(a.ids), "derivation": a.derivation, "figures": list(a.figures),
            "table": table, "header": a.header is not None, "text": a.text, "code": list(a.code)}


def _entry(answer: Answer, folder: Path) -> tuple[Entry, list[str]]:
    figures, errors = [], []
    for name in answer.figures:
        problem = png_problem(folder / str(name))
        if problem is None:
            figures.append(folder / str(name))
        else:
            errors.append(f"figure {name} {problem}")
    rows = tuple(tuple(fmt.value(c) for c in row) for row in answer.table)
    errors += math_errors(answer.derivation) + math_errors(answer.text) + math_errors(answer.question)
    shown, code_errors = listings(answer.code)
    return Entry(question=answer.question, figures=tuple(figures), table=rows,
                 header=tuple(fmt.value(c) for c in answer.header or ()), text=answer.text, ids=tuple(answer.ids),
                 derivation=answer.derivation, code=shown), errors + code_errors


def _strings(x) -> list[str]:
    """A string or a list of strings as a list (None -> [])."""
    if not x:
        return []
    return [x] if isinstance(x, str) else [str(v) for v in x]


def math_errors(text: str) -> list[str]:
    """One line per `$...$` span that neither the text typesetter nor mathtext can draw (shown as written)."""
    return [f"mathematics ${span}$ not rendered: {formula.error(span)}" for span in texmath.formulas(text)
            if texmath.runs(span) is None and formula.error(span) is not None]


def png_problem(path: Path) -> str | None:
    """None for a whole, readable PNG file (the only format the PDF and HTML embed), else what is wrong."""
    try:
        with open(path, "rb") as f:
            if f.read(8) != b"\x89PNG\r\n\x1a\n":
                return "is not a PNG file"
        with Image.open(path) as image:
            image.verify()  # every chunk and its checksum, without decoding the pixels
    except FileNotFoundError:
        return f"not found in {path.parent}"
    except Exception as e:  # OSError, SyntaxError, PIL's own: a truncated or corrupt file
        return f"is not a readable PNG file ({type(e).__name__}: {e})"
    return None


def _is_row(row) -> bool:
    return isinstance(row, Sequence) and not isinstance(row, (str, bytes))


def _looks_like_header(table) -> bool:
    """A first row of >= 3 non-empty strings above other rows names the columns.

    Two-column tables are label/value pairs, whose first row is data.
    """
    if len(table) < 2 or not _is_row(table[0]) or len(table[0]) < 3:
        return False
    return all(isinstance(c, str) and c for c in table[0])


def _checks(module: ModuleType, metrics: dict, name: str) -> tuple[list[Check], list[str]]:
    raw, errors = _call(module, "checks", metrics)
    if raw is None:
        return [], errors
    if not _is_row(raw):
        return [], errors + [f"checks() returned {type(raw).__name__}, not a list of Checks"]
    checks = []
    for i, item in enumerate(raw):
        if isinstance(item, Mapping):  # the dict form, kept while experiments convert
            passed = item.get("passed")
            item = TypedCheck(check=str(item.get("check", f"check {i}")), reference=item.get("reference"),
                              measured=item.get("measured"), tolerance=item.get("tolerance", ""),
                              passed=None if passed is None else bool(passed))
        if not isinstance(item, TypedCheck):
            errors.append(f"checks() item {i} is {type(item).__name__}, not a Check")
            continue
        checks.append(Check(experiment=name, check=item.check, reference=fmt.value(item.reference),
                            measured=fmt.value(item.measured), tolerance=fmt.value(item.tolerance),
                            passed=item.passed))
    return checks, errors


def _shown_once(entries: Sequence[Entry]) -> list[Entry]:
    """A figure named by several questions is drawn at its first; later ones point back to it."""
    seen: set[Path] = set()
    out = []
    for e in entries:
        new = tuple(dict.fromkeys(p for p in e.figures if p not in seen))
        again = tuple(p.name for p in e.figures if p in seen)
        seen.update(new)
        out.append(dataclasses.replace(e, figures=new, see_above=again))
    return out


def _unreferenced_figures(folder: Path, named: set[Path]) -> tuple[list[Entry], list[str]]:
    """Every figure reaches the report: PNGs no entry names get an entry of their own (unreadable ones an error)."""
    rest, errors = [], []
    for path in sorted(folder.glob("*.png")):
        if path.resolve() in named:
            continue
        problem = png_problem(path)
        if problem is None:
            rest.append(path)
        else:
            errors.append(f"figure {path.name} {problem}")
    entry = Entry(question="Further figures from the run folder", figures=tuple(rest))
    return ([entry] if rest else []), errors


def _environment(sections: Sequence[Section]) -> dict:
    """The first run's environment; "differs in" names what other runs had otherwise.

    For example sweeps ask XLA for one CPU device per core: "device_count = 2: double_descent".
    """
    envs = [(s.name, s.environment) for s in sections if s.environment]
    if not envs:
        return {}
    first = dict(envs[0][1])
    diffs: dict[str, list[str]] = {}
    for name, env in envs[1:]:
        keys = sorted(set(env) | set(first))
        diff = ", ".join(f"{k} = {env.get(k, fmt.MISSING)}" for k in keys if env.get(k) != first.get(k))
        if diff:
            diffs.setdefault(diff, []).append(name)
    if diffs:
        first["differs in"] = "; ".join(f"{d}: {', '.join(names)}" for d, names in diffs.items())
    return first


def _mode(sections: Sequence[Section]) -> str:
    modes: dict[str, list[str]] = {}
    for s in sections:
        if s.mode:
            modes.setdefault(s.mode, []).append(s.name)
    if len(modes) <= 1:
        return next(iter(modes), "unknown")
    return "mixed: " + "; ".join(f"{m}: {', '.join(n)}" for m, n in modes.items())
