"""quadratic figures, drawn from metrics and curves only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nndl.run.plotting import save_figure, subplots


def plot(metrics: dict, curves: dict, out: Path) -> None:
    """span.png, flow.png and rank_deficient.png in `out`."""
    save_figure(span_figure(metrics["span"]), out / "span.png")
    save_figure(flow_figure(metrics["full_rank"], curves), out / "flow.png")
    save_figure(rank_deficient_figure(metrics["rank_deficient"], curves), out / "rank_deficient.png")


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
    for h, err, row in zip(curves["gd_h"], curves["gd_err"], full["gd"]):
        lost = " overflowed: clipped at 1e17" if row.get("overflowed") else ""
        b.semilogy(k, np.clip(err, 1e-17, 1e17),
                   label=f"η = {h:g}/λ_max" + (f" (> 2/λ_max{';' + lost if lost else ''})" if h > 2 else lost))
    b.set(xlabel="GD step k", ylabel="‖x_k - x*‖ / ‖x0 - x*‖", title="gradient descent, stable iff η < 2/λ_max")
    b.legend(loc="lower left", fontsize=8)
    return fig


def rank_deficient_figure(rd: dict, curves: dict):
    fig, ax = subplots(1, 2, width=5.5)
    t = curves["rd_t"]
    a = ax[0, 0]
    a.semilogy(t, curves["rd_err"], lw=2, label="‖x(t) - x(∞)‖ (range part)")
    a.semilogy(t, curves["rd_grad_norm"], "--", label="‖∇f(x(t))‖ (relative)")
    a.semilogy(t, np.maximum(curves["rd_null_drift"], 1e-17), ":", lw=2,
               label="‖P_null (x(t) - x0)‖ (floored at 1e-17)")
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
