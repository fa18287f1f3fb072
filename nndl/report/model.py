"""The report's content as plain frozen dataclasses: what collect builds and renderers draw."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Listing:
    """The source of one function or class, read with inspect.getsource when the report is built."""

    name: str  # dotted name, "nndl.optim.scale_by_adam"
    source: str
    where: str  # "nndl/optim.py:42"


@dataclass(frozen=True)
class Entry:
    """One sheet question answered: its derivation, figures, a table of key numbers, generated text and code.

    `ids` name the sheet sub-questions it answers ("000 §2(a)"); `derivation` is
    lines of prose and display mathematics (a line that is one `$...$`).
    """

    question: str
    figures: tuple[Path, ...] = ()
    see_above: tuple[str, ...] = ()  # figures already shown earlier in the section
    table: tuple[tuple[str, ...], ...] = ()  # formatted cells, data rows only
    header: tuple[str, ...] = ()  # column names of `table` (none: label/value rows)
    text: str = ""
    ids: tuple[str, ...] = ()
    derivation: str = ""
    code: tuple[Listing, ...] = ()


@dataclass(frozen=True)
class Question:
    """One sub-question of a sheet, from the master list (nndl/report/questions.tsv)."""

    sheet: str  # "000"
    id: str  # "§2(a)", as the sheet numbers it
    question: str  # one line, in the sheet's words

    @property
    def key(self) -> str:
        """How entries name it: "000 §2(a)"."""
        return f"{self.sheet} {self.id}"


@dataclass(frozen=True)
class Check:
    """One row of the front page's checks table (cells already formatted)."""

    experiment: str
    check: str
    reference: str
    measured: str
    tolerance: str
    passed: bool | None


@dataclass(frozen=True)
class Section:
    """One experiment: its run status, answered questions and checks.

    `status` is "ok", "failed" (the run raised) or "missing" (no finished run
    folder); `errors` holds one line per problem met while reading it.
    """

    name: str
    summary: str
    sheet: str
    status: str
    wall_time_s: float | None = None
    mode: str | None = None
    errors: tuple[str, ...] = ()
    entries: tuple[Entry, ...] = ()
    checks: tuple[Check, ...] = ()
    environment: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    """Everything the PDF and the HTML page show."""

    sections: tuple[Section, ...]
    environment: dict
    mode: str
    total_wall_s: float | None
    total_note: str
    created: str
    questions: tuple[Question, ...] = ()  # every sheet sub-question, for the coverage table

    @property
    def checks(self) -> tuple[Check, ...]:
        return tuple(c for s in self.sections for c in s.checks)
