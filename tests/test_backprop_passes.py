"""experiments.backprop.passes (the manual forward and backward pass) and the hand-written derivatives of
nndl.activations it uses, against jax.grad and central differences."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.backprop import passes
from nndl import activations, losses
from nndl.models import mlp


def _mlp(seed, sizes, batch, dtype=jnp.float64):
    """Params, inputs, targets from numpy draws (no XLA compile for the PRNG)."""
    rng = np.random.default_rng(seed)
    params = [{"w": jnp.asarray(rng.standard_normal((a, b)) * np.sqrt(2 / a), dtype),
               "b": jnp.asarray(rng.standard_normal(b), dtype)} for a, b in itertools.pairwise(sizes)]
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
        return [(passes.loss_and_grad(params, xs, ys, act), jax.value_and_grad(_reference_loss)(params, xs, ys, act))
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
    loss = jax.jit(lambda p: passes.loss_and_grad(p, xs, ys, "tanh")[0])
    _, grads = jax.jit(passes.loss_and_grad, static_argnums=3)(params, xs, ys, "tanh")
    h = 1e-5
    shifted = [jax.tree.map(lambda p, d, s=s: p + s * h * d, params, direction) for s in (1, -1)]
    numeric = (loss(shifted[0]) - loss(shifted[1])) / (2 * h)
    analytic = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction)))
    # central differences: O(h^2) truncation ~ 1e-10, round-off ~ eps / h ~ 1e-11
    np.testing.assert_allclose(analytic, numeric, rtol=1e-7)


def test_forward_cache_has_the_sheet_shapes():
    params, xs, ys = _mlp(1, [3, 4, 4, 2], batch=1, dtype=jnp.float32)
    loss, cache = jax.jit(passes.forward)(params, xs[0], ys[0])
    assert [h.shape for h in cache.h] == [(3,), (4,), (4,)]
    assert [a.shape for a in cache.a] == [(4,), (4,)]
    assert cache.e.shape == (2,)
    np.testing.assert_allclose(loss, losses.mse(mlp.apply(params, xs[0]), ys[0]), rtol=1e-6)
