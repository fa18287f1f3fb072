"""nndl.train.gradient_descent: the iterates of a quadratic in closed form, and a learning-rate schedule."""

import jax.numpy as jnp
import numpy as np
import pytest

from nndl import train


def test_gradient_descent_matches_closed_form_iterates():
    # f(p) = (p - 3)^2: p_t = 3 + (1 - 2 lr)^t (p_0 - 3); and a schedule lr_t = 0.1 / (1 + t)
    final, loss, path = train.gradient_descent(lambda p: (p - 3.0) ** 2, jnp.float32(0.0), 0.2, 10, record=lambda p: p)
    expect = 3.0 - 3.0 * 0.6 ** np.arange(11)
    np.testing.assert_allclose(path, expect[:10], rtol=1e-6)
    np.testing.assert_allclose(loss, (expect[:10] - 3) ** 2, rtol=1e-5)
    assert float(final) == pytest.approx(expect[10], rel=1e-6)
    final, _, _ = train.gradient_descent(lambda p: (p - 3.0) ** 2, jnp.float32(0.0), lambda t: 0.1 / (1.0 + t), 5)
    p = 0.0
    for t in range(5):
        p -= 0.1 / (1 + t) * 2 * (p - 3)
    assert float(final) == pytest.approx(p, rel=1e-6)
