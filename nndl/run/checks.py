"""One row of an experiment's `checks(metrics)` list, in the shape the hand-in report reads."""

from __future__ import annotations

from typing import Any


def check(name: str, reference: Any, measured: Any, tolerance: str, passed: bool) -> dict:
    """A check row: what is compared, the reference and measured values, the tolerance and the verdict.

    Args:
      name: what is checked, e.g. "‖W‖₂ = 1 after spectral normalisation".
      reference: the independent value (closed form, bound, library result).
      measured: the experiment's value.
      tolerance: how close is close enough, and why, in words.
      passed: the verdict (converted to a plain bool for JSON).

    Returns:
      `{"check", "reference", "measured", "tolerance", "passed"}`.
    """
    return {"check": name, "reference": reference, "measured": measured, "tolerance": tolerance,
            "passed": bool(passed)}
