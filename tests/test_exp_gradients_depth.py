"""experiments.gradients_depth (package) end to end: per-layer norms against jax.grad of a plain network, the bound."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import gradients_depth as exp
from experiments.gradients_depth import norms
from experiments.gradients_depth import report as rep
from nndl import activations
from nndl.run import runio
from tests.helpers import ENTRY_KEYS, calls_recorded, check_report_entries, check_template

CODE = ["nndl.models.deep.forward", "nndl.models.deep.weight_grads",
        "experiments.gradients_depth.norms.log10_gradient_bound", "experiments.gradients_depth.norms.frobenius_norms"]
RAN: set = set()

WIDTH, BATCH, DEPTHS, SCALES, SEED = 6, 2, [2, 4], [3.0], 5


@pytest.fixture(scope="module")
def metrics(tmp_path_factory):
    out = tmp_path_factory.mktemp("gradients_depth")
    argv = ["--width", str(WIDTH), "--batch", str(BATCH), "--depths", ",".join(map(str, DEPTHS)),
            "--scales", ",".join(map(str, SCALES)), "--seed", str(SEED), "--out", str(out)]
    with calls_recorded(CODE) as ran:
        assert exp.main(argv) == 0
    RAN.update(ran)
    return runio.read_json(out / "metrics.json"), out


def test_every_case_equals_jax_grad_of_the_plain_network(metrics):
    m, _ = metrics
    cases = m["cases"]
    assert len(cases) == 3 * len(SCALES) * len(DEPTHS) * 2
    # the run's draws: one N(0, 1) draw from the seed's key, cut into weights, inputs, targets
    max_depth = max(DEPTHS)
    flat = np.asarray(jax.random.normal(jax.random.key(SEED), (max_depth * WIDTH**2 + 2 * BATCH * WIDTH,)))
    draws = flat[:max_depth * WIDTH**2].reshape(max_depth, WIDTH, WIDTH)
    xs, ys = flat[max_depth * WIDTH**2:].reshape(2, BATCH, WIDTH)

    @jax.jit
    def reference(draws, xs, ys):
        out = []
        for c in cases:
            psi, res = activations.get(c["activation"]), float(c["residual"])

            def loss(ws, psi=psi, res=res):
                def net(x):
                    for w in ws:
                        x = res * x + psi(w @ x)
                    return x
                return jnp.mean(0.5 * jnp.sum((jax.vmap(net)(xs) - ys) ** 2, axis=1))

            ws = jnp.sqrt(c["init_scale"] / WIDTH) * draws[:c["depth"]]
            out.append(jnp.linalg.norm(jax.grad(loss)(ws), axis=(1, 2)))
        return out

    for c, expected in zip(cases, reference(draws, xs, ys)):
        assert len(c["grad_norms"]) == c["depth"]
        np.testing.assert_allclose(c["grad_norms"], expected, rtol=2e-4, err_msg=str(c))
        assert c["ratio_first_last"] == pytest.approx(c["grad_norms"][0] / c["grad_norms"][-1])
        assert c["per_layer_factor"] == pytest.approx(c["ratio_first_last"] ** (1 / (c["depth"] - 1)))
        assert np.log10(c["grad_norms"][0]) <= c["log10_bound_first"] + 1e-5


def test_bound_holds_at_every_layer_and_the_sweep_does_not_recompile(metrics):
    m, out = metrics
    curves = runio.load_curves(out / "grad_norms.npz")
    for c, layer_norms, bounds in zip(m["cases"], curves["grad_norms"], curves["log10_bounds"]):
        n = c["depth"]
        assert np.all(np.log10(layer_norms[:n]) <= bounds[:n] + 1e-5), c
        assert not np.any(layer_norms[n:]) and np.all(np.isneginf(bounds[n:]))
    cases, _ = norms.make_cases(list(activations.NAMES), SCALES, DEPTHS, [False, True])
    before = norms._sweep_cases._cache_size()
    norms.sweep(jax.random.key(SEED + 1), cases, max_depth=max(DEPTHS), width=WIDTH, batch=BATCH)
    assert norms._sweep_cases._cache_size() == before


def test_files_report_and_checks(metrics):
    m, out = metrics
    for name in ("grad_norms.png", "ratio_vs_depth.png", "grad_norms.npz"):
        assert (out / name).exists()
    sections = rep.report(m)
    assert len(sections) == 2 and "product of $L - k$ Jacobians" in sections[0].derivation
    sig = [c for c in m["cases"] if c["activation"] == "sigmoid" and not c["residual"] and c["init_scale"] == SCALES[0]]
    assert f"{sig[-1]['ratio_first_last']:.2g} (L={sig[-1]['depth']})" in sections[0].text
    results = rep.checks(m)
    # at depth 4 the vanished/not-vanished check is not made (it needs L >= 20); the rest must pass
    assert all(c.passed for c in results), [c for c in results if not c.passed]


def test_report_entries_complete_and_listed_code_ran(metrics):
    m, _ = metrics
    entries = check_report_entries(rep, m, RAN, required=ENTRY_KEYS)
    assert [e["ids"] for e in entries] == [["003 4.1"], ["003 4.1"]]
    assert sorted({n for e in entries for n in e["code"]}) == sorted(CODE)
    check_template(rep.TEXT, rep.report_fields(m))
    d = entries[0]["derivation"]
    for piece in ("\\delta^{(k)}\\, x^{(k-1)T}", "\\prod_{l=k+1}^{L}", "\\|W^{(l)}\\|_2 \\max|\\sigma'(z^{(l)})|"):
        assert piece in d, piece


def test_numbers_and_wording_follow_the_cases(metrics):
    m, _ = metrics
    f = rep.report_fields(m)
    cases = m["cases"]
    assert f["n_bound_ok"] == len(cases) == f["n_cases"]  # every norm below its bound, recounted below
    assert all(np.log10(c["grad_norms"][0]) <= c["log10_bound_first"] + 1e-5 for c in cases)
    sig = [c for c in cases if c["activation"] == "sigmoid" and not c["residual"]]
    deep = max(sig, key=lambda c: c["depth"])
    assert f"{(deep['grad_norms'][0] / deep['grad_norms'][-1]) ** (1 / (deep['depth'] - 1)):.3g}" in f["sig_factors"]
    text = rep.report(m)[0].text
    ratios = [c["ratio_first_last"] for c in sorted(sig, key=lambda c: c["depth"])]
    assert ("falls with depth for every scale" in text) == bool(np.all(np.diff(ratios) < 0))
    # the wording follows the numbers: a sigmoid ratio that grows with depth is not called vanishing
    flipped = {**m, "cases": [{**c, "ratio_first_last": 1 / c["ratio_first_last"]} if c in sig else c for c in cases]}
    text = rep.report(flipped)[0].text
    assert "does not fall with depth" in text and "vanishing." not in text
    far = {**m, "cases": [{**c, "ratio_first_last": 1e3} if c["activation"] == "relu" else c for c in cases]}
    assert "more than a factor 10" in rep.report(far)[0].text
    tanh_top = next(c for c in cases if c["activation"] == "tanh" and not c["residual"]
                    and c["init_scale"] == max(SCALES) and c["depth"] == max(DEPTHS))
    assert ("above 1 at the largest depth" in rep.report(m)[0].text) == (tanh_top["ratio_first_last"] > 1)
