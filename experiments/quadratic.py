"""M = Σ xᵢxᵢᵀ is PSD (PD iff the xᵢ span Rⁿ); x* = -M⁻¹m; the gradient flow converges at rate λ_min.

Run: python -m experiments.quadratic [--quick|--full] [--out DIR] [--seed N] [--n 8] [--N 32]
Shows: seed 003 ex. 4.2. (a.1) M = Σ xᵢxᵢᵀ from Gaussian xᵢ is exactly symmetric
with eigenvalues >= 0; (a.2) rank M = dim span{xᵢ} = min(N, n) for N = 1..n+2, so M is
positive-definite iff N >= n (span.png); (b) x* = -M⁻¹m zeroes the gradient and
f(x*+d) - f(x*) = ½dᵀMd > 0; (c) the gradient flow ẋ = -Mx - m solved exactly
(eigendecomposition, checked against the matrix exponential of the augmented system),
by RK4 and by gradient descent (stable iff η < 2/λ_max) converges to x* with
‖x(t) - x*‖ <= e^{-λ_min t}‖x0 - x*‖ and a fitted rate equal to λ_min (flow.png);
with rank M < n the flow converges only along range(M): the null-space part of x0
never moves, and a linear term outside range(M) makes f unbounded below
(rank_deficient.png). Everything runs in float64.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from nndl.run import cli, runio, templates
from nndl import rand
from nndl import quadratic as q
from nndl.run.checks import check
from nndl.run.flags import Key
from nndl.run.plotting import save_figure, subplots

NAME = "quadratic"
SHEET = "seed 003 ex. 4.2"
TEXT = templates.beside(__file__)

# float64 round-off of an n x n eigendecomposition / matrix exponential, relative to
# ‖x0 - x*‖: a few hundred eps for these well-conditioned O(10) problems.
EXACT_RTOL = 1e-9
# RK4 error per step and eigenmode <= (λ dt)^5 / 120 (Taylor remainder of e^z after the
# degree-4 RK4 polynomial), relative to ‖x0 - x*‖, largest at λ = λ_max.
RK4_CONSTANT = 1 / 120
# Errors of iterates near x* cannot fall below float64 round-off of x* itself (~eps ‖x*‖/‖x0 - x*‖).
ROUNDOFF_FLOOR = 1e-12
# RK4 and GD step counts follow from λ_max/λ_min; beyond this the trajectories would not fit in memory.
MAX_STEPS = 1_000_000
# GD counts as converged when its relative error is below this at the end of the horizon
# (a stable run reaches about e^{-horizon} there).
GD_CONVERGED = 1e-3


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "n": 8, "N": 32, "rank_deficient_N": 4,
              "horizon": 20.0,      # simulate until t = horizon / λ_min(M)
              "n_times": 200,       # time grid of the exact flow
              "rk4_h": 0.2,         # RK4 step dt = rk4_h / λ_max
              "gd_h": [0.5, 1.0, 1.9, 2.05],  # GD learning rates η = h / λ_max
              "n_directions": 1000}  # random v for min vᵀMv / ‖v‖²
    if full:
        config.update(n=50, N=200, rank_deficient_N=25, n_times=1000, rk4_h=0.05, n_directions=20000)
    return config


KEYS = {
    "n": Key("dimension n", lo=2, hi=1000, why="a rank-deficient case needs n > 1"),
    "N": Key("number of vectors xᵢ, >= n", lo=1, hi=100_000),
    "rank_deficient_N": Key("number of vectors in the rank-deficient case, < n", lo=1, hi=100_000),
    "horizon": Key("simulated time in units of 1/λ_min", positive=True, hi=1e6),
    "n_times": Key("points on the time grid", lo=10, hi=100_000, why="to fit a decay rate"),
    "rk4_h": Key("RK4 step in units of 1/λ_max", positive=True, hi=2.5, why="RK4 is unstable beyond λ dt ≈ 2.79"),
    "gd_h": Key("GD learning rates in units of 1/λ_max (GD diverges beyond 2), e.g. 0.5,1,1.9,2.05", positive=True,
                hi=10, unique=True),
    "n_directions": Key("random directions for the quadratic-form check", lo=1, hi=1_000_000),
}


def validate(config: dict) -> None:
    n = config["n"]
    if config["N"] < n:
        raise cli.UserError(f"--N must be >= --n = {n}: the full-rank case needs N >= n vectors, got {config['N']}")
    if config["rank_deficient_N"] >= n:
        raise cli.UserError(f"--rank-deficient-N must be < --n = {n}, got {config['rank_deficient_N']}")


# ------------------------------------------------------------------ maths glue
# Each part is ONE jitted function of arrays (shapes static): eager op-by-op dispatch would
# compile every small op separately and dominate the run time.
flow_at = jax.vmap(q.flow_exact, (None, None, None, 0))  # over times t
expm_at = jax.vmap(q.flow_expm, (None, None, None, 0))   # over times t
dxdt_at = jax.vmap(jax.jacfwd(q.flow_exact, argnums=3), (None, None, None, 0))
gd_at = jax.vmap(q.gradient_descent, (None, None, None, 0, None))  # over learning rates
objective_at = jax.vmap(q.objective, (0, None, None))  # over points x


class Problem(NamedTuple):
    """Every random draw of one run (standard normal entries, float64 under `jax.enable_x64`)."""

    xs: jax.Array            # (N, n) the vectors xᵢ of the full-rank M
    m: jax.Array             # (n,) linear term
    x0: jax.Array            # (n,) start of the flow
    span_xs: jax.Array       # (n + 2, n) vectors for the rank-vs-N table
    directions: jax.Array    # (n_directions, n) for min vᵀMv/‖v‖²
    growth: jax.Array        # (64, n) offsets d for f(x* + d) - f(x*)
    rd_xs: jax.Array         # (rank_deficient_N, n) vectors of the singular M
    rd_u: jax.Array          # (n,) m = M u lies in range(M)
    rd_x0_other: jax.Array   # (n,) a second start
    rd_m_generic: jax.Array  # (n,) a linear term with a null-space component


@partial(jax.jit, static_argnames=("n", "N", "rank_deficient_N", "n_directions"))
def draw_problem(key: jax.Array, *, n: int, N: int, rank_deficient_N: int, n_directions: int) -> Problem:
    shapes = {"xs": (N, n), "m": (n,), "x0": (n,), "span_xs": (n + 2, n), "directions": (n_directions, n),
              "growth": (64, n), "rd_xs": (rank_deficient_N, n), "rd_u": (n,), "rd_x0_other": (n,),
              "rd_m_generic": (n,)}
    return Problem(*rand.normals(key, [shapes[name] for name in Problem._fields]))


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
def expm_error(flow: FlowCheck, x0: jax.Array) -> jax.Array:
    """max_t ‖x(t) - expm solution(t)‖ / scale. Both parts call it with equal shapes, so the
    matrix exponential (slow to compile) compiles once."""
    return max_rel_diff(flow.traj, expm_at(flow.M, flow.m, x0, flow.ts), flow.scale)


def decay_summary(spec: q.Spectrum, e0: jax.Array, ts: jax.Array, err: jax.Array) -> dict:
    """Rate fitted on the second half of the horizon (slowest mode dominant), with exact bounds.

    log‖x(t) - x(∞)‖ is convex in t, so its least-squares slope on [t_a, t_b] lies between
    its derivatives at the two ends, the exact instantaneous rates. Null-space components
    of e0 are dropped (zero in exact arithmetic: e0 ∈ range M).
    """
    start = ts.shape[0] // 2
    rate, log_c = q.decay_fit(ts[start:], err[start:])
    z0 = (spec.eigenvectors.T @ e0) * (spec.eigenvalues > spec.tol)
    return {"rate_fit": rate, "fit_log_amplitude": log_c, "fit_t_start": ts[start],
            "rate_lower": q.instantaneous_rate(spec.eigenvalues, z0, ts[-1]),
            "rate_upper": q.instantaneous_rate(spec.eigenvalues, z0, ts[start])}


@jax.jit
def psd_arrays(xs: jax.Array, directions: jax.Array) -> dict:
    M = q.gram(xs)
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
        spec = q.spectrum(q.gram(sub))
        return {"N": count, "span_dim": jnp.linalg.matrix_rank(sub), "rank": spec.rank,
                "min_eigenvalue": spec.eigenvalues[0], "tol": spec.tol,
                "positive_definite": spec.eigenvalues[0] > spec.tol}

    return jax.vmap(one)(jnp.arange(1, xs.shape[0] + 1))


@partial(jax.jit, static_argnames=("n_times", "n_rk4", "n_gd"))
def full_rank_arrays(xs, m, x0, growth, hs, horizon, rk4_h, *, n_times: int, n_rk4: int, n_gd: int):
    """The unique minimiser and the flow solved three ways (exact, RK4, GD at η = h/λ_max)."""
    M = q.gram(xs)
    spec = q.spectrum(M)
    lam = spec.eigenvalues
    lam_min, lam_max = lam[0], lam[-1]
    x_star = q.minimiser(M, m)
    e0 = jnp.linalg.norm(x0 - x_star)
    T = horizon / lam_min
    ts = jnp.linspace(0.0, T, n_times)
    traj = flow_at(M, m, x0, ts)
    err = rel_norms(traj, x_star, e0)
    dt = rk4_h / lam_max
    rk4_ts = dt * jnp.arange(n_rk4 + 1)
    rk4_traj = q.flow_rk4(M, m, x0, dt, n_rk4)
    gd_err = jax.vmap(rel_norms, (0, None, None))(gd_at(M, m, x0, hs / lam_max, n_gd), x_star, e0)
    radius = jnp.max(jnp.abs(1.0 - hs[:, None] * lam[None, :] / lam_max), axis=1)
    growth_ratio = (objective_at(x_star[None, :] + growth, M, m) - q.objective(x_star, M, m)) / jnp.sum(growth**2, 1)
    f_traj = objective_at(traj, M, m)
    metrics = {
        "n": M.shape[0], "lambda_min": lam_min, "lambda_max": lam_max, "condition_number": lam_max / lam_min,
        "x_star": x_star, "grad_norm_at_minimiser": jnp.linalg.norm(jax.grad(q.objective)(x_star, M, m)),
        "min_growth_ratio": jnp.min(growth_ratio), "min_growth_bound": lam_min / 2,
        "horizon_t": T, "minimiser_err": err[-1], "minimiser_err_bound": jnp.exp(-horizon),
        "decay_bound_max_ratio": jnp.max(err * jnp.exp(lam_min * ts)),
        "f_decreasing": jnp.all(jnp.diff(f_traj) <= 1e-12 * jnp.abs(f_traj[0])),
        **decay_summary(spec, x0 - x_star, ts, err),
        # ẋ by forward-mode AD of the closed form must equal -Mx - m
        "ode_residual": max_rel_diff(dxdt_at(M, m, x0, ts), -(traj @ M) - m[None, :], lam_max * e0),
        "rk4_dt": dt, "rk4_steps": n_rk4, "rk4_err": max_rel_diff(rk4_traj, flow_at(M, m, x0, rk4_ts), e0),
        # per eigenmode |R(-λdt)^k - e^{-λkdt}| <= k (λdt)^5/120, largest at λ_max
        "rk4_err_bound": RK4_CONSTANT * n_rk4 * rk4_h**5,
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
    M = q.gram(xs)
    spec = q.spectrum(M)
    P_null = q.null_projector(spec)
    lam_pos = jnp.min(jnp.where(spec.eigenvalues > spec.tol, spec.eigenvalues, jnp.inf))
    m = M @ u  # in range(M): the minimiser set {x : Mx = -m} is an affine subspace
    x_inf = q.flow_limit(M, m, x0)
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
        "limit_gap_two_starts": jnp.linalg.norm(x_inf - q.flow_limit(M, m, x0_other)),
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
        n, horizon = config["n"], config["horizon"]
        prob = draw_problem(jax.random.key(config["seed"]), n=n, N=config["N"],
                            rank_deficient_N=config["rank_deficient_N"], n_directions=config["n_directions"])
        psd = plain(psd_arrays(prob.xs, prob.directions))
        # step counts are shapes, so they come from the spectrum on the host
        lam_min, lam_max = psd["eigenvalues"][0], psd["eigenvalues"][-1]
        n_rk4 = math.ceil(horizon * lam_max / lam_min / config["rk4_h"])
        n_gd = math.ceil(horizon * lam_max / lam_min / min(config["gd_h"]))
        for flag, steps in (("--rk4-h", n_rk4), ("--gd-h", n_gd)):
            if steps > MAX_STEPS:
                raise cli.UserError(f"{flag}: {steps} steps would be needed to reach t = horizon/λ_min "
                                    f"(λ_max/λ_min = {lam_max / lam_min:.3g}); at most {MAX_STEPS} (raise {flag} "
                                    f"or lower --horizon)")
        full, curves, full_flow = full_rank_arrays(prob.xs, prob.m, prob.x0, prob.growth,
                                        jnp.asarray(config["gd_h"], jnp.float64), horizon, config["rk4_h"],
                                        n_times=config["n_times"], n_rk4=n_rk4, n_gd=n_gd)
        rd, rd_curves, rd_flow = rank_deficient_arrays(prob.rd_xs, prob.rd_u, prob.x0, prob.rd_x0_other,
                                              prob.rd_m_generic, horizon, n_times=config["n_times"])
        for part, flow in ((full, full_flow), (rd, rd_flow)):
            part["exact_vs_expm_err"] = expm_error(flow, prob.x0)
        metrics = {"psd": psd, "span": rows(plain(span_arrays(prob.span_xs))),
                   "full_rank": plain(full), "rank_deficient": plain(rd)}
        curves = jax.device_get({**curves, **rd_curves})
    metrics["full_rank"]["gd"] = [{**row, "stable_predicted": row["h"] < 2.0} for row in rows(metrics["full_rank"]["gd"])]
    runio.save_curves(out / "curves.npz", **curves)
    save_figure(span_figure(metrics["span"]), out / "span.png")
    save_figure(flow_figure(metrics["full_rank"], curves), out / "flow.png")
    save_figure(rank_deficient_figure(metrics["rank_deficient"], curves), out / "rank_deficient.png")
    return metrics


# -------------------------------------------------------------------- figures
def span_figure(span: list[dict]):
    fig, ax = subplots(1, 2)
    counts = [r["N"] for r in span]
    n = span[-1]["span_dim"]
    ax[0, 0].plot(counts, [min(c, n) for c in counts], "-", color="0.7", lw=4, label="min(N, n)")
    ax[0, 0].plot(counts, [r["span_dim"] for r in span], "o", label="dim span{xᵢ}")
    ax[0, 0].plot(counts, [r["rank"] for r in span], "x", ms=9, label="rank M")
    ax[0, 0].set(xlabel="number of vectors N", ylabel="dimension", title=f"rank M = dim span (n = {n})")
    ax[0, 0].legend(loc="lower right")
    pd = np.array([r["positive_definite"] for r in span])
    lam = np.abs([r["min_eigenvalue"] for r in span])
    ax[0, 1].semilogy(np.array(counts)[pd], lam[pd], "o", label="λ_min > tol: positive-definite")
    ax[0, 1].semilogy(np.array(counts)[~pd], lam[~pd], "s", mfc="none", label="|λ_min| <= tol: singular")
    ax[0, 1].semilogy(counts, [r["tol"] for r in span], "--", color="0.5", label="tolerance n·eps·λ_max")
    ax[0, 1].axvline(n, color="0.8", lw=1)
    ax[0, 1].set(xlabel="number of vectors N", ylabel="|λ_min(M)|", title="M is PD iff N >= n")
    ax[0, 1].legend(loc="center right", fontsize=8)
    return fig


def flow_figure(full: dict, curves: dict):
    fig, ax = subplots(1, 2, width=5.5)
    t, lam = curves["t"], full["lambda_min"]
    a = ax[0, 0]
    a.semilogy(t, curves["err"], lw=2.5, label="exact flow x* + e^{-Mt}(x0 - x*)")
    every = max(1, len(curves["rk4_t"]) // 25)
    a.semilogy(curves["rk4_t"][::every], curves["rk4_err"][::every], "x",
               label=f"RK4, λ_max dt = {full['rk4_dt'] * full['lambda_max']:.2g}")
    a.semilogy(t, np.exp(-lam * t), "k--", lw=1, label=f"bound e^(-λ_min t), λ_min = {lam:.3g}")
    a.semilogy(t, np.exp(full["fit_log_amplitude"] - full["rate_fit"] * t), ":", color="C3", lw=2,
               label=f"fit on t >= {full['fit_t_start']:.2g}: rate {full['rate_fit']:.4g}")
    a.set(xlabel="time t", ylabel="‖x(t) - x*‖ / ‖x0 - x*‖", title="gradient flow ẋ = -Mx - m")
    a.legend(loc="lower left", fontsize=8)
    b = ax[0, 1]
    k = np.arange(curves["gd_err"].shape[1])
    for h, err in zip(curves["gd_h"], curves["gd_err"]):
        b.semilogy(k, np.clip(err, 1e-17, 1e17), label=f"η = {h:g}/λ_max" + (" (> 2/λ_max)" if h > 2 else ""))
    b.set(xlabel="GD step k", ylabel="‖x_k - x*‖ / ‖x0 - x*‖", title="gradient descent, stable iff η < 2/λ_max")
    b.legend(loc="lower left", fontsize=8)
    return fig


def rank_deficient_figure(rd: dict, curves: dict):
    fig, ax = subplots(1, 2, width=5.5)
    t = curves["rd_t"]
    a = ax[0, 0]
    a.semilogy(t, curves["rd_err"], lw=2, label="‖x(t) - x(∞)‖ (range part)")
    a.semilogy(t, curves["rd_grad_norm"], "--", label="‖∇f(x(t))‖ (relative)")
    a.semilogy(t, np.maximum(curves["rd_null_drift"], 1e-17), ":", lw=2, label="‖P_null (x(t) - x0)‖ (floored at 1e-17)")
    a.set(xlabel="time t", ylabel="relative to t = 0",
          title=f"rank M = {rd['rank']} < n = {rd['n']}, m ∈ range M")
    a.legend(loc=(0.02, 0.3), fontsize=8)
    b = ax[0, 1]
    b.plot(t, curves["rd_unbounded_null"], label="‖P_null x(t)‖")
    b.set(xlabel="time t", ylabel="‖P_null x(t)‖", title="m ∉ range M: f unbounded below, no minimiser")
    c = b.twinx()
    c.plot(t, curves["rd_unbounded_f"], color="C3", label="f(x(t))")
    c.set_ylabel("f(x(t))", color="C3")
    lines = b.get_lines() + c.get_lines()
    b.legend(lines, [line.get_label() for line in lines], loc="center left", fontsize=8)
    return fig


# --------------------------------------------------------------------- report
def report_fields(metrics: dict) -> dict:
    span, full = metrics["span"], metrics["full_rank"]
    return {**metrics, "span_max": span[-1]["N"],
            "first_pd": min((r["N"] for r in span if r["positive_definite"]), default=None),
            "converged": ", ".join(f"{g['h']:g}" for g in full["gd"] if g["converged"]) or "none",
            "diverged": ", ".join(f"{g['h']:g}" for g in full["gd"] if not g["converged"]) or "none",
            "horizon": full["horizon_t"] * full["lambda_min"], "rk4_lam_dt": full["rk4_dt"] * full["lambda_max"]}


def report(metrics: dict) -> list[dict]:
    psd, span, full, rd = metrics["psd"], metrics["span"], metrics["full_rank"], metrics["rank_deficient"]
    f = report_fields(metrics)
    part = lambda key: {"derivation": templates.render(TEXT, f"{key}_derivation", f),
                        "text": templates.render(TEXT, f"{key}_text", f)}
    return [
        {"question": "ex. 4.2 (a.1): M = Σ xᵢxᵢᵀ is symmetric and positive-semidefinite", "ids": ["003 4.2(a.1)"],
         **part("a1"), "figures": [],
         "table": [["N, n", f"{psd['N']}, {psd['n']}"], ["max |M - Mᵀ|", psd["asymmetry"]],
                   ["λ_min(M)", psd["min_eigenvalue"]], ["min vᵀMv/‖v‖² over random v", psd["min_rayleigh_quotient"]]],
         "code": ["nndl.quadratic.gram", "experiments.quadratic.psd_arrays"]},
        {"question": "ex. 4.2 (a.2): M is positive-definite iff dim span{x₁..x_N} = n", "ids": ["003 4.2(a.2)"],
         **part("a2"), "figures": ["span.png"],
         "table": [["N", "dim span", "rank M", "λ_min", "PD"]]
         + [[r["N"], r["span_dim"], r["rank"], r["min_eigenvalue"], r["positive_definite"]] for r in span],
         "code": ["nndl.quadratic.spectrum", "experiments.quadratic.span_arrays"]},
        {"question": "ex. 4.2 (b): f(x) = ½xᵀMx + mᵀx + c has a unique minimum", "ids": ["003 4.2(b)"],
         **part("b"), "figures": [],
         "table": [["‖∇f(x*)‖ at x* = -M⁻¹m", full["grad_norm_at_minimiser"]],
                   ["min (f(x*+d) - f(x*))/‖d‖²", full["min_growth_ratio"]], ["λ_min/2", full["min_growth_bound"]]],
         "code": ["nndl.quadratic.objective", "nndl.quadratic.minimiser"]},
        {"question": "ex. 4.2 (c): every solution of ẋ = -Mx - m converges to x_min", "ids": ["003 4.2(c)"],
         **part("c"), "figures": ["flow.png"],
         "table": [["λ_min, λ_max", f"{full['lambda_min']:.4g}, {full['lambda_max']:.4g}"],
                   ["fitted rate", full["rate_fit"]],
                   ["‖x(T) - x*‖/‖x0 - x*‖ at T = horizon/λ_min", full["minimiser_err"]],
                   ["exact vs matrix exponential", full["exact_vs_expm_err"]],
                   ["RK4 max error (bound)", f"{full['rk4_err']:.2g} ({full['rk4_err_bound']:.2g})"]]
         + [[f"GD η = {g['h']:g}/λ_max", f"final error {g['final_err']:.3g}, spectral radius {g['spectral_radius']:.3g}"]
            for g in full["gd"]],
         "code": ["nndl.quadratic.flow_exact", "nndl.quadratic.flow_expm", "nndl.quadratic.flow_rk4",
                  "nndl.quadratic.gradient_descent", "nndl.quadratic.decay_fit"]},
        {"question": "ex. 4.2 (a.2)-(c) when the xᵢ do not span Rⁿ: rank-deficient M", "ids": ["003 4.2(a.2)", "003 4.2(c)"],
         **part("rd"), "figures": ["rank_deficient.png"],
         "table": [["rank M, n", f"{rd['rank']}, {rd['n']}"], ["distance to the limit at T", rd["limit_err"]],
                   ["max null-space drift", rd["null_drift"]],
                   ["limits from two starts apart by", rd["limit_gap_two_starts"]],
                   ["m ∉ range: drift speed (‖P_null m‖)",
                    f"{rd['unbounded']['drift_speed']:.4g} ({rd['unbounded']['null_m_norm']:.4g})"]],
         "code": ["nndl.quadratic.null_projector", "nndl.quadratic.flow_limit",
                  "experiments.quadratic.rank_deficient_arrays"]},
    ]


def _rate_check(label: str, part: dict) -> dict:
    return check(f"{label}: rate_fit between the exact rates at the fit window's ends", part["rate_lower"],
                 part["rate_fit"], f"[{part['rate_lower']:.6g}, {part['rate_upper']:.6g}] (1e-6 relative)",
                 part["rate_lower"] * (1 - 1e-6) <= part["rate_fit"] <= part["rate_upper"] * (1 + 1e-6))


def checks(metrics: dict) -> list[dict]:
    psd, span, full, rd = metrics["psd"], metrics["span"], metrics["full_rank"], metrics["rank_deficient"]
    ub = rd["unbounded"]
    span_ok = all(r["rank"] == r["span_dim"] and r["positive_definite"] == (r["span_dim"] == psd["n"]) for r in span)
    exact = f"{EXACT_RTOL:g} relative (float64 round-off)"
    return [
        check("M = Mᵀ exactly", 0.0, psd["asymmetry"], "exact", psd["symmetric"]),
        check("λ_min(M) >= 0", 0.0, psd["min_eigenvalue"], ">= 0", psd["min_eigenvalue"] >= 0),
        check("rank M = dim span, PD iff dim span = n, for every N", True, span_ok,
              "rank tolerance n·eps·λ_max", span_ok),
        check("f(x*+d) - f(x*) >= λ_min ‖d‖²/2", full["min_growth_bound"], full["min_growth_ratio"], "bound",
              full["min_growth_ratio"] >= full["min_growth_bound"] * (1 - 1e-9)),
        check("‖x(t) - x*‖ <= e^{-λ_min t}‖x0 - x*‖ for all t", 1.0, full["decay_bound_max_ratio"],
              "bound (1e-9 round-off)", full["decay_bound_max_ratio"] <= 1 + 1e-9),
        check("‖x(T) - x*‖ <= e^{-horizon}‖x0 - x*‖", full["minimiser_err_bound"], full["minimiser_err"],
              "bound (1e-9 round-off)", full["minimiser_err"] <= full["minimiser_err_bound"] * (1 + 1e-9)),
        check("f(x(t)) never increases along the flow (df/dt = -‖∇f‖²)", True, full["f_decreasing"],
              "1e-12 relative round-off", full["f_decreasing"]),
        _rate_check("full rank", full),
        check("eigen solution = matrix exponential", 0.0, full["exact_vs_expm_err"], exact,
              full["exact_vs_expm_err"] <= EXACT_RTOL),
        check("ẋ (jacfwd of the closed form) = -Mx - m", 0.0, full["ode_residual"], exact,
              full["ode_residual"] <= EXACT_RTOL),
        check("RK4 error <= steps (λ_max dt)^5 / 120", full["rk4_err_bound"], full["rk4_err"], "bound",
              full["rk4_err"] <= full["rk4_err_bound"]),
        check("GD error <= spectral radius^k", [g["bound_final"] for g in full["gd"]],
              [g["final_err"] for g in full["gd"]], f"bound + {ROUNDOFF_FLOOR:g} round-off floor",
              all(g["final_err"] <= g["bound_final"] * (1 + 1e-9) + ROUNDOFF_FLOOR for g in full["gd"])),
        check("GD converges iff η < 2/λ_max", [g["stable_predicted"] for g in full["gd"]],
              [g["converged"] for g in full["gd"]], f"converged: final error < {GD_CONVERGED:g}",
              all(g["converged"] == g["stable_predicted"] for g in full["gd"])),
        check("rank-deficient: the null-space part of x0 never moves", 0.0, rd["null_drift"], exact,
              rd["null_drift"] <= EXACT_RTOL),
        check("rank-deficient: ‖x(T) - x(∞)‖ <= e^{-horizon}", rd["limit_err_bound"], rd["limit_err"],
              "bound (1e-9 round-off)", rd["limit_err"] <= rd["limit_err_bound"] * (1 + 1e-9)),
        _rate_check("rank-deficient", rd),
        check("m ∉ range M: drift speed = ‖P_null m‖", ub["null_m_norm"], ub["drift_speed"], exact,
              abs(ub["drift_speed"] - ub["null_m_norm"]) <= EXACT_RTOL * ub["null_m_norm"]),
        check("m ∉ range M: df/dt = -‖P_null m‖² (after transients)", ub["f_slope_predicted"], ub["f_slope"],
              "1e-6 relative (range modes decayed by e^{-horizon/2})",
              abs(ub["f_slope"] - ub["f_slope_predicted"]) <= 1e-6 * abs(ub["f_slope_predicted"])),
    ]


def main(argv=None) -> int:
    return cli.run_experiment(NAME, doc=__doc__, get_config=get_config, run=run,
                              keys=KEYS, validate=validate, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
