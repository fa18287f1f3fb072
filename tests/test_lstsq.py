"""nndl.numerics.lstsq: least squares against the normal equations, the ridge path against an independent
stacked formulation and the zero-gradient condition of the objective it minimises."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl.models import linear
from nndl.numerics import lstsq
from tests.test_linear import random_problem


def test_least_squares_and_ridge_against_independent_solvers():
    x, y = random_problem(1)
    ls = lstsq.least_squares(x, y)
    a = np.c_[x, np.ones(len(x))]
    theta = np.linalg.solve(a.T @ a, a.T @ y)  # the normal equations A^T A theta = A^T y, A = [x, 1]
    np.testing.assert_allclose(np.r_[ls["w"], ls["b"]], theta, rtol=1e-10)
    # ridge = least squares on centred data stacked with sqrt(n alpha) I rows (an independent formulation)
    n, d = x.shape
    xc, yc = x - x.mean(0), y - y.mean()
    for alpha, fit in zip([0.0, 0.5, 3.0], lstsq.ridge(x, y, [0.0, 0.5, 3.0])):
        w = np.linalg.lstsq(np.r_[xc, np.sqrt(n * alpha) * np.eye(d)], np.r_[yc, np.zeros(d)], rcond=None)[0]
        np.testing.assert_allclose(fit["w"], w, rtol=1e-10, atol=1e-12)
        assert fit["b"] == pytest.approx(y.mean() - x.mean(0) @ w, rel=1e-10)
    # and the zero-gradient condition of the sheet's objective
    grads = jax.jit(jax.grad(linear.ridge_loss))(fit, x, y, 3.0)
    assert max(abs(float(grads["b"])), float(jnp.max(jnp.abs(grads["w"])))) < 1e-5  # float32 gradient
