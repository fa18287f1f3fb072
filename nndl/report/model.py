"""The report's content as plain frozen dataclasses: what collect builds and renderers draw."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """One sheet question answered: its figures, a table of key numbers, generated text."""

    question: str
    figures: tuple[Path, ...] = ()
    see_above: tuple[str, ...] = ()  # figures already shown earlier in the section
    table: tuple[tuple[str, ...], ...] = ()
    header: bool = False  # the first table row names the columns
    text: str = ""


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

    @property
    def checks(self) -> tuple[Check, ...]:
        return tuple(c for s in self.sections for c in s.checks)
