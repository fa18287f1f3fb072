"""init figures, drawn from metrics and the saved curves only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nndl.run.plotting import save_figure, subplots


def plot_propagation(depth: dict, curves: dict, out: Path) -> None:
    """propagation.png: per-layer second moments (mean over networks) against c^l and c^(L-l), log scale."""
    fig, axes = subplots(1, 2, width=5.2)
    layers = np.arange(curves["forward_mean"].shape[1])
    panels = ((axes[0, 0], "forward", "activations: mean x_i^(l)^2", "theory c^l", "lower left"),
              (axes[0, 1], "backward", "gradients: mean (dE/dx_i^(l))^2", "theory c^(L-l)", "lower right"))
    for ax, direction, what, theory_label, corner in panels:
        measured, theory = curves[f"{direction}_mean"], curves[f"{direction}_theory"]
        for i, f in enumerate(depth["factor"]):
            ax.plot(layers, measured[i], lw=2, label=f"sigma^2 = {f:g} x 2/M (c = {f:g})")
            ax.plot(layers, theory[i], ls="--", lw=1, color="k")
        ax.plot([], [], "k--", lw=1, label=f"{theory_label}, c = M sigma^2 / 2")
        ax.set(yscale="log", xlabel="layer l", ylabel="second moment (mean over draws)", title=what)
        ax.legend(fontsize=8, loc=corner)
    save_figure(fig, out / "propagation.png")


def plot_smoothness(smooth: dict, curves: dict, out: Path) -> None:
    """smoothness_samples.png (sample initial functions) and smoothness.png (both measures against sigma^2)."""
    xs, sigma2s = curves["x"], curves["sigma2"]
    names = [k.removeprefix("samples_") for k in curves if k.startswith("samples_")]
    picks = [0, len(sigma2s) // 2, len(sigma2s) - 1]
    fig, axes = subplots(2, 3, width=4.2, height=3.2)
    for row, name in enumerate(names):
        for col, i in enumerate(picks):
            ax = axes[row, col]
            ax.plot(xs, curves[f"samples_{name}"][i].T, lw=1.2)
            ax.set(xlabel="x", ylabel="f(x) at initialisation", title=f"{name}, sigma^2 = {sigma2s[i]:.3g}")
    save_figure(fig, out / "smoothness_samples.png")

    fig, axes = subplots(1, 2, width=5.0)
    for name, marker in (("tanh", "o"), ("relu", "s")):
        axes[0, 0].plot(sigma2s, smooth[name]["roughness"], marker=marker, label=name)
        axes[0, 1].plot(sigma2s, smooth[name]["nonlinearity"], marker=marker, label=name)
    axes[0, 0].set(xscale="log", yscale="log", xlabel="sigma^2", ylabel="mean |f''(x)| on the grid",
                   title="Roughness (scales with the output too)")
    axes[0, 1].set(xscale="log", yscale="log", xlabel="sigma^2", ylabel="1 - R^2 of the best line",
                   title="Nonlinearity (scale-free)")
    axes[0, 0].legend(loc="upper left")
    axes[0, 1].legend(loc="lower right")
    save_figure(fig, out / "smoothness.png")
