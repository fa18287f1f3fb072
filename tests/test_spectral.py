import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl.numerics import spectral


@pytest.fixture(scope="module")
def matrix():
    return np.random.default_rng(0).standard_normal((12, 7))


@jax.jit
def _iterates(w, v0):
    """σ̂ after 1..60 iterations (one compile), and the 60-iteration singular vector."""
    sigmas = jnp.stack([spectral.power_iteration(lambda v: w @ v, lambda u: w.T @ u, v0, k)[0] for k in (1, 3, 10, 60)])
    return sigmas, spectral.power_iteration(lambda v: w @ v, lambda u: w.T @ u, v0, 60)[1]


def test_power_iteration_converges_to_the_svd_from_below(matrix, x64):
    _, s, vt = np.linalg.svd(matrix)
    sigmas, v = _iterates(jnp.asarray(matrix), jnp.ones(7))
    assert sigmas.dtype == jnp.float64
    # ‖Av‖ with ‖v‖ = 1 never exceeds σ_max, and increases towards it
    assert np.all(np.asarray(sigmas) <= s[0] * (1 + 1e-12)) and np.all(np.diff(np.asarray(sigmas)) >= -1e-12)
    # the angle to the top singular vector shrinks like (σ₂/σ₁)^{2k} = 6.5e-5 here (times the
    # start's component ratio); 1 - cos and the relative error of σ go like its square
    assert float(sigmas[-1]) == pytest.approx(s[0], rel=1e-8)
    assert abs(float(v @ vt[0])) == pytest.approx(1.0, abs=1e-6)


def test_zero_map_gives_zero_not_nan():
    sigma, v = jax.jit(lambda v0: spectral.power_iteration(lambda v: 0 * v, lambda u: 0 * u, v0, 5))(jnp.ones(3))
    assert float(sigma) == 0.0 and bool(jnp.all(jnp.isfinite(v)))
