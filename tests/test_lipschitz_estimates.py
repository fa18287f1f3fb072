"""experiments.lipschitz.estimates: power iteration with jvp/vjp and the pair search, against SVD and closed forms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.lipschitz import estimates as lip
from nndl.models import resnet

pytestmark = pytest.mark.usefixtures("x64")
DIM, HIDDEN, DEPTH, N_X = 5, 8, 4, 6


@pytest.fixture(scope="module")
def net():
    """A spectrally normalised 4-block ResNet in float64, and a few inputs."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        raw = {"w1": rng.standard_normal((DEPTH, DIM, HIDDEN)), "b1": 0.1 * rng.standard_normal((DEPTH, HIDDEN)),
               "w2": rng.standard_normal((DEPTH, HIDDEN, DIM)), "b2": 0.1 * rng.standard_normal((DEPTH, DIM))}
        params = jax.tree.map(jnp.asarray, raw)
        params, _ = jax.jit(lambda p, k: resnet.spectral_normalize(p, key=k, n_iter=500))(params, jax.random.key(0))
        return params, jnp.asarray(rng.standard_normal((N_X, DIM)))


@jax.jit
def _power_vs_svd(params, xs, key):
    def f(x):
        return resnet.apply(params, x)

    sigmas, vs = lip.power_iteration_estimates(f, xs, key=key, n_iter=300)
    svd = jax.vmap(lambda x: jnp.linalg.svd(jax.jacfwd(f)(x), compute_uv=False))(xs)
    # a pair along the top right singular vector, very close: its ratio is the directional derivative
    eps = 1e-7
    aligned = jax.vmap(lambda x, v: lip.pair_ratio(f, x, x + eps * v))(xs, vs)
    return sigmas, svd, aligned


def test_power_iteration_equals_the_jacobian_svd_and_a_close_aligned_pair(net, key):
    params, xs = net
    sigmas, svd, aligned = _power_vs_svd(params, xs, key)
    # power iteration with jvp/vjp = largest singular value of jacfwd's Jacobian at the same x;
    # 300 iterations converge to round-off unless σ₁ ≈ σ₂, which these draws avoid (gap printed on failure)
    np.testing.assert_allclose(sigmas, svd[:, 0], rtol=1e-9, err_msg=f"σ₂/σ₁ = {svd[:, 1] / svd[:, 0]}")
    # y = x + εv: f is linear between x and y (ReLU pattern unchanged), ratio = ‖Jv‖ = σ_max(J(x))
    np.testing.assert_allclose(aligned, sigmas, rtol=1e-6)
    norms = [np.linalg.norm(np.asarray(params[w]), 2, axis=(1, 2)) for w in ("w1", "w2")]
    assert np.all(np.asarray(sigmas) <= np.prod(1 + norms[0] * norms[1]) * (1 + 1e-9))  # ∏ (1 + ‖W1‖‖W2‖)


@jax.jit
def _segment_check(params, x, y):
    """A far pair's ratio, the largest σ_max(J) on a 1000-point grid of the segment, and the
    midpoint-rule integral ∫₀¹ J(x + s(y - x))(y - x) ds (= f(y) - f(x))."""
    def f(z):  # smooth, so the midpoint rule is O(1/K²)
        return resnet.apply(params, z, activation=jnp.tanh)

    s = (jnp.arange(1000) + 0.5) / 1000
    zs = x[None, :] + s[:, None] * (y - x)[None, :]
    jacs = jax.vmap(jax.jacfwd(f))(zs)
    integral = jnp.mean(jnp.einsum("kij,j->ki", jacs, y - x), axis=0)
    sigma_max = jnp.max(jax.vmap(lambda j: jnp.linalg.svd(j, compute_uv=False)[0])(jacs))
    return lip.pair_ratio(f, x, y), sigma_max, integral, f(y) - f(x)


def test_a_pair_ratio_never_exceeds_the_largest_jacobian_on_its_segment(net):
    params, xs = net
    for x, y in ((xs[0], xs[1]), (xs[2], 3.0 * xs[3])):
        ratio, sigma_max, integral, diff = _segment_check(params, x, y)
        # midpoint rule error ~ ‖f''‖/(24 K²) relative: 1e-6 (in norm) is generous at K = 1000
        assert float(jnp.linalg.norm(integral - diff)) <= 1e-6 * float(jnp.linalg.norm(diff))
        # the ratio is the norm of an average of J(z)u, so at most the largest ‖J(z)‖ on the segment
        assert float(ratio) <= float(sigma_max) * (1 + 1e-6)


@jax.jit
def _linear_map_checks(a, xs, deltas, key):
    def f(x):
        return a @ x

    best, history = lip.pair_search(f, xs, deltas, n_steps=300, learning_rate=0.05)
    sigmas, _ = lip.power_iteration_estimates(f, xs, key=key, n_iter=200)
    start = jax.vmap(lambda x, d: lip.pair_ratio(f, x, x + d))(xs, deltas)
    return best, history, sigmas, start


def test_on_a_linear_map_both_estimates_find_the_largest_singular_value(key):
    rng = np.random.default_rng(2)
    a = jnp.asarray(rng.standard_normal((4, 6)))
    xs, deltas = jnp.asarray(rng.standard_normal((2, 8, 6)))
    best, history, sigmas, start = _linear_map_checks(a, xs, deltas, key)
    sigma = np.linalg.norm(np.asarray(a), 2)
    np.testing.assert_allclose(sigmas, sigma, rtol=1e-9)
    np.testing.assert_allclose(history[0], start, rtol=1e-12)  # the first recorded ratio is the start's
    np.testing.assert_allclose(best, jnp.max(history, axis=0))
    # for Ax the ratio is ‖Au‖ (u = δ/‖δ‖): Adam ascent rotates u to the top singular vector
    assert np.all(np.asarray(best) <= sigma * (1 + 1e-12)) and np.all(np.asarray(best) >= 0.999 * sigma)
