"""What an experiment hands the report: typed answers to sheet questions and typed checks.

An experiment's `report(metrics) -> list[Answer]` and `checks(metrics) -> list[Check]`
build these from its `metrics.json`; the report (collect -> PDF/HTML) formats them.
Columns are declared, never guessed: a table with named columns passes `header`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def _tuple(x) -> tuple:
    if x is None:
        return ()
    if isinstance(x, str):
        return (x,)
    return tuple(x)


@dataclass(frozen=True)
class Answer:
    """One sheet question answered.

    Attributes:
      question: the question in one line, as the section heading.
      ids: the sheet sub-questions it answers, as in nndl/report/questions.tsv ("001 CA1(d)").
      derivation: prose and display mathematics, one `$...$` per display line (text templates fill it).
      figures: PNG files in the run folder.
      table: rows of cells (numbers are formatted by the report); label/value pairs when `header` is None.
      header: column names of `table`, or None.
      text: the answer in words, generated from the numbers (text templates), with their uncertainty.
      code: dotted names of the functions whose source the report lists ("nndl.optim.scale_by_adam").
    """

    question: str
    ids: Sequence[str] = ()
    derivation: str = ""
    figures: Sequence[str] = ()
    table: Sequence[Sequence[Any]] = ()
    header: Sequence[str] | None = None
    text: str = ""
    code: Sequence[str] = ()

    def __post_init__(self):
        object.__setattr__(self, "ids", _tuple(self.ids))
        object.__setattr__(self, "figures", _tuple(self.figures))
        object.__setattr__(self, "code", _tuple(self.code))
        object.__setattr__(self, "table", tuple(tuple(r) if isinstance(r, (list, tuple)) else (r,)
                                                for r in (self.table or ())))
        if self.header is not None:
            object.__setattr__(self, "header", tuple(self.header))


@dataclass(frozen=True)
class Check:
    """One check: the measured value against an independent reference, within a tolerance a wrong result breaks.

    Attributes:
      check: what is compared ("‖W‖₂ = 1 after spectral normalisation").
      reference: the independent value (closed form, bound, library result).
      measured: the experiment's value.
      tolerance: how close is close enough and why, in words ("4 Monte Carlo s.e.").
      passed: the verdict.
    """

    check: str
    reference: Any
    measured: Any
    tolerance: str
    passed: bool = field(default=False)

    def __post_init__(self):
        object.__setattr__(self, "passed", bool(self.passed))
