"""experiments.sgd_noise: smoke run, numbers against closed forms, an independent gradient computation and
Monte Carlo bounds."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import sgd_noise
from experiments.sgd_noise import report as rep
from experiments.sgd_noise import run as sgd_run
from nndl import data
from nndl.models import mlp
from nndl.run import runio
from tests.helpers import ENTRY_KEYS, check_report_entries, check_template

SMALL = ["--trials", "3000", "--grad-trials", "400", "--hidden", "8,8", "--ns", "10,100,1000"]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("sgd_noise")
    assert sgd_noise.main([*SMALL, "--out", str(out)]) == 0
    config = runio.read_json(out / "config.json")["config"]
    return runio.read_json(out / "metrics.json"), config, out


def independent_sigma2(config) -> tuple[float, tuple[int, int]]:
    """sigma^2 from the Jacobian of the vector of per-example losses (jacrev), in float64 numpy."""
    columns = data.load_csv(data.X_Y_PATH)
    x = jnp.asarray(columns["x"], jnp.float32)[:, None]
    y = jnp.asarray(columns["y"], jnp.float32)[:, None]
    params = sgd_run.model_params(config)

    def losses(p):
        pred = jax.vmap(mlp.apply, in_axes=(None, 0))(p, x)
        return jnp.mean((pred - y) ** 2, axis=1)

    jac = jax.jit(jax.jacrev(losses))(params)
    g = np.concatenate([np.asarray(leaf, np.float64).reshape(x.shape[0], -1) for leaf in jax.tree.leaves(jac)], 1)
    return float(np.mean(np.sum((g - g.mean(axis=0)) ** 2, axis=1))), g.shape


def test_smoke_files_and_report(smoke):
    m, _, out = smoke
    assert (out / "sgd_noise.png").exists() and (out / "curves.npz").exists()
    assert set(m) >= {"p_never", "inv_e", "minibatch_variance", "lr_scaling"}
    assert all(answer.text for answer in rep.report(m))
    assert all(row.passed for row in rep.checks(m))


def test_report_entries_and_templates(smoke):
    m = smoke[0]
    entries = check_report_entries(rep, m, required=ENTRY_KEYS)
    assert [i for e in entries for i in e["ids"]] == ["004 Q1(a)", "004 Q1(b)", "004 Q1(d)", "004 Q1(e)", "004 Q1(f)"]
    f = rep.report_fields(m)
    check_template(rep.TEXT, f, {p: {**f, **f[p.rstrip("_")]} for p in ("never_", "variance_", "lr_")})
    # n times the gap to 1/e, reported, against the formula
    expect = ", ".join(f"{r['n'] * (1 / math.e - (1 - 1 / r['n']) ** r['n']):.4f}" for r in m["p_never"])
    assert f["gap_times_n"] == expect and "1/(2e) = 0.1839" in entries[0]["text"]


def test_deviations_beyond_two_se_are_named(smoke):
    m = smoke[0]
    d = rep._deviations([("a", 0.5), ("b", -2.5), ("c", None), ("d", 2.01)])
    assert d["n_beyond"] == 2 and d["beyond"] == "b (-2.5 s.e.); d (+2.0 s.e.)" and d["n_checks"] == 3
    assert d["expected_beyond"] == pytest.approx(3 * 0.0455, rel=1e-2)
    # a measurement pushed beyond 2 s.e. is named in the text; inside, the text says all are within
    shifted = {**m, "minibatch_variance": {**m["minibatch_variance"]}}
    mb = shifted["minibatch_variance"]
    mb["variances"] = [t + (3 * se if i == 0 else 0.0) for i, (t, se) in enumerate(zip(mb["theory_fpc"], mb["stderr"]))]
    text = rep.report(shifted)[1].text
    assert f"b = {mb['batch_sizes'][0]} (+3.0 s.e.)" in text
    mb["variances"] = list(mb["theory_fpc"])
    assert "Every measured variance is within 2 standard errors" in rep.report(shifted)[1].text
    # z of the step variances: relative deviation over the minibatch study's relative s.e. at that batch size
    rel = {b: se / v for b, v, se in zip(m["minibatch_variance"]["batch_sizes"], m["minibatch_variance"]["variances"],
                                           m["minibatch_variance"]["stderr"])}
    zs = dict(rep.lr_scaling_z(m))
    for r in m["lr_scaling"]:
        if r["batch_size"] in rel:
            assert zs[f"lr x k at k = {r['k']}"] == pytest.approx((r["var_linear"] / r["theory_linear"] - 1)
                                                                    / rel[r["batch_size"]])


def test_p_never_against_formula(smoke):
    m, config, _ = smoke
    assert m["inv_e"] == pytest.approx(1 / math.e)
    assert [r["n"] for r in m["p_never"]] == [10, 100, 1000]
    for r in m["p_never"]:
        assert r["formula"] == pytest.approx((1 - 1 / r["n"]) ** r["n"], rel=1e-12)
        assert r["stderr"] == pytest.approx(math.sqrt(r["simulated"] * (1 - r["simulated"]) / config["trials"]))
        # 4 binomial standard errors: a wrong formula is off by far more
        assert abs(r["simulated"] - r["formula"]) <= 4 * r["stderr"]
        assert r["z"] == pytest.approx((r["simulated"] - r["formula"]) / r["stderr"])
    # the finite-n formula approaches 1/e from below, by ~1/(2en) for large n
    assert m["p_never"][-1]["formula"] == pytest.approx(1 / math.e - 1 / (2 * math.e * 1000), rel=1e-4)


def test_minibatch_variance_against_independent_sigma2(smoke):
    m, config, _ = smoke
    mb = m["minibatch_variance"]
    sigma2, shape = independent_sigma2(config)
    assert (mb["n_population"], mb["n_params"]) == shape == (1000, 1 * 8 + 8 + 8 * 8 + 8 + 8 + 1)
    assert mb["sigma2"] == pytest.approx(sigma2, rel=1e-4)  # float32 accumulation over 1000 examples
    b = np.array(mb["batch_sizes"], np.float64)
    np.testing.assert_allclose(mb["theory"], sigma2 / b, rtol=1e-4)
    np.testing.assert_allclose(mb["theory_fpc"], sigma2 / b * (1000 - b) / 999, rtol=1e-4)
    for v, se, t in zip(mb["variances"], mb["stderr"], mb["theory_fpc"]):
        assert abs(v - t) <= 4 * se  # Monte Carlo: 4 standard errors of the mean of ||g_b - g||^2
    slope = np.polyfit(np.log(b), np.log(mb["variances"]), 1)[0]
    assert mb["slope"] == pytest.approx(slope) and abs(slope + 1) <= 0.1


def test_lr_scaling_against_analysis(smoke):
    m, config, _ = smoke
    mb = m["minibatch_variance"]
    sigma2, lr0, b0 = mb["sigma2"], config["base_lr"], config["base_batch"]
    rel_se = {b: se / v for b, v, se in zip(mb["batch_sizes"], mb["variances"], mb["stderr"])}
    assert [r["k"] for r in m["lr_scaling"]] == config["ks"]
    for r in m["lr_scaling"]:
        k, b = r["k"], r["batch_size"]
        fpc = (1000 - b) / 999
        assert b == k * b0 and r["var_base"] == pytest.approx(lr0**2 * sigma2 / b0)
        assert r["lr_linear"] == pytest.approx(k * lr0) and r["lr_sqrt"] == pytest.approx(math.sqrt(k) * lr0)
        assert r["theory_linear"] == pytest.approx(k * lr0**2 * sigma2 / b0 * fpc, rel=1e-6)  # (eps k)^2 s^2/(k b)
        assert r["theory_sqrt"] == pytest.approx(lr0**2 * sigma2 / b0 * fpc, rel=1e-6)        # (eps sqrt k)^2 ...
        # same sampling distribution as the minibatch study at batch b: its relative MC error, 4x
        assert r["var_linear"] == pytest.approx(r["theory_linear"], rel=4 * rel_se[b])
        assert r["var_sqrt"] == pytest.approx(r["theory_sqrt"], rel=4 * rel_se[b])
    ls = m["lr_scaling"]
    assert ls[-1]["var_linear"] / ls[0]["var_linear"] > 0.5 * ls[-1]["k"]   # grows ~k-fold
    assert 0.7 < ls[-1]["var_sqrt"] / ls[0]["var_sqrt"] < 1.3                 # stays put
