"""implicit_reg figures, drawn from metrics and curves (the arrays of curves.npz) only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter

from nndl.run.plotting import placeholder, save_figure, subplots


def plot(m: dict, curves: dict, out: Path) -> None:
    convergence(m, curves, out)
    if m["kept_lrs"]:
        gradient_norms(m, curves, out)
    else:
        placeholder(out / "gradient_norms.png", "no learning rate converged often enough (diverged or too slow): "
                                                "nothing to plot")
    if m["weight_decay"]["best"] is not None:
        weight_decay(m, out)
    else:
        placeholder(out / "weight_decay.png", "every weight-decay run diverged: nothing to plot")


def _label(m: dict, lr: float, i: int) -> str:
    """A learning rate's legend entry: its converged share, and how many of its runs diverged."""
    diverged = m["diverged_runs"][i]
    return (f"μ = {lr:g} ({m['converged_fraction'][i]:.0%} converged"
            + (f", {diverged} diverged: flat after it)" if diverged else ")"))


def convergence(m: dict, curves: dict, out: Path) -> None:
    fig, ax = subplots(width=6.5, height=4.2)
    ax = ax[0, 0]
    for i, lr in enumerate(m["lrs"]):
        sel = np.isclose(curves["lr"], lr)
        for j, curve in enumerate(curves["train"][sel]):
            ax.loglog(curves["epochs"], curve, color=f"C{i}", alpha=0.6, lw=1,
                      label=_label(m, lr, i) if j == 0 else None)
    ax.axhline(m["stop_loss"], color="gray", ls=":", lw=1, label=f"target MSE {m['stop_loss']:g}")
    ax.set(xlabel="epoch", ylabel="training MSE (full data)",
           title=f"(b) SGD, {m['depth']}×{m['width']} ReLU, B = {m['batch_size']}, {m['n_runs']} runs per μ")
    ax.legend(fontsize=8)
    save_figure(fig, out / "convergence.png")


def gradient_norms(m: dict, curves: dict, out: Path) -> None:
    kept = [m["lrs"].index(lr) for lr in m["kept_lrs"]]
    lrs = np.asarray(m["lrs"], float)[kept]
    fig, axes = subplots(1, 2, width=4.6, height=4.0)
    a = axes[0, 0]
    for key, marker, label in (("grad_norm_sq", "o", r"$\|\nabla J\|^2$"),
                               ("minibatch_grad_var", "s", r"$\frac{1}{N_b}\sum_b\|\nabla J_b-\nabla J\|^2$")):
        mean = np.asarray(m[key], float)[kept]
        se = np.asarray(m[key + "_se"], float)[kept]
        a.errorbar(lrs, mean, yerr=2 * np.nan_to_num(se), fmt=marker + "-", capsize=3, label=label)
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xticks(lrs, [f"{lr:g}" for lr in lrs])
    a.xaxis.set_minor_formatter(NullFormatter())  # no crowded 2x10^-2, 3x10^-2 ... labels
    a.set(xlabel="learning rate μ", ylabel="at the converged parameters (± 2 s.e.)",
          title="(c) μ vs final gradient norms")
    a.legend(fontsize=8)
    b = axes[0, 1]
    conv = np.asarray(curves["converged"], bool)
    for i, lr in enumerate(m["lrs"]):
        if lr not in m["kept_lrs"]:
            continue
        sel = conv & np.isclose(curves["lr"], lr)
        b.loglog(curves["minibatch_grad_var"][sel], curves["test_loss"][sel], "o", color=f"C{i}", label=f"μ = {lr:g}")
        b.loglog(curves["grad_norm_sq"][sel], curves["test_loss"][sel], "x", color=f"C{i}")
    b.set(xlabel="o: minibatch variance, x: ‖∇J‖²", ylabel="test MSE (converged runs)",
          title="(c) test error vs gradient norms")
    b.legend(fontsize=8)
    save_figure(fig, out / "gradient_norms.png")


def weight_decay(m: dict, out: Path) -> None:
    wd = m["weight_decay"]
    fig, ax = subplots(width=6.5, height=3.8)
    ax = ax[0, 0]
    for i, lr in enumerate(m["lrs"]):
        rows = [r for r in wd["grid"] if r["lr"] == lr]
        lost = sum(r["val_loss"] is None for r in rows)
        val = [np.nan if r["val_loss"] is None else r["val_loss"] for r in rows]
        ax.errorbar([r["weight_decay"] for r in rows], val,
                    yerr=[2 * (r["val_loss_se"] or 0) for r in rows], fmt="o-", capsize=2, color=f"C{i}",
                    label=f"μ = {lr:g}" + (f" (diverged at {lost} of {len(rows)} λ: gaps)" if lost else ""))
    if wd["best"] is not None:
        ax.plot(wd["best"]["weight_decay"], wd["best"]["val_loss"], "k*", ms=12, label="chosen (validation)")
    if wd["best_implicit"] is not None:
        ax.axhline(wd["best_implicit"]["val_loss"], color="k", ls="--", lw=1, label="best implicit-only (val)")
    ax.set_xscale("log")
    ax.set_xticks(wd["weight_decays"], [f"{w:g}" for w in wd["weight_decays"]])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel="weight decay λ", ylabel="validation MSE (± 2 s.e.)",
           title="(d) explicit weight decay, chosen on validation data")
    ax.legend(fontsize=8)
    save_figure(fig, out / "weight_decay.png")
