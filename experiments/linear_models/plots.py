"""linear_models figures (xor.png, grid_search.png, mae.png, mle.png, separable_logistic.png), drawn from the
metrics and curves only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments.linear_models.config import AXES
from experiments.linear_models.xor import XOR_X, XOR_Y
from nndl.run.plotting import placeholder, plt, save_figure, subplots


def plot(m: dict, c: dict, out: Path) -> None:
    """Every figure of the experiment into `out`; a part that diverged gets a figure saying so."""
    for part, draw, name in (("xor", plot_xor, "xor.png"), ("grid_search", plot_grid, "grid_search.png"),
                             ("mae", plot_mae, "mae.png"), ("mle", plot_mle, "mle.png"),
                             ("separable_logistic", plot_separable, "separable_logistic.png")):
        if m[part]["diverged"]:
            lr = m[part]["lr"]
            placeholder(out / name, f"diverged (learning rate {', '.join(f'{v:g}' for v in np.ravel(lr))}): "
                                    "nothing to plot")
        else:
            draw(m, c, out)


def plot_xor(m: dict, c: dict, out: Path) -> None:
    xor = m["xor"]
    fig, axes = subplots(1, 2, width=5.0, height=4.0)
    ax = axes[0, 0]
    g1, g2 = np.meshgrid(np.linspace(-0.5, 1.5, 101), np.linspace(-0.5, 1.75, 101))
    fit = g1 * xor["w"][0] + g2 * xor["w"][1] + xor["b"]
    image = ax.imshow(fit, extent=(-0.5, 1.5, -0.5, 1.75), origin="lower", cmap="coolwarm", vmin=0, vmax=1,
                      aspect="auto")
    fig.colorbar(image, ax=ax, label=r"least-squares fit $\hat y = x^\top w + b$")
    for (x1, x2), target in zip(XOR_X, XOR_Y):
        ax.scatter(x1, x2, s=160, c="C1" if target else "C0", edgecolors="k", zorder=3)
        ax.annotate(f"y = {target:g}", (x1, x2), xytext=(0, 13), textcoords="offset points", ha="center")
    ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=(-0.5, 1.5), ylim=(-0.5, 1.75),
           title=f"XOR: w = ({xor['w'][0]:.2g}, {xor['w'][1]:.2g}), b = {xor['b']:.3g}, J = {xor['J']:.3g}")
    ax = axes[0, 1]
    steps = np.arange(1, len(c["xor_J"]) + 1)
    ax.plot(steps, c["xor_w"][:, 0], label="$w_1$")
    ax.plot(steps, c["xor_w"][:, 1], "--", label="$w_2$")
    ax.plot(steps, c["xor_b"], label="$b$")
    ax.plot(steps, c["xor_J"], label="J")
    for level in (0.0, 0.25, 0.5):
        ax.axhline(level, color="gray", lw=0.6, ls=":")
    ax.set(xscale="log", xlabel="gradient-descent step", ylabel="value",
           title=f"gradient descent (lr {xor['gd']['lr']:g}) reaches the same point")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=4)
    save_figure(fig, out / "xor.png")


def cell_table(m: dict, c: dict) -> tuple[np.ndarray, np.ndarray]:
    """Validation MSE arranged (batch, lr, epochs, alpha), diverged configs as NaN, plus the diverged mask."""
    g = m["grid_search"]
    shape = tuple(len(g["axes"][k]) for k in AXES)
    val = np.where(c["grid_diverged"], np.nan, c["grid_val_mse"]).reshape(shape)
    return val, c["grid_diverged"].reshape(shape)


def _heat(ax, table, diverged, rows, cols, row_label, col_label, best, title, norm):
    image = ax.imshow(table, cmap="viridis_r", norm=norm, aspect="auto")
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            text = "div." if diverged[i, j] else f"{table[i, j]:.3g}"
            dark = not diverged[i, j] and norm(table[i, j]) > 0.5  # viridis_r: high values are dark
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="w" if dark else "k")
    ax.add_patch(plt.Rectangle((best[1] - 0.5, best[0] - 0.5), 1, 1, fill=False, ec="r", lw=2))
    ax.set_xticks(range(len(cols)), [f"{v:g}" for v in cols])
    ax.set_yticks(range(len(rows)), [f"{v:g}" for v in rows])
    ax.set(xlabel=col_label, ylabel=row_label, title=title)
    return image


def plot_grid(m: dict, c: dict, out: Path) -> None:
    from matplotlib.colors import LogNorm

    g = m["grid_search"]
    val, div = cell_table(m, c)
    ib, il, ie, ia = (g["axes"][k].index(g["best"][k]) for k in AXES)
    finite = val[np.isfinite(val)]
    # colours span at most a factor 10 above the best cell (worse cells saturate, their numbers stay exact)
    norm = LogNorm(vmin=finite.min(), vmax=min(finite.max(), 10 * finite.min()), clip=True)
    fig, axes = subplots(1, 2, width=5.2, height=4.3)
    image = _heat(axes[0, 0], val[ib, :, ie, :], div[ib, :, ie, :], g["axes"]["lr"], g["axes"]["alpha"],
          "learning rate", r"L2 strength $\alpha$", (il, ia),
          f"batch {g['best']['batch_size']}, {g['best']['epochs']} epochs", norm)
    _heat(axes[0, 1], val[:, il, :, ia], div[:, il, :, ia], g["axes"]["batch_size"], g["axes"]["epochs"],
          "batch size", "epochs", (ib, ie), f"lr {g['best']['lr']:g}, alpha {g['best']['alpha']:g}", norm)
    ticks = np.geomspace(norm.vmin, norm.vmax, 6)
    bar = fig.colorbar(image, ax=axes.ravel().tolist(), label="validation MSE (years$^2$), log scale", ticks=ticks)
    bar.ax.set_yticklabels([f"{v:.3g}" for v in ticks[:-1]] + [f">= {ticks[-1]:.3g}" if norm.vmax < finite.max()
                                                                else f"{ticks[-1]:.3g}"])
    bar.ax.minorticks_off()
    rb = g["ridge_best"]
    fig.suptitle(f"{g['n_configs']} configs in one jitted sweep ({g['data']} data), red: chosen; test MSE "
                 f"{g['test_mse_unregularised']:.1f}; ridge closed form: {g['ridge_test_mse']:.1f} at the same alpha, "
                 f"{rb['test_mse']:.1f} at alpha {rb['alpha']:g}", fontsize=10)
    save_figure(fig, out / "grid_search.png")


def plot_mae(m: dict, c: dict, out: Path) -> None:
    r = m["mae"]
    fig, axes = subplots(1, 2, width=5.2, height=4.0)
    ax = axes[0, 0]
    x, y, bad = c["mae_x"], c["mae_y"], c["mae_outlier"].astype(bool)
    ax.scatter(x[~bad], y[~bad], s=10, color="0.5", label="data")
    ax.scatter(x[bad], y[bad], s=18, color="C3", marker="x", label=f"outliers ({r['n_outliers']})")
    line = np.array([-1.0, 1.0])
    for key, style, label in (("mse_gd", "C0-", "MSE-GD"), ("mae_gd", "C1-", "MAE-GD"), ("truth", "k:", "truth")):
        p = r[key]
        ax.plot(line, p["w"] * line + p["b"], style, lw=2, label=f"{label}: w = {p['w']:.2f}, b = {p['b']:.2f}")
    ax.set(xlabel="x", ylabel="y", title="linear fits with one-sided outliers")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    ax = axes[0, 1]
    steps = np.arange(1, len(c["mae_path_w"]) + 1)
    for key, label in (("mse", "MSE-GD"), ("mae", "MAE-GD")):
        err = np.abs(c[f"{key}_path_w"] - r["truth"]["w"]) + np.abs(c[f"{key}_path_b"] - r["truth"]["b"])
        ax.loglog(steps, err, label=label)
    ax.set(xlabel="gradient-descent step", ylabel="|w - 2| + |b - 1|", title="distance to the true line")
    ax.legend()
    save_figure(fig, out / "mae.png")


def plot_mle(m: dict, c: dict, out: Path) -> None:
    r = m["mle"]
    fig, axes = subplots(1, 2, width=5.0, height=3.8)
    steps = np.arange(1, len(c["mle_loglik"]) + 1)
    ax = axes[0, 0]
    ax.semilogx(steps, c["mle_loglik"], label="gradient ascent")
    ax.axhline(r["loglik_closed"], color="k", ls=":", label=f"closed-form MLE ({r['loglik_closed']:.4f})")
    ax.set(xlabel="step", ylabel="mean log-likelihood", title="Gaussian log-likelihood")
    ax.legend(loc="lower right")
    ax = axes[0, 1]
    ax.loglog(steps, c["mle_w_err"], label=r"$\max_j |w_j - w_j^{MLE}|$")
    ax.loglog(steps, c["mle_var_err"], "--", label=r"$|\sigma^2 - \sigma^2_{MLE}|$")
    ax.set(xlabel="step", ylabel="distance to the closed form (float32)",
           title=f"final: {r['w_max_err']:.1e} (w), {r['sigma2_err']:.1e} ($\\sigma^2$)")
    ax.legend()
    save_figure(fig, out / "mle.png")


def plot_separable(m: dict, c: dict, out: Path) -> None:
    r = m["separable_logistic"]
    fig, axes = subplots(2, 2, width=5.0, height=4.0)
    ax = axes[0, 0]
    x, y = c["logistic_x"], c["logistic_y"]
    ax.scatter(x[y > 0, 0], x[y > 0, 1], s=14, color="C1", label="y = +1")
    ax.scatter(x[y < 0, 0], x[y < 0, 1], s=14, color="C0", label="y = -1")
    lim = np.abs(x).max() * 1.05
    w_svm = np.asarray(r["w_svm"])
    along = np.array([-w_svm[1], w_svm[0]]) / np.linalg.norm(w_svm)
    normal = w_svm / np.linalg.norm(w_svm)
    for shift, style, label in ((0.0, "k-", "max-margin boundary"), (r["svm_margin"], "k:", "margins"),
                                (-r["svm_margin"], "k:", None)):
        ends = np.array([-lim, lim])[:, None] * along + shift * normal
        ax.plot(ends[:, 0], ends[:, 1], style, lw=1.2, label=label)
    w = np.asarray(r["w_final"])
    d = np.array([-w[1], w[0]]) / np.linalg.norm(w)
    ax.plot([-lim * d[0], lim * d[0]], [-lim * d[1], lim * d[1]], "C3--", lw=1.2, label="GD boundary (final)")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="$x_1$", ylabel="$x_2$", aspect="equal",
           title=f"separable data, max margin {r['svm_margin']:.3f}")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax = axes[0, 1]
    t = np.asarray(r["steps"])
    ax.semilogx(t, r["norms"], "o-", ms=3, label="GD")
    offset = r["norms"][-1] - r["svm_norm"] * np.log(t[-1])
    ax.semilogx(t, r["svm_norm"] * np.log(t) + offset, "k:", label=r"$\|w_{svm}\|\,\ln t$ + const")
    ax.set(xlabel="step t (log scale)", ylabel=r"$\|w(t)\|$", title="the norm grows like log t", ylim=(0, None))
    ax.legend()
    ax = axes[1, 0]
    ax.semilogx(t, r["angles"], "o-", ms=3)
    ax.set(xlabel="step t (log scale)", ylabel="angle to max-margin direction (deg)", ylim=(0, None),
           title=f"direction converges: {r['final_angle_deg']:.2g} deg at t = {t[-1]:,}")
    ax = axes[1, 1]
    ax.loglog(r["loss_vs_c"]["c"], r["loss_vs_c"]["loss"])
    ax.set(xlabel="c", ylabel=r"$L(c\,\hat w)$",
           title=r"loss along the separating $\hat w = w_{svm} / \|w_{svm}\|$")
    save_figure(fig, out / "separable_logistic.png")
