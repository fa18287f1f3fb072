"""Text templates for report prose: named sections of a markdown-like file, filled with `{{field}}`s.

An experiment keeps its fixed prose and derivations in a template file beside
its module (`experiments/<name>.md`, later `experiments/<name>/report.md`).
The file is split into sections by lines `## key`; each section body is text
(LaTeX-style `$...$` mathematics allowed, rendered by matplotlib's mathtext)
with fields written `{{name}}` or `{{name:.3g}}` (a Python format spec) and
dotted paths into nested metrics, `{{more_data_hurts.difference_se:.2g}}`.
Single braces are left alone, so LaTeX like `\\frac{a}{b}` needs no escaping.
Which section to use (e.g. "significant" vs "no significant difference") is
chosen in Python from the numbers; the words live in the file.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

FIELD = re.compile(r"\{\{\s*([A-Za-z_][\w.\-]*)\s*(?::([^}]*))?\}\}")
HEADER = re.compile(r"^##\s+(\S.*?)\s*$")


class TemplateError(KeyError):
    """A template section or field that does not exist."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def parse(text: str) -> dict[str, str]:
    """Sections of a template text: `{key: body}` for each `## key` line (body stripped)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = HEADER.match(line)
        if match:
            key = match.group(1)
            if key in sections:
                raise TemplateError(f"template section {key!r} defined twice")
            current = sections[key] = []
        elif current is not None:
            current.append(line)
    return {k: "\n".join(v).strip() for k, v in sections.items()}


@functools.cache
def _load(path: str, mtime: float) -> dict[str, str]:
    del mtime  # part of the cache key only: an edited file is read again
    return parse(Path(path).read_text(encoding="utf-8"))


def load(path: str | Path) -> dict[str, str]:
    """The sections of the template file at `path`."""
    path = Path(path)
    return _load(str(path), path.stat().st_mtime)


def beside(module_file: str | Path, stem: str | None = None) -> dict[str, str]:
    """The template file next to a module: `foo.py` -> `foo.md` (or `<stem>.md` in the same folder)."""
    module_file = Path(module_file)
    return load(module_file.with_name(f"{stem or module_file.stem}.md"))


def lookup(fields: Mapping[str, Any], path: str) -> Any:
    """`fields["a"]["b"]` for the dotted path "a.b" (integer parts index lists)."""
    value: Any = fields
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, (list, tuple)) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            raise TemplateError(f"template field {path!r} is not in the metrics (no {part!r})")
    return value


def field_names(body: str) -> list[str]:
    """The dotted field paths a template body uses, in order of appearance."""
    return [m.group(1) for m in FIELD.finditer(body)]


def fill(body: str, fields: Mapping[str, Any]) -> str:
    """The body with every `{{path[:spec]}}` replaced by the formatted field.

    A value of None or NaN (a diverged or missing number) is written as "n/a" whatever the spec.

    Raises:
      TemplateError: a field is missing from `fields`.
    """
    def one(match: re.Match) -> str:
        value = lookup(fields, match.group(1))
        if value is None or (isinstance(value, float) and value != value):
            return "n/a"
        return format(value, match.group(2) or "")

    return FIELD.sub(one, body)


def render(sections: Mapping[str, str], key: str, fields: Mapping[str, Any]) -> str:
    """Section `key` of a loaded template, filled from `fields`."""
    if key not in sections:
        raise TemplateError(f"template has no section {key!r} (has: {', '.join(sections)})")
    return fill(sections[key], fields)
