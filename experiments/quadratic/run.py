"""quadratic: config -> the random problem -> spectrum, minimiser, flow solved four ways -> metrics, curves, figures.

Each part is ONE jitted function of arrays (shapes static): eager op-by-op dispatch would
compile every small op separately and dominate the run time.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp

from experiments.quadratic import flow, form
from experiments.quadratic.config import GD_CONVERGED, step_counts
from experiments.quadratic.plots import plot
from nndl.run import cli, runio

flow_at = jax.vmap(flow.flow_exact, (None, None, None, 0))  # over times t
expm_at = jax.vmap(flow.flow_expm, (None, None, None, 0))   # over times t
dxdt_at = jax.vmap(jax.jacfwd(flow.flow_exact, argnums=3), (None, None, None, 0))
gd_at = jax.vmap(flow.gd_iterates, (None, None, None, 0, None))  # over learning rates
objective_at = jax.vmap(form.objective, (0, None, None))  # over points x


def rel_norms(xs: jax.Array, target: jax.Array, scale: jax.Array) -> jax.Array:
    """‖x_k - target‖ / scale for rows x_k. Shapes (K, n), (n,), () -> (K,)."""
    return jnp.linalg.norm(xs - target[None, :], axis=1) / scale


def max_rel_diff(a: jax.Array, b: jax.Array, scale: jax.Array) -> jax.Array:
    """max_k ‖a_k - b_k‖ / scale over rows. Shapes (K, n), (K, n), () -> ()."""
    return jnp.max(jnp.linalg.norm(a - b, axis=1)) / scale


class FlowCheck(NamedTuple):
    """An exact-flow trajectory to compare with the matrix exponential (`expm_error`)."""

    M: jax.Array      # (n, n)
    m: jax.Array      # (n,)
    ts: jax.Array     # (T,) times
    traj: jax.Array   # (T, n) x(t) from the eigendecomposition
    scale: jax.Array  # () ‖x0 - x(∞)‖


@jax.jit
def expm_error(check: FlowCheck, x0: jax.Array) -> jax.Array:
    """max_t ‖x(t) - expm solution(t)‖ / scale. Both parts call it with equal shapes, so the
    matrix exponential (slow to compile) compiles once."""
    return max_rel_diff(check.traj, expm_at(check.M, check.m, x0, check.ts), check.scale)


def decay_summary(spec: form.Spectrum, e0: jax.Array, ts: jax.Array, err: jax.Array) -> dict:
    """Rate fitted on the second half of the horizon (slowest mode dominant), with exact bounds.

    log‖x(t) - x(∞)‖ is convex in t, so its least-squares slope on [t_a, t_b] lies between
    its derivatives at the two ends, the exact instantaneous rates. Null-space components
    of e0 are dropped (zero in exact arithmetic: e0 ∈ range M).
    """
    start = ts.shape[0] // 2
    rate, log_c = flow.decay_fit(ts[start:], err[start:])
    z0 = (spec.eigenvectors.T @ e0) * (spec.eigenvalues > spec.tol)
    return {"rate_fit": rate, "fit_log_amplitude": log_c, "fit_t_start": ts[start],
            "rate_lower": flow.instantaneous_rate(spec.eigenvalues, z0, ts[-1]),
            "rate_upper": flow.instantaneous_rate(spec.eigenvalues, z0, ts[start])}


@jax.jit
def psd_arrays(xs: jax.Array, directions: jax.Array) -> dict:
    M = form.gram(xs)
    eigenvalues = jnp.linalg.eigvalsh(M)
    rayleigh = jnp.einsum("ki,ij,kj->k", directions, M, directions) / jnp.sum(directions**2, axis=1)
    return {"n": M.shape[0], "N": xs.shape[0], "symmetric": jnp.array_equal(M, M.T),
            "asymmetry": jnp.max(jnp.abs(M - M.T)), "eigenvalues": eigenvalues,
            "min_eigenvalue": eigenvalues[0], "min_rayleigh_quotient": jnp.min(rayleigh)}


@jax.jit
def span_arrays(xs: jax.Array) -> dict:
    """Rank, span dimension and λ_min of M from the first N rows of xs, for N = 1..len(xs).

    Zero rows add nothing to M nor to the span, so every N shares one shape.
    """

    def one(count):
        sub = xs * (jnp.arange(xs.shape[0]) < count)[:, None]
        spec = form.spectrum(form.gram(sub))
        return {"N": count, "span_dim": jnp.linalg.matrix_rank(sub), "rank": spec.rank,
                "min_eigenvalue": spec.eigenvalues[0], "tol": spec.tol,
                "positive_definite": spec.eigenvalues[0] > spec.tol}

    return jax.vmap(one)(jnp.arange(1, xs.shape[0] + 1))


@partial(jax.jit, static_argnames=("n_times", "n_rk4", "n_gd"))
def full_rank_arrays(xs, m, x0, growth, hs, horizon, rk4_h, *, n_times: int, n_rk4: int, n_gd: int):
    """The unique minimiser and the flow solved three ways (exact, RK4, GD at η = h/λ_max)."""
    M = form.gram(xs)
    spec = form.spectrum(M)
    lam = spec.eigenvalues
    lam_min, lam_max = lam[0], lam[-1]
    x_star = form.minimiser(M, m)
    e0 = jnp.linalg.norm(x0 - x_star)
    T = horizon / lam_min
    ts = jnp.linspace(0.0, T, n_times)
    traj = flow_at(M, m, x0, ts)
    err = rel_norms(traj, x_star, e0)
    dt = rk4_h / lam_max
    rk4_ts = dt * jnp.arange(n_rk4 + 1)
    rk4_traj = flow.flow_rk4(M, m, x0, dt, n_rk4)
    gd_err = jax.vmap(rel_norms, (0, None, None))(gd_at(M, m, x0, hs / lam_max, n_gd), x_star, e0)
    radius = jnp.max(jnp.abs(1.0 - hs[:, None] * lam[None, :] / lam_max), axis=1)
    growth_ratio = (objective_at(x_star[None, :] + growth, M, m) - form.objective(x_star, M, m)) / jnp.sum(growth**2, 1)
    f_traj = objective_at(traj, M, m)
    metrics = {
        "n": M.shape[0], "lambda_min": lam_min, "lambda_max": lam_max, "condition_number": lam_max / lam_min,
        "x_star": x_star, "grad_norm_at_minimiser": jnp.linalg.norm(jax.grad(form.objective)(x_star, M, m)),
        "min_growth_ratio": jnp.min(growth_ratio), "min_growth_bound": lam_min / 2,
        "horizon_t": T, "minimiser_err": err[-1], "minimiser_err_bound": jnp.exp(-horizon),
        "decay_bound_max_ratio": jnp.max(err * jnp.exp(lam_min * ts)),
        "f_decreasing": jnp.all(jnp.diff(f_traj) <= 1e-12 * jnp.abs(f_traj[0])),
        **decay_summary(spec, x0 - x_star, ts, err),
        # ẋ by forward-mode AD of the closed form must equal -Mx - m
        "ode_residual": max_rel_diff(dxdt_at(M, m, x0, ts), -(traj @ M) - m[None, :], lam_max * e0),
        "rk4_dt": dt, "rk4_steps": n_rk4, "rk4_err": max_rel_diff(rk4_traj, flow_at(M, m, x0, rk4_ts), e0),
        # per eigenmode |R(-λdt)^k - e^{-λkdt}| <= k (λdt)^5/120, largest at λ_max
        "rk4_err_bound": flow.RK4_CONSTANT * n_rk4 * rk4_h**5,
        "gd_steps": n_gd,
        "gd": {"h": hs, "lr": hs / lam_max, "spectral_radius": radius, "final_err": gd_err[:, -1],
               "bound_final": radius**n_gd, "converged": gd_err[:, -1] < GD_CONVERGED},
    }
    curves = {"t": ts, "err": err, "rk4_t": rk4_ts, "rk4_err": rel_norms(rk4_traj, x_star, e0),
              "gd_h": hs, "gd_err": gd_err}
    return metrics, curves, FlowCheck(M, m, ts, traj, e0)


@partial(jax.jit, static_argnames=("n_times",))
def rank_deficient_arrays(xs, u, x0, x0_other, m_generic, horizon, *, n_times: int):
    """PSD but singular M: convergence along range(M) only; no minimiser when m ∉ range(M)."""
    M = form.gram(xs)
    spec = form.spectrum(M)
    P_null = form.null_projector(spec)
    lam_pos = jnp.min(jnp.where(spec.eigenvalues > spec.tol, spec.eigenvalues, jnp.inf))
    m = M @ u  # in range(M): the minimiser set {x : Mx = -m} is an affine subspace
    x_inf = flow.flow_limit(M, m, x0)
    e0 = jnp.linalg.norm(x0 - x_inf)
    ts = jnp.linspace(0.0, horizon / lam_pos, n_times)
    traj = flow_at(M, m, x0, ts)
    err = rel_norms(traj, x_inf, e0)
    null_drift = jnp.linalg.norm((traj - x0[None, :]) @ P_null, axis=1) / e0
    grad_norm = jnp.linalg.norm(traj @ M + m[None, :], axis=1) / jnp.linalg.norm(M @ x0 + m)

    # a linear term with a null-space component: ∇f never vanishes, x drifts along -P_null m
    unbounded = flow_at(M, m_generic, x0, ts)
    null_m = P_null @ m_generic
    mid = n_times // 2  # after the range modes have decayed by e^{-horizon/2}
    span_t = ts[-1] - ts[mid]
    f_unbounded = objective_at(unbounded, M, m_generic)
    metrics = {
        "n": M.shape[0], "N": xs.shape[0], "rank": spec.rank, "span_dim": jnp.linalg.matrix_rank(xs),
        "min_eigenvalue": spec.eigenvalues[0], "tol": spec.tol, "min_positive_eigenvalue": lam_pos,
        "horizon_t": ts[-1], "limit_err": err[-1], "limit_err_bound": jnp.exp(-horizon),
        "null_drift": jnp.max(null_drift), "final_grad_norm": grad_norm[-1],
        **decay_summary(spec, x0 - x_inf, ts, err),
        # two starts reach two different minimisers, apart by their null-space difference
        "limit_gap_two_starts": jnp.linalg.norm(x_inf - flow.flow_limit(M, m, x0_other)),
        "null_gap_two_starts": jnp.linalg.norm(P_null @ (x0 - x0_other)),
        "unbounded": {"null_m_norm": jnp.linalg.norm(null_m),
                      "drift_speed": jnp.linalg.norm((unbounded[-1] - unbounded[mid]) @ P_null) / span_t,
                      "f_slope": (f_unbounded[-1] - f_unbounded[mid]) / span_t,
                      "f_slope_predicted": -(null_m @ null_m)},
    }
    curves = {"rd_t": ts, "rd_err": err, "rd_null_drift": null_drift, "rd_grad_norm": grad_norm,
              "rd_unbounded_null": jnp.linalg.norm(unbounded @ P_null, axis=1), "rd_unbounded_f": f_unbounded}
    return metrics, curves, FlowCheck(M, m, ts, traj, e0)


def plain(tree):
    """Device arrays -> plain Python numbers and lists (what metrics.json holds)."""
    return runio.to_jsonable(jax.device_get(tree))


def rows(columns: dict) -> list[dict]:
    """{key: list} of equal lengths -> list of {key: value} rows."""
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def run(config: dict, out: Path) -> dict:
    with jax.enable_x64(True):
        horizon = config["horizon"]
        prob = form.draw_problem(jax.random.key(config["seed"]), n=config["n"], N=config["N"],
                                 rank_deficient_N=config["rank_deficient_N"], n_directions=config["n_directions"])
        psd = plain(psd_arrays(prob.xs, prob.directions))
        n_rk4, n_gd = step_counts(config, psd["eigenvalues"][0], psd["eigenvalues"][-1])
        full, curves, full_flow = full_rank_arrays(prob.xs, prob.m, prob.x0, prob.growth,
                                                   jnp.asarray(config["gd_h"], jnp.float64), horizon, config["rk4_h"],
                                                   n_times=config["n_times"], n_rk4=n_rk4, n_gd=n_gd)
        rd, rd_curves, rd_flow = rank_deficient_arrays(prob.rd_xs, prob.rd_u, prob.x0, prob.rd_x0_other,
                                                       prob.rd_m_generic, horizon, n_times=config["n_times"])
        for part, trajectory in ((full, full_flow), (rd, rd_flow)):
            part["exact_vs_expm_err"] = expm_error(trajectory, prob.x0)
        metrics = {"psd": psd, "span": rows(plain(span_arrays(prob.span_xs))),
                   "full_rank": plain(full), "rank_deficient": plain(rd)}
        curves = jax.device_get({**curves, **rd_curves})
    metrics["full_rank"]["gd"] = [{**row, "stable_predicted": row["h"] < 2.0, "overflowed": row["final_err"] is None}
                                  for row in rows(metrics["full_rank"]["gd"])]
    lost = [row["h"] for row in metrics["full_rank"]["gd"] if row["overflowed"]]
    cli.warn_diverged("quadratic", len(lost), len(config["gd_h"]),
                      f" (GD at η = {', '.join(f'{h:g}' for h in lost)}/λ_max overflowed float64)")
    runio.save_curves(out / "curves.npz", **curves)
    plot(metrics, curves, out)
    return metrics
