"""nndl.train.mlp.minibatch_epoch: THE minibatch rule (the MLP task and adam's SGD-vs-Adam task both take it;
their training is checked against optax loops in test_sweep and test_exp_adam)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from nndl.train import mlp
from nndl.train.mlp import epoch_permutation


@pytest.mark.parametrize("n, batch", [(10, 4), (12, 4)])  # a partial last batch, and none
def test_minibatch_epoch_takes_perm_slices_last_one_partial(n, batch):
    steps = -(-n // batch)

    def update(state, idx, weights):  # records the batch of step s (padding slots as -1), loss = mean index
        order, s = state
        order = order.at[s].set(jnp.where(weights > 0, idx, -1))
        return (order, s + 1), jnp.sum(weights * idx) / jnp.sum(weights)

    start = (jnp.full((steps, batch), -1), jnp.int32(0))
    (order, taken), loss = jax.jit(mlp.minibatch_epoch, static_argnums=(0, 4, 5))(update, start, 3, 5, n, batch)
    perm = np.asarray(epoch_permutation(3, 5, n))
    expected = np.full((steps, batch), -1)
    for s in range(steps):  # perm[s*B:(s+1)*B]; the last batch holds the n - (steps - 1) B remaining examples
        part = perm[s * batch:(s + 1) * batch]
        expected[s, :part.size] = part
    np.testing.assert_array_equal(np.asarray(order), expected)
    assert int(taken) == steps
    # the epoch loss weighs every example once: the mean of 0..n-1
    assert float(loss) == pytest.approx((n - 1) / 2, rel=1e-6)
