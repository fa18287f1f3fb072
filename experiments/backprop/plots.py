"""backprop figures, drawn from results only: FLOP counts against XLA's, and seed 002's training loss."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nndl.run.plotting import save_figure, subplots


def flops_figure(rows: list[dict]):
    """Analytic vs XLA FLOPs per pass (log-log) and the backward/forward ratio per size, from the `flops` rows."""
    fig, axes = subplots(1, 2, width=5.4)
    ax = axes[0, 0]
    for key, marker, label in (("forward", "o", "forward"), ("backward", "s", "backward")):
        ax.scatter([r[f"{key}_analytic"] for r in rows], [r[f"{key}_xla"] for r in rows], marker=marker,
                   label=label, zorder=3)
    lo = min(min(r["forward_analytic"], r["forward_xla"]) for r in rows)
    hi = max(max(r["backward_analytic"], r["backward_xla"]) for r in rows)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="XLA = analytic")
    ax.set(xscale="log", yscale="log", xlabel="analytic FLOPs", ylabel="XLA cost_analysis FLOPs",
           title="FLOP counts: analytic vs XLA")
    ax.legend(loc="upper left")
    ax = axes[0, 1]
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["ratio_analytic"] for r in rows], 0.4, label="analytic")
    ax.bar(x + 0.2, [r["ratio_xla"] for r in rows], 0.4, label="XLA")
    ax.axhline(2.0, color="k", ls="--", lw=1, label="2")
    ax.set_xticks(x, [f"{r['I']},{r['O']},{r['K']},{r['L']},{r['batch']}" for r in rows], rotation=20)
    ax.set(xlabel="(I, O, K, L, batch)", ylabel="backward / forward FLOPs", title="Cost of the backward pass",
           ylim=(0, 2.8))
    ax.legend(loc="upper center", ncol=3)  # one row above the bars and the line at 2
    return fig


def loss_figure(history: np.ndarray, seed002: dict):
    """Seed 002's full-batch loss before every SGD step and after the last, on a log axis."""
    fig, axes = subplots(1, 1)
    ax = axes[0, 0]
    ax.plot(np.arange(history.size), history)
    sizes = seed002["sizes"]
    title = f"Seed 002 net {sizes['n']}->{sizes['d']}->{sizes['K']}, lr {seed002['lr']:g}"
    if seed002.get("diverged"):  # the curve stops where the loss stops being finite
        ax.axvline(seed002["diverged_step"], color="C3", ls="--", label=f"diverged at step {seed002['diverged_step']}")
        ax.legend()
        title += ": diverged"
    ax.set(yscale="log", xlabel="SGD step (full batch, gradient by hand)", ylabel="mean ||yhat - y||^2", title=title)
    return fig


def plot(metrics: dict, out: Path, *, history: np.ndarray) -> None:
    """flops.png from the FLOP table and seed002_loss.png from seed 002's loss history (steps + 1,)."""
    save_figure(loss_figure(history, metrics["seed002"]), out / "seed002_loss.png")
    save_figure(flops_figure(metrics["flops"]), out / "flops.png")
