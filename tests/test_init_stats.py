"""nndl.init_stats, nndl.smoothness, nndl.rand against closed forms, jax.grad and Monte Carlo bounds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl import depth, init_stats, rand, smoothness

K_SE = 4.0  # Monte Carlo checks: |estimate - truth| <= 4 standard errors (two-sided p = 6e-5 each)


def test_normals_are_independent_standard_normal_pieces(key):
    a, b = rand.normals(key, [(50, 40), (2000,)], batch=(3,))
    assert a.shape == (3, 50, 40) and b.shape == (3, 2000)
    pooled = np.concatenate([np.asarray(a).ravel(), np.asarray(b).ravel()])  # 12,000 draws
    n = pooled.size
    assert abs(pooled.mean()) <= K_SE / np.sqrt(n)
    assert abs(pooled.var() - 1) <= K_SE * np.sqrt(2 / n)  # Var of a sample variance: 2 sigma^4 / n
    assert abs(np.corrcoef(np.asarray(a)[0].ravel()[:2000], np.asarray(b)[0])[0, 1]) <= K_SE / np.sqrt(2000)


def test_estimates_and_standard_errors_match_closed_forms():
    x = jnp.asarray(np.random.default_rng(0).normal(1.0, 2.0, 100_000), jnp.float32)
    mean, var = init_stats.mean_estimate(x), init_stats.var_estimate(x)
    np.testing.assert_allclose(mean.se, 2 / np.sqrt(1e5), rtol=0.02)  # sigma / sqrt(N)
    np.testing.assert_allclose(var.se, np.sqrt(2 * 16 / 1e5), rtol=0.05)  # sqrt((m4 - s^4)/N), m4 = 3 s^4
    assert abs(mean.value - 1) <= K_SE * mean.se and abs(var.value - 4) <= K_SE * var.se


def test_neuron_is_the_explicit_formula():
    rng = np.random.default_rng(1)
    x, w, w_next = rng.standard_normal(5), rng.standard_normal((5, 5)), rng.standard_normal(5)
    out = init_stats.neuron(jnp.asarray(x), jnp.asarray(w), jnp.asarray(w_next))
    np.testing.assert_allclose(out.z, w[0] @ x, rtol=1e-5)
    np.testing.assert_allclose(out.h, max(w[0] @ x, 0.0), rtol=1e-5)
    np.testing.assert_allclose(out.z_next, w_next @ np.maximum(w @ x, 0), rtol=1e-5)


def test_propagation_gradients_are_the_derivatives_of_E():
    rng = np.random.default_rng(2)
    n_layers, width = 4, 6
    draws = jnp.asarray(rng.standard_normal((n_layers, width, width)), jnp.float32)
    x, g = (jnp.asarray(rng.standard_normal(width), jnp.float32) for _ in range(2))
    sigma2s = jnp.array([0.2, 0.4])

    @jax.jit
    def both(draws, x, g):
        fwd, bwd = init_stats.propagation_one(draws, x, g, sigma2s)
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


def test_roughness_and_line_fit_closed_forms():
    xs = jnp.linspace(-2.0, 2.0, 201)
    spacing = float(xs[1] - xs[0])
    # f = 3 x^2: f'' = 6 everywhere (second differences of a quadratic are exact)
    np.testing.assert_allclose(smoothness.roughness(3 * xs**2, spacing), 6.0, rtol=1e-3)
    residual, total = smoothness.line_fit_energy(xs, 2 * xs - 1)
    assert abs(float(residual)) <= 1e-4 * float(total)
    # for f = x^2 on a symmetric grid the best line is constant: residual = total
    residual, total = smoothness.line_fit_energy(xs, xs**2)
    np.testing.assert_allclose(residual, total, rtol=1e-4)


def test_tanh_roughness_matches_the_analytic_second_derivative(x64):
    rng = np.random.default_rng(3)
    net = smoothness.scale(smoothness.Shallow(*(jnp.asarray(rng.standard_normal(30)) for _ in range(3))), 2.0)
    xs = jnp.linspace(-3.0, 3.0, 601)

    @jax.jit
    def both(net):
        fs = jax.vmap(lambda x: smoothness.apply(net, x, jnp.tanh))(xs)
        f2 = jax.vmap(jax.grad(jax.grad(lambda x: smoothness.apply(net, x, jnp.tanh))))(xs[1:-1])
        return smoothness.roughness(fs, xs[1] - xs[0]), jnp.mean(jnp.abs(f2))

    fd, exact = both(net)
    np.testing.assert_allclose(fd, exact, rtol=1e-3)  # O(h^2) = 1e-4 truncation, relative


def test_relu_roughness_is_the_sum_of_kink_jumps(x64):
    # f = sum v_j relu(w_j x + b_j) has a kink at -b_j/w_j where f' jumps by |v_j w_j|;
    # mean |second difference| over the grid = sum of jumps / grid length (kinks apart).
    w, b, v = jnp.array([1.0, -2.0, 0.5]), jnp.array([0.3, 1.1, 0.9]), jnp.array([2.0, 1.5, -1.0])
    xs = jnp.linspace(-3.0, 3.0, 600)
    fs = jax.vmap(lambda x: smoothness.apply(smoothness.Shallow(w, b, v), x, jax.nn.relu))(xs)
    spacing = float(xs[1] - xs[0])
    expected = float(jnp.sum(jnp.abs(v * w))) / (spacing * (xs.size - 2))
    np.testing.assert_allclose(smoothness.roughness(fs, spacing), expected, rtol=1e-9)


def test_depth_forward_is_the_relu_network_of_init_stats():
    # init_stats relies on depth.forward with shifts; zero shifts change nothing
    rng = np.random.default_rng(4)
    ws = jnp.asarray(rng.standard_normal((3, 4, 4)), jnp.float32)
    x = jnp.asarray(rng.standard_normal(4), jnp.float32)
    hs = depth.forward(ws, x, activation=jax.nn.relu, shifts=jnp.zeros((3, 4)))
    np.testing.assert_allclose(hs[-1], jax.nn.relu(ws[2] @ jax.nn.relu(ws[1] @ jax.nn.relu(ws[0] @ x))), rtol=1e-5)


def test_propagation_se_is_the_exact_variance(key):
    width, n_layers, n = 32, 3, 4000
    sigma2 = 3.0 / width  # c = 1.5
    prop = init_stats.propagation(key, width=width, n_layers=n_layers, sigma2s=jnp.array([sigma2]), n_draws=n,
                                  chunk=n)
    exact_var = init_stats.propagation_se(width, n_layers, sigma2, n) ** 2 * n
    np.testing.assert_allclose(exact_var, 1.5**6 * ((1 + 5 / 32) ** 3 * (1 + 2 / 32) - 1), rtol=1e-12)
    forward, backward = init_stats.var_estimate(prop.forward[:, 0, -1]), init_stats.var_estimate(prop.backward[:, 0, 0])
    assert abs(forward.value - exact_var) <= K_SE * forward.se
    # the backward pass's variance is no larger (the formula serves as its error bar)
    assert backward.value <= exact_var + K_SE * backward.se
    # and both means are c^L (exact for ReLU: the sign symmetry w -> -w halves E[(w^T t)^2] exactly)
    for sample in (prop.forward[:, 0, -1], prop.backward[:, 0, 0]):
        assert abs(float(jnp.mean(sample)) - 1.5**3) <= K_SE * np.sqrt(exact_var / n)
