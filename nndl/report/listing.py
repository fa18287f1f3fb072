"""Code listings: the source of the functions an answer names, as it is when the report is built."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Sequence
from pathlib import Path

from nndl.report.model import Listing


def resolve(dotted: str):
    """The object a dotted name denotes: the longest importable module prefix, then attributes.

    Raises:
      ImportError, AttributeError: nothing by that name.
    """
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"no module in {dotted!r}")


def listing(dotted: str) -> Listing:
    """The source of the function or class `dotted`, as inspect.getsource reads it now (decorators unwrapped)."""
    obj = inspect.unwrap(resolve(dotted))
    source = inspect.getsource(obj)
    first = inspect.getsourcelines(obj)[1]
    path = Path(inspect.getsourcefile(obj) or "?")
    parts = path.parts
    top = next((k for k in range(len(parts) - 1, -1, -1) if parts[k] in ("nndl", "experiments")), None)
    where = "/".join(parts[top:]) if top is not None else path.name
    return Listing(name=dotted, source=source, where=f"{where}:{first}")


def listings(names: Sequence[str]) -> tuple[tuple[Listing, ...], list[str]]:
    """The listings of `names`, and an error line for each that cannot be shown."""
    out, errors = [], []
    for name in names:
        try:
            out.append(listing(name))
        except (ImportError, AttributeError, TypeError, OSError) as e:
            errors.append(f"code {name!r} not shown: {type(e).__name__}: {e}")
    return tuple(out), errors
