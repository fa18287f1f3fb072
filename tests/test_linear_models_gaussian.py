"""experiments.linear_models.gaussian: the closed-form MLE against least squares and the likelihood's gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.linear_models import gaussian
from tests.test_linear import random_problem


def test_mle_closed_form_maximises_the_likelihood(x64):
    x, y = random_problem(6, n=200, d=3)
    w, var = gaussian.mle(x, y)
    np.testing.assert_allclose(w, np.linalg.lstsq(x, y, rcond=None)[0], rtol=1e-10)
    assert var == pytest.approx(np.mean((x @ w - y) ** 2), rel=1e-12)
    params = {"w": w, "log_var": np.log(var)}
    ll, grads = jax.jit(jax.value_and_grad(gaussian.mean_log_likelihood))(params, x, y)
    assert float(ll) == pytest.approx(np.mean(-0.5 * np.log(2 * np.pi * var) - (y - x @ w) ** 2 / (2 * var)), rel=1e-12)
    assert max(float(jnp.max(jnp.abs(grads["w"]))), abs(float(grads["log_var"]))) < 1e-10
