import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from nndl import losses, tree
from nndl.models import mlp


def test_mlp_shapes_and_he_variance(key):
    params = mlp.init(key, [400, 300, 2])
    assert [p["w"].shape for p in params] == [(400, 300), (300, 2)]
    assert mlp.sizes_of(params) == [400, 300, 2]
    # Var of 120,000 N(0, 2/400) draws: relative std error of the variance ~ sqrt(2/120000) = 0.4 %.
    np.testing.assert_allclose(jnp.var(params[0]["w"]), 2 / 400, rtol=0.02)
    assert not jnp.any(params[0]["b"])
    x = jnp.ones(400)
    assert mlp.apply(params, x).shape == (2,)
    batched = jax.vmap(mlp.apply, in_axes=(None, 0))(params, jnp.ones((5, 400)))
    np.testing.assert_allclose(batched[0], mlp.apply(params, x), rtol=1e-6)


def test_mlp_matches_explicit_formula(key):
    params = mlp.init(key, [3, 4, 2])
    x = jnp.array([0.5, -1.0, 2.0])
    h = jnp.maximum(params[0]["w"].T @ x + params[0]["b"], 0)
    np.testing.assert_allclose(mlp.apply(params, x), params[1]["w"].T @ h + params[1]["b"], rtol=1e-6)


def test_mlp_rejects_bad_sizes(key):
    with pytest.raises(ValueError):
        mlp.init(key, [3])
    with pytest.raises(ValueError):
        mlp.init(key, [3, 0, 1])


def test_losses_closed_forms():
    p, y = jnp.array([1.0, 3.0]), jnp.array([0.0, 1.0])
    assert losses.mse(p, y) == pytest.approx(2.5)
    assert losses.sse(p, y) == pytest.approx(5.0)
    assert losses.mae(p, y) == pytest.approx(1.5)
    nll = losses.gaussian_nll(jnp.array([0.0]), jnp.array([4.0]), jnp.array([2.0]))
    assert nll == pytest.approx(0.5 * np.log(2 * np.pi * 4) + 0.5)
    assert losses.logistic(jnp.array(0.0), jnp.array(1.0)) == pytest.approx(np.log(2))
    # stable for large margins: log(1+e^-1000) = e^-1000 ~ 0, log(1+e^1000) = 1000
    assert losses.logistic(jnp.array(1000.0), jnp.array(1.0)) == pytest.approx(0.0)
    assert losses.logistic(jnp.array(1000.0), jnp.array(-1.0)) == pytest.approx(1000.0)


def test_tree_helpers(key):
    params = mlp.init(key, [3, 5, 2])
    assert tree.param_count(params) == 3 * 5 + 5 + 5 * 2 + 2
    np.testing.assert_allclose(tree.global_norm(params), optax.tree.norm(params), rtol=1e-6)
    np.testing.assert_allclose(tree.sq_norm(params), optax.tree.norm(params) ** 2, rtol=1e-5)


