"""experiments.init.montecarlo: estimates and standard errors against closed forms; draws in chunks."""

import jax
import jax.numpy as jnp
import numpy as np

from experiments.init import montecarlo

K_SE = montecarlo.K_SE  # |estimate - truth| <= 4 standard errors (two-sided p = 6e-5 each)


def test_estimates_and_standard_errors_match_closed_forms():
    x = jnp.asarray(np.random.default_rng(0).normal(1.0, 2.0, 100_000), jnp.float32)
    mean, var = montecarlo.mean_estimate(x), montecarlo.var_estimate(x)
    np.testing.assert_allclose(mean.se, 2 / np.sqrt(1e5), rtol=0.02)  # sigma / sqrt(N)
    np.testing.assert_allclose(var.se, np.sqrt(2 * 16 / 1e5), rtol=0.05)  # sqrt((m4 - s^4)/N), m4 = 3 s^4
    assert abs(mean.value - 1) <= K_SE * mean.se and abs(var.value - 4) <= K_SE * var.se


def test_chunked_draws_are_the_fold_in_chunks_cut_to_n_and_report_each_chunk(key):
    def draw_chunk(k):
        return {"u": jax.random.uniform(k, (4,))}

    done = []
    draws = montecarlo.chunked_draws(draw_chunk, key, 10, 4, on_chunk=done.append)
    assert done == [4, 4, 2]  # the last chunk adds only the draws kept
    expected = np.concatenate([np.asarray(jax.random.uniform(jax.random.fold_in(key, i), (4,))) for i in range(3)])
    np.testing.assert_array_equal(draws["u"], expected[:10])  # the same program per chunk: bit-identical
    np.testing.assert_array_equal(montecarlo.chunked_draws(draw_chunk, key, 10, 4)["u"], draws["u"])
