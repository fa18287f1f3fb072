"""adam figures, drawn from metrics and curves only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.adam.config import TASKS, VARIANTS
from nndl.run.plotting import save_figure, subplots


def _log_y(ax, data, **kw) -> None:
    """ax.set(yscale="log", **kw), or a linear axis with a note when no value of `data` (the curves drawn) is
    finite and positive (every run diverged: a log axis with no data cannot be drawn)."""
    y = np.concatenate([np.ravel(np.asarray(v, np.float64)) for v in data])
    if np.any(np.isfinite(y) & (y > 0)):
        kw["yscale"] = "log"
    else:
        ax.text(0.5, 0.5, "diverged: nothing to draw", ha="center", va="center", transform=ax.transAxes)
    ax.set(**kw)


def plot(metrics: dict, long: dict, task_curves: dict, out: Path) -> None:
    eff, first = metrics["effective_step"], metrics["first_step"]
    labels = {"uncorrected": "no bias correction", "bias_corrected": "bias correction",
              "warmup_uncorrected": f"no correction + linear warm-up ({eff['warmup_steps']} steps)",
              "warmup_bias_corrected": "bias correction + warm-up"}
    styles = {"uncorrected": ("C3", "-"), "bias_corrected": ("C0", "-"),
              "warmup_uncorrected": ("C2", "-"), "warmup_bias_corrected": ("C2", "--")}
    fig, axes = subplots(1, 2, width=5.4, height=4.0)
    for ax, horizon in ((axes[0, 0], eff["steps"]), (axes[0, 1], eff["long_steps"])):
        t = np.arange(1, horizon + 1)
        for v in VARIANTS:
            color, ls = styles[v]
            ax.plot(t, long[v][:horizon], color=color, ls=ls, label=labels[v])
        ax.axhline(first["ratio_uncorrected_theory"], color="k", lw=0.8, ls=":",
                   label="(1 - b1)/sqrt(1 - b2) (first step)")
        ax.set(yscale="log", xlabel="step t", ylabel="mean |update| / lr")
    axes[0, 0].set_title(f"first {eff['steps']} steps, constant gradient")
    axes[0, 1].set(xscale="log", title=f"{eff['long_steps']} steps: the bias fades after ~1/(1 - b2)")
    axes[0, 0].legend(fontsize=7, loc="lower right")
    save_figure(fig, out / "first_step.png")

    d = metrics["adamw_vs_l2"]
    fig, axes = subplots(1, 3, width=4.5, height=3.8)
    lam = d["lambdas"]
    for m, color, label in (("l2", "C3", "Adam + L2 in the loss"), ("adamw", "C0", "AdamW (decoupled)")):
        lost = [x for x, bad in zip(lam, d["diverged"][m]) if bad]
        if lost:  # x in data, y in axes coordinates: crosses along the bottom of every panel
            label = f"{label}; x: diverged"
            for ax in axes[0, :2]:
                ax.plot(lost, [0.04] * len(lost), "x", color=color, transform=ax.get_xaxis_transform())
        axes[0, 0].plot(lam, d[m]["test_loss"], "o-", color=color, label=label)
        axes[0, 1].plot(lam, d[m]["weight_norm"], "o-", color=color, label=label)
        axes[0, 2].plot(d["feature_scales"], d["decay_multiplier"][m], "o-", color=color, label=label)
    axes[0, 0].axhline(d["no_decay"]["test_loss"], color="k", ls=":", label="no decay")
    axes[0, 1].axhline(d["no_decay"]["weight_norm"], color="k", ls=":", label="no decay")
    def drawn(key):  # every value drawn on a panel (null -> NaN)
        return [[np.nan if v is None else v for v in values] for values in key]

    _log_y(axes[0, 0], drawn([d["l2"]["test_loss"], d["adamw"]["test_loss"]]), xscale="log",
           xlabel="nominal lambda", ylabel="test MSE", title="test loss")
    _log_y(axes[0, 1], drawn([d["l2"]["weight_norm"], d["adamw"]["weight_norm"]]), xscale="log",
           xlabel="nominal lambda", ylabel="||W|| (weights)", title="weight norm after training")
    _log_y(axes[0, 2], drawn(d["decay_multiplier"].values()), xscale="log", xlabel="scale of the input feature",
           ylabel="decay per step / (lr lambda theta)",
           title=f"decay of first-layer weights (lambda={d['probe_lambda']:g})")
    for ax in axes[0]:
        ax.legend(fontsize=7)
    save_figure(fig, out / "adamw_vs_l2.png")

    table = metrics["sgd_vs_adam"]
    fig, axes = subplots(1, 3, width=4.5, height=3.8)
    titles = {"one_var": "one-variable regression", "two_var": "two-variable regression",
              "classification": "two-class logistic classification"}
    for ax, task in zip(axes[0], TASKS):
        best = table[task]["optimum"]["train_loss"]
        epochs = np.arange(1, task_curves[f"{task}_sgd_train"].size + 1)
        for opt, color in (("sgd", "C1"), ("adam", "C0")):
            gap = np.maximum(task_curves[f"{task}_{opt}_train"] / best - 1, 1e-8)
            name = "SGD" if opt == "sgd" else "Adam (nndl)"
            lost = " (diverged: no curve)" if table[task][opt]["diverged"] else ""
            ax.plot(epochs, gap, color=color, label=f"{name}, lr {table[f'{opt}_lr']:g}{lost}")
        ax.axhline(table["tolerance"], color="k", ls=":", lw=0.8, label="tolerance")
        _log_y(ax, [task_curves[f"{task}_{opt}_train"] for opt in ("sgd", "adam")], xlabel="epoch",
               ylabel="train loss / optimum - 1", title=titles[task])
        ax.legend(fontsize=8)
    save_figure(fig, out / "sgd_vs_adam.png")
