"""Mathematics in report text: `$...$` spans, and simple TeX as styled Unicode text.

A paragraph may hold inline spans (`the step is $\\alpha\\,\\mathrm{sign}(g)$`); a
derivation line that is one span (`$\\hat m_1 = g$`) is display mathematics.

Most inline spans are simple (`$f_1$`, `$\\sigma^2 = 2/M$`, `$\\|W\\|_2 \\leq 1$`):
letters, digits, Greek, operators and one level of sub- or superscript. `runs`
writes those as Unicode text in the body font (italic letters, upright digits
and operators, lowered/raised scripts), which reads like mathtext's output (the
same DejaVu faces) and costs no parse. Anything else (fractions, roots, accents,
stacked scripts, \\left/\\right, calligraphic letters) is left to matplotlib's
mathtext (nndl/report/formula.py): `runs` returns None for it.
"""

from __future__ import annotations

import itertools
import re
from typing import NamedTuple

_DOLLAR = re.compile(r"(?<!\\)\$")
_TOKEN = re.compile(r"\\([A-Za-z]+) *|\\(.)|([_^{}])|(\s+)|(.)", re.S)

NBSP, THIN, MEDIUM, QUAD = "\u00a0", "\u2009", "\u2005", "\u2003"  # none of them is a line-break opportunity
SPACING = NBSP + THIN + MEDIUM + QUAD

_GREEK_NAMES = ("alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
                "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "varrho", "sigma", "tau", "upsilon", "phi", "varphi",
                "chi", "psi", "omega")
GREEK = dict(zip(_GREEK_NAMES, "αβγδϵεζηθϑικλμνξπρϱστυϕφχψω", strict=True))  # mathtext's choices (\epsilon: ϵ)
GREEK_UPPER = dict(zip(("Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"),
                       "ΓΔΘΛΞΠΣΥΦΨΩ", strict=True))
RELATIONS = {"leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠", "ne": "≠", "approx": "≈", "sim": "∼",
             "simeq": "≃", "equiv": "≡", "propto": "∝", "in": "∈", "notin": "∉", "subset": "⊂", "subseteq": "⊆",
             "to": "→", "rightarrow": "→", "leftarrow": "←", "gets": "←", "Rightarrow": "⇒", "Leftarrow": "⇐",
             "Leftrightarrow": "⇔", "iff": "⇔", "mapsto": "↦", "ll": "≪", "gg": "≫", "perp": "⊥", "mid": "|"}
BINARY = {"cdot": "⋅", "times": "×", "pm": "±", "mp": "∓", "circ": "∘", "cup": "∪", "cap": "∩", "ast": "∗",
          "setminus": "∖", "otimes": "⊗", "oplus": "⊕"}
SYMBOLS = {"infty": "∞", "partial": "∂", "nabla": "∇", "ell": "ℓ", "top": "⊤", "ldots": "…", "dots": "…",
           "cdots": "⋯", "forall": "∀", "exists": "∃", "emptyset": "∅", "prime": "′", "blacksquare": "■",
           "langle": "⟨", "rangle": "⟩", "lVert": "‖", "rVert": "‖", "|": "‖", "{": "{", "}": "}", "_": "_",
           "%": "%", "#": "#", "&": "&", "$": "$", "sum": "∑", "prod": "∏", "neg": "¬", "star": "⋆"}
SPACES = {",": THIN, ":": MEDIUM, ">": MEDIUM, ";": MEDIUM, "!": "", " ": NBSP, "quad": QUAD, "qquad": QUAD * 2}
FUNCTIONS = {"log", "exp", "ln", "sin", "cos", "tan", "tanh", "sinh", "cosh", "max", "min", "arg", "det", "dim", "sup",
             "inf", "lim", "deg", "ker", "sgn"}
FONTS = {"mathrm": "", "text": "", "textrm": "", "mathbf": "B", "textbf": "B", "mathit": "I", "boldsymbol": "BI"}
BLACKBOARD = {"R": "ℝ", "N": "ℕ", "Z": "ℤ", "Q": "ℚ", "C": "ℂ"}
RELATION_CHARS = "=<>:"
BINARY_CHARS = "+-"
PLAIN = "0123456789.()[]|/,;!?@\"' "


class Run(NamedTuple):
    """A piece of styled text: style "" (upright), "I" (italic), "B" or "BI"; vpos "", "SUB" or "SUP"."""

    text: str
    style: str = ""
    vpos: str = ""


def spans(text: str) -> list[tuple[bool, str]]:
    """`text` cut into (is_math, piece) at unescaped dollars; an odd number of dollars means no mathematics."""
    parts = _DOLLAR.split(text)
    if len(parts) % 2 == 0:
        return [(False, text)]
    return [(k % 2 == 1, p) for k, p in enumerate(parts) if p or k % 2 == 1]


def display(line: str) -> str | None:
    """The expression of a display line (the whole stripped line is one `$...$` or `$$...$$`), else None."""
    s = line.strip()
    if s.startswith("$$") and s.endswith("$$") and len(s) > 4:
        s = s[1:-1]
    if len(s) > 2 and s[0] == "$" and s[-1] == "$" and not _DOLLAR.search(s[1:-1]):
        return s[1:-1].strip()
    return None


def formulas(text: str) -> list[str]:
    """Every `$...$` expression in `text`, line by line, in order (display lines included)."""
    return [p for line in text.splitlines() for is_math, p in spans(line) if is_math]


def plain(text: str) -> str:
    """`text` in plain Unicode (bookmarks, table cells): simple spans with scripts as Unicode sub- and
    superscripts where they exist (`σ²`, else `σ^(2k)`), other spans as written without dollars."""
    out = []
    for is_math, piece in spans(text):
        found = runs(piece) if is_math else None
        if found is None:
            out.append(piece)
            continue
        for vpos, group in itertools.groupby(found, key=lambda r: r.vpos):  # a script's runs read as one
            out.append(_flat("".join(r.text for r in group), vpos))
    return "".join(out).replace(MEDIUM, " ").replace(THIN, " ")


_SCRIPTS = {"SUP": dict(zip("0123456789+−=()niTtk", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀᵗᵏ", strict=True)),
            "SUB": dict(zip("0123456789+−=()ijklmntx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ᵢⱼₖₗₘₙₜₓ", strict=True))}


def _flat(text: str, vpos: str) -> str:
    if not vpos:
        return text
    table = _SCRIPTS[vpos]
    if all(c in table for c in text):
        return "".join(table[c] for c in text)
    return ("^" if vpos == "SUP" else "_") + (text if len(text) == 1 else f"({text})")


def runs(expr: str) -> tuple[Run, ...] | None:
    """`expr` (TeX without dollars) as styled Unicode runs, or None when it needs mathtext.

    Examples: `f_1` -> ("f", "I"), ("1", "", "SUB"); `\\frac{a}{b}` -> None.
    """
    try:
        tokens = _tokens(expr)
        out = _Writer()
        _expression(tokens, 0, len(tokens), out, vpos="")
    except _NotSimple:
        return None
    return out.result()


class _NotSimple(Exception):
    pass


def _tokens(expr: str) -> list[tuple[str, str]]:
    """(kind, value): kind is "cmd", "sym" (a control symbol), "op" (_ ^ { }), "space" or "char"."""
    out = []
    for m in _TOKEN.finditer(expr):
        cmd, sym, op, space, char = m.groups()
        if cmd is not None:
            out.append(("cmd", cmd))
        elif sym is not None:
            out.append(("sym", sym))
        elif op is not None:
            out.append(("op", op))
        elif space is None:
            out.append(("char", char))
    return out


class _Writer:
    """Collects characters into runs, merging neighbours of the same style."""

    def __init__(self):
        self.pieces: list[list[str]] = []

    def add(self, text: str, style: str, vpos: str) -> None:
        if not text:
            return
        if self.pieces and self.pieces[-1][1:] == [style, vpos]:
            self.pieces[-1][0] += text
        else:
            self.pieces.append([text, style, vpos])

    def last_char(self) -> str:
        return self.pieces[-1][0][-1] if self.pieces else ""

    def result(self) -> tuple[Run, ...]:
        """The runs, without spacing at either end (a span that starts with a relation: `$\\leq 1$`)."""
        if self.pieces:
            self.pieces[0][0] = self.pieces[0][0].lstrip(SPACING)
            self.pieces[-1][0] = self.pieces[-1][0].rstrip(SPACING)
        return tuple(Run(t, s, v) for t, s, v in self.pieces if t)


def _group_end(tokens, i: int) -> int:
    """Index of the `}` closing the `{` at tokens[i]."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j] == ("op", "{"):
            depth += 1
        elif tokens[j] == ("op", "}"):
            depth -= 1
            if depth == 0:
                return j
    raise _NotSimple  # unbalanced: let mathtext report it


def _argument(tokens, i: int) -> tuple[int, int, int]:
    """(start, stop, next index) of the argument at tokens[i]: a {group} or one token."""
    if i >= len(tokens):
        raise _NotSimple
    if tokens[i] == ("op", "{"):
        end = _group_end(tokens, i)
        return i + 1, end, end + 1
    if tokens[i][0] == "op":
        raise _NotSimple
    return i, i + 1, i + 1


def _expression(tokens, start: int, stop: int, out: _Writer, vpos: str) -> None:
    i = start
    while i < stop:
        kind, value = tokens[i]
        if kind == "op" and value in "_^":
            if vpos:
                raise _NotSimple  # a script inside a script
            a, b, i = _argument(tokens, i + 1)
            if i < stop and tokens[i][0] == "op" and tokens[i][1] in "_^":
                raise _NotSimple  # stacked sub- and superscript
            _expression(tokens, a, b, out, vpos="SUB" if value == "_" else "SUP")
            continue
        if kind == "op" and value == "{":
            end = _group_end(tokens, i)
            _expression(tokens, i + 1, end, out, vpos)
            i = end + 1
            continue
        if kind == "op":
            raise _NotSimple
        if kind == "cmd" and value in FONTS:
            a, b, i = _argument(tokens, i + 1)
            _text(tokens[a:b], out, FONTS[value], vpos)
            continue
        if kind == "cmd" and value == "mathbb":
            a, b, i = _argument(tokens, i + 1)
            letters = "".join(v for _, v in tokens[a:b])
            if b - a != 1 or letters not in BLACKBOARD:
                raise _NotSimple
            out.add(BLACKBOARD[letters], "", vpos)
            continue
        if kind == "cmd" and value in FUNCTIONS:  # upright, a thin space before an argument without brackets
            follows = tokens[i + 1] if i + 1 < stop else ("op", "}")
            out.add(value + ("" if vpos or follows[0] == "op" or follows[1] in "([|" else THIN), "", vpos)
            i += 1
            continue
        _atom(kind, value, out, vpos)
        i += 1


def _text(tokens, out: _Writer, style: str, vpos: str) -> None:
    """The argument of \\mathrm and friends: letters, digits and spaces only."""
    for kind, value in tokens:
        if kind == "char" and (value.isalnum() or value in "-.,:'/()"):
            out.add(value, style, vpos)
        elif kind == "sym" and value == " ":
            out.add(NBSP, style, vpos)
        elif kind == "op" and value in "{}":
            continue
        elif kind == "cmd" and value in GREEK and style != "":
            out.add(GREEK[value], style, vpos)
        else:
            raise _NotSimple


def _atom(kind: str, value: str, out: _Writer, vpos: str) -> None:
    """One token outside font commands and scripts."""
    space = "" if vpos else MEDIUM
    if kind == "char":
        if value.isascii() and value.isalpha():
            out.add(value, "I", vpos)
        elif value in RELATION_CHARS:
            out.add(space + value + space, "", vpos)
        elif value in BINARY_CHARS:
            sign = "−" if value == "-" else value
            unary = vpos or out.last_char() in ("", "(", "[", "{", "|", ",") or out.last_char() in SPACING
            out.add(sign if unary else space + sign + space, "", vpos)
        elif value == "*":
            out.add("∗", "", vpos)
        elif value == "'":
            out.add("′", "", vpos)
        elif value == "~":
            out.add(NBSP, "", vpos)
        elif value in PLAIN:
            out.add(value + (THIN if value == "," and not vpos else ""), "", vpos)
        else:
            raise _NotSimple
    elif kind == "sym":
        if value in SPACES:
            out.add(SPACES[value], "", vpos)
        elif value in SYMBOLS:
            out.add(SYMBOLS[value], "", vpos)
        else:
            raise _NotSimple
    elif value in GREEK:
        out.add(GREEK[value], "I", vpos)
    elif value in GREEK_UPPER:
        out.add(GREEK_UPPER[value], "", vpos)
    elif value in RELATIONS:
        out.add(space + RELATIONS[value] + space, "", vpos)
    elif value in BINARY:
        out.add(space + BINARY[value] + space, "", vpos)
    elif value in SYMBOLS:
        out.add(SYMBOLS[value], "", vpos)
    elif value in SPACES:
        out.add(SPACES[value], "", vpos)
    else:
        raise _NotSimple
