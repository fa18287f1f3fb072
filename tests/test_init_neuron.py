"""experiments.init.neuron: one draw against the explicit formula; exact standard errors against references."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from experiments.init import neuron


def test_neuron_is_the_explicit_formula():
    rng = np.random.default_rng(1)
    x, w, w_next = rng.standard_normal(5), rng.standard_normal((5, 5)), rng.standard_normal(5)
    out = neuron.neuron(jnp.asarray(x), jnp.asarray(w), jnp.asarray(w_next))
    np.testing.assert_allclose(out.z, w[0] @ x, rtol=1e-5)
    np.testing.assert_allclose(out.h, max(w[0] @ x, 0.0), rtol=1e-5)
    np.testing.assert_allclose(out.z_next, w_next @ np.maximum(w @ x, 0), rtol=1e-5)


def test_exact_standard_errors_against_independent_references():
    # M = 1 by hand: z = w x, E z^4 = E w^4 E x^4 = 9 s^2; z' = w' ReLU(z), E z'^4 = 3 s^2 * E z^4 / 2
    s2, n = 0.7, 50
    se = neuron.neuron_exact_se(1, s2, n)
    assert se["var_pre"] == pytest.approx(math.sqrt((9 * s2**2 - s2**2) / n), rel=1e-12)
    assert se["second_moment_relu"] == pytest.approx(math.sqrt((4.5 * s2**2 - s2**2 / 4) / n), rel=1e-12)
    assert se["var_next"] == pytest.approx(math.sqrt((13.5 * s2**4 - s2**4 / 4) / n), rel=1e-12)
    assert se["mean_next"] == pytest.approx(math.sqrt(s2**2 / 2 / n), rel=1e-12)
    # M = 3 by a float64 numpy Monte Carlo of the fourth moments (4 s.e. of the fourth-moment estimate)
    rng = np.random.default_rng(0)
    k, m = 400_000, 3
    x, w, v = rng.standard_normal((k, m)), rng.standard_normal((k, m, m)), rng.standard_normal((k, m))
    zn = np.einsum("km,km->k", v, np.maximum(np.einsum("kij,kj->ki", w, x), 0.0))
    z4 = zn**4
    mu4 = 3 * m**2 * (m + 2) * (m + 5) / 4  # sigma^2 = 1
    assert abs(z4.mean() - mu4) <= 4 * z4.std() / math.sqrt(k)
    assert neuron.neuron_exact_se(m, 1.0, 1)["var_next"] == pytest.approx(math.sqrt(mu4 - m**4 / 4), rel=1e-12)
