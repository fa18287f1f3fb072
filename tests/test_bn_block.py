from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl.models import bn_block

DIM, HIDDEN, B, MOMENTUM, EPS = 4, 6, 16, 0.9, 1e-5


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((DIM, HIDDEN)), rng.standard_normal((HIDDEN, DIM))
    weights = {"w1": w1 / np.linalg.norm(w1, 2), "b1": 0.1 * rng.standard_normal(HIDDEN),
               "w2": w2 / np.linalg.norm(w2, 2), "b2": 0.1 * rng.standard_normal(DIM)}
    weights = {k: jnp.asarray(v, jnp.float32) for k, v in weights.items()}
    graphdef, block = bn_block.init(weights, momentum=MOMENTUM, epsilon=EPS)
    # non-trivial running statistics and affine parameters, so no formula can pass by accident
    block = block._replace(stats={"mean": jnp.asarray(rng.standard_normal(HIDDEN), jnp.float32),
                                  "var": jnp.asarray(rng.uniform(0.1, 2.0, HIDDEN), jnp.float32)},
                           bn_params={"scale": jnp.asarray(rng.uniform(0.5, 2.0, HIDDEN), jnp.float32),
                                      "bias": jnp.asarray(0.1 * rng.standard_normal(HIDDEN), jnp.float32)})
    return graphdef, block, jnp.asarray(rng.standard_normal((B, DIM)), jnp.float32)


def _by_hand(block, xs, mean, var):
    w = jax.tree.map(np.asarray, block.weights)
    z = (np.asarray(xs) @ w["w1"] + w["b1"] - mean) / np.sqrt(var + EPS)
    z = np.asarray(block.bn_params["scale"]) * z + np.asarray(block.bn_params["bias"])
    return np.asarray(xs) + np.maximum(z, 0) @ w["w2"] + w["b2"]


def test_eval_and_train_modes_match_the_formulas(setup):
    graphdef, block, xs = setup
    run = jax.jit(bn_block.apply, static_argnums=0, static_argnames="train")
    ys, stats = run(graphdef, block, xs, train=False)
    np.testing.assert_allclose(ys, _by_hand(block, xs, np.asarray(block.stats["mean"]), np.asarray(block.stats["var"])),
                               rtol=1e-5, atol=1e-5)
    assert all(np.array_equal(stats[k], block.stats[k]) for k in ("mean", "var"))  # eval mode changes nothing
    h = np.asarray(xs) @ np.asarray(block.weights["w1"]) + np.asarray(block.weights["b1"])
    mean, var = h.mean(0), h.var(0)  # flax normalises with the biased batch variance
    ys, stats = run(graphdef, block, xs, train=True)
    np.testing.assert_allclose(ys, _by_hand(block, xs, mean, var), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stats["var"], MOMENTUM * np.asarray(block.stats["var"]) + (1 - MOMENTUM) * var,
                               rtol=1e-5)
    np.testing.assert_allclose(stats["mean"], MOMENTUM * np.asarray(block.stats["mean"]) + (1 - MOMENTUM) * mean,
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jax.jit(bn_block.eval_scale, static_argnums=0)(graphdef, block),
                               np.asarray(block.bn_params["scale"]) / np.sqrt(np.asarray(block.stats["var"]) + EPS),
                               rtol=1e-6)


@partial(jax.jit, static_argnums=0)
def _jacobians(graphdef, block, xs):
    eval_j = jax.vmap(jax.jacfwd(lambda x: bn_block.apply_eval(graphdef, block, x)))(xs)

    def out0(x1, train):  # example 0's output as a function of example 1
        return bn_block.apply(graphdef, block, xs.at[1].set(x1), train=train)[0][0]

    return (eval_j, bn_block.eval_lipschitz_bound(graphdef, block),
            jax.jacfwd(out0)(xs[1], True), jax.jacfwd(out0)(xs[1], False))


def test_eval_jacobian_is_affine_bn_and_bounded_and_train_mode_couples_examples(setup):
    graphdef, block, xs = setup
    eval_j, bound, cross_train, cross_eval = _jacobians(graphdef, block, xs)
    # eval mode: J = I + W2ᵀ diag(1[z > 0] γ/√(var+ε)) W1ᵀ with z the BN output
    w1, w2 = np.asarray(block.weights["w1"]), np.asarray(block.weights["w2"])
    scale = np.asarray(block.bn_params["scale"]) / np.sqrt(np.asarray(block.stats["var"]) + EPS)
    z = (np.asarray(xs) @ w1 + np.asarray(block.weights["b1"]) - np.asarray(block.stats["mean"])) * scale \
        + np.asarray(block.bn_params["bias"])
    expected = np.eye(DIM)[None] + np.einsum("ih,bh,hj->bji", w1, (z > 0) * scale, w2)
    np.testing.assert_allclose(eval_j, expected, rtol=1e-5, atol=1e-5)
    # ‖J‖₂ <= 1 + ‖W2‖ max|γ/√(var+ε)| ‖W1‖ with unit-norm weights (float32 round-off 1e-5)
    assert float(bound) == pytest.approx(1 + scale.max(), rel=1e-5)
    assert np.max(np.linalg.norm(np.asarray(eval_j), 2, axis=(1, 2))) <= float(bound) * (1 + 1e-5)
    # train mode: example 0's output moves with example 1; eval mode: not at all
    assert np.linalg.norm(np.asarray(cross_train)) > 1e-3 and not np.any(np.asarray(cross_eval))


def test_collected_statistics_follow_the_running_average_and_set_the_constant(setup):
    graphdef, block, _ = setup
    # 100 batches at momentum 0.9 leave 0.9^100 = 3e-5 of the initial statistics
    batches = jnp.asarray(np.random.default_rng(1).standard_normal((100, B, DIM)), jnp.float32)
    collect = jax.jit(bn_block.collect_statistics, static_argnums=0)
    bound = jax.jit(bn_block.eval_lipschitz_bound, static_argnums=0)
    small, history = collect(graphdef, block, 0.1 * batches)
    large, _ = collect(graphdef, block, 10.0 * batches)
    var = np.asarray(block.stats["var"])
    for xs in 0.1 * np.asarray(batches):  # var ← m var + (1 - m) batch var, by numpy
        h = xs @ np.asarray(block.weights["w1"]) + np.asarray(block.weights["b1"])
        var = MOMENTUM * var + (1 - MOMENTUM) * h.var(0)
    np.testing.assert_allclose(small.stats["var"], var, rtol=1e-4)
    np.testing.assert_allclose(history["var"][-1], small.stats["var"])
    assert history["var"].shape == (100, HIDDEN)
    # data 100x smaller -> running var 10⁴x smaller (up to ε and b1) -> BN slopes ~100x larger
    assert float(bound(graphdef, small)) - 1 > 50 * (float(bound(graphdef, large)) - 1)
