"""Flags generated from an experiment's config: one typed `--key` per `get_config()` key, bounds declared once.

An experiment declares, for the keys that need more than their default's type, a `Key` (help text,
inclusive bounds, choices, whether None is allowed); every key of `get_config()` then gets a flag:

- the type comes from the quick default (int, float, str, bool; a list of ints or floats);
- ints accept `7`, lists of ints `10,50,100` or `start:stop[:step]` (stop inclusive), lists of
  floats `0.02,0.04`; a None default needs `Key(kind=...)` and accepts `none`;
- every integer is checked against [-2^31, 2^31 - 1] unless the key declares tighter bounds, because
  the sweep engine carries integers as int32: a larger value would wrap silently;
- a structured value (e.g. a list of size tuples) declares its own `Key(parse=...)`;
- the help shows both the --quick and the --full default.

A value outside its bounds is a user error: argparse reports "argument --epochs: must be an integer in
[1, 1000000], got 4294967297" and the CLI exits 2 with that one line.
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


class _NoneValue:
    """What an optional flag parses `none` to (None itself means "flag not given")."""

    def __repr__(self) -> str:
        return "NONE"


NONE = _NoneValue()
MAX_LIST = 100_000  # a list flag longer than this is refused before it is built (e.g. 2:1000000000)


@dataclass(frozen=True)
class Key:
    """How one config key is set from the command line.

    Attributes:
      help: one line for --help.
      lo, hi: inclusive bounds for a number or for each item of a list (None: the type's own range).
      positive: a float must be > 0 (an exclusive bound, e.g. learning rates).
      choices: allowed values of a str key.
      kind: int, float, str or bool, where the default (None or an empty list) does not say.
      optional: the value may be None, written `none`.
      unique: a list must not repeat a value.
      flag: the flag's name where it differs from `--key-with-dashes`.
      hidden: no flag (a derived or internal key); use sparingly.
      parse: text -> value for a structured key (raising argparse.ArgumentTypeError); it then checks its own
        bounds, and the default's type is not inferred.
      why: the reason for the bounds, appended to an out-of-range message ("... in [1, 100] (why), got 500").
    """

    help: str = ""
    lo: float | None = None
    hi: float | None = None
    positive: bool = False
    choices: tuple = ()
    kind: type | None = None
    optional: bool = False
    unique: bool = False
    flag: str | None = None
    hidden: bool = False
    parse: Callable[[str], Any] | None = None
    why: str = ""


def _bounds_text(kind: type, key: Key) -> str:
    lo = key.lo if key.lo is not None else (INT32_MIN if kind is int else None)
    hi = key.hi if key.hi is not None else (INT32_MAX if kind is int else None)
    if kind is float and key.positive:
        return f"a number > 0{'' if hi is None else f' and <= {hi:g}'}"
    what = "an integer" if kind is int else "a number"
    if lo is None and hi is None:
        return f"a finite {what[2:] if what.startswith('a ') else what}"
    if hi is None:
        return f"{what} >= {lo:g}"
    if lo is None:
        return f"{what} <= {hi:g}"
    return f"{what} in [{lo:g}, {hi:g}]"


def scalar_parser(kind: type, key: Key) -> Callable[[str], Any]:
    """text -> value of `kind` within the key's bounds; raises argparse.ArgumentTypeError with one clear line."""

    def parse(text: str):
        text = text.strip()
        if key.optional and text.lower() == "none":
            return NONE
        if kind is str:
            if key.choices and text not in key.choices:
                raise argparse.ArgumentTypeError(f"must be one of {', '.join(map(str, key.choices))}, got {text!r}")
            return text
        if kind is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise argparse.ArgumentTypeError(f"must be true or false, got {text!r}")
        try:
            value = int(text) if kind is int else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {_bounds_text(kind, key)}, got {text!r}") from None
        lo = key.lo if key.lo is not None else (INT32_MIN if kind is int else -math.inf)
        hi = key.hi if key.hi is not None else (INT32_MAX if kind is int else math.inf)
        bad = (not math.isfinite(value)) or value < lo or value > hi or (key.positive and value <= 0)
        if bad:
            why = f" ({key.why})" if key.why else ""
            raise argparse.ArgumentTypeError(f"must be {_bounds_text(kind, key)}{why}, got {text}")
        return value

    return parse


def list_parser(kind: type, key: Key) -> Callable[[str], list]:
    """`a,b,c` (and for ints `start:stop[:step]`, stop inclusive) with every item checked as a scalar."""
    item = scalar_parser(kind, Key(lo=key.lo, hi=key.hi, positive=key.positive, choices=key.choices, why=key.why))

    def parse(text: str) -> list:
        text = text.replace(" ", "")
        if kind is int and ":" in text:
            fields = text.split(":")
            if len(fields) not in (2, 3):
                raise argparse.ArgumentTypeError(f"{text!r} is not start:stop[:step]")
            start, stop = item(fields[0]), item(fields[1])
            step = scalar_parser(int, Key(lo=1))(fields[2]) if len(fields) == 3 else 1
            if stop < start:
                raise argparse.ArgumentTypeError(f"{text!r}: stop {stop} < start {start}")
            if (stop - start) // step + 1 > MAX_LIST:
                raise argparse.ArgumentTypeError(f"{text!r} has {(stop - start) // step + 1} values; at most "
                                                 f"{MAX_LIST}")
            values = list(range(start, stop + 1, step))
        else:
            parts = [p for p in text.split(",") if p]
            if not parts:
                raise argparse.ArgumentTypeError("empty list")
            if len(parts) > MAX_LIST:
                raise argparse.ArgumentTypeError(f"{len(parts)} values; at most {MAX_LIST}")
            values = [item(p) for p in parts]
        if key.unique and len(set(values)) != len(values):
            raise argparse.ArgumentTypeError(f"has repeated values: {text}")
        return values

    return parse


def rows_parser(fields: Mapping[str, Key]) -> Callable[[str], list[list]]:
    """`a,b,c;a,b,c;...`: rows of len(fields) values, each checked by its field's Key (an int unless the Key
    declares choices or a kind), for a `Key(parse=...)` such as sizes I,O,K,L,B."""
    names = ",".join(fields)
    items = [(name, scalar_parser(key.kind or (str if key.choices else int), key)) for name, key in fields.items()]

    def parse(text: str) -> list[list]:
        rows = []
        for part in (p for p in text.replace(" ", "").split(";") if p):
            values = part.split(",")
            if len(values) != len(items):
                raise argparse.ArgumentTypeError(f"{part!r} is not {names} ({len(items)} values)")
            row = []
            for (name, item), value in zip(items, values):
                try:
                    row.append(item(value))
                except argparse.ArgumentTypeError as e:
                    raise argparse.ArgumentTypeError(f"{name} of {part!r} {e}") from None
            rows.append(row)
        if not rows:
            raise argparse.ArgumentTypeError(f"empty list of {names}")
        if len(rows) > MAX_LIST:
            raise argparse.ArgumentTypeError(f"{len(rows)} rows; at most {MAX_LIST}")
        return rows

    return parse


def _kind_of(name: str, default: Any, key: Key) -> tuple[type, bool]:
    """(item type, is_list) of a config key, from its default or its Key."""
    if isinstance(default, (list, tuple)):
        kinds = {type(v) for v in default}
        kind = key.kind or (float if kinds and kinds <= {int, float} and float in kinds else
                            kinds.pop() if len(kinds) == 1 else None)
        if kind not in (int, float, str):
            raise TypeError(f"config key {name!r}: give Key(kind=...) for the list default {default!r}")
        return kind, True
    kind = key.kind or (type(default) if default is not None else None)
    if kind not in (int, float, str, bool):
        raise TypeError(f"config key {name!r}: cannot make a flag for {default!r}; declare Key(kind=...) or "
                        f"Key(hidden=True)")
    return kind, False


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (list, tuple)) for v in value):
        text = ";".join(",".join(map(str, v)) for v in value)  # e.g. sizes I,O,K,L,B;...
        return text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, (list, tuple)):
        v = list(value)
        if len(v) > 4 and all(isinstance(x, int) for x in v):
            steps = {b - a for a, b in itertools.pairwise(v)}
            if len(steps) == 1:
                return f"{v[0]}:{v[-1]}:{steps.pop()}"
        text = ",".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v)
        return text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, float):
        return f"{value:g}"
    return "none" if value is None else str(value)


def add_config_flags(parser: argparse.ArgumentParser, quick: Mapping[str, Any], full: Mapping[str, Any],
                     keys: Mapping[str, Key], skip: tuple[str, ...] = ("seed",)) -> list[str]:
    """Adds one flag per key of the quick config (dest = the key, default None so the mode's value stays).

    Returns the flags added. Raises TypeError (a developer error) for a key whose type cannot be inferred and
    KeyError for a declared key that is not in the config.
    """
    unknown = set(keys) - set(quick)
    if unknown:
        raise KeyError(f"flag declarations for keys not in get_config(): {sorted(unknown)}")
    added = []
    for name, default in quick.items():
        key = keys.get(name, Key())
        if name in skip or key.hidden:
            continue
        kind, is_list = (None, False) if key.parse is not None else _kind_of(name, default, key)
        flag = key.flag or "--" + name.replace("_", "-")
        shown = (f"quick: {_show(default)}; full: {_show(full[name])}" if full.get(name, default) != default
                 else f"default {_show(default)}")
        text = f"{key.help} ({shown})".strip().replace("%", "%%")  # argparse %-formats help strings
        if key.parse is not None:
            parser.add_argument(flag, dest=name, type=key.parse, default=None, metavar=name.upper(), help=text)
        elif kind is bool and not is_list:
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction, default=None,
                                help=text)
        else:
            parse = list_parser(kind, key) if is_list else scalar_parser(kind, key)
            parser.add_argument(flag, dest=name, type=parse, default=None, metavar=name.upper(), help=text)
        added.append(flag)
    return added
