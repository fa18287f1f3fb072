"""experiments.backprop end to end: every number in metrics.json against an independent reference."""

import numpy as np
import pytest

from experiments import backprop as exp
from nndl import opcount, runio

GRID = "16,4,2,32,8"  # one size: each costs two XLA compilations


@pytest.fixture(scope="module")
def metrics(tmp_path_factory):
    out = tmp_path_factory.mktemp("backprop")
    assert exp.main(["--flop-grid", GRID, "--batch", "3", "--hidden", "5", "--steps", "30", "--lr", "0.01",
                     "--out", str(out)]) == 0
    return runio.read_json(out / "metrics.json"), out


def test_gradients_equal_jax_grad(metrics):
    m, _ = metrics
    assert m["grad_max_abs_err"] == max(c["max_abs_err"] for c in m["grad_cases"])
    assert m["grad_max_rel_err"] <= exp.GRAD_RTOL  # float64: manual backward = jax.grad
    assert {c["activation"] for c in m["grad_cases"]} == {"relu", "tanh", "sigmoid"}
    assert all(c["batch"] == 3 and c["loss_abs_err"] <= 1e-14 for c in m["grad_cases"])


def test_flop_table_against_the_formulas_and_xla(metrics):
    m, out = metrics
    sizes = [[int(v) for v in part.split(",")] for part in GRID.split(";")]
    assert [[r["I"], r["O"], r["K"], r["L"], r["batch"]] for r in m["flops"]] == sizes
    for r, (n_in, n_out, k, width, batch) in zip(m["flops"], sizes):
        # closed forms written out here, independently of nndl.opcount
        pairs = list(zip([n_in] + [width] * k, [width] * k + [n_out]))
        forward = batch * (sum(2 * a * b + b for a, b in pairs) + k * width + 3 * n_out) + batch
        backward = (batch * (n_out + sum(a * b for a, b in pairs) + sum(2 * a * b + 2 * a for a, b in pairs[1:]))
                    + (batch - 1) * sum(a * b + b for a, b in pairs))
        assert (r["forward_analytic"], r["backward_analytic"]) == (forward, backward)
        assert r["forward_bigO_madds"] == batch * (n_in * width + (k - 1) * width**2 + width * n_out)
        # XLA: the same forward ops (B, O > 1); the backward within the elementwise terms
        assert r["forward_xla"] == forward
        assert abs(r["backward_xla"] - backward) <= exp.FLOP_RTOL * backward
        assert r["backward_autodiff_model"] == pytest.approx(r["backward_xla"], rel=0.01)
        assert r["ratio_analytic"] == pytest.approx(backward / forward)
        assert r["ratio_xla"] == pytest.approx(r["backward_xla"] / r["forward_xla"])
        assert r["backward_autodiff_model"] == opcount.backward_flops_autodiff(n_in, n_out, k, width, batch)
    assert (out / "flops.png").stat().st_size > 10_000


def test_seed002_numbers(metrics):
    m, out = metrics
    s = m["seed002"]
    assert s["sizes"] == {"n": 4, "d": 5, "K": 3}
    assert [(r["input_shape"], r["output_shape"]) for r in s["layers"]] == [([4], [5]), ([5], [5]), ([5], [3]),
                                                                            ([3], [3])]
    ex = s["example"]
    # the example's layer outputs follow from each other as the sheet writes them
    np.testing.assert_allclose(ex["z2"], 5 * np.maximum(ex["z1"], 0), rtol=1e-6)
    np.testing.assert_allclose(ex["yhat"], ex["z3"])
    jac = m["jacobians"]
    assert (jac["dz2_dz1"]["shape"], jac["dyhat_dz3"]["shape"], jac["dl_dyhat"]["shape"]) == ([5, 5], [3, 3], [1, 3])
    assert jac["dz2_dz1"]["is_diagonal"] and jac["dyhat_dz3"]["is_diagonal"]
    assert set(jac["dz2_dz1"]["diagonal_values"]) <= {0.0, 5.0}
    assert set(jac["dz2_dz1"]["diagonal_values"]) == {0.0 if v <= 0 else 5.0 for v in ex["z1"]}
    assert all(v["max_abs_err"] <= 1e-6 for v in jac.values())
    assert s["grad_max_abs_err"] <= 1e-5 and s["sgd_step_max_abs_err"] <= 1e-5
    assert s["db2_factor"] == pytest.approx(1.0, abs=1e-5)
    assert s["steps"] == 30 and s["loss_last"] < s["loss_first"]
    assert (out / "seed002_loss.png").exists()


def test_report_and_checks(metrics):
    m, _ = metrics
    sections = exp.report(m)
    assert len(sections) == 5 and all(s["text"] and s["question"] for s in sections)
    assert f"{m['seed002']['loss_last']:.4g}" in sections[-1]["text"]
    results = exp.checks(m)
    assert results and all(c["passed"] for c in results), [c for c in results if not c["passed"]]


@pytest.mark.parametrize("argv, needle", [
    (["--flop-grid", "1,2"], "--flop-grid: '1,2' is not I,O,K,L,B"),
    (["--flop-grid", "4,2,1,0,3"], "--flop-grid: must be a positive integer, got 0"),
    (["--lr", "1.5"], "--lr 1.5: must be < 1"),
    (["--lr", "-0.1"], "--lr: must be > 0"),
    (["--steps", "0"], "--steps: must be a positive integer"),
    (["--lr", "0.9", "--hidden", "5", "--steps", "30"], "--lr 0.9: SGD diverged on seed 002's net"),
])
def test_bad_input_exits_2_with_one_line(argv, needle, tmp_path, capsys):
    # (the --lr 0.9 case runs seed 002's 30 steps, compiled by the fixture's run, and diverges)
    assert exp.main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err
