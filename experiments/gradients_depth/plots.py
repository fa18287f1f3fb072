"""gradients_depth figures, drawn from metrics only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.lines import Line2D

from nndl.run.plotting import save_figure, subplots


def _axis(cases: list[dict], key: str) -> list:
    """The values of one grid axis, in the order the grid lists them."""
    return list(dict.fromkeys(c[key] for c in cases))


def plot(metrics: dict, out: Path) -> None:
    _norms_figure(metrics["cases"], out)
    _ratio_figure(metrics["cases"], out)


def _norms_figure(cases: list[dict], out: Path) -> None:
    colors = {d: f"C{i}" for i, d in enumerate(_axis(cases, "depth"))}
    dashes = dict(zip(_axis(cases, "init_scale"), ["-", "--", ":", "-."] * 4))
    names = _axis(cases, "activation")
    fig, axes = subplots(len(names), 2, width=5.2, height=3.4)
    for i, name in enumerate(names):
        for j, residual in enumerate((False, True)):
            ax = axes[i, j]
            for r in cases:
                if r["activation"] == name and r["residual"] == residual:
                    ax.plot(np.arange(1, r["depth"] + 1), r["grad_norms"], color=colors[r["depth"]],
                            ls=dashes[r["init_scale"]], lw=1.5)
            ax.set(yscale="log", xlabel="layer k", ylabel="||dE/dW^(k)||_F",
                   title=f"{name}, {'residual' if residual else 'plain'}")
    depth_handles = [Line2D([], [], color=c, label=f"L = {d}") for d, c in colors.items()]
    scale_handles = [Line2D([], [], color="k", ls=ls, label=f"scale {s:g}") for s, ls in dashes.items()]
    fig.legend(handles=depth_handles + scale_handles, loc="outside lower center",
               ncol=len(depth_handles) + len(scale_handles))
    save_figure(fig, out / "grad_norms.png")


def _ratio_figure(cases: list[dict], out: Path) -> None:
    names = _axis(cases, "activation")
    fig, axes = subplots(1, len(names), width=4.4)
    for i, name in enumerate(names):
        ax = axes[0, i]
        for k, scale in enumerate(_axis(cases, "init_scale")):
            for residual, marker in ((False, "o"), (True, "s")):
                pick = [r for r in cases if r["activation"] == name and r["init_scale"] == scale
                        and r["residual"] == residual]
                ax.plot([r["depth"] for r in pick], [r["ratio_first_last"] for r in pick], marker=marker,
                        color=f"C{k}", ls="--" if residual else "-",
                        label=f"scale {scale:g}, {'residual' if residual else 'plain'}")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set(yscale="log", xlabel="depth L", ylabel="||dE/dW^(1)|| / ||dE/dW^(L)||", title=name)
        ax.legend(fontsize=8, loc="best")
    save_figure(fig, out / "ratio_vs_depth.png")
