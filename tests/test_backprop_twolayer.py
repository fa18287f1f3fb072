"""experiments.backprop.twolayer (seed 002's net): layers, Jacobians, gradients, SGD by hand against JAX and optax."""

import jax
import jax.numpy as jnp
import numpy as np

from experiments.backprop import twolayer


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


def test_train_repeats_the_hand_written_step(x64):
    # train runs nndl.train.gradient_descent with the hand-derived gradient: the same iterates as sgd_step in a
    # loop, and the loss recorded before every step and after the last (float64: only the op order may differ).
    params, xs, ys = _two_layer(seed=3)
    steps, lr = 4, 1e-3  # the weights are N(0, 1), unscaled: a larger step diverges
    trained, history = jax.jit(lambda p: twolayer.train(p, xs, ys, lr=lr, steps=steps))(params)
    step = jax.jit(lambda p: twolayer.sgd_step(p, xs, ys, lr))
    loss = jax.jit(lambda p: twolayer.batch_loss(p, xs, ys))
    expected, p = [], params
    for _ in range(steps):
        expected.append(loss(p))
        p = step(p)
    expected.append(loss(p))
    assert history.shape == (steps + 1,)
    np.testing.assert_allclose(history, expected, rtol=1e-12)
    for t, r in zip(trained, p):
        np.testing.assert_allclose(t, r, rtol=1e-12, atol=1e-15)
    assert history[-1] < history[0]
