import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl.models import resnet

DIM, HIDDEN, DEPTH = 6, 10, 5


@pytest.fixture(scope="module")
def raw_and_normalised():
    """Gaussian weights and biases (numpy: no PRNG compile) and their spectral normalisation."""
    rng = np.random.default_rng(0)
    raw = {"w1": rng.standard_normal((DEPTH, DIM, HIDDEN)), "b1": 0.1 * rng.standard_normal((DEPTH, HIDDEN)),
           "w2": rng.standard_normal((DEPTH, HIDDEN, DIM)), "b2": 0.1 * rng.standard_normal((DEPTH, DIM))}
    raw = {k: jnp.asarray(v, jnp.float32) for k, v in raw.items()}
    normalise = jax.jit(lambda p, k: resnet.spectral_normalize(p, key=k, n_iter=300))
    return raw, *normalise(raw, jax.random.key(1))


@pytest.fixture(scope="module")
def normalised(raw_and_normalised):
    return raw_and_normalised[1:]


def _explicit(params, x, depth):
    """The composition written out block by block in numpy."""
    h = np.asarray(x)
    for k in range(depth):
        z = np.maximum(h @ np.asarray(params["w1"][k]) + np.asarray(params["b1"][k]), 0)
        h = h + z @ np.asarray(params["w2"][k]) + np.asarray(params["b2"][k])
    return h


def test_init_shapes_variances_and_rejects_bad_sizes():
    params = jax.jit(lambda k: resnet.init(k, 40, 50, 3))(jax.random.key(0))
    shapes = {k: v.shape for k, v in params.items()}
    assert shapes == {"w1": (3, 40, 50), "b1": (3, 50), "w2": (3, 50, 40), "b2": (3, 40)}
    # 6000 draws each: the sample variance is within 4 std errors (sqrt(2/6000) = 1.8 %) of 1/fan_in
    np.testing.assert_allclose([np.var(params["w1"]) * 40, np.var(params["w2"]) * 50], 1.0, rtol=0.08)
    assert not np.any(params["b1"]) and not np.any(params["b2"])
    with pytest.raises(ValueError):
        resnet.init(jax.random.key(0), DIM, 0, DEPTH)


def test_spectral_normalisation_gives_unit_spectral_norms(raw_and_normalised):
    raw, params, sigmas = raw_and_normalised
    for name in ("w1", "w2"):
        exact_raw = np.linalg.norm(np.asarray(raw[name]), 2, axis=(1, 2))
        # σ̂ is a power-iteration lower bound of the SVD value; float32 round-off 1e-5 relative
        assert np.all(np.asarray(sigmas[name]) <= exact_raw * (1 + 1e-5))
        np.testing.assert_allclose(sigmas[name], exact_raw, rtol=1e-4)
        # so ‖W/σ̂‖₂ = σ/σ̂ >= 1 - round-off, and <= 1 + the power-iteration error (tolerance 1e-4)
        norms = np.linalg.norm(np.asarray(params[name]), 2, axis=(1, 2))
        assert np.all(norms <= 1 + 1e-4) and np.all(norms >= 1 - 1e-5)


def test_apply_is_the_composition_and_depth_selects_a_prefix(normalised):
    params, _ = normalised
    x = jnp.asarray(np.random.default_rng(0).standard_normal(DIM), jnp.float32)
    run = jax.jit(resnet.apply)
    np.testing.assert_allclose(run(params, x), _explicit(params, x, DEPTH), rtol=1e-5, atol=1e-6)
    for depth in (0, 1, 3):  # a traced depth: one compile for all
        np.testing.assert_allclose(run(params, x, depth=depth), _explicit(params, x, depth), rtol=1e-5, atol=1e-6)
    prefix = jax.tree.map(lambda a: a[:3], params)
    np.testing.assert_allclose(run(params, x, depth=3), run(prefix, x), rtol=1e-6, atol=1e-6)


def test_normalised_residual_is_1_lipschitz_and_block_2_lipschitz(normalised):
    params, _ = normalised
    block = jax.tree.map(lambda a: a[0], params)
    xy = jnp.asarray(np.random.default_rng(1).standard_normal((2, 500, DIM)), jnp.float32)

    @jax.jit
    def ratios(x, y):
        f = jax.vmap(lambda a: resnet.residual(block, a))
        t = jax.vmap(lambda a: a + resnet.residual(block, a))
        d = jnp.linalg.norm(x - y, axis=1)
        return jnp.linalg.norm(f(x) - f(y), axis=1) / d, jnp.linalg.norm(t(x) - t(y), axis=1) / d

    f_ratio, t_ratio = ratios(*xy)
    # ‖F(x) - F(y)‖ <= ‖W2‖ ‖relu(.) - relu(.)‖ <= ‖W2‖‖W1‖‖x - y‖, with norms 1 up to 1e-4
    assert float(jnp.max(f_ratio)) <= 1 + 1e-4 and float(jnp.max(t_ratio)) <= 2 + 2e-4


def test_identity_blocks_attain_two_to_the_depth():
    params = resnet.identity_params(3, 4)
    x = jnp.array([[0.5, 1.0, 2.0], [-0.5, -1.0, -2.0]])
    out = jax.jit(jax.vmap(resnet.apply, (None, 0)))(params, x)
    np.testing.assert_allclose(out, [16 * x[0], x[1]])  # T(x) = 2x on x > 0, the identity on x < 0

