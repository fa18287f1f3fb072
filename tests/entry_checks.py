"""Checks of report entries and their templates: fields filled, mathematics parses, ids and code listings valid.

Once the report package's master list (`nndl.report.coverage.master_list`) is present, ids are checked
against it; until then against the id pattern of the sheets ("004 Q4(c)", "003 4.2(a.1)", "002 logistic").
"""

from __future__ import annotations

import importlib
import inspect
import re

from matplotlib.mathtext import MathTextParser

from nndl import templates

ID = re.compile(r"^00[0-4] \S+$")
_DOLLAR = re.compile(r"(?<!\\)\$")
_PARSER = MathTextParser("path")


def known_ids() -> set[str] | None:
    try:
        from nndl.report import coverage
    except ImportError:
        return None
    master = getattr(coverage, "master_list", None)
    return None if master is None else {q.key for q in master()}


def math_spans(text: str) -> list[str]:
    """The `$...$` spans of a text; asserts the dollars pair up."""
    parts = _DOLLAR.split(text)
    assert len(parts) % 2 == 1, f"unbalanced $ in: {text[:120]!r}"
    return parts[1::2]


def assert_math_parses(text: str) -> None:
    for span in math_spans(text):
        try:
            _PARSER.parse(f"${span}$", dpi=72)
        except ValueError as e:
            raise AssertionError(f"mathtext cannot parse ${span}$: {' '.join(str(e).split())}") from None


def resolve(name: str):
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def check_entries(entries: list[dict]) -> None:
    """Every entry has the report keys, no unfilled field, parsable mathematics, valid ids and code names."""
    known = known_ids()
    for entry in entries:
        assert {"question", "figures", "table", "text", "ids", "derivation", "code"} <= set(entry), entry.keys()
        for key in ("question", "text", "derivation"):
            value = entry[key]
            assert isinstance(value, str) and "{{" not in value, f"{entry['question']}: unfilled {key}"
            assert_math_parses(value)
        assert entry["ids"] and all(ID.match(i) for i in entry["ids"]), entry["ids"]
        if known is not None:
            assert set(entry["ids"]) <= known, entry["ids"]
        for name in entry["code"]:
            assert inspect.getsource(inspect.unwrap(resolve(name)))


def check_template(sections: dict[str, str], fields: dict, per_section: dict[str, dict] | None = None) -> None:
    """Every section of a template: its fields exist, and its mathematics parses once filled.

    Sections are filled from `fields`, or from `per_section[prefix]` for keys starting with a prefix
    (sentences rendered once per axis or per item, from fields of their own).
    """
    per_section = per_section or {}
    for key, body in sections.items():
        own = next((f for prefix, f in per_section.items() if key.startswith(prefix)), fields)
        for name in templates.field_names(body):
            templates.lookup(own, name)  # raises TemplateError naming the missing field
        assert_math_parses(templates.fill(body, own))
