"""experiments.linear_models.xor: the XOR points' least-squares fit is flat, and J is the derivation's expansion."""

import jax
import numpy as np
import pytest

from experiments.linear_models import xor
from nndl.models import linear
from nndl.numerics import lstsq


def test_xor_least_squares_is_flat():
    fit = lstsq.least_squares(xor.XOR_X, xor.XOR_Y)
    np.testing.assert_allclose(fit["w"], [0.0, 0.0], atol=1e-12)
    assert fit["b"] == pytest.approx(0.5) and linear.numpy_mse(fit, xor.XOR_X, xor.XOR_Y) == pytest.approx(0.25)


def test_cost_is_the_derivations_expansion(x64):
    # J(w1, w2, b) = 1/4 [b^2 + (w1 + b - 1)^2 + (w2 + b - 1)^2 + (w1 + w2 + b)^2] (report.md, xor_derivation)
    w1, w2, b = np.random.default_rng(0).standard_normal(3)
    expansion = (b**2 + (w1 + b - 1) ** 2 + (w2 + b - 1) ** 2 + (w1 + w2 + b) ** 2) / 4
    cost = jax.jit(xor.cost)(np.array([w1, w2, b]), xor.XOR_X, xor.XOR_Y)
    assert float(cost) == pytest.approx(expansion, rel=1e-12)
