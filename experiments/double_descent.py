"""Double descent: train/test MSE of 8->M->M->8 ReLU nets vs width M, for N = 100 and N = 200, in ONE jitted sweep.

Run: python -m experiments.double_descent [--quick|--full] [--widths 2:200:2] [--epochs 6000] [--seeds 3]
     [--data-draws 2]
Shows (seed 001, computer assignment 1): (b) training curves for M in {10, 50, 100} on
log-log axes and the first epoch below MSE 1e-3; (c) final train and test MSE vs M (mean
± s.e. over init seeds × data draws) with the optimal test error R_t, the interpolation
threshold against the counting argument P(M) = N·O and its dependence on the training
budget (a width × epoch heat map); (d) N = 100 vs N = 200 at widths picked from the
measured curves: where more data hurts, with the difference ± its standard error.
Data: the fixed random tanh teacher of `nndl.data.teacher` plus Gaussian noise (sigma 0.5);
every data draw is a new training set, and N = 100 is the first half of each N = 200 set.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

from nndl.run import cli, progress, runio, templates
from nndl import stats, sweep
from nndl.train import run_mlp_sweep
from nndl.data import teacher
from nndl.run.flags import Key
from nndl.models import padded_mlp
from nndl.run.plotting import placeholder, save_figure, subplots

NAME = "double_descent"
SHEET = "seed 001, computer assignment 1"
DEPTH = 2
TEXT = templates.beside(__file__)
CURVE_TOL = 1e-3  # the sheet's (b) target
FIGURES = ("training_curves.png", "double_descent.png", "budget_heatmap.png", "more_data.png", "convergence.png")


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "widths": list(range(2, 65, 2)) + [72, 80, 90, 100, 120, 200],
              "seeds": 3, "data_draws": 2, "epochs": 6000, "lr": 1e-3, "n_train": 100, "n_train_large": 200,
              "batch_size": None, "n_test": 2000, "noise": teacher.NOISE, "curve_widths": [10, 50, 100],
              "interp_tol": 1e-2, "settle_tol": 0.05, "n_buckets": 5, "chunk_epochs": 500}
    if full:
        config.update(widths=list(range(2, 201)), seeds=5, data_draws=4, epochs=20000, n_buckets=6,
                      chunk_epochs=1000)
    return config


KEYS = {
    "widths": Key("hidden widths M, e.g. 2:200:2 or 10,50,100", lo=1, hi=4096),
    "seeds": Key("init seeds per (width, N, data draw)", lo=1, hi=1000),
    "data_draws": Key("independently drawn training sets", lo=1, hi=1000),
    "epochs": Key("full-batch Adam epochs", lo=1, hi=10_000_000),
    "lr": Key("Adam learning rate", positive=True),
    "n_train": Key("training points N", lo=1, hi=1_000_000),
    "n_train_large": Key("the larger training set of (d)", lo=2, hi=1_000_000),
    "batch_size": Key("minibatch size; none = N (full batch, as the sheet asks)", kind=int, optional=True, lo=1,
                      hi=1_000_000),
    "n_test": Key("test points", lo=1, hi=10_000_000),
    "noise": Key("label noise standard deviation sigma", lo=0, hi=1e6),
    "curve_widths": Key("widths of the (b) training curves", lo=1, hi=4096),
    "interp_tol": Key("training MSE below which a width interpolates", positive=True),
    "settle_tol": Key("relative change over the last 10 % of epochs that counts as settled", positive=True),
    "n_buckets": Key("max number of width buckets (padding vs compile time)", lo=1, hi=64, flag="--buckets"),
    "chunk_epochs": Key("epochs per jitted call (progress and checkpoint granularity)", lo=1, hi=10_000_000),
}


def validate(config: dict) -> None:
    if config["n_train_large"] <= config["n_train"]:
        raise cli.UserError(f"--n-train-large {config['n_train_large']} must exceed --n-train {config['n_train']}")
    if config["batch_size"] is not None and config["batch_size"] > config["n_train"]:
        raise cli.UserError(f"--batch-size {config['batch_size']} exceeds --n-train {config['n_train']}")


def n_params(width: int) -> int:
    return padded_mlp.param_count(width, d_in=teacher.D_IN, d_out=teacher.D_OUT, depth=DEPTH)


def counting_width(n_constraints: int) -> float:
    """The real width M* at which the parameter count P(M) (a quadratic in M) equals n_constraints = N·O."""
    c, a1, a2 = n_params(0), n_params(1), n_params(2)  # exact quadratic through three points
    a = (a2 - 2 * a1 + c) / 2
    b = a1 - c - a
    return (-b + math.sqrt(b * b - 4 * a * (c - n_constraints))) / (2 * a)


def threshold(widths: list[int], train_loss: np.ndarray, tol: float) -> int | None:
    """Smallest width whose (mean) final training MSE is below tol: where interpolation begins."""
    below = [w for w, l in zip(widths, train_loss) if l < tol]
    return min(below) if below else None


def budgets(record: np.ndarray, n: int = 5) -> list[int]:
    """Up to n recorded epoch counts E, E/2, E/4, ... (the nearest recorded ones), ascending."""
    picks = {int(record[np.argmin(np.abs(record - record[-1] / 2**k))]) for k in range(n)}
    return sorted(picks)


def settling(epochs: np.ndarray, curves: np.ndarray, tol: float, floor: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Convergence diagnostic per config: the relative fall of the training MSE over the last 10 % of epochs,
    (L(0.9 E) - L(E)) / L(E), and whether the config has settled (|change| < tol, or its MSE is below `floor`:
    interpolated). Returns (relative change, settled, the window's first epoch)."""
    j = int(np.searchsorted(epochs, 0.9 * epochs[-1], side="right")) - 1
    j = min(max(j, 0), len(epochs) - 2) if len(epochs) > 1 else 0
    start, end = curves[:, j], curves[:, -1]
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = (start - end) / end
    settled = (np.abs(rel) < tol) | (end < floor)
    return rel, settled & np.isfinite(end), int(epochs[j])


def sweep_grid(config: dict, widths: list[int]) -> dict[str, np.ndarray]:
    """Every (training-set size, width, data draw, init seed): the first axis varies slowest."""
    sizes = [config["n_train"], config["n_train_large"]]
    grid = sweep.product(n_train=sizes, width=widths, data=range(config["data_draws"]),
                         seed=sweep.derive_seeds(config["seed"], config["seeds"]))
    n = len(grid["width"])
    grid.update(lr=np.full(n, config["lr"]), epochs=np.full(n, config["epochs"]))
    if config["batch_size"] is not None:
        grid["batch_size"] = np.minimum(config["batch_size"], grid["n_train"])
    return grid


def run(config: dict, out: Path) -> dict:
    widths = sorted(set(config["widths"]))
    sizes = [config["n_train"], config["n_train_large"]]
    data = teacher.draws(config["seed"], config["data_draws"], max(sizes), config["n_test"], config["noise"])
    grid = sweep_grid(config, widths)
    start = time.perf_counter()
    res = run_mlp_sweep(grid, data, depth=DEPTH, optimizer="adam", n_buckets=config["n_buckets"],
                              chunk_epochs=config["chunk_epochs"], tolerances=(CURVE_TOL,),
                              checkpoint=out / "checkpoint.npz", desc=f"{NAME} N={sizes[0]},{sizes[1]}", progress=progress.bar)
    wall = time.perf_counter() - start
    runio.write_json(out / "sweep.json", [res.replay()])
    runs = config["seeds"] * config["data_draws"]
    shape = (len(sizes), len(widths), runs)  # [size, width, (draw, seed)]

    def per(values):
        return np.asarray(values, float).reshape(shape + np.shape(values)[1:])

    bad = per(res.diverged)
    train = np.where(bad, np.nan, per(res.final["train_loss"]))
    test = np.where(bad, np.nan, per(res.final["test_loss"]))
    train_m, train_se = stats.mean_se(train, axis=-1)
    test_m, test_se = stats.mean_se(test, axis=-1)
    epochs = res.record_epochs
    train_curves = np.where(bad[..., None], np.nan, per(res.curves["train_loss"]))
    test_curves = np.where(bad[..., None], np.nan, per(res.curves["test_loss"]))
    train_curve_m = stats.mean_se(train_curves, axis=2)[0]
    test_curve_m = stats.mean_se(test_curves, axis=2)[0]

    tol = config["interp_tol"]
    thr = [threshold(widths, train_m[s], tol) for s in range(2)]
    by_budget = [{str(e): threshold(widths, train_curve_m[s][:, list(epochs).index(e)], tol)
                  for e in budgets(epochs)} for s in range(2)]
    rel, settled, window = settling(epochs, res.curves["train_loss"], config["settle_tol"], CURVE_TOL)
    rel, settled = np.where(per(res.diverged), np.nan, per(rel)), per(settled) > 0

    peak = peak_summary(widths, test_m[0], test_se[0])
    roles = pick_widths(widths, thr)
    d_widths = [w for w, _ in roles]
    idx = [widths.index(w) for w in d_widths]
    comps = [stats.compare_paired(test[0, i], test[1, i]) for i in idx]
    all_comps = [stats.compare_paired(test[0, i], test[1, i]) for i in range(len(widths))]

    first = np.where(res.first_below[:, 0] >= 0, res.first_below[:, 0] + 1.0, np.nan)  # epochs to reach
    first = np.where(per(res.diverged), np.nan, per(first))[0]  # N = n_train
    curve_widths = [w for w in config["curve_widths"] if w in widths]
    to_tol = {}
    for w in curve_widths:
        e = first[widths.index(w)]
        m, se = stats.mean_se(e)
        to_tol[str(w)] = {"fraction": float(np.isfinite(e).mean()), "mean": None if np.isnan(m) else float(m),
                          "se": None if np.isnan(se) else float(se), "epochs": [None if np.isnan(v) else int(v)
                                                                                for v in e]}

    runio.save_curves(out / "curves.npz", widths=widths, sizes=sizes, epochs=epochs, train=train_curve_m[0],
                      test=test_curve_m[0], train_large=train_curve_m[1], test_large=test_curve_m[1],
                      final_train=train_m[0], final_test=test_m[0], train_runs=train, test_runs=test)
    m_star = [counting_width(n * teacher.D_OUT) for n in sizes]
    metrics = {
        "R_t": teacher.optimal_test_mse(config["noise"]),
        "noise": config["noise"],
        "n_seeds": config["seeds"], "n_data_draws": config["data_draws"], "n_runs": runs,
        "epochs": config["epochs"], "lr": config["lr"],
        "widths": widths,
        "params": [n_params(w) for w in widths],
        "train_loss": train_m[0], "train_loss_se": train_se[0],
        "test_loss": test_m[0], "test_loss_se": test_se[0],
        "threshold_width": thr[0],
        "threshold_params": None if thr[0] is None else n_params(thr[0]),
        "counting_width": m_star[0],
        "interp_tol": tol,
        "threshold_by_budget": by_budget[0],
        **peak,
        "test_loss_at_max_width": float(test_m[0, -1]), "test_loss_at_max_width_se": float(test_se[0, -1]),
        "constraints": sizes[0] * teacher.D_OUT,
        "n_large": {"n_train": sizes[1], "train_loss": train_m[1], "train_loss_se": train_se[1],
                    "test_loss": test_m[1], "test_loss_se": test_se[1], "threshold_width": thr[1],
                    "threshold_params": None if thr[1] is None else n_params(thr[1]),
                    "counting_width": m_star[1], "constraints": sizes[1] * teacher.D_OUT,
                    "threshold_by_budget": by_budget[1]},
        "convergence": {"window": [window, int(epochs[-1])], "settle_tol": config["settle_tol"],
                        "floor": CURVE_TOL,
                        "rel_change": stats.mean_se(rel, axis=-1)[0].tolist(),
                        "settled_fraction": settled.mean(axis=-1).tolist(),
                        "unsettled_widths": [[w for w, f in zip(widths, settled[s].mean(axis=-1)) if f < 1]
                                             for s in range(2)]},
        "more_data_hurts": {
            "widths": d_widths, "roles": [r for _, r in roles], "n_small": sizes[0], "n_large": sizes[1],
            "params": [n_params(w) for w in d_widths],
            "test_loss_n_small": [float(test_m[0, i]) for i in idx],
            "test_loss_n_small_se": [float(test_se[0, i]) for i in idx],
            "test_loss_n_large": [float(test_m[1, i]) for i in idx],
            "test_loss_n_large_se": [float(test_se[1, i]) for i in idx],
            "train_loss_n_small": [float(train_m[0, i]) for i in idx],
            "train_loss_n_large": [float(train_m[1, i]) for i in idx],
            "difference": [c.difference for c in comps], "difference_se": [c.difference_se for c in comps],
            "z": [c.z for c in comps], "verdict": [c.verdict for c in comps],
            "hurts": [c.verdict == "higher" for c in comps],
            "hurts_widths": [w for w, c in zip(widths, all_comps) if c.verdict == "higher"],
            "helps_widths": [w for w, c in zip(widths, all_comps) if c.verdict == "lower"],
        },
        "epochs_to_1e-3": {w: v["mean"] for w, v in to_tol.items()},
        "to_1e-3": to_tol,
        "diverged": int(res.diverged.sum()),
        "diverged_configs": [int(i) for i in np.flatnonzero(res.diverged)],
        "sweep": {"n_configs": int(len(grid["width"])), "buckets": [[b[0], b[-1]] for b in res.buckets],
                  "padding_waste": res.padding_waste, "wall_s": wall, "flops_executed": res.flops_executed},
    }
    if metrics["diverged"] == len(grid["width"]):
        print(f"{NAME}: warning: every config diverged (lr {config['lr']:g}); the metrics hold nulls",
              file=sys.stderr)
    plot(metrics, epochs, train_curves[0], train_curve_m, test_curve_m, widths, curve_widths, out)
    return metrics


def peak_summary(widths: list[int], test: np.ndarray, se: np.ndarray) -> dict:
    """The width of the highest mean test MSE and the widths whose test MSE is within 2 s.e. of it (the peak
    location's uncertainty)."""
    if not np.isfinite(test).any():
        return {"peak_width": None, "peak_params": None, "peak_test_loss": None, "peak_test_loss_se": None,
                "peak_region": None}
    i = int(np.nanargmax(test))
    tied = [w for w, t, s in zip(widths, test, se)
            if not stats.compare(test[i], se[i], t, s).significant]
    return {"peak_width": widths[i], "peak_params": n_params(widths[i]), "peak_test_loss": float(test[i]),
            "peak_test_loss_se": float(se[i]), "peak_region": [min(tied), max(tied)]}


def pick_widths(widths: list[int], thresholds: list[int | None]) -> list[tuple[int, str]]:
    """(d)'s widths, from the measured curves: the N = n_small threshold, the N = n_large threshold
    (over-parameterised for n_small, at the threshold for n_large: where more data can hurt) and the widest."""
    picks: list[tuple[int, str]] = []
    for w, role in ((thresholds[0], "small_threshold"), (thresholds[1], "large_threshold"),
                    (max(widths), "far_beyond")):
        if w is not None and w not in [p for p, _ in picks]:
            picks.append((w, role))
    return picks


def plot(m: dict, epochs: np.ndarray, runs: np.ndarray, train_m: np.ndarray, test_m: np.ndarray,
         widths: list[int], curve_widths: list[int], out: Path) -> None:
    if not np.isfinite(np.asarray(m["train_loss"], float)).any():
        for name in FIGURES:
            placeholder(out / name, f"every config diverged (lr {m['lr']:g}): nothing to plot")
        return
    fig, ax = subplots(width=6.5, height=4.2)
    ax = ax[0, 0]
    for k, w in enumerate(curve_widths):
        i, info = widths.index(w), m["to_1e-3"][str(w)]
        for r, c in enumerate(runs[i]):
            ax.loglog(epochs, c, color=f"C{k}", alpha=0.25, lw=0.8)
        label = f"M = {w}: " + (f"< 1e-3 after {info['mean']:.0f} epochs ({info['fraction']:.0%} of runs)"
                                if info["mean"] is not None else "never < 1e-3")
        ax.loglog(epochs, train_m[0, i], color=f"C{k}", lw=2, label=label)
    ax.axhline(CURVE_TOL, color="gray", ls=":", lw=1)
    ax.set(xlabel="epoch", ylabel="training MSE",
           title=f"(b) full-batch Adam, N = {m['constraints'] // teacher.D_OUT}: mean (thick) and each of "
                 f"{m['n_runs']} runs")
    if curve_widths:
        ax.legend(fontsize=8)
    save_figure(fig, out / "training_curves.png")

    large = m["n_large"]
    fig, axes = subplots(1, 2, width=4.6, height=4.2)
    train_ax, test_ax = axes[0, 0], axes[0, 1]
    for s, (name, n, tr, trs, te, tes, thr, mstar) in enumerate([
            ("N", m["constraints"] // 8, m["train_loss"], m["train_loss_se"], m["test_loss"], m["test_loss_se"],
             m["threshold_width"], m["counting_width"]),
            ("N", large["n_train"], large["train_loss"], large["train_loss_se"], large["test_loss"],
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
    train_ax.axhline(m["interp_tol"], color="gray", ls=":", lw=1)
    test_ax.axhline(m["R_t"], color="k", ls="-", lw=0.8, label=f"$R_t$ = {m['R_t']:.3g}")
    train_ax.set(xlabel="hidden width M", ylabel="final training MSE (log)", title="(c) training MSE vs width")
    test_ax.set(xlabel="hidden width M", ylabel="final test MSE", title="(c) test MSE vs width")
    train_ax.plot([], [], "k--", lw=1, label="counting: P(M) = N·O")
    train_ax.plot([], [], "k:", lw=1.5, label=f"measured: train < {m['interp_tol']:g}")
    train_ax.legend(fontsize=8)
    test_ax.legend(fontsize=8, loc="upper right")
    save_figure(fig, out / "double_descent.png")

    fig, axes = subplots(2, 2, width=3.6, height=3.0, sharex=True, sharey=True)
    for s, n in enumerate([m["constraints"] // 8, large["n_train"]]):
        by_budget = (m if s == 0 else large)["threshold_by_budget"]
        for c, (values, what) in enumerate([(train_m[s], "train"), (test_m[s], "test")]):
            ax = axes[s, c]
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.log10(values)
            mesh = ax.pcolormesh(epochs, widths, z, shading="nearest", cmap="viridis",
                                 vmin=(-4 if what == "train" else np.log10(m["R_t"]) - 0.2),
                                 vmax=(0 if what == "train" else np.log10(m["R_t"]) + 1.0))
            fig.colorbar(mesh, ax=ax, label=f"log10 {what} MSE")
            ax.set_xscale("log")
            ax.axhline((m if s == 0 else large)["counting_width"], color="w", ls="--", lw=1)
            pts = [(int(e), w) for e, w in by_budget.items() if w is not None]
            if pts:
                ax.plot(*zip(*pts), "r^", ms=5, label="threshold at budget")
            ax.set_title(f"N = {n}: {what} MSE", fontsize=9)
            if s == 1:
                ax.set_xlabel("epochs (budget)")
            if c == 0:
                ax.set_ylabel("width M")
    if axes[0, 0].get_legend_handles_labels()[0]:
        axes[0, 0].legend(fontsize=7, loc="upper right")
    save_figure(fig, out / "budget_heatmap.png")

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

    conv = m["convergence"]
    fig, ax = subplots(width=6.0, height=3.4)
    ax = ax[0, 0]
    for s, n in enumerate([m["constraints"] // 8, large["n_train"]]):
        ax.semilogy(widths, np.abs(np.asarray(conv["rel_change"][s], float)), "o-", ms=2.5, color=f"C{s}",
                    label=f"N = {n}")
    ax.axhline(conv["settle_tol"], color="gray", ls=":", lw=1, label=f"settled: < {conv['settle_tol']:.0%}")
    ax.set(xlabel="hidden width M", ylabel="|relative change| of train MSE",
           title=f"convergence: epochs {conv['window'][0]} to {conv['window'][1]} (mean over runs)")
    ax.legend(fontsize=8)
    save_figure(fig, out / "convergence.png")


def _word(c_verdict: str) -> str:
    return {"higher": "hurts", "lower": "helps", "no significant difference": "tie"}[c_verdict]


def report(m: dict) -> list[dict]:
    d, large, conv = m["more_data_hurts"], m["n_large"], m["convergence"]
    sizes = f"{d['n_small']} / {d['n_large']}"
    fields = {**m, "large": large, "conv": conv, "n_small": d["n_small"], "n_large_n": d["n_large"],
              "counting_params": m["constraints"], "ratio_thr": (m["threshold_params"] or math.nan) / m["constraints"],
              "ratio_thr_large": (large["threshold_params"] or math.nan) / large["constraints"]}

    curves = []
    for w, info in m["to_1e-3"].items():
        under = n_params(int(w)) < m["constraints"]
        key = ("reach_all" if info["fraction"] == 1 else "reach_some" if info["fraction"] > 0 else
               "reach_none_under" if under else "reach_none_over")
        curves.append(templates.render(TEXT, key, {"w": w, "pct": 100 * info["fraction"], "n_runs": m["n_runs"],
                                                   "p": n_params(int(w)), "no": m["constraints"],
                                                   "mean": info["mean"] or math.nan, "se": info["se"] or math.nan}))
    speed = speed_sentence(m["to_1e-3"])

    budget_rows = [[f"threshold after {e} epochs (N = {d['n_small']} / {d['n_large']})",
                    f"{w} / {large['threshold_by_budget'].get(e)}"] for e, w in m["threshold_by_budget"].items()]
    thr_key = ("threshold_none" if m["threshold_width"] is None else
               "threshold_budget" if budget_moves(m["threshold_by_budget"]) else "threshold_stable")
    unsettled = conv["unsettled_widths"][0]
    settle_key = "settled_all" if not unsettled else "settled_not"
    fields.update(unsettled=", ".join(map(str, unsettled)) or "none",
                  unsettled_large=", ".join(map(str, conv["unsettled_widths"][1])) or "none",
                  budget_list="; ".join(f"{e}: {'none' if w is None else w}"
                                        for e, w in m["threshold_by_budget"].items()),
                  budget_list_large="; ".join(f"{e}: {'none' if w is None else w}"
                                              for e, w in large["threshold_by_budget"].items()),
                  peak_lo=(m["peak_region"] or [None, None])[0], peak_hi=(m["peak_region"] or [None, None])[1])

    d_sentences = [templates.render(TEXT, f"more_data_{_word(v)}", {
        "w": w, "p": p, "role": TEXT[f"role_{role}"], "a": a, "sa": sa, "b": b, "sb": sb, "diff": df, "dse": dse,
        "z": z, "n_small": d["n_small"], "n_large": d["n_large"], "ra": p / (8 * d["n_small"]),
        "rb": p / (8 * d["n_large"]), "tra": tra, "trb": trb, "n_runs": m["n_runs"]})
        for w, p, role, a, sa, b, sb, df, dse, z, v, tra, trb in zip(
            d["widths"], d["params"], d["roles"], d["test_loss_n_small"], d["test_loss_n_small_se"],
            d["test_loss_n_large"], d["test_loss_n_large_se"], d["difference"], d["difference_se"], d["z"],
            d["verdict"], d["train_loss_n_small"], d["train_loss_n_large"])]
    hurts_key = "hurts_found" if d["hurts_widths"] else "hurts_not_found"
    fields.update(hurts_list=", ".join(map(str, d["hurts_widths"])) or "none",
                  helps_list=", ".join(map(str, d["helps_widths"])) or "none")
    return [
        {"question": "(a) the theoretical optimal test error R_t", "ids": ["001 CA1(a)", "001 CA1(b.1)"],
         "derivation": templates.render(TEXT, "rt_derivation", fields),
         "figures": [], "table": [["R_t = noise variance", m["R_t"]]],
         "text": templates.render(TEXT, "rt_text", fields), "code": ["nndl.data.teacher.g", "nndl.data.teacher.draws"]},
        {"question": "(b) training loss for M in {10, 50, 100}; which M reach MSE < 1e-3, and how fast?",
         "ids": ["001 CA1(b.2)", "001 CA1(b.3)"], "figures": ["training_curves.png"],
         "table": [[f"M = {w}: runs < 1e-3, epochs (mean ± s.e.)",
                    f"{info['fraction']:.0%}, " + (f"{info['mean']:.0f} ± {info['se'] or 0:.0f}"
                                                   if info["mean"] is not None else "never")]
                   for w, info in m["to_1e-3"].items()],
         "text": templates.render(TEXT, "curves_text", fields) + " " + " ".join(curves) + " " + speed,
         "code": ["nndl.train.mlp.train_epoch", "nndl.models.padded_mlp.apply"]},
        {"question": "(c) final train/test loss vs M; the interpolation threshold and its parameter count",
         "ids": ["001 CA1(c.1)", "001 CA1(c.2)"],
         "derivation": templates.render(TEXT, "counting_derivation", fields),
         "figures": ["double_descent.png", "budget_heatmap.png", "convergence.png"],
         "table": [[f"threshold width (N = {sizes})", f"{m['threshold_width']} / {large['threshold_width']}"],
                   [f"threshold params (N = {sizes})", f"{m['threshold_params']} / {large['threshold_params']}"],
                   [f"counting width M* (N = {sizes})", f"{m['counting_width']:.1f} / {large['counting_width']:.1f}"],
                   ["test-loss peak width (within 2 s.e.)",
                    f"{m['peak_width']} ({fields['peak_lo']}-{fields['peak_hi']})"],
                   ["peak test MSE", _pm(m["peak_test_loss"], m["peak_test_loss_se"])],
                   [f"test MSE at M = {m['widths'][-1]}", _pm(m["test_loss_at_max_width"],
                                                              m["test_loss_at_max_width_se"])]] + budget_rows,
         "text": " ".join([templates.render(TEXT, "runs_text", fields), templates.render(TEXT, thr_key, fields),
                           templates.render(TEXT, peak_key(m), fields) if m["peak_width"] is not None else "",
                           templates.render(TEXT, settle_key, fields)]).strip(),
         "code": ["experiments.double_descent.threshold", "experiments.double_descent.settling",
                  "experiments.double_descent.counting_width"]},
        {"question": "(d) can more data hurt? N = 100 vs N = 200 at the threshold and beyond", "ids": ["001 CA1(d)"],
         "figures": ["more_data.png"],
         "table": [[f"M = {w} ({TEXT['role_' + r]}): N = {d['n_small']} / N = {d['n_large']}",
                    f"{_pm(a, sa)} / {_pm(b, sb)}; diff {_pm(df, dse)}"]
                   for w, r, a, sa, b, sb, df, dse in zip(d["widths"], d["roles"], d["test_loss_n_small"],
                                                          d["test_loss_n_small_se"], d["test_loss_n_large"],
                                                          d["test_loss_n_large_se"], d["difference"],
                                                          d["difference_se"])],
         "text": " ".join(d_sentences) + " " + templates.render(TEXT, hurts_key, fields),
         "code": ["experiments.double_descent.pick_widths", "nndl.stats.compare_paired"]},
    ]


def _f(value) -> float:
    """A metrics.json number as a float (null -> NaN)."""
    return math.nan if value is None else float(value)


def _pm(value, se) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.3g} ± {se:.2g}" if se is not None and np.isfinite(se) else f"{value:.3g}"


def peak_key(m: dict) -> str:
    """Whether the widest net's test MSE is significantly below the peak's: a second descent."""
    c = stats.compare(_f(m["peak_test_loss"]), _f(m["peak_test_loss_se"]), _f(m["test_loss_at_max_width"]),
                      _f(m["test_loss_at_max_width_se"]))
    return "peak_descent" if c.verdict == "lower" else "peak_no_descent"


def budget_moves(by_budget: dict) -> bool:
    """Whether the measured threshold depends on the training budget (differs between budgets)."""
    return len({w for w in by_budget.values()}) > 1


def speed_sentence(to_tol: dict) -> str:
    """Is training larger models faster in epochs? From the widths' epochs to 1e-3 and their uncertainty."""
    items = [(int(w), v) for w, v in to_tol.items()]
    reached = [(w, v) for w, v in items if v["mean"] is not None]
    never = [w for w, v in items if v["mean"] is None]
    if len(reached) < 2:
        key = "speed_one" if reached else "speed_none"
        return templates.render(TEXT, key, {"never": ", ".join(map(str, never)) or "none",
                                            "w": reached[0][0] if reached else 0})
    (w1, a), (w2, b) = reached[-2], reached[-1]
    c = stats.compare(a["mean"], a["se"] if a["se"] is not None else math.nan, b["mean"],
                      b["se"] if b["se"] is not None else math.nan)
    key = {"lower": "speed_faster", "higher": "speed_slower", "no significant difference": "speed_tie"}[c.verdict]
    return templates.render(TEXT, key, {"w1": w1, "w2": w2, "a": a["mean"], "b": b["mean"], "diff": c.difference,
                                        "dse": c.difference_se, "never": ", ".join(map(str, never)) or "none"})


def checks(m: dict) -> list[dict]:
    test = np.asarray(m["test_loss"], float)
    rt, n_test = m["R_t"], 2000 * teacher.D_OUT
    # the sample variance of n squared Gaussian residuals has s.e. R_t * sqrt(2 / n): a test MSE more than
    # 4 of those below R_t would mean the test set was seen in training
    floor = rt * (1 - 4 * math.sqrt(2 / n_test))
    out = [{"check": "no width's test MSE below R_t beyond 4 sampling s.e.", "reference": rt,
            "measured": float(np.nanmin(test)) if np.isfinite(test).any() else None,
            "tolerance": f"{floor:.4g} (4 s.e. of {n_test} residuals)",
            "passed": bool(np.isfinite(test).any() and np.nanmin(test) > floor)}]
    if m["threshold_width"] is not None:
        # the measured threshold must sit at or beyond the counting width: below it the net cannot fit
        # N·O values exactly (up to the budget, which only moves it wider)
        out.append({"check": "measured threshold >= counting width M* - 2", "reference": m["counting_width"],
                    "measured": m["threshold_width"], "tolerance": "2 widths",
                    "passed": bool(m["threshold_width"] >= m["counting_width"] - 2)})
    if m["peak_width"] is not None:
        out.append({"check": "test peak above the widest net's test MSE by > 2 s.e.",
                    "reference": m["test_loss_at_max_width"], "measured": m["peak_test_loss"],
                    "tolerance": "2 s.e. (paired runs not assumed)",
                    "passed": stats.compare(_f(m["test_loss_at_max_width"]), _f(m["test_loss_at_max_width_se"]),
                                            _f(m["peak_test_loss"]), _f(m["peak_test_loss_se"])).verdict == "higher"})
    return out


def main(argv=None) -> int:
    sweep.use_host_devices()  # one CPU device per core, before JAX starts its backend
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
