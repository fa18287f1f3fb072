"""experiments.implicit_reg.measures: gradient noise and held-out MSE at every config's final parameters."""

import jax
import numpy as np

from experiments.implicit_reg import measures
from nndl import train
from nndl.data import teacher
from nndl.train import gradnoise


def test_gradient_measures_and_held_out_mse_use_each_configs_own_draw():
    data = teacher.draws(5, 2, 24, 10)
    grid = {"width": [6, 6], "lr": [0.05, 0.05], "epochs": [5, 5], "seed": [1, 1], "data": [0, 1],
            "batch_size": [8, 8]}
    res = train.run_mlp_sweep(grid, data, depth=2, optimizer="sgd", n_buckets=1, chunk_epochs=5)
    gsq, var = measures.gradient_measures(res, data, 8)
    mse = measures.held_out_mse(res, data["x_test"], data["y_test"])
    spec = res.specs[0]
    for i in range(2):
        params, hp = res.params(i), {k: v[i] for k, v in res.grid.items()}
        x, y = (jax.numpy.asarray(data[k][i], jax.numpy.float32) for k in ("x_train", "y_train"))
        perm = train.epoch_permutation(hp["seed"], hp["epochs"], 24)
        ref = gradnoise.gradient_noise(lambda p, xb, yb, w: train.weighted_loss(spec, p, xb, yb, w, 6),
                                       params, x, y, perm, 8)
        np.testing.assert_allclose([gsq[i], var[i]], [float(ref[0]), float(ref[1])], rtol=1e-4)
        # the held-out MSE of draw i equals the engine's own test-loss evaluation on that draw
        np.testing.assert_allclose(mse[i], res.final["test_loss"][i], rtol=1e-5)
    assert abs(gsq[0] - gsq[1]) > 1e-6 * max(gsq)  # different draws, different gradients
