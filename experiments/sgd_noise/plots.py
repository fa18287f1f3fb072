"""sgd_noise figures, drawn from metrics only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nndl.run.plotting import save_figure, subplots


def plot(metrics: dict, out: Path) -> None:
    fig, axes = subplots(1, 3, width=4.6, height=3.9)
    ax = axes[0, 0]
    rows = metrics["p_never"]
    ns = np.array([r["n"] for r in rows])
    grid = np.unique(np.geomspace(2, ns.max() * 1.5, 200).astype(int))
    ax.plot(grid, (1 - 1 / grid) ** grid, color="C0", label="(1 - 1/n)^n")
    ax.axhline(metrics["inv_e"], color="k", ls=":", label="1/e")
    ax.errorbar(ns, [r["simulated"] for r in rows], yerr=[2 * r["stderr"] for r in rows], fmt="o", color="C3",
                capsize=3, label=f"simulated, +-2 s.e. ({metrics['trials']} epochs)")
    ax.set(xscale="log", xlabel="n (observations = draws per epoch)", ylabel="P(never drawn in an epoch)",
           title="(a)/(b) never-sampled probability")
    ax.legend(fontsize=7, loc="lower right")

    ax = axes[0, 1]
    mb = metrics["minibatch_variance"]
    b = np.array(mb["batch_sizes"])
    ax.errorbar(b, mb["variances"], yerr=2 * np.array(mb["stderr"]), fmt="o", color="C3", capsize=3,
                label=f"measured (slope {mb['slope']:.3f})")
    ax.plot(b, mb["theory"], color="C0", label="sigma^2 / b")
    ax.plot(b, mb["theory_fpc"], color="C0", ls="--", label="sigma^2 / b x (N - b)/(N - 1)")
    ax.set(xscale="log", yscale="log", xlabel="batch size b (without replacement)",
           ylabel="E ||g_b - g||^2", title=f"(d)/(e) minibatch gradient variance, N={mb['n_population']}")
    ax.legend(fontsize=7)

    ax = axes[0, 2]
    ls = metrics["lr_scaling"]
    k = np.array([r["k"] for r in ls])
    ax.plot(k, [r["var_linear"] for r in ls], "o", color="C3", label="measured, lr x k")
    ax.plot(k, [r["theory_linear"] for r in ls], color="C3", label="k eps^2 sigma^2 / b x FPC")
    ax.plot(k, [r["var_sqrt"] for r in ls], "s", color="C0", label="measured, lr x sqrt(k)")
    ax.plot(k, [r["theory_sqrt"] for r in ls], color="C0", label="eps^2 sigma^2 / b x FPC")
    ax.set(xscale="log", yscale="log",
           xlabel=f"k (batch b = k x {metrics['lr_scaling_setup']['base_batch']}; FPC = (N - kb)/(N - 1))",
           ylabel="Var of one SGD step", title="(f) learning-rate scaling")
    ax.legend(fontsize=7)
    save_figure(fig, out / "sgd_noise.png")
