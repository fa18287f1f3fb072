"""experiments.adam.training: the library's minibatch rule inside the Task, and one decay-study step against optax."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from experiments.adam import decay, training
from nndl.train.mlp import TrainState, epoch_permutation


@pytest.mark.parametrize("n, batch", [(10, 4), (12, 4), (7, 7)])
def test_minibatch_epoch_takes_perm_slices_last_one_partial(n, batch):
    steps = -(-n // batch)

    def update(state, idx, weights):  # records the batch of step s (padding slots as -1), loss = mean index
        order, s = state
        order = order.at[s].set(jnp.where(weights > 0, idx, -1))
        return (order, s + 1), jnp.sum(weights * idx) / jnp.sum(weights)

    start = (jnp.full((steps, batch), -1), jnp.int32(0))
    (order, taken), loss = jax.jit(training.minibatch_epoch, static_argnums=(0, 4, 5))(update, start, 3, 5, n, batch)
    perm = np.asarray(epoch_permutation(3, 5, n))
    expected = np.full((steps, batch), -1)
    for s in range(steps):  # perm[s*B:(s+1)*B]; the last batch holds the n - (steps - 1) B remaining examples
        part = perm[s * batch:(s + 1) * batch]
        expected[s, :part.size] = part
    np.testing.assert_array_equal(np.asarray(order), expected)
    assert int(taken) == steps
    # the epoch loss weighs every example once: the mean of 0..n-1
    assert float(loss) == pytest.approx((n - 1) / 2, rel=1e-6)


def test_decay_epoch_is_one_optax_step(key):
    spec = decay.DecaySpec(sizes=(3, 5, 1), b1=0.9, b2=0.999, eps=1e-8)
    x = jax.random.normal(key, (6, 3))
    y = jnp.sin(x[:, 0])
    data = {"x_train": x, "y_train": y}
    mask = [{"w": True, "b": False}, {"w": True, "b": False}]
    for lam, decoupled in ((0.1, 0.0), (0.1, 1.0)):
        hp = {"lr": jnp.float32(0.01), "lam": jnp.float32(lam), "decoupled": jnp.float32(decoupled)}
        state = training.decay_init(spec, hp, jax.random.key(0))
        new, loss = training.decay_epoch(spec, state, hp, data, 0)
        tx = optax.adamw(0.01, weight_decay=lam, mask=mask) if decoupled else optax.adam(0.01)

        def penalised(p, decoupled=decoupled, lam=lam):
            return decay.mse_data(p, x, y) + (0.0 if decoupled else 0.5 * lam * decay.weights_sq(p))

        params = decay.init_params(spec, jax.random.key(0))
        u, _ = tx.update(jax.grad(penalised)(params), tx.init(params), params)
        ref = TrainState(optax.apply_updates(params, u), None)
        assert float(loss) == pytest.approx(float(penalised(params)), rel=1e-6)
        for a, b in zip(jax.tree.leaves(new.params), jax.tree.leaves(ref.params)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)  # one float32 step
