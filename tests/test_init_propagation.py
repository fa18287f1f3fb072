"""experiments.init.propagation: per-layer second moments against jax.grad; the exact standard error by Monte Carlo."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.init import montecarlo, propagation

K_SE = 4.0  # Monte Carlo checks: |estimate - truth| <= 4 standard errors (two-sided p = 6e-5 each)


def test_propagation_gradients_are_the_derivatives_of_E():
    rng = np.random.default_rng(2)
    n_layers, width = 4, 6
    draws = jnp.asarray(rng.standard_normal((n_layers, width, width)), jnp.float32)
    x, g = (jnp.asarray(rng.standard_normal(width), jnp.float32) for _ in range(2))
    sigma2s = jnp.array([0.2, 0.4])

    @jax.jit
    def both(draws, x, g):
        fwd, bwd = propagation.propagation_one(draws, x, g, sigma2s)
        refs = []
        for s2 in (0.2, 0.4):
            ws = jnp.sqrt(s2) * draws

            def energy_from(layer, h, ws=ws):  # E = g^T x^(L) as a function of x^(layer)
                for w in ws[layer:]:
                    h = jax.nn.relu(w @ h)
                return g @ h

            hs = [x]
            for w in ws:
                hs.append(jax.nn.relu(w @ hs[-1]))
            refs.append((jnp.stack([jnp.mean(h**2) for h in hs]),
                         jnp.stack([jnp.mean(jax.grad(energy_from, argnums=1)(i, hs[i]) ** 2)
                                    for i in range(n_layers + 1)])))
        return fwd, bwd, refs

    fwd, bwd, refs = both(draws, x, g)
    for i, (ref_fwd, ref_bwd) in enumerate(refs):
        np.testing.assert_allclose(fwd[i], ref_fwd, rtol=1e-5)
        np.testing.assert_allclose(bwd[i], ref_bwd, rtol=1e-5)
    # ReLU without bias is positively homogeneous: doubling sigma^2 doubles x^(l)^2 per layer
    np.testing.assert_allclose(fwd[1], fwd[0] * 2.0 ** np.arange(n_layers + 1), rtol=1e-5)


def test_propagation_se_is_the_exact_variance(key):
    width, n_layers, n = 32, 3, 4000
    sigma2 = 3.0 / width  # c = 1.5
    prop = propagation.propagation(key, width=width, n_layers=n_layers, sigma2s=jnp.array([sigma2]), n_draws=n,
                                   chunk=n)
    exact_var = propagation.propagation_se(width, n_layers, sigma2, n) ** 2 * n
    np.testing.assert_allclose(exact_var, 1.5**6 * ((1 + 5 / 32) ** 3 * (1 + 2 / 32) - 1), rtol=1e-12)
    forward = montecarlo.var_estimate(prop.forward[:, 0, -1])
    backward = montecarlo.var_estimate(prop.backward[:, 0, 0])
    assert abs(forward.value - exact_var) <= K_SE * forward.se
    # the backward pass's variance is no larger (the formula serves as its error bar)
    assert backward.value <= exact_var + K_SE * backward.se
    # and both means are c^L (exact for ReLU: the sign symmetry w -> -w halves E[(w^T t)^2] exactly)
    for sample in (prop.forward[:, 0, -1], prop.backward[:, 0, 0]):
        assert abs(float(jnp.mean(sample)) - 1.5**3) <= K_SE * np.sqrt(exact_var / n)


def test_theory_is_c_to_the_power_of_the_layers_and_he_gives_c_1():
    for m in (1, 20, 100):
        assert m * propagation.he_variance(m) / 2 == pytest.approx(1.0, rel=1e-15)  # c = M sigma^2 / 2
    forward, backward = propagation.propagation_theory(10, 4, 0.4)  # c = 10 * 0.4 / 2 = 2
    np.testing.assert_allclose(forward, 2.0 ** np.arange(5), rtol=1e-6)
    np.testing.assert_allclose(backward, 2.0 ** (4 - np.arange(5)), rtol=1e-6)
