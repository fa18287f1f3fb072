"""The coverage table: every sheet sub-question, the page that answers it and how (from the entries' keys)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

from nndl.report.model import Entry, Question, Report

QUESTIONS = Path(__file__).with_name("questions.tsv")
NOT_ANSWERED = "not answered"
HOW_ORDER = ("derivation", "computation", "figure", "code", "text")


def parse_questions(text: str) -> tuple[Question, ...]:
    """Rows `sheet<TAB>id<TAB>question` (blank lines and `#` comments skipped).

    Raises:
      ValueError: a row without three fields, or a sheet/id pair listed twice.
    """
    questions, seen = [], set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not all(f.strip() for f in fields):
            raise ValueError(f"questions line {n}: expected sheet<TAB>id<TAB>question, got {line!r}")
        q = Question(*(f.strip() for f in fields))
        if q.key in seen:
            raise ValueError(f"questions line {n}: {q.key} listed twice")
        seen.add(q.key)
        questions.append(q)
    return tuple(questions)


@functools.cache
def master_list() -> tuple[Question, ...]:
    """The sub-questions of the five sheets, in sheet order."""
    return parse_questions(QUESTIONS.read_text(encoding="utf-8"))


def how(entry: Entry) -> tuple[str, ...]:
    """How an entry answers, from what it holds: derivation, computation (a table), figure, code; text alone."""
    kinds = {"derivation": bool(entry.derivation), "computation": bool(entry.table),
             "figure": bool(entry.figures or entry.see_above), "code": bool(entry.code)}
    found = tuple(k for k, present in kinds.items() if present)
    return found or (("text",) if entry.text else ())


def answers(report: Report) -> dict[str, list[tuple[str, int, Entry]]]:
    """For every sub-question key, the (section name, entry index, entry) that name it, in report order."""
    out: dict[str, list[tuple[str, int, Entry]]] = {}
    for section in report.sections:
        for j, entry in enumerate(section.entries):
            for key in entry.ids:
                out.setdefault(key, []).append((section.name, j, entry))
    return out


def rows(report: Report, entry_pages: Mapping[tuple[str, int], int] | None = None) -> list[dict]:
    """One dict per sub-question of the master list: sheet, id, question, page (or None), how, where.

    Args:
      report: the collected report (its `questions` and sections).
      entry_pages: 1-based PDF page of each (section name, entry index); pages are None without it.

    Returns:
      Rows in master-list order; "how" joins the kinds of every answering entry with "+",
      or is "not answered"; "where" lists the (section, entry index) pairs.
    """
    found = answers(report)
    out = []
    for q in report.questions:
        hits = found.get(q.key, [])
        kinds = {k for _, _, e in hits for k in how(e)}
        pages = [entry_pages[(s, j)] for s, j, _ in hits if entry_pages and (s, j) in entry_pages]
        out.append({"sheet": q.sheet, "id": q.id, "question": q.question,
                    "page": min(pages) if pages else None,
                    "how": "+".join(k for k in HOW_ORDER if k in kinds) if hits else NOT_ANSWERED,
                    "where": [[s, j] for s, j, _ in hits]})
    return out


def unknown_ids(ids: Sequence[str], questions: Sequence[Question]) -> list[str]:
    """The ids that name no sub-question of the master list."""
    known = {q.key for q in questions}
    return [i for i in ids if i not in known]
