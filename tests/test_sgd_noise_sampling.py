"""experiments.sgd_noise.sampling: never-sampled simulation, per-example gradients, minibatch variance without
replacement."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.sgd_noise import sampling
from nndl.models import mlp


def test_never_sampled_matches_formula_within_4_standard_errors(key):
    ns, trials = [1, 2, 5, 50], 20_000
    freq = np.asarray(jax.jit(lambda k: jnp.mean(sampling.never_sampled(k, ns, trials, chunk=1000), axis=0))(key))
    for n, p_hat in zip(ns, freq):
        p = (1 - 1 / n) ** n
        if n == 1:
            assert p_hat == 0.0  # the only observation is always drawn
        else:
            assert abs(p_hat - p) <= 4 * np.sqrt(p * (1 - p) / trials)


def test_per_example_grads_equal_jacobian_of_the_loss_vector(key):
    params = jax.jit(mlp.init, static_argnums=1)(key, (2, 3, 1))
    rng = np.random.default_rng(2)
    x, y = (jnp.asarray(rng.standard_normal(s), jnp.float32) for s in ((5, 2), (5, 1)))

    def loss(p, xi, yi):
        return jnp.sum((mlp.apply(p, xi) - yi) ** 2)

    grads = jax.jit(lambda p: sampling.per_example_grads(loss, p, x, y))(params)
    jac = jax.jit(jax.jacrev(lambda p: jax.vmap(loss, in_axes=(None, 0, 0))(p, x, y)))(params)
    flat = np.concatenate([np.asarray(leaf).reshape(5, -1) for leaf in jax.tree.leaves(jac)], axis=1)
    assert grads.shape == (5, 3 * 2 + 3 + 3 + 1)
    np.testing.assert_allclose(np.sort(np.asarray(grads), axis=1), np.sort(flat, axis=1), rtol=1e-5, atol=1e-7)


def test_minibatch_means_are_without_replacement(key):
    grads = jnp.asarray(np.random.default_rng(1).standard_normal((6, 4)), jnp.float32)
    means = jax.jit(lambda k: sampling.minibatch_means(k, grads, [1, 3, 6], 50))(jax.random.key(3))
    assert means.shape == (50, 3, 4)
    # a batch of all N examples drawn without replacement is the full mean, every time
    np.testing.assert_allclose(means[:, 2], np.broadcast_to(np.mean(grads, axis=0), (50, 4)), rtol=1e-5, atol=1e-6)
    # a batch of one is one of the rows
    rows = np.asarray(grads)
    assert all(np.any(np.all(np.isclose(m, rows), axis=1)) for m in np.asarray(means[:, 0]))
    with pytest.raises(ValueError, match="exceeds"):
        sampling.minibatch_means(key, grads, [7], 2)


def test_minibatch_variance_has_the_finite_population_correction():
    n, trials = 12, 8000
    grads = jnp.asarray(np.random.default_rng(0).standard_normal((n, 3)) * [[1.0, 2.0, 0.5]], jnp.float32)
    sizes = [1, 2, 4, 8]
    full = jnp.mean(grads, axis=0)
    devs = np.asarray(jax.jit(lambda k: sampling.minibatch_means(
        k, grads, sizes, trials, lambda m: jnp.sum((m - full[None]) ** 2, axis=-1), chunk=2000))(jax.random.key(9)),
        np.float64)
    sigma2 = float(np.mean(np.sum((np.asarray(grads) - np.asarray(full)) ** 2, axis=1)))
    assert float(sampling.population_variance(grads)) == pytest.approx(sigma2, rel=1e-6)
    for j, b in enumerate(sizes):
        exact = sigma2 / b * (n - b) / (n - 1)
        assert float(sampling.finite_population_correction(n, b)) == pytest.approx((n - b) / (n - 1))
        se = devs[:, j].std(ddof=1) / np.sqrt(trials)
        assert abs(devs[:, j].mean() - exact) <= 4 * se


def test_loglog_slope():
    b = np.array([1, 2, 4, 8])
    assert sampling.loglog_slope(b, 3.0 / b) == pytest.approx(-1.0)
    assert sampling.loglog_slope(b, 2.0 * b**0.5) == pytest.approx(0.5)
