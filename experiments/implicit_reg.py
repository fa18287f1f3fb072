"""Implicit regularisation of SGD: learning rate vs gradient norms vs test error, all runs in one jitted sweep.

Run: python -m experiments.implicit_reg [--quick|--full] [--lrs 0.02,0.04,0.08,0.16] [--seeds 2]
Shows (seed 001, computer assignment 2): a 5-hidden-layer, M=50 ReLU net trained by plain
SGD (B=20) on the double-descent data at several learning rates until training MSE < 1e-5
where possible; at convergence ||grad J||^2 and the minibatch gradient variance
(1/N_b) sum_b ||grad J_b - grad J||^2; how both and the test error depend on the learning
rate (Smith et al. 2021: SGD implicitly adds (lr/4m) sum_k ||grad C_k||^2 to the loss);
then explicit weight decay trying to beat the best implicit-only test loss.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from nndl import cli, gradstats, runio, sweep, teacher, train
from nndl.plotting import save_figure, subplots

NAME = "implicit_reg"
SHEET = "seed 001, computer assignment 2"


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "lrs": [0.02, 0.04, 0.08, 0.16], "seeds": 2, "epochs": 2000, "batch_size": 20,
              "width": 50, "depth": 5, "n_train": 100, "n_test": 2000, "noise": teacher.NOISE,
              "stop_loss": 1e-5, "weight_decays": [1e-4, 3e-4, 1e-3, 3e-3], "chunk_epochs": 250}
    if full:
        config.update(seeds=8, epochs=20000, chunk_epochs=1000)
    return config


def add_arguments(parser) -> None:
    parser.add_argument("--lrs", type=cli.float_list(), default=None, help="e.g. 0.02,0.04,0.08,0.16")
    parser.add_argument("--seeds", type=cli.positive_int, default=None, help="number of init seeds")
    parser.add_argument("--epochs", type=cli.positive_int, default=None)
    parser.add_argument("--batch-size", dest="batch_size", type=cli.positive_int, default=None)
    parser.add_argument("--width", type=cli.positive_int, default=None)
    parser.add_argument("--depth", type=cli.positive_int, default=None)
    parser.add_argument("--weight-decays", dest="weight_decays", type=cli.float_list(cli.nonneg_float),
                        default=None, help="explicit L2 strengths tried at every lr")


def validate(config: dict) -> None:
    if config["batch_size"] > config["n_train"]:
        raise cli.UserError(f"--batch-size {config['batch_size']} exceeds N = {config['n_train']}")


@functools.lru_cache(maxsize=4)
def _noise_fn(spec: train.Spec, batch_size: int):
    def one(params, hp, x, y):
        perm = train.epoch_permutation(hp["seed"], hp["epochs"], x.shape[0])
        def loss(p, xb, yb, w):
            return train.weighted_loss(spec, p, xb, yb, w, hp["width"])

        return gradstats.gradient_noise(loss, params, x, y, perm, batch_size)

    return jax.jit(jax.vmap(one, in_axes=(0, 0, None, None)))


def gradient_measures(result: sweep.SweepResult, data: dict, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """||grad J||^2 and the minibatch variance at every config's final parameters (one bucket)."""
    (spec,), (state,) = result.specs, result.states
    hp = {k: jnp.asarray(v) for k, v in result.grid.items()}
    x, y = jnp.asarray(data["x_train"], jnp.float32), jnp.asarray(data["y_train"], jnp.float32)
    gsq, var = _noise_fn(spec, batch_size)(state.params, hp, x, y)
    return np.asarray(gsq), np.asarray(var)


def by_lr(values: np.ndarray, grid: dict, lrs: list[float], wd: float = 0.0) -> list[float]:
    """Seed-averaged values per learning rate at weight decay `wd` (NaN-aware)."""
    out = []
    for lr in lrs:
        sel = values[np.isclose(grid["lr"], lr) & np.isclose(grid["weight_decay"], wd)]
        sel = sel[np.isfinite(sel)]
        out.append(float(sel.mean()) if len(sel) else float("nan"))
    return out


def run(config: dict, out: Path) -> dict:
    lrs, wds = config["lrs"], [0.0] + [w for w in config["weight_decays"] if w > 0]
    data = teacher.dataset(config["seed"], config["n_train"], config["n_test"], config["noise"])
    grid = sweep.product(weight_decay=wds, lr=lrs, seed=[config["seed"] * 1000 + s for s in range(config["seeds"])])
    n = len(grid["lr"])
    grid.update(width=np.full(n, config["width"]), epochs=np.full(n, config["epochs"]),
                batch_size=np.full(n, config["batch_size"]),
                stop_loss=np.where(grid["weight_decay"] == 0, config["stop_loss"], 0.0))
    start = time.perf_counter()
    res = sweep.run_mlp_sweep(grid, data, depth=config["depth"], optimizer="sgd", n_buckets=1,
                              chunk_epochs=config["chunk_epochs"], tolerances=(config["stop_loss"],),
                              checkpoint=out / "checkpoint.npz", desc=NAME)
    wall = time.perf_counter() - start
    gsq, var = gradient_measures(res, data, config["batch_size"])
    g = res.grid
    n_batches = -(-config["n_train"] // config["batch_size"])

    implicit = g["weight_decay"] == 0
    converged = implicit & (res.stopped_epoch >= 0)
    test = res.final["test_loss"]
    best_implicit = float(np.nanmin([np.mean(test[implicit & np.isclose(g["lr"], lr)]) for lr in lrs]))
    wd_rows = []
    for wd in wds[1:]:
        for lr in lrs:
            sel = np.isclose(g["lr"], lr) & np.isclose(g["weight_decay"], wd)
            wd_rows.append({"lr": lr, "weight_decay": wd, "train_loss": float(np.mean(res.final["train_loss"][sel])),
                            "test_loss": float(np.mean(test[sel]))})
    best_wd = min(wd_rows, key=lambda r: r["test_loss"]) if wd_rows else None

    metrics = {
        "lrs": lrs,
        "width": config["width"], "depth": config["depth"], "batch_size": config["batch_size"],
        "final_train_loss": by_lr(res.final["train_loss"], g, lrs),
        "test_loss": by_lr(test, g, lrs),
        "grad_norm_sq": by_lr(gsq, g, lrs),
        "minibatch_grad_var": by_lr(var, g, lrs),
        "implicit_regulariser": [lr / 4 * (a + b) for lr, a, b in
                                 zip(lrs, by_lr(gsq, g, lrs), by_lr(var, g, lrs))],
        "converged_fraction": [float(np.mean(converged[implicit & np.isclose(g["lr"], lr)])) for lr in lrs],
        "epochs_to_converge": by_lr(np.where(res.stopped_epoch >= 0, res.stopped_epoch + 1, np.nan), g, lrs),
        "n_batches": n_batches,
        "diverged": int(res.diverged.sum()),
        "weight_decay": {"grid": wd_rows, "best": best_wd, "best_implicit_test_loss": best_implicit,
                         "beats_implicit": bool(best_wd is not None and best_wd["test_loss"] < best_implicit)},
        "sweep": {"n_configs": n, "wall_s": wall},
    }
    per_config = {"lr": g["lr"], "weight_decay": g["weight_decay"], "seed": g["seed"], "grad_norm_sq": gsq,
                  "minibatch_grad_var": var, "test_loss": test, "train_loss": res.final["train_loss"]}
    runio.save_curves(out / "curves.npz", epochs=res.record_epochs, train=res.curves["train_loss"],
                      test=res.curves["test_loss"], **per_config)
    plot(metrics, res, per_config, out)
    return metrics


def plot(m: dict, res: sweep.SweepResult, per: dict, out: Path) -> None:
    fig, ax = subplots(width=6.0)
    ax = ax[0, 0]
    for i, lr in enumerate(m["lrs"]):
        sel = np.isclose(per["lr"], lr) & (per["weight_decay"] == 0)
        for j, curve in enumerate(res.curves["train_loss"][sel]):
            ax.loglog(res.record_epochs, curve, color=f"C{i}", alpha=0.8, label=f"μ = {lr:g}" if j == 0 else None)
    ax.axhline(1e-5, color="gray", ls=":", lw=1, label="target MSE 1e-5")
    ax.set(xlabel="epoch", ylabel="training MSE (full data)",
           title=f"(b) SGD convergence, {m['depth']}x{m['width']} ReLU, B = {m['batch_size']}")
    ax.legend(fontsize=8)
    save_figure(fig, out / "convergence.png")

    implicit = per["weight_decay"] == 0
    fig, axes = subplots(1, 2, width=5.0)
    a = axes[0, 0]
    a.loglog(m["lrs"], m["grad_norm_sq"], "o-", label=r"$\|\nabla J\|^2$")
    a.loglog(m["lrs"], m["minibatch_grad_var"], "s-", label=r"$\frac{1}{N_b}\sum_b\|\nabla J_b-\nabla J\|^2$")
    a.set(xlabel="learning rate μ", ylabel="at the final parameters", title="(c) μ vs gradient norms")
    a.legend(fontsize=8)
    b = axes[0, 1]
    for i, lr in enumerate(m["lrs"]):
        sel = implicit & np.isclose(per["lr"], lr)
        b.loglog(per["minibatch_grad_var"][sel], per["test_loss"][sel], "o", color=f"C{i}", label=f"μ = {lr:g}")
        b.loglog(per["grad_norm_sq"][sel], per["test_loss"][sel], "x", color=f"C{i}")
    b.set(xlabel="gradient measure (o: minibatch variance, x: ||∇J||²)", ylabel="test MSE",
          title="(c) test error vs gradient norms")
    b.legend(fontsize=8)
    save_figure(fig, out / "gradient_norms.png")

    wd = m["weight_decay"]
    if wd["grid"]:
        fig, ax = subplots(width=6.0)
        ax = ax[0, 0]
        for i, lr in enumerate(m["lrs"]):
            rows = [r for r in wd["grid"] if r["lr"] == lr]
            ax.semilogx([r["weight_decay"] for r in rows], [r["test_loss"] for r in rows], "o-", color=f"C{i}",
                        label=f"μ = {lr:g}")
        ax.axhline(wd["best_implicit_test_loss"], color="k", ls="--", lw=1, label="best implicit-only")
        ax.set(xlabel="weight decay λ", ylabel="test MSE", title="(d) explicit weight decay vs implicit only")
        ax.legend(fontsize=8)
        save_figure(fig, out / "weight_decay.png")


def _floats(values) -> np.ndarray:
    """JSON lists hold None where a value was non-finite."""
    return np.array([np.nan if v is None else v for v in values], float)


def report(m: dict) -> list[dict]:
    test = _floats(m["test_loss"])
    lo, hi = int(np.nanargmin(test)), int(np.nanargmax(test))
    trend = "decreases" if m["minibatch_grad_var"][-1] < m["minibatch_grad_var"][0] else "increases"
    wd = m["weight_decay"]
    rows = [[f"μ = {lr:g}", f"train {a:.2g}, test {t:.3g}, ||∇J||² {g:.2g}, var {v:.2g}"]
            for lr, a, t, g, v in zip(m["lrs"], m["final_train_loss"], m["test_loss"], m["grad_norm_sq"],
                                      m["minibatch_grad_var"])]
    best = wd["best"]
    return [
        {"question": "(b) SGD with constant μ to MSE < 1e-5: convergence for every μ (M, B, layers used)",
         "figures": ["convergence.png"],
         "table": [["M, B, hidden layers", f"{m['width']}, {m['batch_size']}, {m['depth']}"]]
         + [[f"μ = {lr:g} converged / epochs", f"{c:.0%} / {e:.0f}" if np.isfinite(e) else f"{c:.0%} / -"]
            for lr, c, e in zip(m["lrs"], m["converged_fraction"], _floats(m["epochs_to_converge"]))],
         "text": f"Fraction of seeds reaching training MSE 1e-5 per μ: "
                 + ", ".join(f"{lr:g}: {c:.0%}" for lr, c in zip(m["lrs"], m["converged_fraction"])) + "."},
        {"question": "(c) μ vs the final gradient norm and minibatch variance; test error vs both",
         "figures": ["gradient_norms.png"], "table": rows,
         "text": f"From μ = {m['lrs'][0]:g} to {m['lrs'][-1]:g} the minibatch gradient variance {trend} "
                 f"({m['minibatch_grad_var'][0]:.2g} -> {m['minibatch_grad_var'][-1]:.2g}); the lowest test MSE "
                 f"is at μ = {m['lrs'][lo]:g} ({m['test_loss'][lo]:.3g}), the highest at μ = {m['lrs'][hi]:g} "
                 f"({m['test_loss'][hi]:.3g}). SGD follows the modified loss J + (μ/4m) Σ_k ||∇J_k||² "
                 f"(Smith et al. 2021), so larger μ pushes harder towards minima with small minibatch gradients."},
        {"question": "(d) explicit weight decay: can it beat the best implicit-only test loss?",
         "figures": ["weight_decay.png"] if wd["grid"] else [],
         "table": [["best implicit-only test MSE", wd["best_implicit_test_loss"]]]
         + ([["best with weight decay", f"{best['test_loss']:.3g} (μ = {best['lr']:g}, λ = {best['weight_decay']:g},"
                                        f" train {best['train_loss']:.2g})"]] if best else []),
         "text": ("Weight decay " + ("beats" if wd["beats_implicit"] else "does not beat")
                  + f" implicit regularisation alone: {best['test_loss']:.3g} vs {wd['best_implicit_test_loss']:.3g}."
                  if best else "No weight decay values were run.")},
    ]


def checks(m: dict) -> list[dict]:
    return [{"check": "no run diverged", "reference": 0, "measured": m["diverged"], "tolerance": "exact",
             "passed": m["diverged"] == 0},
            {"check": "minibatch variance >= 0 and ||∇J||² >= 0", "reference": 0,
             "measured": float(min(m["minibatch_grad_var"] + m["grad_norm_sq"])), "tolerance": "exact",
             "passed": bool(min(m["minibatch_grad_var"] + m["grad_norm_sq"]) >= 0)}]


def main(argv=None) -> int:
    sweep.use_host_devices()  # one CPU device per core, before JAX starts its backend
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run, add_arguments=add_arguments,
                              validate=validate, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
