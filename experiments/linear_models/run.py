"""linear_models: config -> XOR fit, ridge grid search, MAE, MLE and separable-logistic runs -> metrics.json,
curves.npz, the figures."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.linear_models import gaussian, mae, max_margin, plots, xor
from experiments.linear_models.age_data import load_age_data, prepare
from experiments.linear_models.grid_search import run_grid_search
from nndl import data, sweep
from nndl.models import linear
from nndl.numerics import lstsq
from nndl.run import cli, runio
from nndl.train import gradient_descent

# Gradient-descent parts that can diverge at a large learning rate: (metrics key, lr key, steps key, name).
GD_PARTS = {"xor": ("xor_lr", "xor_steps", "XOR gradient descent"), "mae": ("mae_lr", "mae_steps", "MAE/MSE-GD"),
            "mle": ("mle_lr", "mle_steps", "MLE gradient ascent"),
            "separable_logistic": ("logistic_lr", "logistic_steps", "separable logistic GD")}


def finite(*trees) -> bool:
    """Whether every leaf of every pytree is finite (a gradient-descent run that overflowed is not)."""
    return all(bool(np.all(np.isfinite(np.asarray(x)))) for tree in trees for x in jax.tree.leaves(tree))


def diverged(config: dict, part: str) -> tuple[dict, dict]:
    """A part whose gradient descent overflowed: flagged, its learning rate and steps, no numbers, no curves."""
    lr_key, steps_key, _ = GD_PARTS[part]
    return {"diverged": True, "lr": config[lr_key], "steps": config[steps_key]}, {}


# ------------------------------------------------------------------ Q2: XOR
# Each part's JAX work is ONE jitted function: eager op-by-op dispatch would compile every small op.
@partial(jax.jit, static_argnames="steps")
def xor_descent(x: jax.Array, y: jax.Array, lr, *, steps: int):
    """GD on J(w, b) = mean (x.w + b - y)^2 from zero: (final params, J before each step, params before each step)."""
    start = {"w": jnp.zeros(x.shape[1]), "b": jnp.zeros(())}
    return gradient_descent(lambda p: linear.mse(p, x, y), start, lr, steps, record=lambda p: p)


@jax.jit
def xor_stationarity(x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
    """jax.grad of J at the hand-derived (w1, w2, b) = (0, 0, 1/2), and J's Hessian in (w1, w2, b)."""
    solution = jnp.array([0.0, 0.0, 0.5], x.dtype)
    return jax.grad(xor.cost)(solution, x, y), jax.hessian(xor.cost)(solution, x, y)


def run_xor(config: dict) -> tuple[dict, dict]:
    closed = lstsq.least_squares(xor.XOR_X, xor.XOR_Y)
    x, y = np.float32(xor.XOR_X), np.float32(xor.XOR_Y)
    final, curve, path = xor_descent(x, y, config["xor_lr"], steps=config["xor_steps"])
    if not finite(final, curve):
        return diverged(config, "xor")
    grad, hessian = jax.device_get(xor_stationarity(x, y))
    metrics = {"diverged": False, "w": closed["w"], "b": closed["b"],
               "J": linear.numpy_mse(closed, xor.XOR_X, xor.XOR_Y),
               "grad_at_solution_max_abs": float(np.max(np.abs(grad))), "hessian": hessian,
               "hessian_eigenvalues": np.linalg.eigvalsh(np.float64(hessian)),
               "gd": {"w": final["w"], "b": final["b"], "J": linear.numpy_mse(final, x, y),
                      "lr": config["xor_lr"], "steps": config["xor_steps"]}}
    return metrics, {"xor_J": curve, "xor_w": path["w"], "xor_b": path["b"]}


# ------------------------------------------------------------------- Q4: MAE
def _max_abs_diff(a, b) -> dict:
    return jax.tree.map(lambda u, v: jnp.max(jnp.abs(u - v)), a, b)


@jax.jit
def mae_gradient_checks(x: jax.Array, y: jax.Array) -> dict:
    """Hand-written MAE gradients vs jax.grad at a generic point and at a point with exact ties.

    At the generic point no residual is 0, so jax.grad of jnp.abs is the reference. The tie point
    (w = 2, b = 0.5: x w + b is exact in float32) sets a tenth of the targets equal to their
    predictions; there the reference is jax.grad of sign(r) r, whose derivative at r = 0 is the
    sheet's 0, while jnp.abs's is 1.
    """
    generic = {"w": jnp.array([0.7]), "b": jnp.array(-0.3)}
    tie = {"w": jnp.array([2.0]), "b": jnp.array(0.5)}
    n_ties = max(1, y.shape[0] // 10)
    y_tied = y.at[:n_ties].set(x[:n_ties, 0] * 2.0 + 0.5)
    hand_tie = mae.mae_grad(tie, x, y_tied)
    return {"generic": _max_abs_diff(mae.mae_grad(generic, x, y), jax.grad(mae.mae)(generic, x, y)),
            "ties": _max_abs_diff(hand_tie, jax.grad(mae.mae_sheet_convention)(tie, x, y_tied)),
            "n_ties": n_ties, "grad_b_sheet": hand_tie["b"], "grad_b_jnp_abs": jax.grad(mae.mae)(tie, x, y_tied)["b"],
            "abs_grad_at_0": jax.grad(jnp.abs)(0.0),
            # Q4(c): b after one step, against b - lr * jax.grad (generic point: no ties)
            "update_b_err": jnp.abs(mae.updated_b(x, y, generic["w"], generic["b"], 0.1)
                                    - (generic["b"] - 0.1 * jax.grad(mae.mae)(generic, x, y)["b"]))}


@partial(jax.jit, static_argnames="steps")
def mae_vs_mse_descent(x: jax.Array, y: jax.Array, lr, *, steps: int) -> dict:
    """MAE-GD (hand-written gradient, steps lr / sqrt(1 + t): subgradient steps must shrink) and MSE-GD (lr)."""
    start = {"w": jnp.zeros(1), "b": jnp.zeros(())}
    mae_run = gradient_descent(lambda p: mae.mae(p, x, y), start, lambda t: lr / jnp.sqrt(1.0 + t), steps,
                               grad_fn=lambda p: mae.mae_grad(p, x, y), record=lambda p: p)
    mse_run = gradient_descent(lambda p: linear.mse(p, x, y), start, lr, steps, record=lambda p: p)
    return {"mae": mae_run, "mse": mse_run}


def run_mae(config: dict) -> tuple[dict, dict]:
    x, y_clean = data.make_linear(config["seed"], config["mae_n"], [2.0], 1.0, config["mae_noise"])
    low, high = config["mae_outlier_shift"]
    y, outlier = data.add_outliers(config["seed"] + 1, y_clean, config["mae_outlier_fraction"], low, high)
    x, y = np.float32(x), np.float32(y)
    grads = jax.device_get(mae_gradient_checks(x, y))
    runs = jax.device_get(mae_vs_mse_descent(x, y, config["mae_lr"], steps=config["mae_steps"]))
    if not finite(runs):
        return diverged(config, "mae")
    truth = {"w": 2.0, "b": 1.0}

    def summary(p):
        return {"w": float(p["w"][0]), "b": float(p["b"]),
                "param_err": abs(float(p["w"][0]) - truth["w"]) + abs(float(p["b"]) - truth["b"])}

    metrics = {"diverged": False, "grad_b_max_err": max(grads["generic"]["b"], grads["ties"]["b"]),
               "grad_w_max_err": max(grads["generic"]["w"], grads["ties"]["w"]),
               "update_b_err": float(grads["update_b_err"]),
               "n": len(y), "n_ties": grads["n_ties"], "jax_abs_grad_at_0": grads["abs_grad_at_0"],
               "grad_b_at_ties": {"sheet": grads["grad_b_sheet"], "jnp_abs": grads["grad_b_jnp_abs"]},
               "n_outliers": int(outlier.sum()), "truth": truth, "lr": config["mae_lr"],
               "mae_gd": summary(runs["mae"][0]), "mse_gd": summary(runs["mse"][0]), "steps": config["mae_steps"]}
    curves = {"mae_x": x[:, 0], "mae_y": y, "mae_outlier": outlier}
    for name, (_, loss, path) in runs.items():
        curves |= {f"{name}_curve": loss, f"{name}_path_w": path["w"][:, 0], f"{name}_path_b": path["b"]}
    return metrics, curves


# ------------------------------------------------------------------- Q5: MLE
@partial(jax.jit, static_argnames="steps")
def mle_ascent(x: jax.Array, y: jax.Array, w_closed: jax.Array, var_closed, lr, *, steps: int):
    """Gradient ascent on the mean log-likelihood from w = 0, sigma^2 = 1.

    Returns:
      (final params, mean log-likelihood after every step (steps,), params after every step,
      the closed form's mean log-likelihood).
    """
    start = {"w": jnp.zeros(x.shape[1]), "log_var": jnp.zeros(())}
    final, neg_ll, path = gradient_descent(lambda p: -gaussian.mean_log_likelihood(p, x, y), start, lr, steps,
                                           record=lambda p: p)
    after = jnp.append(-neg_ll[1:], gaussian.mean_log_likelihood(final, x, y))
    path = jax.tree.map(lambda h, f: jnp.concatenate([h[1:], f[None]]), path, final)
    closed = gaussian.mean_log_likelihood({"w": w_closed, "log_var": jnp.log(var_closed)}, x, y)
    return final, after, path, closed


def run_mle(config: dict) -> tuple[dict, dict]:
    features, y = data.make_linear(config["seed"] + 2, config["mle_n"], config["mle_weights"], config["mle_bias"],
                                   config["mle_noise"])
    x = np.concatenate([features, np.ones((len(y), 1))], axis=1)  # the bias as a constant feature
    w_closed, var_closed = gaussian.mle(x, y)
    w_mse = np.linalg.lstsq(x, y, rcond=None)[0]
    final, loglik, path, loglik_closed = jax.device_get(
        mle_ascent(np.float32(x), np.float32(y), np.float32(w_closed), np.float32(var_closed), config["mle_lr"],
                   steps=config["mle_steps"]))
    if not finite(final, loglik):
        return diverged(config, "mle")
    var_ascent = float(np.exp(final["log_var"]))
    metrics = {"diverged": False, "n": len(y), "w_closed": w_closed, "sigma2_closed": var_closed,
               "w_ascent": final["w"], "sigma2_ascent": var_ascent,
               "w_max_err": float(np.max(np.abs(np.asarray(final["w"]) - w_closed))),
               "sigma2_err": abs(var_ascent - var_closed),
               "w_mse_max_err": float(np.max(np.abs(w_mse - w_closed))),
               "loglik_closed": loglik_closed, "loglik_ascent": loglik[-1],
               "true_w": list(config["mle_weights"]) + [config["mle_bias"]], "noise_var": config["mle_noise"] ** 2,
               "lr": config["mle_lr"], "steps": config["mle_steps"]}
    return metrics, {"mle_loglik": loglik, "mle_w_err": np.max(np.abs(path["w"] - w_closed), axis=1),
                     "mle_var_err": np.abs(np.exp(path["log_var"]) - var_closed)}


# ------------------------------------------------------ seed 002: separable logistic
@partial(jax.jit, static_argnames="steps")
def logistic_descent(x: jax.Array, y: jax.Array, unit: jax.Array, c: jax.Array, lr, *, steps: int):
    """GD on the mean logistic loss from w = 0, and the loss L(c unit) along a direction for each c.

    Returns:
      (final w, risk before each step, w before each step (steps, d), (L(c unit), dL(c unit)/dc) per c).
    """
    final, risk, path = gradient_descent(lambda w: max_margin.risk(w, x, y), jnp.zeros(x.shape[1]), lr, steps,
                                         record=lambda w: w)
    along = jax.vmap(jax.value_and_grad(lambda s: max_margin.risk(s * unit, x, y)))(c)
    return final, risk, path, along


def run_separable(config: dict) -> tuple[dict, dict]:
    x, y = max_margin.make_separable(config["seed"] + 3, config["logistic_n"], [1.0, 0.5], config["logistic_gap"])
    w_svm = max_margin.hard_margin(x, y)
    steps = config["logistic_steps"]
    c = np.logspace(-1, 2, 31)
    # float64: late GD updates are ~1e-6 of ||w||, below float32's resolution of the direction
    with jax.enable_x64(True):
        final, risk_curve, path, (loss_c, dloss_dc) = jax.device_get(
            logistic_descent(x, y, w_svm / np.linalg.norm(w_svm), c, config["logistic_lr"], steps=steps))
    if not finite(final, risk_curve):
        return diverged(config, "separable_logistic")
    trajectory = np.concatenate([path[1:], final[None]])  # row t-1: w after t steps
    t = sweep.record_epochs(steps, 60)
    w_t = trajectory[t - 1]
    norms, angles = np.linalg.norm(w_t, axis=1), max_margin.angle_deg(w_t, w_svm)
    late = t >= steps / 10
    slope = float(np.polyfit(np.log(t[late]), norms[late], 1)[0])
    margins = (y[:, None] * x) @ (trajectory[-1] / np.linalg.norm(trajectory[-1]))
    # w(t) = w_svm ln t + rho(t) with rho bounded: rho's change over each decade of t shrinks
    decades = 10 ** np.arange(1, int(np.log10(steps)) + 1)
    rho = trajectory[decades - 1] - np.log(decades)[:, None] * w_svm
    # the derivation's closed form: dL(c w_hat)/dc = -(1/n) sum_i m_i / (1 + exp(c m_i)), m_i = y_i w_hat.x_i
    unit_margins = y * (x @ (w_svm / np.linalg.norm(w_svm)))
    closed = -np.mean(unit_margins[None, :] / (1 + np.exp(c[:, None] * unit_margins[None, :])), axis=1)
    metrics = {"diverged": False, "steps": t, "norms": norms, "angles": angles, "final_norm": float(norms[-1]),
               "final_angle_deg": float(angles[-1]), "w_final": trajectory[-1], "w_svm": w_svm,
               "svm_norm": float(np.linalg.norm(w_svm)), "svm_margin": float(1 / np.linalg.norm(w_svm)),
               "gd_margin": float(margins.min()), "norm_slope_per_log_t": slope,
               "decades": decades[1:], "rho_change_per_decade": np.linalg.norm(np.diff(rho, axis=0), axis=1),
               "final_risk": float(risk_curve[-1]), "lr": config["logistic_lr"],
               "loss_vs_c": {"c": c, "loss": loss_c, "decreasing": bool(np.all(np.diff(loss_c) < 0)),
                             "dloss_dc": dloss_dc, "dloss_dc_max": float(np.max(dloss_dc)),
                             "dloss_dc_closed_form_max_err": float(np.max(np.abs(dloss_dc - closed))),
                             "min_unit_margin": float(unit_margins.min()), "n": len(y)}}
    return metrics, {"logistic_x": x, "logistic_y": y, "logistic_w": w_t}


# --------------------------------------------------------------------- run
def run(config: dict, out: Path) -> dict:
    raw, source = load_age_data(config)  # first: a bad file or batch size fails before any training
    arrays, transform = prepare(raw, config)
    if max(config["batch_sizes"]) > len(arrays["x_train"]):
        raise cli.UserError(f"--batch-sizes: {max(config['batch_sizes'])} exceeds the "
                            f"{len(arrays['x_train'])} training rows")
    xor_m, xor_curves = run_xor(config)
    grid, grid_curves = run_grid_search(config, arrays, transform, source, out)
    mae_m, mae_curves = run_mae(config)
    mle, mle_curves = run_mle(config)
    sep, sep_curves = run_separable(config)
    metrics = {"xor": xor_m, "grid_search": grid, "mae": mae_m, "mle": mle, "separable_logistic": sep}
    lost = [f"{GD_PARTS[k][2]} (lr {metrics[k]['lr']:g})" for k in GD_PARTS if metrics[k]["diverged"]]
    if grid["n_diverged"]:
        lost.insert(0, f"{grid['n_diverged']} of the {grid['n_configs']} grid configs")
    cli.warn_diverged("linear_models", grid["n_diverged"] + len(lost) - bool(grid["n_diverged"]),
                      grid["n_configs"] + len(GD_PARTS), f": {'; '.join(lost)}" if lost else "")
    curves = {**xor_curves, **grid_curves, **mae_curves, **mle_curves, **sep_curves}
    runio.save_curves(out / "curves.npz", **curves)
    plots.plot(metrics, curves, out)
    return metrics
