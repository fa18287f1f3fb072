"""lipschitz figures, drawn from metrics and curves only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nndl.run.plotting import save_figure, subplots


def plot(metrics: dict, curves: dict, out: Path) -> None:
    """bounds.png and batchnorm.png in `out`."""
    save_figure(bounds_figure(metrics["per_depth"]), out / "bounds.png")
    save_figure(batchnorm_figure(metrics["batchnorm"], curves), out / "batchnorm.png")


def bounds_figure(per_depth: list[dict]):
    fig, ax = subplots(1, 1, width=6.0, height=4.5)
    a = ax[0, 0]
    depth = [r["depth"] for r in per_depth]
    a.plot(depth, [r["upper_bound"] for r in per_depth], "k-", lw=2, label="upper bound 2^L")
    a.plot(depth, [r["tight_example_estimate"] for r in per_depth], "o", ms=10, mfc="none", color="k",
           label="W1 = W2 = I: attains 2^L")
    a.plot(depth, [r["estimate_power_iteration"] for r in per_depth], "s-", label="max σ_max(J) (power iteration)")
    pairs = [np.nan if r["estimate_pair_search"] is None else r["estimate_pair_search"] for r in per_depth]  # diverged
    a.plot(depth, pairs, "^--", label="best ‖f(x)-f(y)‖/‖x-y‖ (pair search)")
    # linear L against log₂ Lip: the bound 2^L is a straight line of slope 1
    a.set_yscale("log", base=2)
    a.set_xticks(depth, [str(d) for d in depth])
    a.set(xlabel="number of residual blocks L", ylabel="Lipschitz constant (log₂ scale)",
          title="spectrally normalised ResNet: estimates vs bound")
    a.legend(loc="upper left", fontsize=9)
    return fig


def batchnorm_figure(bn: dict, curves: dict):
    fig, ax = subplots(1, 2, width=5.5)
    rows = bn["by_data_scale"]
    scale = [r["data_scale"] for r in rows]
    a = ax[0, 0]
    a.loglog(scale, [r["lipschitz_bound"] for r in rows], "o-", label="bound 1 + ‖W2‖ max γ/√(var+ε) ‖W1‖")
    a.loglog(scale, [r["estimate_power_iteration"] for r in rows], "s--", label="max σ_max(J) (power iteration)")
    a.axhline(2.0, color="k", lw=1, ls=":", label="bound 2 without BatchNorm")
    a.set(xlabel="std of the data that filled the running statistics", ylabel="Lipschitz constant, eval mode",
          title="eval-mode BN block: Lip grows as var shrinks")
    a.legend(loc="upper right", fontsize=8)
    b = ax[0, 1]
    k = np.arange(curves["bn_bound_history"].shape[1])
    for s, hist in zip(curves["bn_scales"], curves["bn_bound_history"]):
        b.semilogy(k, hist, label=f"data std {s:g}")
    b.set(xlabel=f"train-mode batches seen (momentum {bn['momentum']:g})", ylabel="Lipschitz bound, eval mode",
          title="the constant moves with the running statistics")
    b.legend(loc="upper left", fontsize=8)
    return fig
