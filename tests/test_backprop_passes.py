"""nndl.activations, nndl.backprop, nndl.opcount, nndl.twolayer against JAX, finite differences and a jaxpr count."""

import math
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl import activations, backprop, losses, opcount, twolayer
from nndl.models import mlp


def _mlp(seed, sizes, batch, dtype=jnp.float64):
    """Params, inputs, targets from numpy draws (no XLA compile for the PRNG)."""
    rng = np.random.default_rng(seed)
    params = [{"w": jnp.asarray(rng.standard_normal((a, b)) * np.sqrt(2 / a), dtype),
               "b": jnp.asarray(rng.standard_normal(b), dtype)} for a, b in zip(sizes[:-1], sizes[1:])]
    xs = jnp.asarray(rng.standard_normal((batch, sizes[0])), dtype)
    ys = jnp.asarray(rng.standard_normal((batch, sizes[-1])), dtype)
    return params, xs, ys


def _reference_loss(params, xs, ys, activation):
    preds = jax.vmap(lambda x: mlp.apply(params, x, activations.get(activation)))(xs)
    return jnp.mean(jax.vmap(losses.mse)(preds, ys))


def test_hand_written_derivatives_equal_jax_grad(x64):
    a = jnp.linspace(-4.0, 4.0, 81) + 0.01  # off the ReLU kink at 0

    @jax.jit
    def table(a):
        rows = {}
        for i, name in enumerate(activations.NAMES):
            psi = activations.get(name)
            rows[name] = (activations.derivative(name)(a, psi(a)), jax.vmap(jax.grad(psi))(a),
                          activations.switch(i, a), psi(a))
        return rows

    for name, (hand, auto, switched, direct) in table(a).items():
        np.testing.assert_allclose(hand, auto, rtol=1e-12, err_msg=name)
        # lax.switch branch vs direct call: the same function, but compiled in different fusions, so
        # rounding may differ by a few float64 ulp; a wrong branch would be off by O(1)
        np.testing.assert_allclose(switched, direct, rtol=1e-14, atol=1e-300, err_msg=name)


def test_unknown_activation_is_rejected():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        activations.get("gelu")


def test_manual_backward_equals_jax_grad(x64):
    cases = [([3, 4, 1], "relu", 5), ([5, 8, 8, 2], "tanh", 5), ([4, 6, 6, 6, 3], "sigmoid", 1), ([2, 3, 5], "relu", 4)]
    data = [_mlp(i, sizes, batch) for i, (sizes, _, batch) in enumerate(cases)]

    @jax.jit
    def all_cases(data):  # one compilation for every case
        return [(backprop.loss_and_grad(params, xs, ys, act), jax.value_and_grad(_reference_loss)(params, xs, ys, act))
                for (params, xs, ys), (_, act, _) in zip(data, cases)]

    for case, ((loss, grads), (ref_loss, ref_grads)) in zip(cases, all_cases(data)):
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-13, err_msg=str(case))
        for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
            assert g.shape == r.shape
            np.testing.assert_allclose(g, r, rtol=1e-11, atol=1e-14, err_msg=str(case))


def test_manual_gradient_matches_central_differences(x64):
    # Independent of JAX's autodiff: the directional derivative along a random direction.
    params, xs, ys = _mlp(7, [3, 5, 5, 2], batch=4)
    direction = jax.tree.map(lambda p: jnp.asarray(np.random.default_rng(8).standard_normal(p.shape)), params)
    loss = jax.jit(lambda p: backprop.loss_and_grad(p, xs, ys, "tanh")[0])
    _, grads = jax.jit(backprop.loss_and_grad, static_argnums=3)(params, xs, ys, "tanh")
    h = 1e-5
    shifted = [jax.tree.map(lambda p, d, s=s: p + s * h * d, params, direction) for s in (1, -1)]
    numeric = (loss(shifted[0]) - loss(shifted[1])) / (2 * h)
    analytic = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction)))
    # central differences: O(h^2) truncation ~ 1e-10, round-off ~ eps / h ~ 1e-11
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7)


def test_forward_cache_has_the_sheet_shapes():
    params, xs, ys = _mlp(1, [3, 4, 4, 2], batch=1, dtype=jnp.float32)
    loss, cache = jax.jit(backprop.forward)(params, xs[0], ys[0])
    assert [h.shape for h in cache.h] == [(3,), (4,), (4,)]
    assert [a.shape for a in cache.a] == [(4,), (4,)]
    assert cache.e.shape == (2,)
    np.testing.assert_allclose(loss, losses.mse(mlp.apply(params, xs[0]), ys[0]), rtol=1e-6)


# ------------------------------------------------------------------ FLOP counts
_ZERO_COST = {"broadcast_in_dim", "transpose", "reshape", "squeeze", "convert_element_type", "copy"}
_ELEMENTWISE = {"add", "sub", "mul", "div", "max", "min", "gt", "lt", "ge", "square", "select_n", "neg"}


def _jaxpr_flops(jaxpr) -> int:
    """FLOPs of a jaxpr with XLA's conventions: dot 2*out*contract, elementwise 1/element, sum n-1."""
    total = 0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        inner = [v for v in eqn.params.values() if hasattr(v, "eqns") or hasattr(v, "jaxpr")]
        size = math.prod(eqn.outvars[0].aval.shape)
        if inner:
            total += sum(_jaxpr_flops(getattr(j, "jaxpr", j)) for j in inner)
        elif name == "dot_general":
            (contract, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            total += 2 * size * math.prod(lhs[i] for i in contract)
        elif name == "reduce_sum":
            total += math.prod(eqn.invars[0].aval.shape) - size
        elif name == "integer_pow" and eqn.params["y"] == 2:
            total += size
        elif name in _ELEMENTWISE:
            total += size
        elif name not in _ZERO_COST:
            raise AssertionError(f"no FLOP rule for primitive {name}")
    return total


@pytest.mark.parametrize("n_in, n_out, n_hidden, width, batch",
                         [(3, 2, 1, 4, 1), (8, 4, 2, 16, 8), (5, 1, 3, 7, 3), (16, 10, 4, 32, 2)])
def test_analytic_counts_equal_the_count_of_the_implementation(n_in, n_out, n_hidden, width, batch):
    # The hand-derived formulas must count exactly the ops nndl.backprop performs.
    params, xs, ys = _mlp(0, opcount.layer_sizes(n_in, n_out, n_hidden, width), batch, dtype=jnp.float32)
    _, caches = jax.eval_shape(backprop.batch_forward, params, xs, ys)  # shapes suffice for a jaxpr
    fwd = jax.make_jaxpr(backprop.batch_forward)(params, xs, ys).jaxpr
    bwd = jax.make_jaxpr(backprop.batch_backward)(params, caches).jaxpr
    assert opcount.forward_flops(n_in, n_out, n_hidden, width, batch) == _jaxpr_flops(fwd)
    assert opcount.backward_flops(n_in, n_out, n_hidden, width, batch) == _jaxpr_flops(bwd)


def test_big_o_is_the_leading_term():
    n_in, n_out, n_hidden, width, batch = 30, 7, 3, 50, 4
    big = opcount.big_o(n_in, n_out, n_hidden, width, batch)
    # forward = 2 * multiply-adds + bias, ReLU and loss elementwise terms + batch mean
    elementwise = batch * ((n_hidden * width + n_out) + n_hidden * width + 3 * n_out) + batch
    assert opcount.forward_flops(n_in, n_out, n_hidden, width, batch) == 2 * big["forward"] + elementwise
    assert big["forward_text"] == "B[O(IL) + 2 O(L^2) + O(LO)]"
    assert big["backward_text"] == "B[O(IL) + 4 O(L^2) + 2 O(LO)]"
    # backward/forward -> 2 - IL / (IL + (K-1)L^2 + LO) as L grows
    wide = [opcount.backward_flops(8, 8, 4, w, 16) / opcount.forward_flops(8, 8, 4, w, 16) for w in (64, 1024)]
    limits = [2 - 8 * w / (8 * w + 3 * w * w + 8 * w) for w in (64, 1024)]
    assert abs(wide[1] - limits[1]) < abs(wide[0] - limits[0]) < 0.1


def test_xla_flops_accepts_a_list_of_one_dict(monkeypatch):
    # jax < 0.4.30 returned [dict] from cost_analysis(); newer returns the dict.
    compiled = SimpleNamespace(cost_analysis=lambda: [{"flops": 12.0}])
    lowered = SimpleNamespace(compile=lambda: compiled)
    monkeypatch.setattr(opcount.jax, "jit", lambda fn: SimpleNamespace(lower=lambda *a: lowered))
    assert opcount.xla_flops(lambda x: x, 1.0) == 12.0


# ------------------------------------------------------------- seed 002's net
def _two_layer(seed=0, n=4, d=6, k=3, batch=10):
    rng = np.random.default_rng(seed)
    params = twolayer.Params(*(jnp.asarray(rng.standard_normal(s)) for s in ((d, n), (d,), (k, d), (k,))))
    return params, jnp.asarray(rng.standard_normal((batch, n))), jnp.asarray(rng.standard_normal((batch, k)))


def test_two_layer_jacobians_gradients_and_sgd_step(x64):
    params, xs, ys = _two_layer()
    x, y = xs[0], ys[0]

    @jax.jit
    def everything(params, x, y, xs, ys):
        out = twolayer.layers(params, x)
        refs = {"dz2_dz1": jax.jacobian(lambda z: 5 * jnp.maximum(z, 0))(out.z1),
                "dyhat_dz3": jax.jacobian(lambda z: z)(out.z3),
                "dl_dyhat": jax.jacobian(lambda yh: jnp.sum((yh - y) ** 2))(out.yhat)[None]}
        return (out, twolayer.jacobians(params, x, y), refs, twolayer.grads(params, x, y),
                jax.grad(twolayer.loss)(params, x, y), twolayer.sgd_step(params, xs, ys, 0.05),
                twolayer.sgd_step_optax(params, xs, ys, 0.05))

    out, jac, refs, manual, auto, by_hand, by_optax = everything(params, x, y, xs, ys)
    assert (out.z1.shape, out.z2.shape, out.z3.shape, out.yhat.shape) == ((6,), (6,), (3,), (3,))
    np.testing.assert_allclose(out.yhat, 5 * params.w2 @ np.maximum(params.w1 @ x + params.b1, 0) + params.b2)
    assert jac["dz2_dz1"].shape == (6, 6) and jac["dyhat_dz3"].shape == (3, 3) and jac["dl_dyhat"].shape == (1, 3)
    # 5·1[z > 0] and the identity are exact by construction (entries in {0, 5} and {0, 1});
    # dl/dyhat = 2 (yhat - y) is computed by two different programs: equal to float64 rounding
    for name in ("dz2_dz1", "dyhat_dz3"):
        np.testing.assert_array_equal(jac[name], refs[name])
    np.testing.assert_allclose(jac["dl_dyhat"], refs["dl_dyhat"], rtol=1e-14, atol=0)
    assert set(np.unique(np.diag(jac["dz2_dz1"]))) <= {0.0, 5.0}
    for m, a in zip(manual, auto):
        np.testing.assert_allclose(m, a, rtol=1e-12)
    # dl/db2 = 2 (yhat - y): the factor is 1, not the 5 of the sheet's worked answer
    np.testing.assert_allclose(auto.b2, 2 * (out.yhat - y), rtol=1e-12)
    for h, o in zip(by_hand, by_optax):
        np.testing.assert_allclose(h, o, rtol=1e-12)
