"""SGD's sampling noise: never-sampled observations, minibatch gradient variance, learning-rate scaling.

Run: python -m experiments.sgd_noise [--quick|--full] [--out DIR] [--seed N]
Shows (seed 004 Q1): (a)/(b) the probability that an observation is never drawn
in an epoch of n draws with replacement, simulated (vmapped) for n = 10 ... 10,000,
against (1 - 1/n)^n and 1/e with binomial standard errors; (d)/(e) the variance
of the minibatch gradient of a real model (the 1-32-64-1 ReLU MLP on
data/x_y.csv) for batch sizes 1 ... 64 drawn without replacement, against
sigma^2/b times the finite-population correction (N - b)/(N - 1), slope -1 on
log-log axes; (f) the variance of one SGD step when the batch grows k-fold and
the learning rate is scaled by k (variance grows k-fold) or by sqrt(k) (constant).
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from nndl.run import cli, progress, runio, templates
from nndl import data, losses, optim, sampling, stats
from nndl.run.checks import check
from nndl.run.flags import Key
from nndl.models import mlp
from nndl.run.plotting import save_figure, subplots

NAME = "sgd_noise"
SHEET = "seed 004 Q1"


def get_config(full: bool = False) -> dict:
    config = {
        "seed": 0,
        "ns": [10, 100, 1000, 10000],
        "trials": 4000,                          # simulated epochs per n (std error ~0.0076)
        "batch_sizes": [1, 2, 4, 8, 16, 32, 64],
        "grad_trials": 2000,                     # minibatch draws per batch size
        "hidden": [32, 64],
        "base_batch": 4, "base_lr": 0.01, "ks": [1, 2, 4, 8, 16],
    }
    if full:
        config.update(trials=200_000, grad_trials=20_000)
    return config


ROWS = f"below the {data.X_Y_ROWS} examples of data/x_y.csv"
KEYS = {
    "ns": Key("population sizes n, e.g. 10,100", lo=2, hi=100_000, unique=True),
    "trials": Key("simulated epochs per n", lo=2, hi=100_000_000, why="at least 2 draws for a standard error"),
    "batch_sizes": Key("batch sizes B of the gradient-noise slope (at least two)", lo=1, hi=data.X_Y_ROWS - 1,
                       unique=True, why=ROWS),
    "grad_trials": Key("minibatch draws per batch size", lo=2, hi=10_000_000,
                       why="at least 2 draws for a standard error"),
    "hidden": Key("hidden widths of the MLP whose gradients are sampled", lo=1, hi=4096),
    "base_batch": Key("batch size of the linear-scaling rule", lo=1, hi=data.X_Y_ROWS - 1, why=ROWS),
    "base_lr": Key("learning rate at the base batch", positive=True),
    "ks": Key("batch multipliers k, e.g. 1,2,4", lo=1, hi=data.X_Y_ROWS - 1, unique=True),
}


def validate(config: dict) -> None:
    if len(config["batch_sizes"]) < 2:
        raise cli.UserError("--batch-sizes: need at least two batch sizes to fit a slope")
    largest = max(max(config["batch_sizes"]), config["base_batch"] * max(config["ks"]))
    if largest >= data.X_Y_ROWS:
        raise cli.UserError(f"batch size {largest} must be below the {data.X_Y_ROWS} examples of data/x_y.csv "
                            f"(check --batch-sizes, --base-batch and --ks)")


# ---------------------------------------------------------------- (a), (b)
def p_never(key: jax.Array, ns: list[int], trials: int, block: int = 20_000) -> list[dict]:
    """Simulated vs exact probability of never drawing a given observation in one epoch.

    The trials run in jitted blocks (block b uses fold_in(key, b)) so a long run shows progress.
    """
    simulate = jax.jit(lambda k, size: jnp.sum(sampling.never_sampled(k, ns, size), axis=0), static_argnums=1)
    counts = np.zeros(len(ns))
    with progress.bar(trials, "(a) never-sampled epochs", unit="epoch") as pbar:
        for b, start in enumerate(range(0, trials, block)):
            size = min(block, trials - start)
            counts += np.asarray(simulate(jax.random.fold_in(key, b), size), np.float64)
            pbar.update(size)
    simulated = counts / trials
    rows = []
    for n, p in zip(ns, np.asarray(simulated, np.float64)):
        p = float(p)
        stderr = math.sqrt(max(p * (1 - p), 1e-300) / trials)
        formula = (1 - 1 / n) ** n
        rows.append({"n": n, "simulated": p, "stderr": stderr, "formula": formula,
                     "z": (p - formula) / stderr if stderr > 0 else None})
    return rows


# ------------------------------------------------------- (d), (e), (f)
def model_params(config: dict):
    """The He-initialised (1, *hidden, 1) MLP whose gradients are sampled, from key fold_in(key(seed), 1)."""
    key = jax.random.fold_in(jax.random.key(config["seed"]), 1)
    return jax.jit(mlp.init, static_argnums=1)(key, (1, *config["hidden"], 1))


def model_gradients(config: dict) -> jax.Array:
    """Per-example gradients (N, P) of the MSE of `model_params` on the 1,000 rows of data/x_y.csv."""
    columns = data.load_csv(data.X_Y_PATH)
    x = jnp.asarray(columns["x"], jnp.float32)[:, None]
    y = jnp.asarray(columns["y"], jnp.float32)[:, None]
    loss = lambda p, xi, yi: losses.mse(mlp.apply(p, xi), yi)  # noqa: E731 - one example
    return jax.jit(lambda p: sampling.per_example_grads(loss, p, x, y))(model_params(config))


def sq_deviations(key, grads, sizes, trials) -> tuple[jax.Array, jax.Array]:
    """||g_b - g||^2 for every draw and batch size (trials, len(sizes)), and sigma^2."""
    full = jnp.mean(grads, axis=0)
    devs = sampling.minibatch_means(key, grads, sizes, trials,
                                    lambda means: jnp.sum(jnp.square(means - full[None]), axis=-1))
    return devs, sampling.population_variance(grads)


def sgd_step_variance(key, grads, batch_sizes, lrs, trials) -> jax.Array:
    """Measured E||theta' - E theta'||^2 of one SGD step theta' = theta - lr g_b, per (batch size, lr).

    Args:
      batch_sizes: (k,) batch of each setting (static).
      lrs: (k, r) learning rates: one column per scaling rule.

    Returns:
      (k, r) variances over `trials` draws.
    """
    full = jnp.mean(grads, axis=0)

    def step(g, lr):  # the update nndl's SGD applies to theta for minibatch gradient g
        tx = optim.sgd(lr)
        return tx.update(g, tx.init(g))[0]

    per_rule = jax.vmap(step, in_axes=(None, 0))          # g (P,), lrs (r,) -> (r, P)
    per_setting = jax.vmap(per_rule, in_axes=(0, 0))      # (k, P), (k, r) -> (k, r, P)
    expected = per_setting(jnp.broadcast_to(full, (len(batch_sizes), full.size)), lrs)  # E[step] = -lr g

    def sq_dev(means):  # one trial: (k, P) -> (k, r)
        return jnp.sum(jnp.square(per_setting(means, lrs) - expected), axis=-1)

    return jnp.mean(sampling.minibatch_means(key, grads, batch_sizes, trials, sq_dev), axis=0)


def run(config: dict, out: Path) -> dict:
    key = jax.random.key(config["seed"])
    never_key, batch_key, step_key = jax.random.split(key, 3)
    rows = p_never(never_key, config["ns"], config["trials"])

    grads = model_gradients(config)
    n_pop = int(grads.shape[0])
    sizes, trials = config["batch_sizes"], config["grad_trials"]
    devs, sigma2 = jax.jit(sq_deviations, static_argnums=(2, 3))(batch_key, grads, tuple(sizes), trials)
    devs, sigma2 = np.asarray(devs, np.float64), float(sigma2)
    variances = devs.mean(axis=0)
    stderr = devs.std(axis=0, ddof=1) / np.sqrt(trials)
    fpc = sampling.finite_population_correction(n_pop, sizes)
    iid = sigma2 / np.asarray(sizes, np.float64)
    minibatch = {"batch_sizes": sizes, "variances": variances.tolist(), "stderr": stderr.tolist(),
                 "theory": iid.tolist(), "theory_fpc": (iid * fpc).tolist(), "sigma2": sigma2,
                 "n_population": n_pop, "n_params": int(grads.shape[1]), "trials": trials,
                 "slope": sampling.loglog_slope(sizes, variances),
                 "slope_fpc_corrected": sampling.loglog_slope(sizes, variances / fpc)}

    ks, b0, lr0 = config["ks"], config["base_batch"], config["base_lr"]
    step_sizes = tuple(b0 * k for k in ks)
    lrs = np.array([[lr0 * k, lr0 * math.sqrt(k)] for k in ks], np.float32)
    step_var = np.asarray(jax.jit(sgd_step_variance, static_argnums=(2, 4))(
        step_key, grads, step_sizes, lrs, trials), np.float64)
    var_base = lr0**2 * sigma2 / b0
    lr_scaling = [{"k": k, "batch_size": b, "lr_linear": float(lrs[i, 0]), "lr_sqrt": float(lrs[i, 1]),
                   "var_linear": float(step_var[i, 0]), "var_sqrt": float(step_var[i, 1]),
                   "theory_linear": k * var_base * float(sampling.finite_population_correction(n_pop, b)),
                   "theory_sqrt": var_base * float(sampling.finite_population_correction(n_pop, b)),
                   "var_base": var_base}
                  for i, (k, b) in enumerate(zip(ks, step_sizes))]

    metrics = {"p_never": rows, "inv_e": 1 / math.e, "trials": config["trials"],
               "minibatch_variance": minibatch, "lr_scaling": lr_scaling,
               "lr_scaling_setup": {"base_batch": b0, "base_lr": lr0, "var_base": var_base,
                                    "var_base_definition": "base_lr^2 sigma^2 / base_batch (iid analysis)"}}
    runio.save_curves(out / "curves.npz", sq_deviations=devs, step_variance=step_var)
    plot(metrics, out)
    return metrics


# ------------------------------------------------------------------ figures
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
           xlabel="k (batch b = k x %d; FPC = (N - kb)/(N - 1))" % metrics["lr_scaling_setup"]["base_batch"],
           ylabel="Var of one SGD step", title="(f) learning-rate scaling")
    ax.legend(fontsize=7)
    save_figure(fig, out / "sgd_noise.png")


# ------------------------------------------------------------------- report
TEXT = templates.beside(__file__)
P_BEYOND_2SE = math.erfc(2 / math.sqrt(2))  # two-sided normal tail beyond 2 s.e. (0.0455)


def _join(values, spec: str) -> str:
    return ", ".join(format(v, spec) for v in values)


def lr_scaling_z(metrics: dict) -> list[tuple[str, float]]:
    """(label, z) of every step variance against its theory, with the minibatch study's relative s.e."""
    mb = metrics["minibatch_variance"]
    rel_se = {b: se / v for b, v, se in zip(mb["batch_sizes"], mb["variances"], mb["stderr"])}
    out = []
    for r in metrics["lr_scaling"]:
        se = rel_se.get(r["batch_size"])
        for rule, name in (("linear", "lr x k"), ("sqrt", "lr x sqrt(k)")):
            z = None if se is None else (r[f"var_{rule}"] / r[f"theory_{rule}"] - 1) / se
            out.append((f"{name} at k = {r['k']}", z))
    return out


def _deviations(labels_z: list[tuple[str, float | None]]) -> dict:
    known = [(label, z) for label, z in labels_z if z is not None]
    beyond = [f"{label} ({z:+.1f} s.e.)" for label, z in known if abs(z) > stats.Z_SIGNIFICANT]
    return {"beyond": "; ".join(beyond), "n_beyond": len(beyond), "n_checks": len(known),
            "expected_beyond": len(known) * P_BEYOND_2SE, "zs": _join([z for _, z in known], "+.1f")}


def report_fields(metrics: dict) -> dict:
    rows, mb, ls = metrics["p_never"], metrics["minibatch_variance"], metrics["lr_scaling"]
    first, last = ls[0], ls[-1]
    setup = metrics["lr_scaling_setup"]
    never = _deviations([(f"n = {r['n']}", r["z"]) for r in rows])
    variance = _deviations([(f"b = {b}", (v - t) / se) for b, v, se, t in
                            zip(mb["batch_sizes"], mb["variances"], mb["stderr"], mb["theory_fpc"])])
    return {**metrics, "mb": mb, "first": first, "last": last, "trials": metrics["trials"],
            "base_batch": setup["base_batch"], "base_lr": setup["base_lr"],
            "ns": _join([r["n"] for r in rows], "d"), "half_inv_e": 1 / (2 * math.e),
            "gap_times_n": _join([r["n"] * (metrics["inv_e"] - r["formula"]) for r in rows], ".4f"),
            "never_rows": "; ".join(f"n = {r['n']}: {r['simulated']:.4f} +- {r['stderr']:.4f} against "
                                    f"{r['formula']:.4f}" for r in rows),
            "largest_n": rows[-1]["n"], "largest_n_se": rows[-1]["stderr"],
            "smallest_gap": metrics["inv_e"] - rows[-1]["formula"],
            "never": never, "variance": {**variance, "bs": _join(mb["batch_sizes"], "d")},
            "lr": _deviations(lr_scaling_z(metrics)),
            "linear_ratio": last["var_linear"] / first["var_linear"],
            "linear_theory_ratio": last["theory_linear"] / first["theory_linear"],
            "sqrt_ratio": last["var_sqrt"] / first["var_sqrt"],
            "sqrt_theory_ratio": last["theory_sqrt"] / first["theory_sqrt"]}


def _verdict(prefix: str, part: dict, fields: dict) -> str:
    key = f"{prefix}_some_beyond" if part["n_beyond"] else f"{prefix}_all_within"
    return templates.render(TEXT, key, {**fields, **part})


def report(metrics: dict) -> list[dict]:
    rows, mb, ls = metrics["p_never"], metrics["minibatch_variance"], metrics["lr_scaling"]
    f = report_fields(metrics)
    return [
        {"question": "seed 004 Q1(a)/(b): probability that an observation is never sampled in an epoch; proof of "
                     "the limit 1/e", "ids": ["004 Q1(a)", "004 Q1(b)"],
         "figures": ["sgd_noise.png"],
         "table": [["n", "simulated", "std. error", "(1 - 1/n)^n", "z"]]
                  + [[r["n"], r["simulated"], r["stderr"], r["formula"], r["z"]] for r in rows],
         "derivation": templates.render(TEXT, "never_derivation", f),
         "text": templates.render(TEXT, "never_text", f) + " " + _verdict("never", f["never"], f),
         "code": ["nndl.sampling.never_sampled"]},
        {"question": "seed 004 Q1(d)/(e): variance of the minibatch gradient; multiplying the batch by k",
         "ids": ["004 Q1(d)", "004 Q1(e)"], "figures": ["sgd_noise.png"],
         "table": [["batch size", "measured", "std. error", "sigma^2/b", "with (N-b)/(N-1)"]]
                  + [[b, v, se, t, fp] for b, v, se, t, fp in zip(mb["batch_sizes"], mb["variances"], mb["stderr"],
                                                                   mb["theory"], mb["theory_fpc"])],
         "derivation": templates.render(TEXT, "variance_derivation", f),
         "text": templates.render(TEXT, "variance_text", f) + " " + _verdict("variance", f["variance"], f),
         "code": ["experiments.sgd_noise.sq_deviations", "nndl.sampling.population_variance"]},
        {"question": "seed 004 Q1(f): why 'multiply the learning rate by k' does not keep the gradient noise constant",
         "ids": ["004 Q1(f)"], "figures": ["sgd_noise.png"],
         "table": [["k", "var (lr x k)", "theory k eps^2 sigma^2/b", "var (lr x sqrt k)", "theory eps^2 sigma^2/b"]]
                  + [[r["k"], r["var_linear"], r["theory_linear"], r["var_sqrt"], r["theory_sqrt"]] for r in ls],
         "derivation": templates.render(TEXT, "lr_derivation", f),
         "text": templates.render(TEXT, "lr_text", f) + " " + _verdict("lr", f["lr"], f),
         "code": ["experiments.sgd_noise.sgd_step_variance"]},
    ]


def checks(metrics: dict) -> list[dict]:
    out = [check(f"p_never simulated = (1 - 1/n)^n, n={r['n']}", r["formula"], r["simulated"],
                 "4 binomial std errors", abs(r["simulated"] - r["formula"]) <= 4 * r["stderr"])
           for r in metrics["p_never"]]
    mb = metrics["minibatch_variance"]
    out.append(check("minibatch variance slope = -1", -1.0, mb["slope"], "0.1", abs(mb["slope"] + 1) <= 0.1))
    rel_se = {}
    for b, v, se, t in zip(mb["batch_sizes"], mb["variances"], mb["stderr"], mb["theory_fpc"]):
        rel_se[b] = se / v
        out.append(check(f"Var(g_b) = sigma^2/b (N-b)/(N-1), b={b}", t, v, "4 Monte Carlo std errors",
                         abs(v - t) <= 4 * se))
    for r in metrics["lr_scaling"]:
        tol = 4 * rel_se.get(r["batch_size"], 0.1)  # the minibatch study's MC error at this batch size
        for rule in ("linear", "sqrt"):
            out.append(check(f"Var(step), lr x {'k' if rule == 'linear' else 'sqrt(k)'}, k={r['k']}",
                             r[f"theory_{rule}"], r[f"var_{rule}"], f"{tol:.1%} (4 MC std errors)",
                             abs(r[f"var_{rule}"] / r[f"theory_{rule}"] - 1) <= tol))
    return out


def main(argv=None) -> int:
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run,
                              keys=KEYS, validate=validate, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
