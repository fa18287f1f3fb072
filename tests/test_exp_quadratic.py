"""experiments.quadratic (package): smoke run, numbers against numpy closed forms, report entries and bad flags."""

import jax
import numpy as np
import pytest

from experiments import quadratic as E
from experiments.quadratic import form
from experiments.quadratic import report as rep
from nndl.run import runio
from tests.helpers import ENTRY_KEYS, calls_recorded, check_report_entries, check_template

FLAGS = ["--n", "4", "--N", "9", "--rank-deficient-N", "2", "--n-times", "60", "--n-directions", "50",
         "--seed", "3"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("quadratic")
    with calls_recorded(CODE) as ran:
        assert E.main([*FLAGS, "--out", str(out)]) == 0
    RAN.update(ran)
    return out


# the code the report lists (read from a report of the real run in test_report_entries..., fixed here so the
# recording can start before the run)
CODE = ["experiments.quadratic.form.gram", "experiments.quadratic.run.psd_arrays",
        "experiments.quadratic.form.spectrum", "experiments.quadratic.run.span_arrays",
        "experiments.quadratic.form.objective", "experiments.quadratic.form.minimiser",
        "experiments.quadratic.flow.flow_exact", "experiments.quadratic.flow.flow_expm",
        "experiments.quadratic.flow.flow_rk4", "experiments.quadratic.flow.gd_iterates",
        "nndl.train.gd.gradient_descent",
        "experiments.quadratic.flow.decay_fit", "experiments.quadratic.form.null_projector",
        "experiments.quadratic.flow.flow_limit", "experiments.quadratic.run.rank_deficient_arrays"]
RAN: set = set()


@pytest.fixture(scope="module")
def metrics(run_dir):
    return runio.read_json(run_dir / "metrics.json")


@pytest.fixture(scope="module")
def problem():
    """The run's random draws, rebuilt from its seed; everything below recomputes from them with numpy."""
    config = {**E.get_config(), "n": 4, "N": 9, "rank_deficient_N": 2, "n_times": 60, "n_directions": 50}
    with jax.enable_x64(True):
        prob = form.draw_problem(jax.random.key(3), n=4, N=9, rank_deficient_N=2, n_directions=50)
    return config, jax.tree.map(np.asarray, prob)


def test_run_folder_contents(run_dir, metrics):
    for name in ("config.json", "metrics.json", "status.json", "curves.npz", "span.png", "flow.png",
                 "rank_deficient.png"):
        assert (run_dir / name).stat().st_size > 0
    assert metrics["psd"]["symmetric"] is True and metrics["psd"]["min_eigenvalue"] > 0
    assert {"minimiser_err", "rate_fit", "lambda_min"} <= metrics["full_rank"].keys()
    assert (metrics["rank_deficient"]["rank"], metrics["rank_deficient"]["n"]) == (2, 4)
    assert "nonfinite" not in metrics


def test_every_check_passes_and_report_quotes_the_sheet(metrics):
    failed = [c.check for c in rep.checks(metrics) if not c.passed]
    assert not failed
    sections = rep.report(metrics)
    assert [s.question[:11] for s in sections[:4]] == ["ex. 4.2 (a."] * 2 + ["ex. 4.2 (b)", "ex. 4.2 (c)"]
    assert all(s.text for s in sections)


def test_spectrum_and_minimiser_match_numpy(metrics, problem):
    _, p = problem
    M = p.xs.T @ p.xs
    lam = np.linalg.eigvalsh(M)
    full = metrics["full_rank"]
    np.testing.assert_allclose(metrics["psd"]["eigenvalues"], lam, rtol=1e-10)
    np.testing.assert_allclose([full["lambda_min"], full["lambda_max"]], lam[[0, -1]], rtol=1e-10)
    np.testing.assert_allclose(full["x_star"], -np.linalg.solve(M, p.m), rtol=1e-9)
    # min over the random directions of vᵀMv/‖v‖² (numpy), necessarily >= λ_min
    v = p.directions
    rayleigh = np.einsum("ki,ij,kj->k", v, M, v) / np.sum(v * v, 1)
    assert metrics["psd"]["min_rayleigh_quotient"] == pytest.approx(rayleigh.min(), rel=1e-10)
    assert rayleigh.min() >= lam[0]
    for row in metrics["span"]:  # rank by numpy's SVD-based matrix_rank of the first N vectors
        assert row["span_dim"] == row["rank"] == np.linalg.matrix_rank(p.span_xs[:row["N"]]) == min(row["N"], 4)


def test_flow_numbers_match_closed_forms(metrics, problem):
    config, p = problem
    full = metrics["full_rank"]
    M = p.xs.T @ p.xs
    lam = np.linalg.eigvalsh(M)
    x_star = -np.linalg.solve(M, p.m)
    assert full["minimiser_err"] <= np.exp(-config["horizon"])  # ‖x(T) - x*‖ <= e^{-λ_min T}, T = horizon/λ_min
    assert full["rate_lower"] * (1 - 1e-6) <= full["rate_fit"] <= full["rate_upper"] * (1 + 1e-6)
    assert lam[0] <= full["rate_lower"] * (1 + 1e-9)
    # GD after k steps: x_k - x* = (I - ηM)^k (x0 - x*), evaluated by numpy
    for row in full["gd"]:
        e_k = np.linalg.matrix_power(np.eye(4) - row["lr"] * M, full["gd_steps"]) @ (p.x0 - x_star)
        expected = np.linalg.norm(e_k) / np.linalg.norm(p.x0 - x_star)
        assert row["final_err"] == pytest.approx(expected, rel=1e-6, abs=1e-14)
        assert row["converged"] == (row["h"] < 2)
    assert full["rk4_err"] <= full["rk4_err_bound"]


def test_rank_deficient_numbers_match_projections(metrics, problem):
    _, p = problem
    rd = metrics["rank_deficient"]
    # null(M) = span(rows of rd_xs)^⊥, from numpy's SVD of the vectors themselves
    _, _, vt = np.linalg.svd(p.rd_xs)
    P_null = np.eye(4) - vt[:2].T @ vt[:2]
    assert rd["unbounded"]["null_m_norm"] == pytest.approx(np.linalg.norm(P_null @ p.rd_m_generic), rel=1e-9)
    assert rd["unbounded"]["drift_speed"] == pytest.approx(rd["unbounded"]["null_m_norm"], rel=1e-9)
    assert rd["null_gap_two_starts"] == pytest.approx(np.linalg.norm(P_null @ (p.x0 - p.rd_x0_other)), rel=1e-9)
    # the two limits differ exactly by the null-space part of the two starts
    assert rd["limit_gap_two_starts"] == pytest.approx(rd["null_gap_two_starts"], rel=1e-9)
    assert rd["null_drift"] < 1e-9 and rd["min_eigenvalue"] <= rd["tol"]
    lam_pos = np.linalg.eigvalsh(p.rd_xs.T @ p.rd_xs)[-2:].min()
    assert rd["min_positive_eigenvalue"] == pytest.approx(lam_pos, rel=1e-9)


def test_report_entries_complete_and_listed_code_ran(metrics):
    entries = check_report_entries(rep, metrics, RAN, required=ENTRY_KEYS)
    assert sorted({n for e in entries for n in e["code"]}) == sorted(CODE)
    assert [e["ids"] for e in entries] == [["003 4.2(a.1)"], ["003 4.2(a.2)"], ["003 4.2(b)"], ["003 4.2(c)"],
                                           ["003 4.2(a.2)", "003 4.2(c)"]]
    check_template(rep.TEXT, rep.report_fields(metrics))
    # each proof in steps, with display mathematics, then its numerical check
    for e in entries[:4]:
        assert e["derivation"].count("\n$") >= 1 and "$\\blacksquare$" in e["derivation"], e["ids"]
        assert e["text"].startswith("Numerical check")


def test_numbers_in_the_proofs_texts(metrics, problem):
    config, prob = problem
    f = rep.report_fields(metrics)
    assert f["first_pd"] == 4  # the span of Gaussian vectors reaches R^4 with the 4th vector
    assert f["horizon"] == pytest.approx(config["horizon"], rel=1e-12)
    assert f["rk4_lam_dt"] == pytest.approx(config["rk4_h"], rel=1e-12)
    assert f["converged"] == "0.5, 1, 1.9" and f["diverged"] == "2.05"  # |1 - h| < 1 iff h < 2
    M = prob.xs.T @ prob.xs
    lam = np.linalg.eigvalsh(M)
    text = rep.report(metrics)[3].text
    assert f"$\\lambda_{{\\min}}$ = {lam[0]:.4g}" in text and f"$\\lambda_{{\\max}}$ = {lam[-1]:.4g}" in text
    b = rep.report(metrics)[2].text
    assert f"{lam[0] / 2:.4g}" in b


def test_an_overflowed_gradient_descent_is_reported_not_a_crash(metrics):
    """GD far beyond 2/λ_max (e.g. --gd-h 0.5,10) overflows: run writes its final error (and maybe ρ^k) as null."""
    gd = metrics["full_rank"]["gd"]
    blown = [*gd[:-1], {**gd[-1], "final_err": None, "bound_final": None, "converged": False}]
    shifted = {**metrics, "full_rank": {**metrics["full_rank"], "gd": blown}}
    entries = check_report_entries(rep, shifted, required=ENTRY_KEYS)
    assert entries[3]["table"][-1][1].startswith("final error overflowed (diverged)")
    by_name = {c.check: c for c in rep.checks(shifted)}
    bound = by_name["GD error <= spectral radius^k"]
    assert bound.passed and f"η = {gd[-1]['h']:g}/λ_max overflowed, not compared" in bound.tolerance
    assert by_name["GD converges iff η < 2/λ_max"].passed  # 2.05 > 2: predicted unstable, and it did not converge
    # a finite error above its bound still fails the check
    worse = [{**gd[0], "final_err": 10 * gd[0]["bound_final"] + 1e-9}, *blown[1:]]
    assert not {c.check: c for c in rep.checks({**shifted, "full_rank": {**shifted["full_rank"], "gd": worse}})}[
        "GD error <= spectral radius^k"].passed


def test_every_gradient_descent_overflowing_is_flagged_and_exits_0(tmp_path, capsys):
    """GD at η = 10/λ_max only (the one trained config) overflows float64 long before the horizon."""
    assert E.main([*FLAGS, "--gd-h", "10", "--horizon", "2000", "--out", str(tmp_path)]) == 0  # ~1000 steps: 9^1000
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "quadratic: warning: every config diverged (GD at η = 10/λ_max" in err
    m = runio.read_json(tmp_path / "metrics.json")
    (gd,) = m["full_rank"]["gd"]
    assert gd["overflowed"] and gd["final_err"] is None and not gd["converged"]
    entries = check_report_entries(rep, m, required=ENTRY_KEYS)
    assert entries[3]["table"][-1][1].startswith("final error overflowed (diverged)")
    assert (tmp_path / "flow.png").stat().st_size > 0
