"""heteroscedastic figures, drawn from metrics and curves only.

Diverged fits leave NaN (curves) or null/NaN (metrics): they are not drawn, and an axis with no finite
positive value to show (every fit diverged, or data so large that squared errors overflow) stays linear
with a note instead of failing to log-scale.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from nndl.run.plotting import plt, save_figure, subplots

REGIMES = ("too_large", "too_small", "warmup_cosine", "constant")


def _values(seq) -> np.ndarray:
    """Metrics values as floats, null -> NaN."""
    return np.array([np.nan if v is None else v for v in seq], np.float64)


def _finite(v) -> bool:
    return v is not None and math.isfinite(v)


def _fmt(v, spec: str) -> str:
    return format(v, spec) if _finite(v) else "n/a"


def _hline(ax, y, log: bool, **kw) -> None:
    """A reference line, left out when it cannot be drawn (not finite, or <= 0 on a log axis)."""
    if _finite(y) and (y > 0 or not log):
        ax.axhline(y, **kw)


def _log_axes(ax, *data) -> bool:
    """Log-scales both axes if any of the y `data` (arrays) is finite and positive; otherwise leaves them linear
    with a note (a log axis with nothing to show cannot be drawn). Returns whether they are logarithmic."""
    values = np.concatenate([np.ravel(np.asarray(d, np.float64)) for d in data])
    if np.any(np.isfinite(values) & (values > 0)):
        ax.set(xscale="log", yscale="log")
        return True
    ax.text(0.5, 0.5, "no finite positive values\n(diverged or overflowing)", ha="center", va="center",
            transform=ax.transAxes, fontsize=8, color="0.4")
    return False


def plot(curves: dict, metrics: dict, out: Path) -> None:
    _plot_lr(curves, metrics, out)
    _plot_architectures(metrics, out)
    _plot_fits(curves, metrics, out)


def _plot_lr(curves: dict, metrics: dict, out: Path) -> None:
    sw, lr = metrics["lr_sweep"], metrics["lr_regimes"]
    fig, axes = subplots(1, 3, width=4.4, height=4.0)
    steps = np.arange(1, curves["fit_loss"].size + 1)
    for i, name in enumerate(REGIMES):
        label = f"{name.replace('_', ' ')} (peak {lr[name]['peak_lr']:g})"
        axes[0, 0].plot(steps, curves[f"{name}_loss"], color=f"C{i}", lw=1.2)
        axes[0, 0].plot(steps, curves[f"{name}_val"], color=f"C{i}", lw=1.2, ls="--")
        axes[0, 1].plot(steps, curves["lr_tables"][lr[name]["row"]], color=f"C{i}", label=label)
    ref = sw["truth_val_mse"] if sw["truth_val_mse"] is not None else metrics["noise_floor"]
    ref_label = "true model, validation" if sw["truth_val_mse"] is not None else "noise floor (Rice estimate)"
    log = _log_axes(axes[0, 0], *(curves[f"{name}_{k}"] for name in REGIMES for k in ("loss", "val")))
    _hline(axes[0, 0], ref, log, color="k", lw=0.8, ls=":")
    axes[0, 0].set(xlabel="step", ylabel="MSE", title="(d) train (solid) / validation (dashed) MSE")
    axes[0, 1].set(xscale="log", yscale="log", xlabel="step", ylabel="learning rate", title="(d) learning rates")
    val, tr, se = _values(sw["val_mse"]), _values(sw["train_mse"]), _values(sw["val_se"])
    ax = axes[0, 2]
    ax.errorbar(sw["lrs"], val, yerr=2 * se, marker="o", color="C0", label="validation (+- 2 s.e.)")
    ax.plot(sw["lrs"], tr, marker="s", color="C1", label="train")
    log = _log_axes(ax, val, tr)
    _hline(ax, ref, log, color="k", lw=0.8, ls=":", label=ref_label)
    _hline(ax, lr["warmup_cosine"]["final_val"], log, color="C2", lw=1, ls="--", label="warm-up + cosine, validation")
    ax.set(xlabel="constant learning rate", ylabel="final MSE",
           title=f"(d) sweep, {sw['seeds']} seed(s), {curves['fit_loss'].size} Adam steps")
    ax.legend(fontsize=7)
    styles = [plt.Line2D([], [], color=f"C{i}", label=r.replace("_", " ")) for i, r in enumerate(REGIMES)]
    styles += [plt.Line2D([], [], color="k", label="train"), plt.Line2D([], [], color="k", ls="--", label="validation"),
               plt.Line2D([], [], color="k", ls=":", lw=0.8, label=ref_label)]
    fig.legend(handles=styles, loc="outside lower center", ncol=7, fontsize=8)
    save_figure(fig, out / "lr_regimes.png")


def _plot_architectures(metrics: dict, out: Path) -> None:
    configs = metrics["architectures"]["configs"]
    truth_val = metrics["lr_sweep"]["truth_val_mse"]
    fig, axes = subplots(1, 1, width=max(6.0, 0.35 * len(configs) + 2), height=4.0)
    ax = axes[0, 0]
    pos = np.arange(len(configs))
    ax.plot(pos, _values(c["train_mse"] for c in configs), "s", color="C1", label="train")
    ax.plot(pos, _values(c["val_mse"] for c in configs), "o", color="C0", label="validation")
    _hline(ax, truth_val, False, color="k", lw=0.8, ls=":", label="true model, validation")
    ax.set_xticks(pos, [f"{c['depth']}x{c['width']} {c['activation']}\nwd {c['weight_decay']:g}" for c in configs],
                  rotation=90, fontsize=7)
    ax.set(ylabel="final MSE", title="(d) architectures, sorted by validation MSE (selected: leftmost)")
    ax.legend(fontsize=8)
    save_figure(fig, out / "architectures.png")


def _plot_fits(curves: dict, metrics: dict, out: Path) -> None:
    x, y = curves["x_test"], curves["y_test"]
    truth = "true_mean" in curves
    fig, axes = subplots(1, 3, width=4.6, height=4.0)
    for ax, key, title in ((axes[0, 0], "mse", "(c) homoscedastic (MSE, shared sigma)"),
                           (axes[0, 1], "nll", "(f) heteroscedastic (Gaussian NLL)")):
        m, s = curves[f"{key}_mean"], curves[f"{key}_sigma"]
        ax.scatter(x, y, s=5, alpha=0.4, color="0.45", label="test points")
        ax.plot(x, m, color="C0", label="predicted mean")
        ax.fill_between(x, m - 2 * s, m + 2 * s, color="C0", alpha=0.2, label="mean +- 2 sigma")
        if truth:
            ax.plot(x, curves["true_mean"] + 2 * curves["true_sigma"], "k--", lw=1, label="true mean +- 2 sigma")
            ax.plot(x, curves["true_mean"] - 2 * curves["true_sigma"], "k--", lw=1)
        block = metrics["homoscedastic" if key == "mse" else "heteroscedastic"]
        ax.set(xlabel="x", ylabel="y",
               title=f"{title}\ntrain/test MSE {_fmt(block['train_mse'], '.3f')}/{_fmt(block['test_mse'], '.3f')} "
                     f"({block['verdict']})\ntest NLL {_fmt(block['test_nll'], '.3f')}, "
                     f"in 2 sigma {_fmt(block['coverage_2sigma'], '.1%')}")
        ax.legend(fontsize=7, loc="upper left")
    ax = axes[0, 2]
    ax.plot(x, curves["mse_sigma"], color="C1", label="homoscedastic sigma")
    ax.plot(x, curves["nll_sigma"], color="C0", label="predicted sigma(x)")
    if truth:
        ax.plot(x, curves["true_sigma"], "k--", label="true sigma(x)")
    ax.set(xlabel="x", ylabel="sigma", title="(f) predicted noise level")
    ax.legend(fontsize=8)
    save_figure(fig, out / "heteroscedastic.png")
