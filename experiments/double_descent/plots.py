"""double_descent figures, drawn from metrics and curves (the arrays of curves.npz) only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.double_descent.interpolation import CURVE_TOL
from nndl.data import teacher
from nndl.run.plotting import placeholder, save_figure, subplots

FIGURES = ("training_curves.png", "double_descent.png", "budget_heatmap.png", "more_data.png", "convergence.png")


def plot(m: dict, curves: dict, out: Path) -> None:
    if not np.isfinite(np.asarray(m["train_loss"], float)).any():
        for name in FIGURES:
            placeholder(out / name, f"every config diverged (lr {m['lr']:g}): nothing to plot")
        return
    training_curves(m, curves, out)
    double_descent(m, curves, out)
    budget_heatmap(m, curves, out)
    more_data(m, out)
    convergence(m, curves, out)


def training_curves(m: dict, curves: dict, out: Path) -> None:
    widths, epochs = list(curves["widths"]), curves["epochs"]
    fig, ax = subplots(width=6.5, height=4.2)
    ax = ax[0, 0]
    curve_widths = [int(w) for w in m["to_1e-3"]]
    for k, w in enumerate(curve_widths):
        i, info = widths.index(w), m["to_1e-3"][str(w)]
        for c in curves["train_curve_runs"][0, i]:
            ax.loglog(epochs, c, color=f"C{k}", alpha=0.25, lw=0.8)
        label = f"M = {w}: " + (f"< 1e-3 after {info['mean']:.0f} epochs ({info['fraction']:.0%} of runs)"
                                if info["mean"] is not None else "never < 1e-3")
        ax.loglog(epochs, curves["train"][i], color=f"C{k}", lw=2, label=label)
    ax.axhline(CURVE_TOL, color="gray", ls=":", lw=1)
    ax.set(xlabel="epoch", ylabel="training MSE",
           title=f"(b) full-batch Adam, N = {m['constraints'] // teacher.D_OUT}: mean (thick) and each of "
                 f"{m['n_runs']} runs")
    if curve_widths:
        ax.legend(fontsize=8)
    save_figure(fig, out / "training_curves.png")


def double_descent(m: dict, curves: dict, out: Path) -> None:
    large, widths = m["n_large"], m["widths"]
    fig, axes = subplots(1, 2, width=4.6, height=4.2)
    train_ax, test_ax = axes[0, 0], axes[0, 1]
    for s, (n, tr, trs, te, tes, thr, mstar) in enumerate([
            (m["constraints"] // 8, m["train_loss"], m["train_loss_se"], m["test_loss"], m["test_loss_se"],
             m["threshold_width"], m["counting_width"]),
            (large["n_train"], large["train_loss"], large["train_loss_se"], large["test_loss"],
             large["test_loss_se"], large["threshold_width"], large["counting_width"])]):
        tr, trs, te, tes = (np.asarray(v, float) for v in (tr, trs, te, tes))
        train_ax.semilogy(widths, tr, "o-", ms=2.5, color=f"C{s}", label=f"N = {n}")
        train_ax.fill_between(widths, np.maximum(tr - 2 * trs, tr * 0.05), tr + 2 * trs, color=f"C{s}", alpha=0.2)
        test_ax.plot(widths, te, "o-", ms=2.5, color=f"C{s}", label=f"N = {n} (± 2 s.e.)")
        test_ax.fill_between(widths, te - 2 * tes, te + 2 * tes, color=f"C{s}", alpha=0.2)
        for ax in (train_ax, test_ax):
            ax.axvline(mstar, color=f"C{s}", ls="--", lw=1)
            if thr is not None:
                ax.axvline(thr, color=f"C{s}", ls=":", lw=1.5)
        diverged = [w for w, k in zip(widths, m["diverged_runs"][s]) if k]
        if diverged:  # x in data, y in axes coordinates: crosses along the bottom, one row per N
            test_ax.plot(diverged, [0.04 + 0.06 * s] * len(diverged), "x", ms=5, color=f"C{s}",
                         transform=test_ax.get_xaxis_transform(), label=f"N = {n}: runs diverged (left out)")
    train_ax.axhline(m["interp_tol"], color="gray", ls=":", lw=1)
    test_ax.axhline(m["R_t"], color="k", ls="-", lw=0.8, label=f"$R_t$ = {m['R_t']:.3g}")
    train_ax.set(xlabel="hidden width M", ylabel="final training MSE (log)", title="(c) training MSE vs width")
    test_ax.set(xlabel="hidden width M", ylabel="final test MSE", title="(c) test MSE vs width")
    train_ax.plot([], [], "k--", lw=1, label="counting: P(M) = N·O")
    train_ax.plot([], [], "k:", lw=1.5, label=f"measured: train < {m['interp_tol']:g}")
    train_ax.legend(fontsize=8)
    test_ax.legend(fontsize=8, loc="upper right")
    save_figure(fig, out / "double_descent.png")


def budget_heatmap(m: dict, curves: dict, out: Path) -> None:
    large, widths, epochs = m["n_large"], m["widths"], curves["epochs"]
    fig, axes = subplots(2, 2, width=3.6, height=3.0, sharex=True, sharey=True)
    meshes = {}
    for s, n in enumerate([m["constraints"] // 8, large["n_train"]]):
        by_budget = (m if s == 0 else large)["threshold_by_budget"]
        suffix = "" if s == 0 else "_large"
        for c, what in enumerate(("train", "test")):
            ax = axes[s, c]
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.log10(curves[what + suffix])
            meshes[what] = ax.pcolormesh(epochs, widths, z, shading="nearest", cmap="viridis",
                                         vmin=(-4 if what == "train" else np.log10(m["R_t"]) - 0.2),
                                         vmax=(0 if what == "train" else np.log10(m["R_t"]) + 1.0))
            ax.set_xscale("log")
            ax.minorticks_off()  # the cells carry the resolution; log minor ticks only cost drawing time
            ax.axhline((m if s == 0 else large)["counting_width"], color="w", ls="--", lw=1)
            pts = [(int(e), w) for e, w in by_budget.items() if w is not None]
            if pts:
                ax.plot(*zip(*pts), "r^", ms=5, label="threshold at budget")
            ax.set_title(f"N = {n}: {what} MSE", fontsize=9)
            if s == 1:
                ax.set_xlabel("epochs (budget)")
            if c == 0:
                ax.set_ylabel("width M")
    for c, what in enumerate(("train", "test")):  # one colour scale per column: both N share it
        fig.colorbar(meshes[what], ax=axes[:, c], label=f"log10 {what} MSE", shrink=0.6)
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(fontsize=7, loc="upper right")
    save_figure(fig, out / "budget_heatmap.png")


def more_data(m: dict, out: Path) -> None:
    d = m["more_data_hurts"]
    fig, ax = subplots(width=5.5, height=3.6)
    ax = ax[0, 0]
    x = np.arange(len(d["widths"]))
    ax.bar(x - 0.2, d["test_loss_n_small"], 0.4, yerr=np.multiply(2, d["test_loss_n_small_se"]), capsize=3,
           label=f"N = {d['n_small']}")
    ax.bar(x + 0.2, d["test_loss_n_large"], 0.4, yerr=np.multiply(2, d["test_loss_n_large_se"]), capsize=3,
           label=f"N = {d['n_large']}")
    ax.axhline(m["R_t"], color="k", ls="--", lw=1, label="$R_t$")
    ax.set_xticks(x, [f"M = {w}\nN = {d['n_large']}: {v}" for w, v in zip(d["widths"], d["verdict"])], fontsize=8)
    ax.set(ylabel="test MSE (± 2 s.e.)", title=f"(d) can more data hurt? ({m['n_runs']} runs per bar)")
    ax.legend(fontsize=8)
    save_figure(fig, out / "more_data.png")


def convergence(m: dict, curves: dict, out: Path) -> None:
    """|relative change| of the training MSE over the last 10 % of epochs, averaged over the runs that have not
    interpolated; widths where every run interpolated (settled by the floor rule) as markers at the bottom."""
    conv, widths = m["convergence"], m["widths"]
    fig, ax = subplots(width=6.0, height=3.4)
    ax = ax[0, 0]
    for s, n in enumerate(curves["sizes"]):
        ax.semilogy(widths, np.abs(np.asarray(conv["rel_change"][s], float)), "o-", ms=2.5, color=f"C{s}",
                    label=f"N = {n}")
        done = conv["interpolated_widths"][s]
        if done:  # x in data, y in axes coordinates: a row of markers along the bottom, one row per N
            ax.plot(done, [0.04 + 0.06 * s] * len(done), "v", ms=4, color=f"C{s}", transform=ax.get_xaxis_transform(),
                    label=f"N = {n}: every run interpolated (train MSE < {conv['floor']:g})")
    ax.axhline(conv["settle_tol"], color="gray", ls=":", lw=1, label=f"settled: < {conv['settle_tol']:.0%}")
    ax.set(xlabel="hidden width M", ylabel="|relative change| of train MSE",
           title=f"convergence: epochs {conv['window'][0]} to {conv['window'][1]} "
                 f"(mean over the runs above {conv['floor']:g})")
    ax.legend(fontsize=8)
    save_figure(fig, out / "convergence.png")
