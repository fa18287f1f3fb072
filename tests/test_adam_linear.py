"""experiments.adam.linear: the SGD-vs-Adam sweep's traced choices (loss, optimiser) and convergence measures."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.adam import linear
from nndl import losses, optim


def test_example_loss_selects_the_task_loss_and_its_gradient(key):
    params = {"w": jnp.array([0.3, -0.2]), "b": jnp.array(0.1)}
    x, y = jax.random.normal(key, (2,)), jnp.array(-1.0)
    chosen = {True: lambda p: losses.logistic(linear.linear(p, x), y),
              False: lambda p: jnp.square(x @ p["w"] + p["b"] - y)}

    @jax.jit
    def both():  # per flag: (selected loss, its gradient) and (the chosen loss alone, its gradient)
        return {flag: (jax.value_and_grad(linear.example_loss)(params, x, y, flag), jax.value_and_grad(f)(params))
                for flag, f in chosen.items()}

    for (loss, grad), (ref_loss, ref_grad) in both().values():  # the other branch contributes nothing
        assert float(loss) == pytest.approx(float(ref_loss), rel=1e-6)
        for a, b in zip(jax.tree.leaves(grad), jax.tree.leaves(ref_grad)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)


def test_optimizer_is_adam_or_sgd_per_config(key):
    params = {"w": jnp.array([0.5, -1.0]), "b": jnp.array(0.0)}
    grads = [jax.tree.map(lambda p, k=k: jax.random.normal(k, p.shape), params) for k in jax.random.split(key, 3)]

    def run(tx):
        state = tx.init(params)
        out = []
        for g in grads:
            u, state = tx.update(g, state, params)
            out.append(u)
        return out

    hp = {"adam": jnp.array([True, False]), "lr": jnp.array([0.1, 0.2])}
    both, refs = jax.jit(lambda: (jax.vmap(lambda h: run(linear.optimizer(h)))(hp),
                                  [run(optim.adam(0.1)), run(optim.sgd(0.2))]))()
    for i, ref_run in enumerate(refs):
        for got, ref in zip(both, ref_run):
            for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(ref)):
                np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b), rtol=1e-6)


def test_stacked_pads_features_with_zeros():
    splits = {"one_var": (np.ones((4, 1)), np.zeros(4), np.ones((2, 1)), np.zeros(2)),
              "two_var": (np.ones((4, 2)), np.zeros(4), np.ones((2, 2)), np.zeros(2)),
              "classification": (np.ones((4, 2)), np.ones(4), np.ones((2, 2)), np.ones(2))}
    data = linear.stacked(splits)
    assert data["x_train"].shape == (3, 4, 2) and data["x_test"].shape == (3, 2, 2)
    assert data["x_train"].dtype == np.float32
    assert (data["x_train"][0, :, 1] == 0).all() and (data["x_train"][1] == 1).all()
    assert (data["y_train"][2] == 1).all()


def test_convergence_measures():
    curve = np.array([2.0, 1.005, 1.2, 1.001, 1.0])  # optimum 1, tolerance 1 %
    assert linear.epochs_to_tolerance(curve, 1.0, 0.01) == 2
    assert linear.epochs_to_stay(curve, 1.0, 0.01) == 4
    assert linear.epochs_to_stay(np.array([1.0, 1.0]), 1.0, 0.01) == 1
    assert linear.epochs_to_stay(np.array([1.0, 2.0]), 1.0, 0.01) is None
    assert linear.epochs_to_stay(np.array([1.0, np.nan]), 1.0, 0.01) is None  # a diverged run never stays
    assert linear.epochs_to_tolerance(np.array([np.nan, 3.0]), 1.0, 0.01) is None
