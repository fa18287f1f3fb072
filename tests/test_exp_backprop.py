"""experiments.backprop (package) end to end: every number in metrics.json against an independent reference."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import backprop as exp
from experiments.backprop import opcount
from experiments.backprop import report as rep
from nndl.run import runio, templates
from tests.helpers import calls_recorded, check_report_entries

GRID = "16,4,2,32,8"  # one size: each costs two XLA compilations


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("backprop")
    listed = sorted({name for names in rep.CODE.values() for name in names})
    with calls_recorded(listed) as ran:
        assert exp.main(["--flop-grid", GRID, "--batch", "3", "--hidden", "5", "--steps", "30", "--lr", "0.01",
                         "--out", str(out)]) == 0
    return runio.read_json(out / "metrics.json"), out, set(ran)


@pytest.fixture(scope="module")
def metrics(smoke):
    return smoke[0], smoke[1]


def test_gradients_equal_jax_grad(metrics):
    m, _ = metrics
    assert m["grad_max_abs_err"] == max(c["max_abs_err"] for c in m["grad_cases"])
    assert m["grad_max_rel_err"] <= rep.GRAD_RTOL  # float64: manual backward = jax.grad
    assert {c["activation"] for c in m["grad_cases"]} == {"relu", "tanh", "sigmoid"}
    assert all(c["batch"] == 3 and c["loss_abs_err"] <= 1e-14 for c in m["grad_cases"])


def test_flop_table_against_the_formulas_and_xla(metrics):
    m, out = metrics
    sizes = [[int(v) for v in part.split(",")] for part in GRID.split(";")]
    assert [[r["I"], r["O"], r["K"], r["L"], r["batch"]] for r in m["flops"]] == sizes
    for r, (n_in, n_out, k, width, batch) in zip(m["flops"], sizes):
        ref = _flop_references(r)  # closed forms written out in this file, independently of opcount
        forward, backward = ref["forward"], ref["backward"]
        assert (r["forward_analytic"], r["backward_analytic"]) == (forward, backward)
        assert r["forward_bigO_madds"] == ref["fwd_madds"]
        # XLA: the same forward ops (B, O > 1); the backward within the elementwise terms
        assert r["forward_xla"] == forward
        assert abs(r["backward_xla"] - backward) <= rep.FLOP_RTOL * backward
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
    sections = rep.report(m)
    assert len(sections) == 7 and all(s.text and s.derivation for s in sections if s.ids != ("002 P1.2",))
    assert all(s.header for s in sections if s.table)  # every table declares its columns
    assert f"{m['seed002']['loss_last']:.4g}" in sections[3].text
    results = rep.checks(m)
    assert results and all(c.passed for c in results), [c for c in results if not c.passed]
    bad = dict(m, seed002=dict(m["seed002"], db2_factor=5.0))
    assert not all(c.passed for c in rep.checks(bad))


def test_report_entries_complete_and_listed_code_ran(smoke):
    m, out, ran = smoke
    entries = check_report_entries(rep, m, ran)
    assert [e["ids"] for e in entries] == [["001 M2(a)"], ["001 M2(b)"], ["001 M2(c)"], ["002 P1.1"], ["002 P1.2"],
                                          ["002 P1.3"], ["002 P1.4"]]
    assert all(e["derivation"] for e in entries) and all((out / f).exists() for e in entries for f in e["figures"])
    d = {e["ids"][0]: e["derivation"] for e in entries}
    assert "Goodfellow" in d["001 M2(b)"] and r"\frac{2}{O}\, \mathbf{e}" in d["001 M2(b)"]  # source and e
    assert r"2(K - 1)\, \mathcal{O}(L^2)" in d["001 M2(c)"]
    assert "zero_grad" in d["002 P1.1"] and "backward()" in d["002 P1.1"] and "step()" in d["002 P1.1"]
    # every gradient of the backward pass is written: the two weights, the two biases, the three activations
    for name in (r"\mathbf{W}^{(2)}", r"\mathbf{b}^{(2)}", r"\mathbf{W}^{(1)}", r"\mathbf{b}^{(1)}",
                 r"\mathbf{z}_3", r"\mathbf{z}_2", r"\mathbf{z}_1"):
        assert rf"$\frac{{\partial \ell}}{{\partial {name}}} = " in d["002 P1.3"], name
    # the sheet's bugs are flagged
    assert "multiplies $\\mathbf{b}^{(2)}$ by 5" in d["002 P1.2"]
    assert "= 5$" in d["002 P1.3"] and "no $K \\times d$" in d["002 P1.3"]
    for shape in (r"\mathbb{R}^{d \times d}", r"\mathbb{R}^{K \times K}", r"\mathbb{R}^{1 \times K}"):
        assert shape in d["002 P1.4"]


# ------------------------------------------------------------- every template number vs an independent value
def _numbers(text: str) -> list[float]:
    return [float(t) for t in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


def _seed002_references(s2: dict) -> dict:
    """Seed 002's net recomputed in float64 from the stored parameters, data and example, with its own code."""
    ex = s2["example"]
    p = {k: jnp.asarray(v, jnp.float64) for k, v in ex["params"].items()}
    x, y = jnp.asarray(ex["x"], jnp.float64), jnp.asarray(ex["y"], jnp.float64)

    def f(z):
        return jnp.where(z > 0, 5.0 * z, 0.0)

    def predict(q, x):
        return q["w2"] @ f(q["w1"] @ x + q["b1"]) + q["b2"]

    def loss(q, x, y):
        return jnp.sum((predict(q, x) - y) ** 2)

    z1 = p["w1"] @ x + p["b1"]
    yhat = predict(p, x)
    grads = jax.grad(loss)(p, x, y)
    trained = {k: jnp.asarray(v, jnp.float64) for k, v in s2["trained_params"].items()}
    xs, ys = (jnp.asarray(s2["batch"][k], jnp.float64) for k in ("xs", "ys"))
    batch_loss = jax.vmap(loss, in_axes=(None, 0, 0))
    sheet_form = 5.0 * (trained["w2"] @ jnp.maximum(trained["w1"] @ x + trained["b1"], 0) + trained["b2"])
    dl_dz3 = jax.grad(lambda z3: jnp.sum((z3 - y) ** 2))(yhat)
    return {
        "s2.example.loss": loss(p, x, y), "s2.loss_first": jnp.mean(batch_loss(p, xs, ys)),
        "s2.loss_last": jnp.mean(batch_loss(trained, xs, ys)),
        "s2.sheet_form_max_abs_diff": jnp.max(jnp.abs(sheet_form - predict(trained, x))),
        "s2.sheet_form_expected": 4 * jnp.max(jnp.abs(trained["b2"])),
        "s2.db2_factor": jnp.sum(grads["b2"] * dl_dz3) / jnp.sum(dl_dz3**2),
        "vec.z1": z1, "vec.z2": f(z1), "vec.yhat": yhat, "vec.y": y, "vec.db2": grads["b2"], "vec.db1": grads["b1"],
        "vec.dz2_dz1_diagonal": jnp.diag(jax.jacobian(f)(z1)), "vec.dl_dyhat": dl_dz3,
        "grads": grads,
    }


def _flop_references(row: dict) -> dict:
    n_in, n_out, k, width, batch = (row[c] for c in ("I", "O", "K", "L", "batch"))
    pairs = list(zip([n_in] + [width] * k, [width] * k + [n_out]))
    forward = batch * (sum(2 * a * b + b for a, b in pairs) + k * width + 3 * n_out) + batch
    backward = (batch * (n_out + sum(a * b for a, b in pairs) + sum(2 * a * b + 2 * a for a, b in pairs[1:]))
                + (batch - 1) * sum(a * b + b for a, b in pairs))
    # XLA's backward: one matmul per dW, ReLU' in 3 ops, the MSE derivative's 6 ops per output (batch > 1)
    xla_backward = backward + sum(a * b for a, b in pairs) + batch * k * width + 5 * batch * n_out
    fwd_madds = batch * (n_in * width + (k - 1) * width**2 + width * n_out)
    bwd_madds = batch * (n_in * width + 2 * (k - 1) * width**2 + 2 * width * n_out)
    return {"forward": forward, "backward": backward, "xla_backward": xla_backward,
            "fwd_madds": fwd_madds, "bwd_madds": bwd_madds}


def test_every_number_in_the_templates_against_an_independent_reference(metrics, x64):
    m, _ = metrics
    f, s2 = rep.report_fields(m), m["seed002"]
    ref2 = _seed002_references(s2)
    (n_in, n_out, k, width, batch), = [[int(v) for v in GRID.split(",")]]
    big = _flop_references(m["flops"][0])
    xla_ratio = big["xla_backward"] / big["forward"]
    numeric = {  # path: (reference, relative tolerance)
        "big.forward_bigO_madds": (big["fwd_madds"], 0), "big.backward_bigO_madds": (big["bwd_madds"], 0),
        "big_forward_leading": (2 * big["fwd_madds"], 0), "big_backward_leading": (2 * big["bwd_madds"], 0),
        "big.forward_analytic": (big["forward"], 0), "big.backward_analytic": (big["backward"], 0),
        "big.forward_xla": (big["forward"], 0), "big.backward_xla": (big["xla_backward"], 1e-3),
        "big_leading_ratio": (big["bwd_madds"] / big["fwd_madds"], 1e-12),
        "big.ratio_analytic": (big["backward"] / big["forward"], 1e-12), "big.ratio_xla": (xla_ratio, 1e-3),
        "ratio_small": (xla_ratio, 1e-3), "ratio_large": (xla_ratio, 1e-3),
        "bwd_gap_min": (big["xla_backward"] / big["backward"] - 1, 1e-2),
        "bwd_gap_max": (big["xla_backward"] / big["backward"] - 1, 1e-2),
        "n_exact": (1, 0), "n_sizes": (1, 0), "n_cases": (len(m["grad_cases"]), 0), "batch": (3, 0),
        # float32 forward values of size ~1-30 against float64: ~1e-6 relative
        **{p: (float(ref2[p]), 1e-5) for p in ("s2.example.loss", "s2.loss_first", "s2.loss_last",
                                                "s2.sheet_form_max_abs_diff", "s2.sheet_form_expected")},
        "s2.db2_factor": (float(ref2["s2.db2_factor"]), 1e-12),  # exactly 1: the sheet's 5 would fail this
    }
    bounded = {  # measured differences between two methods: 0 up to the stated tolerance
        "grad_max_abs_err": 1e-12, "grad_max_rel_err": rep.GRAD_RTOL, "loss_err": rep.LOSS_TOL,
        "jac_err": rep.JACOBIAN_TOL, "s2.grad_max_abs_err": rep.SEED002_GRAD_TOL,
        "s2.sgd_step_max_abs_err": rep.SEED002_GRAD_TOL, "model_gap": 1e-3}
    settings = {"big.I": n_in, "big.O": n_out, "big.K": k, "big.L": width, "big.batch": batch, "l_small": width,
                "l_large": width, "s2.sizes.n": 4, "s2.sizes.d": 5, "s2.sizes.K": 3, "s2.steps": 30, "s2.lr": 0.01,
                "s2.n_points": 32, "s2.diverged_step": None, "grad_rtol": rep.GRAD_RTOL,
                "activations": "relu, sigmoid, tanh",
                "shapes": "dl/dyhat 1 x 3, dyhat/dz3 3 x 3, dz2/dz1 5 x 5"}
    sentences = {"forward_sentence", "model_sentence", "ratio_sentence", "sizes_phrase", "gap_phrase", "db2_sentence"}
    used = {path for body in rep.TEXT.values() for path in templates.field_names(body)} - sentences
    assert len(used) > 40
    for path in sorted(used):
        value = templates.lookup(f, path)
        if path in numeric:
            reference, rel = numeric[path]
            assert value == pytest.approx(reference, rel=rel, abs=1e-7 if rel else 0), path
        elif path in bounded:
            assert 0 <= value <= bounded[path], path
        elif path in settings:
            assert value == settings[path], path
        elif path.startswith("vec."):
            # .4g formatting: at most 5e-4 relative; float32 vs float64 adds ~1e-6
            np.testing.assert_allclose(_numbers(value), np.asarray(ref2[path]), rtol=1e-3, atol=1e-6, err_msg=path)
        else:
            raise AssertionError(f"{path} has no independent reference")
    # the stored gradients of the example, all four, against jax.grad in float64
    for name, g in ref2["grads"].items():
        np.testing.assert_allclose(s2["example"]["grads"][name], g, rtol=1e-4, atol=1e-5, err_msg=name)


def test_wording_follows_the_numbers(metrics):
    m, _ = metrics
    s2 = m["seed002"]
    rising = dict(m, seed002=dict(s2, loss_last=2 * s2["loss_first"], grad_max_abs_err=1.0, db2_factor=5.0))
    entries = rep.report(rising)
    assert "this learning rate is too large" in entries[3].text
    assert "a gradient above is wrong" in entries[5].text and "not 1 as derived" in entries[5].text
    wrong = dict(m, grad_max_rel_err=1e-3, grad_cases=[dict(c, loss_abs_err=1e-6) for c in m["grad_cases"]])
    entries = rep.report(wrong)
    assert "the manual backward pass is wrong" in entries[1].text and "forward pass is wrong" in entries[0].text
    text = rep.report(m)[2].text
    assert "on one size" in text and "With a single size" in text
    row = m["flops"][0]
    wide = dict(row, L=2 * row["L"], forward_analytic=10 * row["forward_analytic"], ratio_xla=row["ratio_xla"] + 0.1)
    text = rep.report(dict(m, flops=[row, wide]))[2].text
    assert f"grows from {row['ratio_xla']:.2f} at L = {row['L']} to {row['ratio_xla'] + 0.1:.2f}" in text
    flat = dict(wide, ratio_xla=row["ratio_xla"] - 0.1)
    assert "does not grow with L" in rep.report(dict(m, flops=[row, flat]))[2].text


def test_diverged_sgd_is_flagged_null_and_exits_0(smoke, tmp_path, capsys):
    # the smoke run's sizes at lr 0.9: seed 002's full-batch SGD overflows (its compiled programs are reused)
    argv = ["--flop-grid", GRID, "--batch", "3", "--hidden", "5", "--steps", "30", "--lr", "0.9",
            "--out", str(tmp_path)]
    assert exp.main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "backprop: warning: every config diverged (seed 002's SGD at lr 0.9" in err
    s2 = runio.read_json(tmp_path / "metrics.json")["seed002"]
    assert s2["diverged"] and 0 < s2["diverged_step"] <= 30 and s2["loss_last"] is None and s2["trained_params"] is None
    assert s2["grad_max_abs_err"] == smoke[0]["seed002"]["grad_max_abs_err"]  # training does not touch these
    m = runio.read_json(tmp_path / "metrics.json")
    text = next(a for a in rep.report(m) if a.ids == ("002 P1.1",)).text
    assert f"not finite from step {s2['diverged_step']} on" in text and "far too large" in text
    failed = {c.check for c in rep.checks(m) if not c.passed}
    assert failed == {"SGD lowers the loss", "sheet's 5 (W2 z + b2) - yhat = 4 max|b2| (trained)"}
    assert (tmp_path / "seed002_loss.png").stat().st_size > 0
