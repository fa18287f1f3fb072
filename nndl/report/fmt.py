"""Compact text for report tables: 4 significant digits, abbreviated lists, durations."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

MISSING = "n/a"  # metrics.json stores a non-finite value as null


def value(x: object, *, max_items: int = 4) -> str:
    """One table cell: floats to 4 significant digits, long lists and dicts abbreviated.

    Args:
      x: a JSON-like value (None, bool, int, float, str, list, dict) or anything with a str().
      max_items: lists and dicts longer than this show their first items, an ellipsis and the length.

    Returns:
      The cell text.
    """
    if x is None:
        return MISSING
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.4g}" if math.isfinite(x) else str(x)
    if isinstance(x, str):
        return x
    if isinstance(x, Mapping):
        items = [f"{k}: {value(v, max_items=2)}" for k, v in list(x.items())[:max_items]]
        return "{" + ", ".join(items) + (f", … ({len(x)} keys)" if len(x) > max_items else "") + "}"
    if isinstance(x, Sequence):
        return _sequence(list(x), max_items)
    if hasattr(x, "tolist"):  # numpy scalars and arrays
        return value(x.tolist(), max_items=max_items)
    return str(x)


def _sequence(items: list, max_items: int) -> str:
    if len(items) <= max_items:
        return "[" + ", ".join(value(v, max_items=2) for v in items) + "]"
    head = ", ".join(value(v, max_items=2) for v in items[: max_items - 1])
    return f"[{head}, …, {value(items[-1], max_items=2)}] ({len(items)} items)"


def verdict(passed: bool | None) -> str:
    """'pass', 'FAIL' or '?' for a check's `passed` field."""
    return "?" if passed is None else ("pass" if passed else "FAIL")


def seconds(s: float | None) -> str:
    """A wall time: '8.3 s', '4 min 05 s'; 'n/a' when unknown."""
    if s is None or not math.isfinite(s):
        return MISSING
    if s < 60:
        return f"{s:.1f} s"
    minutes, rest = divmod(round(s), 60)
    return f"{minutes} min {rest:02d} s"
