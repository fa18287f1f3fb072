"""experiments.heteroscedastic.model: the Gaussian NLL against scipy and its derivation, the variance head,
the per-point losses the fits train on."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.heteroscedastic import model
from nndl import losses
from nndl.models import mlp


def test_gaussian_nll_against_scipy_and_its_gradients_against_the_derivation():
    from scipy import stats as st
    rng = np.random.default_rng(0)
    mean, var, y = rng.normal(size=50), rng.uniform(0.05, 2.0, 50), rng.normal(size=50)
    nll = np.asarray(jax.vmap(losses.gaussian_nll)(*(jnp.asarray(a[:, None], jnp.float32) for a in (mean, var, y))))
    np.testing.assert_allclose(nll, -st.norm.logpdf(y, mean, np.sqrt(var)), rtol=2e-5, atol=2e-6)
    assert float(model.mean_nll(jnp.asarray(mean), jnp.asarray(var), jnp.asarray(y))) == pytest.approx(
        -st.norm.logpdf(y, mean, np.sqrt(var)).mean(), rel=2e-5)
    # (e): d/dmu = -(y - mu)/var, d/dvar = 1/(2 var) - (y - mu)^2/(2 var^2)
    g_mu, g_var = jax.vmap(jax.grad(lambda m_, v_, y_: losses.gaussian_nll(m_[None], v_[None], y_[None]),
                                    argnums=(0, 1)))(*(jnp.asarray(a, jnp.float32) for a in (mean, var, y)))
    np.testing.assert_allclose(g_mu, -(y - mean) / var, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(g_var, 1 / (2 * var) - (y - mean) ** 2 / (2 * var**2), rtol=1e-4, atol=1e-5)
    # the head: variance = softplus(a) + floor > 0 for any a, and the NLL of the head equals scipy's
    out = jnp.asarray(np.stack([mean, rng.normal(scale=5, size=50)], 1), jnp.float32)
    mu, v = jax.vmap(model.gaussian_head, in_axes=(0, None))(out, 1e-4)
    np.testing.assert_allclose(v, np.log1p(np.exp(np.asarray(out[:, 1], np.float64))) + 1e-4, rtol=1e-5)
    np.testing.assert_array_equal(mu, out[:, 0])


def test_gaussian_head_floor_and_softplus():
    mean, var = model.gaussian_head(jnp.array([1.5, -50.0]), 1e-3)
    assert mean == 1.5 and var == pytest.approx(1e-3, rel=1e-6)  # softplus(-50) ~ 2e-22
    _, var = model.gaussian_head(jnp.array([0.0, 2.0]), 0.0)
    assert var == pytest.approx(np.log1p(np.exp(2.0)), rel=1e-6)


def test_per_point_losses_written_out_in_numpy(key):
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, (20, 1)).astype(np.float32)
    y = rng.normal(size=(20, 1)).astype(np.float32)
    one, two = mlp.init(key, (1, 6, 1)), mlp.init(jax.random.fold_in(key, 1), (1, 6, 2))

    def forward(params, xs):  # the ReLU MLP in float64 numpy, independent of nndl.models
        h = np.asarray(xs, np.float64)
        for i, layer in enumerate(params):
            h = h @ np.asarray(layer["w"], np.float64) + np.asarray(layer["b"], np.float64)
            h = np.maximum(h, 0) if i < len(params) - 1 else h
        return h

    sq = np.asarray(model.squared_errors(one, jnp.asarray(x), jnp.asarray(y)))
    np.testing.assert_allclose(sq, (forward(one, x)[:, 0] - y[:, 0]) ** 2, rtol=1e-5, atol=1e-7)
    out = forward(two, x)
    var = np.log1p(np.exp(out[:, 1])) + 1e-3
    expected = 0.5 * np.log(2 * np.pi * var) + (y[:, 0] - out[:, 0]) ** 2 / (2 * var)
    np.testing.assert_allclose(model.gaussian_nlls(two, jnp.asarray(x), jnp.asarray(y), 1e-3), expected,
                               rtol=1e-5, atol=1e-6)
    assert float(model.mse_loss(one, jnp.asarray(x), jnp.asarray(y))) == pytest.approx(sq.mean(), rel=1e-6)
    np.testing.assert_array_equal(model.stacked_predict(jax.tree.map(lambda a: a[None], one), jnp.asarray(x))[0],
                                  model.predict(one, jnp.asarray(x))[:, 0])
