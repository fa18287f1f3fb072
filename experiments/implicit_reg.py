"""Implicit regularisation of SGD: learning rate vs gradient norms vs test error on converged runs, in one sweep.

Run: python -m experiments.implicit_reg [--quick|--full] [--lrs 0.02,0.04,0.08,0.16] [--seeds 3] [--data-draws 2]
Shows (seed 001, computer assignment 2): a 5-hidden-layer, M=50 ReLU net trained by plain
SGD (B=20) on the double-descent data at several learning rates until training MSE < 1e-5,
from several init seeds on several independently drawn training sets; at the converged
parameters ||grad J||^2 and the minibatch gradient variance (1/N_b) sum_b ||grad J_b - grad J||^2
with error bars; their relation to the learning rate and the test error, compared with
Smith et al. (2021), whose backward-error analysis says SGD follows J + (lr/4) mean_k ||grad J_k||^2;
then explicit weight decay, chosen on a held-out validation set, against the implicit-only runs.
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.ticker import NullFormatter

from nndl.run import cli, progress, runio, templates
from nndl.train import gradnoise
from nndl import stats, sweep, train
from nndl.data import teacher
from nndl.run.flags import Key
from nndl.models import padded_mlp
from nndl.run.plotting import save_figure, subplots

NAME = "implicit_reg"
SHEET = "seed 001, computer assignment 2"
TEXT = templates.beside(__file__)
MIN_CONVERGED = 0.5  # a learning rate enters the trend when at least this fraction of its runs converged


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "lrs": [0.02, 0.04, 0.08, 0.16], "seeds": 3, "data_draws": 2, "epochs": 8000,
              "batch_size": 20, "width": 50, "depth": 5, "n_train": 100, "n_val": 1000, "n_test": 2000,
              "noise": teacher.NOISE, "stop_loss": 1e-5,
              "weight_decays": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], "wd_epochs": 2000, "chunk_epochs": 500}
    if full:
        config.update(seeds=5, data_draws=4, epochs=30000, wd_epochs=10000, chunk_epochs=1000)
    return config


KEYS = {
    "lrs": Key("SGD learning rates mu, e.g. 0.02,0.04,0.08,0.16", positive=True, unique=True),
    "seeds": Key("init seeds per (lr, data draw)", lo=1, hi=1000),
    "data_draws": Key("independently drawn training sets", lo=1, hi=1000),
    "epochs": Key("horizon of the implicit-only runs (each stops at --stop-loss)", lo=1, hi=10_000_000),
    "batch_size": Key("minibatch size B", lo=1, hi=1_000_000),
    "width": Key("hidden units M per layer", lo=1, hi=4096),
    "depth": Key("hidden layers", lo=1, hi=64),
    "n_train": Key("training points N", lo=1, hi=1_000_000),
    "n_val": Key("validation points per data draw (choosing the weight decay)", lo=1, hi=10_000_000),
    "n_test": Key("test points", lo=1, hi=10_000_000),
    "noise": Key("label noise standard deviation sigma", lo=0, hi=1e6),
    "stop_loss": Key("training MSE that counts as converged", positive=True),
    "weight_decays": Key("explicit L2 strengths tried at every lr (the implicit-only runs have 0)", positive=True,
                         unique=True),
    "wd_epochs": Key("horizon of the weight-decay runs", lo=1, hi=10_000_000),
    "chunk_epochs": Key("epochs per jitted call (progress and checkpoint granularity)", lo=1, hi=10_000_000),
}


def validate(config: dict) -> None:
    if config["batch_size"] > config["n_train"]:
        raise cli.UserError(f"--batch-size {config['batch_size']} exceeds N = {config['n_train']}")


@functools.lru_cache(maxsize=4)
def _noise_fn(spec: train.Spec, batch_size: int):
    def one(params, hp, data):
        own = train.select_data(spec, data, hp)
        x, y = own["x_train"], own["y_train"]
        perm = train.epoch_permutation(hp["seed"], hp["epochs"], x.shape[0])

        def loss(p, xb, yb, w):
            return train.weighted_loss(spec, p, xb, yb, w, hp["width"])

        return gradnoise.gradient_noise(loss, params, x, y, perm, batch_size)

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None)))


@functools.lru_cache(maxsize=4)
def _mse_fn(spec: train.Spec):
    def one(params, hp, x, y):
        own = x[hp["data"]], y[hp["data"]]
        return train.mean_mse(train.predict(spec, params, own[0], hp["width"]), own[1])

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None, None)))


def gradient_measures(result: train.SweepResult, data: dict, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """||grad J||^2 and the minibatch variance at every config's final parameters, on its own training set."""
    (spec,), (state,) = result.specs, result.states
    hp = {k: jnp.asarray(v) for k, v in result.grid.items()}
    arrays = {k: jnp.asarray(v, jnp.float32) for k, v in data.items()}
    gsq, var = _noise_fn(spec, batch_size)(state.params, hp, arrays)
    return np.asarray(gsq), np.asarray(var)


def held_out_mse(result: train.SweepResult, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """MSE of every config's final model on held-out sets x, y of shape (n_draws, n, d): config i on draw data[i]."""
    (spec,), (state,) = result.specs, result.states
    hp = {k: jnp.asarray(v) for k, v in result.grid.items()}
    return np.asarray(_mse_fn(spec)(state.params, hp, jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)))


def make_data(config: dict) -> tuple[dict, dict]:
    """Training/test draws for the sweep and, per draw, a validation set from the same distribution."""
    data = teacher.draws(config["seed"], config["data_draws"], config["n_train"], config["n_test"], config["noise"])
    val = [teacher.sample(config["seed"] + 2_000_003, config["n_val"], config["noise"], draw=d)
           for d in range(config["data_draws"])]
    return data, {"x": np.stack([v[0] for v in val]), "y": np.stack([v[1] for v in val])}


def train_grid(config: dict, lrs: list[float], wds: list[float], epochs: int, stop: float) -> dict:
    grid = sweep.product(weight_decay=wds, lr=lrs, data=range(config["data_draws"]),
                         seed=sweep.derive_seeds(config["seed"], config["seeds"]))
    n = len(grid["lr"])
    grid.update(width=np.full(n, config["width"]), epochs=np.full(n, epochs),
                batch_size=np.full(n, config["batch_size"]), stop_loss=np.full(n, stop))
    return grid


def run_sweep(config: dict, grid: dict, data: dict, val: dict, out: Path, tag: str) -> dict:
    """One engine call; per config: final train/val/test MSE, gradient measures, stop epoch, divergence."""
    res = train.run_mlp_sweep(grid, data, depth=config["depth"], optimizer="sgd", n_buckets=1,
                              chunk_epochs=config["chunk_epochs"], tolerances=(config["stop_loss"],),
                              checkpoint=out / f"checkpoint_{tag}.npz", keep_checkpoint=True, desc=f"{NAME} {tag}",
                              progress=progress.bar)
    gsq, var = gradient_measures(res, data, config["batch_size"])
    bad = res.diverged
    nan = lambda v: np.where(bad, np.nan, v)  # noqa: E731 - a diverged config reports nothing
    return {"res": res, "train": nan(res.final["train_loss"]), "test": nan(res.final["test_loss"]),
            "val": nan(held_out_mse(res, val["x"], val["y"])), "gsq": nan(gsq), "var": nan(var),
            "converged": (res.stopped_epoch >= 0) & ~bad, "stop": np.where(res.stopped_epoch >= 0,
                                                                           res.stopped_epoch + 1.0, np.nan),
            "diverged": bad}


def slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope of y on x with its standard error (NaN with fewer than 3 points or no spread)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0:
        return math.nan, math.nan
    xc = x - x.mean()
    b = float((xc * (y - y.mean())).sum() / (xc**2).sum())
    resid = y - y.mean() - b * xc
    return b, float(math.sqrt((resid**2).sum() / (len(x) - 2) / (xc**2).sum()))


def correlation(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Pearson r with its 95 % interval from Fisher's z (NaN with fewer than 4 points)."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 4 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan, math.nan
    r = float(np.corrcoef(x, y)[0, 1])
    z, half = math.atanh(max(min(r, 0.999999), -0.999999)), 1.96 / math.sqrt(len(x) - 3)
    return r, math.tanh(z - half), math.tanh(z + half)


def run(config: dict, out: Path) -> dict:
    lrs = config["lrs"]
    data, val = make_data(config)
    runs = config["seeds"] * config["data_draws"]
    start = time.perf_counter()
    imp = run_sweep(config, train_grid(config, lrs, [0.0], config["epochs"], config["stop_loss"]), data, val, out,
                    "implicit")
    wds = sorted(set(config["weight_decays"]))
    reg = run_sweep(config, train_grid(config, lrs, wds, config["wd_epochs"], 0.0), data, val, out, "weight_decay")
    wall = time.perf_counter() - start
    runio.write_json(out / "sweep.json", [imp["res"].replay(), reg["res"].replay()])
    for tag in ("implicit", "weight_decay"):
        (out / f"checkpoint_{tag}.npz").unlink(missing_ok=True)  # both sweeps done: nothing left to resume

    shape = (len(lrs), runs)  # [lr, (draw, seed)]
    per = {k: imp[k].reshape(shape) for k in ("train", "test", "val", "gsq", "var", "converged", "stop",
                                              "diverged")}
    conv = per["converged"]
    frac = conv.mean(axis=1)
    kept = [i for i in range(len(lrs)) if frac[i] >= MIN_CONVERGED]
    excluded = [{"lr": lrs[i], "converged": int(conv[i].sum()), "runs": runs,
                 "diverged": int(per["diverged"][i].sum()),
                 "reason": ("diverged" if per["diverged"][i].any() and not conv[i].any() else
                            f"{int(conv[i].sum())} of {runs} runs reached MSE {config['stop_loss']:g} "
                            f"within {config['epochs']} epochs")}
                for i in range(len(lrs)) if i not in kept]

    def conv_stat(key):  # mean ± s.e. over the converged runs of each lr
        values = np.where(conv, per[key], np.nan)
        m, se = stats.mean_se(values, axis=1)
        return m, se

    gsq_m, gsq_se = conv_stat("gsq")
    var_m, var_se = conv_stat("var")
    test_m, test_se = conv_stat("test")
    train_m, _ = conv_stat("train")
    ep_m, ep_se = conv_stat("stop")
    imp_term = np.array([lr / 4 for lr in lrs])[:, None] * (per["gsq"] + per["var"])
    term_m, term_se = stats.mean_se(np.where(conv, imp_term, np.nan), axis=1)

    # trend over the kept lrs, converged runs only: log var = a + b log lr
    lr_runs = np.repeat(np.asarray(lrs, float)[:, None], runs, axis=1)
    mask = conv & np.isin(np.arange(len(lrs))[:, None], kept)
    sel = lambda v: np.where(mask, v, np.nan).ravel()  # noqa: E731
    with np.errstate(divide="ignore", invalid="ignore"):
        var_slope = slope(np.log(sel(lr_runs)), np.log(sel(per["var"])))
        gsq_slope = slope(np.log(sel(lr_runs)), np.log(sel(per["gsq"])))
        corr_var = correlation(np.log(sel(per["var"])), sel(per["test"]))
    end = (stats.compare_paired(np.where(mask[kept[0]], per["test"][kept[0]], np.nan),
                                np.where(mask[kept[-1]], per["test"][kept[-1]], np.nan))
           if len(kept) >= 2 else None)

    wd = weight_decay_summary(reg, imp, lrs, wds, runs, kept, conv)
    metrics = {
        "lrs": lrs, "width": config["width"], "depth": config["depth"], "batch_size": config["batch_size"],
        "n_train": config["n_train"], "n_val": config["n_val"],
        "n_params": padded_mlp.param_count(config["width"], d_in=teacher.D_IN, d_out=teacher.D_OUT,
                                           depth=config["depth"]), "stop_loss": config["stop_loss"],
        "epochs": config["epochs"], "n_seeds": config["seeds"], "n_data_draws": config["data_draws"], "n_runs": runs,
        "final_train_loss": train_m, "test_loss": test_m, "test_loss_se": test_se,
        "grad_norm_sq": gsq_m, "grad_norm_sq_se": gsq_se,
        "minibatch_grad_var": var_m, "minibatch_grad_var_se": var_se,
        "implicit_regulariser": term_m, "implicit_regulariser_se": term_se,
        "converged_fraction": frac, "epochs_to_converge": ep_m, "epochs_to_converge_se": ep_se,
        "kept_lrs": [lrs[i] for i in kept], "excluded_lrs": excluded,
        "trend": {"var_slope": var_slope[0], "var_slope_se": var_slope[1], "gsq_slope": gsq_slope[0],
                  "gsq_slope_se": gsq_slope[1], "corr_log_var_test": corr_var[0],
                  "corr_low": corr_var[1], "corr_high": corr_var[2],
                  "test_change": None if end is None else {"from_lr": lrs[kept[0]], "to_lr": lrs[kept[-1]],
                                                           "difference": end.difference,
                                                           "difference_se": end.difference_se,
                                                           "verdict": end.verdict}},
        "n_batches": -(-config["n_train"] // config["batch_size"]),
        "diverged": int(imp["diverged"].sum() + reg["diverged"].sum()),
        "diverged_lrs": [lr for i, lr in enumerate(lrs) if per["diverged"][i].any()],
        "weight_decay": wd,
        "sweep": {"n_configs": int(imp["train"].size + reg["train"].size), "wall_s": wall},
    }
    per_config = {"lr": imp["res"].grid["lr"], "data": imp["res"].grid["data"], "seed": imp["res"].grid["seed"],
                  "grad_norm_sq": imp["gsq"], "minibatch_grad_var": imp["var"], "test_loss": imp["test"],
                  "train_loss": imp["train"], "val_loss": imp["val"], "converged": imp["converged"]}
    runio.save_curves(out / "curves.npz", epochs=imp["res"].record_epochs, train=imp["res"].curves["train_loss"],
                      test=imp["res"].curves["test_loss"], wd_epochs=reg["res"].record_epochs,
                      wd_train=reg["res"].curves["train_loss"], wd_test=reg["res"].curves["test_loss"],
                      wd_lr=reg["res"].grid["lr"], wd_weight_decay=reg["res"].grid["weight_decay"],
                      wd_val_loss=reg["val"], wd_test_loss=reg["test"], **per_config)
    plot(metrics, imp["res"], per_config, out)
    return metrics


def weight_decay_summary(reg: dict, imp: dict, lrs: list[float], wds: list[float], runs: int, kept: list[int],
                         conv: np.ndarray) -> dict:
    """(d): (lr, weight decay) chosen by mean validation MSE; its test MSE reported once, compared (paired by
    seed and data draw) with the implicit-only lr chosen the same way among the converged lrs."""
    shape = (len(wds), len(lrs), runs)
    val, test, train = (reg[k].reshape(shape) for k in ("val", "test", "train"))
    val_m, val_se = stats.mean_se(val, axis=2)
    test_m, test_se = stats.mean_se(test, axis=2)
    rows = [{"lr": lr, "weight_decay": wd, "val_loss": float(val_m[a, b]), "val_loss_se": float(val_se[a, b]),
             "train_loss": float(np.nanmean(train[a, b])) if np.isfinite(train[a, b]).any() else None,
             "test_loss": float(test_m[a, b]), "test_loss_se": float(test_se[a, b])}
            for a, wd in enumerate(wds) for b, lr in enumerate(lrs)]
    if not np.isfinite(val_m).any():
        return {"grid": rows, "weight_decays": wds, "best": None, "best_implicit": None, "interior": None,
                "edge": None, "comparison": None, "best_implicit_test_loss": None, "beats_implicit": False}
    a, b = np.unravel_index(int(np.nanargmin(val_m)), val_m.shape)
    best = dict(rows[a * len(lrs) + b])
    imp_val = imp["val"].reshape(len(lrs), runs)
    imp_test = imp["test"].reshape(len(lrs), runs)
    imp_val_m = np.array([np.nanmean(np.where(conv[i], imp_val[i], np.nan)) if i in kept else np.nan
                          for i in range(len(lrs))])
    best_implicit = None
    comparison = None
    if np.isfinite(imp_val_m).any():
        i = int(np.nanargmin(imp_val_m))
        m, se = stats.mean_se(np.where(conv[i], imp_test[i], np.nan))
        best_implicit = {"lr": lrs[i], "val_loss": float(imp_val_m[i]), "test_loss": float(m),
                         "test_loss_se": float(se)}
        c = stats.compare_paired(np.where(conv[i], imp_test[i], np.nan), test[a, b])
        comparison = {"difference": c.difference, "difference_se": c.difference_se, "z": c.z,
                      "verdict": c.verdict}
    return {"grid": rows, "weight_decays": wds, "best": best, "best_implicit": best_implicit,
            "interior": bool(0 < a < len(wds) - 1), "edge": None if 0 < a < len(wds) - 1 else
            ("smallest" if a == 0 else "largest"), "comparison": comparison,
            # kept for old readers: the best implicit-only test MSE and whether weight decay beat it
            "best_implicit_test_loss": None if best_implicit is None else best_implicit["test_loss"],
            "beats_implicit": bool(comparison is not None and comparison["verdict"] == "lower")}


def plot(m: dict, res: train.SweepResult, per: dict, out: Path) -> None:
    fig, ax = subplots(width=6.5, height=4.2)
    ax = ax[0, 0]
    for i, lr in enumerate(m["lrs"]):
        sel = np.isclose(per["lr"], lr)
        for j, curve in enumerate(res.curves["train_loss"][sel]):
            ax.loglog(res.record_epochs, curve, color=f"C{i}", alpha=0.6, lw=1,
                      label=f"μ = {lr:g} ({m['converged_fraction'][i]:.0%} converged)" if j == 0 else None)
    ax.axhline(m["stop_loss"], color="gray", ls=":", lw=1, label=f"target MSE {m['stop_loss']:g}")
    ax.set(xlabel="epoch", ylabel="training MSE (full data)",
           title=f"(b) SGD, {m['depth']}×{m['width']} ReLU, B = {m['batch_size']}, {m['n_runs']} runs per μ")
    ax.legend(fontsize=8)
    save_figure(fig, out / "convergence.png")

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
    conv = np.asarray(per["converged"], bool)
    for i, lr in enumerate(m["lrs"]):
        if lr not in m["kept_lrs"]:
            continue
        sel = conv & np.isclose(per["lr"], lr)
        b.loglog(per["minibatch_grad_var"][sel], per["test_loss"][sel], "o", color=f"C{i}", label=f"μ = {lr:g}")
        b.loglog(per["grad_norm_sq"][sel], per["test_loss"][sel], "x", color=f"C{i}")
    b.set(xlabel="o: minibatch variance, x: ‖∇J‖²", ylabel="test MSE (converged runs)",
          title="(c) test error vs gradient norms")
    b.legend(fontsize=8)
    save_figure(fig, out / "gradient_norms.png")

    wd = m["weight_decay"]
    fig, ax = subplots(width=6.5, height=3.8)
    ax = ax[0, 0]
    for i, lr in enumerate(m["lrs"]):
        rows = [r for r in wd["grid"] if r["lr"] == lr]
        ax.errorbar([r["weight_decay"] for r in rows], [r["val_loss"] for r in rows],
                    yerr=[2 * (r["val_loss_se"] or 0) for r in rows], fmt="o-", capsize=2, color=f"C{i}",
                    label=f"μ = {lr:g}")
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


def _f(value) -> float:
    return math.nan if value is None else float(value)


def report(m: dict) -> list[dict]:
    lrs, t, wd = m["lrs"], m["trend"], m["weight_decay"]
    terms = [_f(v) for lr, v in zip(lrs, m["implicit_regulariser"]) if lr in m["kept_lrs"]]
    fields = {**m, "t": t, "wd": wd, "term_lo": min(terms, default=math.nan), "term_hi": max(terms, default=math.nan)}
    fields.update(term_lo_pct=100 * fields["term_lo"] / m["stop_loss"], term_hi_pct=100 * fields["term_hi"] / m["stop_loss"])
    conv_rows = [[f"μ = {lr:g}: converged, epochs to {m['stop_loss']:g}",
                  f"{c:.0%}, " + (f"{e:.0f} ± {_f(se):.0f}" if e is not None else "-")]
                 for lr, c, e, se in zip(lrs, m["converged_fraction"], m["epochs_to_converge"],
                                         m["epochs_to_converge_se"])]
    excluded = " ".join(templates.render(TEXT, "excluded", {"lr": e["lr"], "reason": e["reason"]})
                        for e in m["excluded_lrs"])
    b_text = templates.render(TEXT, "convergence_all" if not m["excluded_lrs"] else "convergence_some", fields)

    rows = [[f"μ = {lr:g}" + ("" if lr in m["kept_lrs"] else " (excluded)"),
             f"‖∇J‖² {_pm(g, gs)}, var {_pm(v, vs)}, test {_pm(te, tes)}, (μ/4)·mean‖∇J_k‖² {_pm(r, rs)}"]
            for lr, g, gs, v, vs, te, tes, r, rs in zip(
                lrs, m["grad_norm_sq"], m["grad_norm_sq_se"], m["minibatch_grad_var"], m["minibatch_grad_var_se"],
                m["test_loss"], m["test_loss_se"], m["implicit_regulariser"], m["implicit_regulariser_se"])]
    trend = []
    if len(m["kept_lrs"]) >= 2:
        z = _f(t["var_slope"]) / _f(t["var_slope_se"]) if _f(t["var_slope_se"]) > 0 else math.nan
        key = "slope_down" if z < -2 else "slope_up" if z > 2 else "slope_flat"
        trend.append(templates.render(TEXT, key, {**fields, "z": z}))
        tc = t["test_change"]
        trend.append(templates.render(TEXT, {"lower": "test_down", "higher": "test_up",
                                             "no significant difference": "test_flat"}[tc["verdict"]],
                                      {**fields, "tc": {**tc, "size": abs(_f(tc["difference"]))}}))
        lo, hi = _f(t["corr_low"]), _f(t["corr_high"])
        ckey = "corr_pos" if lo > 0 else "corr_neg" if hi < 0 else "corr_none"
        trend.append(templates.render(TEXT, ckey, fields))
    else:
        trend.append(templates.render(TEXT, "trend_none", fields))
    best, bi, comp = wd["best"], wd["best_implicit"], wd["comparison"]
    if best is None:
        d_text = templates.render(TEXT, "wd_none", fields)
    else:
        parts = [templates.render(TEXT, "wd_choice", {**fields, "best": best})]
        parts.append(templates.render(TEXT, "wd_interior" if wd["interior"] else "wd_edge",
                                      {**fields, "best": best}))
        if bi is not None and comp is not None:
            parts.append(templates.render(TEXT, {"lower": "wd_beats", "higher": "wd_worse",
                                                 "no significant difference": "wd_tie"}[comp["verdict"]],
                                          {**fields, "best": best, "bi": bi,
                                           "comp": {**comp, "size": abs(_f(comp["difference"]))}}))
        d_text = " ".join(parts)
    return [
        {"question": "(a)/(b) SGD with constant μ to MSE < 1e-5: convergence for every μ (M, B, layers used)",
         "ids": ["001 CA2(a)", "001 CA2(b)"], "figures": ["convergence.png"],
         "table": [["M, B, hidden layers, N", f"{m['width']}, {m['batch_size']}, {m['depth']}, {m['n_train']}"]]
         + conv_rows,
         "text": (b_text + " " + excluded).strip(), "code": ["nndl.train.mlp.train_epoch"]},
        {"question": "(c) the gradient statistics; μ vs the final gradient norms; test error vs both; explanation",
         "ids": ["001 CA2(c.1)", "001 CA2(c.2)", "001 CA2(c.3)", "001 CA2(c.4)"],
         "derivation": templates.render(TEXT, "smith_derivation", fields),
         "figures": ["gradient_norms.png"], "table": rows,
         "text": templates.render(TEXT, "measures_text", fields) + " " + " ".join(trend),
         "code": ["nndl.train.gradnoise.gradient_noise"]},
        {"question": "(d) explicit weight decay: can it beat the best implicit-only test loss?", "ids": ["001 CA2(d)"],
         "figures": ["weight_decay.png"],
         "table": [["chosen on validation (μ, λ)", f"{best['lr']:g}, {best['weight_decay']:g}" if best else "-"],
                   ["its train / val / test MSE", (f"{_f(best['train_loss']):.2g} / {_pm(best['val_loss'], best['val_loss_se'])} / "
                                                   f"{_pm(best['test_loss'], best['test_loss_se'])}") if best else "-"],
                   ["implicit only, chosen on validation", (f"μ = {bi['lr']:g}: test {_pm(bi['test_loss'], bi['test_loss_se'])}"
                                                           if bi else "-")]],
         "text": d_text, "code": ["experiments.implicit_reg.weight_decay_summary"]},
    ]


def _pm(value, se) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.3g} ± {se:.2g}" if se is not None and np.isfinite(se) else f"{value:.3g}"


def checks(m: dict) -> list[dict]:
    out = [{"check": "minibatch variance >= 0 and ||∇J||² >= 0 (converged runs)", "reference": 0,
            "measured": float(np.nanmin(np.asarray(m["minibatch_grad_var"] + m["grad_norm_sq"], float))),
            "tolerance": "exact (sums of squares)",
            "passed": bool(np.nanmin(np.asarray(m["minibatch_grad_var"] + m["grad_norm_sq"], float)) >= 0)}]
    # the stop rule reads the epoch's mean minibatch loss; the full-data MSE at the stopped parameters must
    # be of the same size (a wrong stop or a wrong evaluation would differ by orders of magnitude)
    trains = [_f(v) for lr, v in zip(m["lrs"], m["final_train_loss"]) if lr in m["kept_lrs"]]
    if trains:
        out.append({"check": "full-data train MSE at the stop point vs the target", "reference": m["stop_loss"],
                    "measured": max(trains), "tolerance": "factor 3",
                    "passed": bool(max(trains) <= 3 * m["stop_loss"])})
    out.append({"check": "every kept μ converged in >= half its runs", "reference": MIN_CONVERGED,
                "measured": float(min([c for lr, c in zip(m["lrs"], m["converged_fraction"]) if lr in m["kept_lrs"]],
                                      default=math.nan)),
                "tolerance": "fraction", "passed": all(c >= MIN_CONVERGED for lr, c in
                                                       zip(m["lrs"], m["converged_fraction"]) if lr in m["kept_lrs"])})
    return out


def main(argv=None) -> int:
    sweep.use_host_devices()  # one CPU device per core, before JAX starts its backend
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, keys=KEYS, validate=validate,
                              argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
