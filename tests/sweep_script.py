"""A small sweep run as a separate process (sharding and kill/resume tests).

usage: python -m tests.sweep_script OUT_DIR [--slow]
Writes OUT_DIR/result.npz; checkpoints into OUT_DIR; --slow sleeps after each chunk.
"""

import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402

from nndl.run import runio
from nndl import sweep, train  # noqa: E402


def main(out: str, slow: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    y = np.sin(x[:, :2]) + 0.1 * rng.normal(size=(30, 2))
    data = {"x_train": x[:20], "y_train": y[:20], "x_test": x[20:], "y_test": y[20:]}
    grid = sweep.product(width=[2, 6], lr=[0.01, 0.03], batch_size=[5, 20], seed=[0], epochs=[12])
    res = train.run_mlp_sweep(grid, data, depth=2, optimizer="sgd", n_buckets=2, chunk_epochs=3,
                              checkpoint=os.path.join(out, "sweep_checkpoint.npz"), keep_checkpoint=True,
                              on_chunk=(lambda done: time.sleep(1.5)) if slow else None)
    runio.save_curves(os.path.join(out, "result.npz"), devices=np.array(len(jax.devices())),
                      train=res.final["train_loss"], test=res.final["test_loss"],
                      curves=res.curves["train_loss"], **{f"p{i}": leaf for i, leaf in
                                                          enumerate(jax.tree.leaves(res.states))})


if __name__ == "__main__":
    main(sys.argv[1], "--slow" in sys.argv[2:])
