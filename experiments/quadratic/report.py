"""quadratic answers (seed 003 ex. 4.2) and checks, from metrics.json; prose in report.md beside this file."""

from __future__ import annotations

from experiments.quadratic.config import GD_CONVERGED
from nndl.report import Answer, Check
from nndl.run import templates

TEXT = templates.beside(__file__)

# float64 round-off of an n x n eigendecomposition / matrix exponential, relative to
# ‖x0 - x*‖: a few hundred eps for these well-conditioned O(10) problems.
EXACT_RTOL = 1e-9
# Errors of iterates near x* cannot fall below float64 round-off of x* itself (~eps ‖x*‖/‖x0 - x*‖).
ROUNDOFF_FLOOR = 1e-12


def _final_error(g: dict) -> str:
    """A GD row's final error in words: null in metrics.json when the iterates overflowed (η > 2/λ_max)."""
    return "overflowed (diverged)" if g["final_err"] is None else f"{g['final_err']:.3g}"


def _within_bound(g: dict) -> bool:
    """‖x_k - x*‖ <= ρ^k ‖x0 - x*‖ (plus round-off); a bound that overflowed to null bounds nothing, so it holds."""
    return g["bound_final"] is None or g["final_err"] <= g["bound_final"] * (1 + 1e-9) + ROUNDOFF_FLOOR


def report_fields(metrics: dict) -> dict:
    span, full = metrics["span"], metrics["full_rank"]
    return {**metrics, "span_max": span[-1]["N"],
            "first_pd": min((r["N"] for r in span if r["positive_definite"]), default=None),
            "converged": ", ".join(f"{g['h']:g}" for g in full["gd"] if g["converged"]) or "none",
            "diverged": ", ".join(f"{g['h']:g}" for g in full["gd"] if not g["converged"]) or "none",
            "horizon": full["horizon_t"] * full["lambda_min"], "rk4_lam_dt": full["rk4_dt"] * full["lambda_max"]}


def report(metrics: dict) -> list[Answer]:
    psd, span, full, rd = metrics["psd"], metrics["span"], metrics["full_rank"], metrics["rank_deficient"]
    f = report_fields(metrics)

    def part(key: str) -> dict:
        return {"derivation": templates.render(TEXT, f"{key}_derivation", f),
                "text": templates.render(TEXT, f"{key}_text", f)}

    return [
        Answer(question="ex. 4.2 (a.1): M = Σ xᵢxᵢᵀ is symmetric and positive-semidefinite", ids=["003 4.2(a.1)"],
               **part("a1"), figures=[],
               table=[["N, n", f"{psd['N']}, {psd['n']}"], ["max |M - Mᵀ|", psd["asymmetry"]],
                      ["λ_min(M)", psd["min_eigenvalue"]],
                      ["min vᵀMv/‖v‖² over random v", psd["min_rayleigh_quotient"]]],
               code=["experiments.quadratic.form.gram", "experiments.quadratic.run.psd_arrays"]),
        Answer(question="ex. 4.2 (a.2): M is positive-definite iff dim span{x₁..x_N} = n", ids=["003 4.2(a.2)"],
               **part("a2"), figures=["span.png"], header=["N", "dim span", "rank M", "λ_min", "PD"],
               table=[[r["N"], r["span_dim"], r["rank"], r["min_eigenvalue"], r["positive_definite"]] for r in span],
               code=["experiments.quadratic.form.spectrum", "experiments.quadratic.run.span_arrays"]),
        Answer(question="ex. 4.2 (b): f(x) = ½xᵀMx + mᵀx + c has a unique minimum", ids=["003 4.2(b)"],
               **part("b"), figures=[],
               table=[["‖∇f(x*)‖ at x* = -M⁻¹m", full["grad_norm_at_minimiser"]],
                      ["min (f(x*+d) - f(x*))/‖d‖²", full["min_growth_ratio"]], ["λ_min/2", full["min_growth_bound"]]],
               code=["experiments.quadratic.form.objective", "experiments.quadratic.form.minimiser"]),
        Answer(question="ex. 4.2 (c): every solution of ẋ = -Mx - m converges to x_min", ids=["003 4.2(c)"],
               **part("c"), figures=["flow.png"],
               table=[["λ_min, λ_max", f"{full['lambda_min']:.4g}, {full['lambda_max']:.4g}"],
                      ["fitted rate", full["rate_fit"]],
                      ["‖x(T) - x*‖/‖x0 - x*‖ at T = horizon/λ_min", full["minimiser_err"]],
                      ["exact vs matrix exponential", full["exact_vs_expm_err"]],
                      ["RK4 max error (bound)", f"{full['rk4_err']:.2g} ({full['rk4_err_bound']:.2g})"]]
               + [[f"GD η = {g['h']:g}/λ_max",
                   f"final error {_final_error(g)}, spectral radius {g['spectral_radius']:.3g}"]
                  for g in full["gd"]],
               code=["experiments.quadratic.flow.flow_exact", "experiments.quadratic.flow.flow_expm",
                     "experiments.quadratic.flow.flow_rk4", "experiments.quadratic.flow.gd_iterates",
                     "nndl.train.gd.gradient_descent", "experiments.quadratic.flow.decay_fit"]),
        Answer(question="ex. 4.2 (a.2)-(c) when the xᵢ do not span Rⁿ: rank-deficient M",
               ids=["003 4.2(a.2)", "003 4.2(c)"], **part("rd"), figures=["rank_deficient.png"],
               table=[["rank M, n", f"{rd['rank']}, {rd['n']}"], ["distance to the limit at T", rd["limit_err"]],
                      ["max null-space drift", rd["null_drift"]],
                      ["limits from two starts apart by", rd["limit_gap_two_starts"]],
                      ["m ∉ range: drift speed (‖P_null m‖)",
                       f"{rd['unbounded']['drift_speed']:.4g} ({rd['unbounded']['null_m_norm']:.4g})"]],
               code=["experiments.quadratic.form.null_projector", "experiments.quadratic.flow.flow_limit",
                     "experiments.quadratic.run.rank_deficient_arrays"]),
    ]


def _rate_check(label: str, part: dict) -> Check:
    return Check(f"{label}: rate_fit between the exact rates at the fit window's ends", part["rate_lower"],
                 part["rate_fit"], f"[{part['rate_lower']:.6g}, {part['rate_upper']:.6g}] (1e-6 relative)",
                 part["rate_lower"] * (1 - 1e-6) <= part["rate_fit"] <= part["rate_upper"] * (1 + 1e-6))


def checks(metrics: dict) -> list[Check]:
    psd, span, full, rd = metrics["psd"], metrics["span"], metrics["full_rank"], metrics["rank_deficient"]
    ub = rd["unbounded"]
    span_ok = all(r["rank"] == r["span_dim"] and r["positive_definite"] == (r["span_dim"] == psd["n"]) for r in span)
    exact = f"{EXACT_RTOL:g} relative (float64 round-off)"
    finite = [g for g in full["gd"] if g["final_err"] is not None]
    overflowed = "".join(f"; η = {g['h']:g}/λ_max overflowed, not compared" for g in full["gd"]
                         if g["final_err"] is None)
    return [
        Check("M = Mᵀ exactly", 0.0, psd["asymmetry"], "exact", psd["symmetric"]),
        Check("λ_min(M) >= 0", 0.0, psd["min_eigenvalue"], ">= 0", psd["min_eigenvalue"] >= 0),
        Check("rank M = dim span, PD iff dim span = n, for every N", True, span_ok,
              "rank tolerance n·eps·λ_max", span_ok),
        Check("f(x*+d) - f(x*) >= λ_min ‖d‖²/2", full["min_growth_bound"], full["min_growth_ratio"], "bound",
              full["min_growth_ratio"] >= full["min_growth_bound"] * (1 - 1e-9)),
        Check("‖x(t) - x*‖ <= e^{-λ_min t}‖x0 - x*‖ for all t", 1.0, full["decay_bound_max_ratio"],
              "bound (1e-9 round-off)", full["decay_bound_max_ratio"] <= 1 + 1e-9),
        Check("‖x(T) - x*‖ <= e^{-horizon}‖x0 - x*‖", full["minimiser_err_bound"], full["minimiser_err"],
              "bound (1e-9 round-off)", full["minimiser_err"] <= full["minimiser_err_bound"] * (1 + 1e-9)),
        Check("f(x(t)) never increases along the flow (df/dt = -‖∇f‖²)", True, full["f_decreasing"],
              "1e-12 relative round-off", full["f_decreasing"]),
        _rate_check("full rank", full),
        Check("eigen solution = matrix exponential", 0.0, full["exact_vs_expm_err"], exact,
              full["exact_vs_expm_err"] <= EXACT_RTOL),
        Check("ẋ (jacfwd of the closed form) = -Mx - m", 0.0, full["ode_residual"], exact,
              full["ode_residual"] <= EXACT_RTOL),
        Check("RK4 error <= steps (λ_max dt)^5 / 120", full["rk4_err_bound"], full["rk4_err"], "bound",
              full["rk4_err"] <= full["rk4_err_bound"]),
        Check("GD error <= spectral radius^k", [g["bound_final"] for g in full["gd"]],
              [g["final_err"] for g in full["gd"]], f"bound + {ROUNDOFF_FLOOR:g} round-off floor{overflowed}",
              all(_within_bound(g) for g in finite)),
        Check("GD converges iff η < 2/λ_max", [g["stable_predicted"] for g in full["gd"]],
              [g["converged"] for g in full["gd"]], f"converged: final error < {GD_CONVERGED:g}",
              all(g["converged"] == g["stable_predicted"] for g in full["gd"])),
        Check("rank-deficient: the null-space part of x0 never moves", 0.0, rd["null_drift"], exact,
              rd["null_drift"] <= EXACT_RTOL),
        Check("rank-deficient: ‖x(T) - x(∞)‖ <= e^{-horizon}", rd["limit_err_bound"], rd["limit_err"],
              "bound (1e-9 round-off)", rd["limit_err"] <= rd["limit_err_bound"] * (1 + 1e-9)),
        _rate_check("rank-deficient", rd),
        Check("m ∉ range M: drift speed = ‖P_null m‖", ub["null_m_norm"], ub["drift_speed"], exact,
              abs(ub["drift_speed"] - ub["null_m_norm"]) <= EXACT_RTOL * ub["null_m_norm"]),
        Check("m ∉ range M: df/dt = -‖P_null m‖² (after transients)", ub["f_slope_predicted"], ub["f_slope"],
              "1e-6 relative (range modes decayed by e^{-horizon/2})",
              abs(ub["f_slope"] - ub["f_slope_predicted"]) <= 1e-6 * abs(ub["f_slope_predicted"])),
    ]
