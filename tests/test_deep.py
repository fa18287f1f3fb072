"""nndl.models.deep: the padded deep network against a plain loop and jax.grad; the shifts that give dE/dx^(l)."""

import jax
import jax.numpy as jnp
import numpy as np

from nndl import activations
from nndl.models import deep


def _plain_net(weights, x, psi, residual):
    """The sheet's network written directly, one Python step per layer (the independent reference)."""
    h = x
    for w in weights:
        h = residual * h + psi(w @ h)
    return h


def _data(seed, n_layers, width, batch, scale=1.0):
    rng = np.random.default_rng(seed)
    weights = jnp.asarray(rng.standard_normal((n_layers, width, width)) * np.sqrt(scale / width), jnp.float32)
    xs = jnp.asarray(rng.standard_normal((batch, width)), jnp.float32)
    ys = jnp.asarray(rng.standard_normal((batch, width)), jnp.float32)
    return weights, xs, ys


def test_padded_network_gradients_equal_the_plain_network():
    weights, xs, ys = _data(0, 6, 5, 3)
    depth_used = 4
    combos = [("sigmoid", 0.0), ("tanh", 1.0), ("relu", 0.0), ("relu", 1.0)]

    @jax.jit
    def all_combos(weights, xs, ys):  # one compilation for every combination
        out = []
        for name, residual in combos:
            psi = activations.get(name)
            outs = jax.vmap(lambda x, psi=psi, residual=residual: deep.forward(
                weights, x, activation=psi, residual=residual, depth=depth_used))(xs)
            grads = deep.weight_grads(weights, xs, ys, activation=psi, residual=residual, depth=depth_used)

            def reference(ws, psi=psi, residual=residual):
                outputs = jax.vmap(lambda x: _plain_net(ws, x, psi, residual))(xs)
                return jnp.mean(0.5 * jnp.sum((outputs - ys) ** 2, axis=1))

            expected = jax.vmap(lambda x, psi=psi, residual=residual: _plain_net(weights[:depth_used], x, psi,
                                                                                 residual))(xs)
            out.append((outs, expected, grads, jax.grad(reference)(weights[:depth_used])))
        return out

    for (name, residual), (outs, expected, grads, ref) in zip(combos, all_combos(weights, xs, ys)):
        msg = f"{name} residual={residual}"
        np.testing.assert_allclose(outs[:, depth_used], expected, rtol=1e-5, atol=1e-6, err_msg=msg)
        # past the depth the output repeats and the layers get exactly zero gradient: the extra
        # layers are a select that passes h through (a copy), so exact equality holds by construction
        np.testing.assert_array_equal(outs[:, depth_used:], np.repeat(outs[:, depth_used:depth_used + 1], 3, axis=1))
        np.testing.assert_allclose(grads[:depth_used], ref, rtol=1e-4, atol=1e-7, err_msg=msg)
        assert not jnp.any(grads[depth_used:])


def test_zero_shifts_leave_the_plain_relu_network():
    # experiments.init.propagation differentiates forward with respect to the shifts at zero
    rng = np.random.default_rng(4)
    ws = jnp.asarray(rng.standard_normal((3, 4, 4)), jnp.float32)
    x = jnp.asarray(rng.standard_normal(4), jnp.float32)
    hs = deep.forward(ws, x, activation=jax.nn.relu, shifts=jnp.zeros((3, 4)))
    np.testing.assert_allclose(hs[-1], jax.nn.relu(ws[2] @ jax.nn.relu(ws[1] @ jax.nn.relu(ws[0] @ x))), rtol=1e-5)
