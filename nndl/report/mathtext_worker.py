"""mathtext layouts as plain lists, in this process or in a helper process started by path.

`python -P nndl/report/mathtext_worker.py` reads `[fontset, family, size, dpi, [tex, ...]]`
as JSON on stdin and writes `{tex: layout or {"error": message}}` as JSON on stdout.
Run by path it imports matplotlib only (not the nndl package, whose import pulls in
JAX), so a few of these start fast and lay out a report's formulas side by side; -P
keeps this folder off sys.path (its html.py would shadow the standard library's).
A layout is `[width, height, depth, glyphs, rules]` in points: glyphs
`[font file, size, character, x, y up from the baseline]`, rules `[x, y, w, h]`.
"""

from __future__ import annotations

import json
import sys

import matplotlib
from matplotlib.font_manager import FontProperties
from matplotlib.mathtext import MathTextParser


def lay_out(exprs, fontset: str, family: str, size: float, dpi: float) -> dict:
    """{tex: layout, or {"error": the parser's message in one line}} for each `$tex$`."""
    matplotlib.rcParams["mathtext.fontset"] = fontset
    parser = MathTextParser("path")
    prop = FontProperties(family=family, size=size)
    px = 72.0 / dpi  # points per pixel
    out = {}
    for expr in exprs:
        try:
            parsed = parser.parse(f"${expr}$", dpi=dpi, prop=prop)
        except ValueError as e:
            out[expr] = {"error": " ".join(str(e).split())}
            continue
        depth = float(parsed.depth) * px
        out[expr] = [float(parsed.width) * px, float(parsed.height) * px - depth, depth,
                     [[str(font.fname), float(fsize), chr(num), float(x) * px, float(y) * px]
                      for font, fsize, num, _index, x, y in parsed.glyphs],
                     [[float(v) * px for v in rect] for rect in parsed.rects]]
    return out


def main() -> None:
    fontset, family, size, dpi, exprs = json.load(sys.stdin)
    json.dump(lay_out(exprs, fontset, family, size, dpi), sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
