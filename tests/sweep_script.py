"""A small sweep run as a separate process (sharding and kill/resume tests).

usage: python -m tests.sweep_script OUT_DIR [--slow] [--coordinator HOST:PORT --num-processes N --process-id I]
Writes OUT_DIR/result.npz (process 0); checkpoints into OUT_DIR; --slow sleeps after each chunk.
"""

import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import numpy as np

from nndl import sweep, train
from nndl.run import runio


def main(out: str, slow: bool, coordinator: list[str]) -> None:
    if coordinator:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        address, n, pid = coordinator
        jax.distributed.initialize(coordinator_address=address, num_processes=int(n), process_id=int(pid))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 3))
    y = np.sin(x[:, :2]) + 0.1 * rng.normal(size=(30, 2))
    data = {"x_train": x[:20], "y_train": y[:20], "x_test": x[20:], "y_test": y[20:]}
    grid = sweep.product(width=[2, 6], lr=[0.01, 0.03], batch_size=[5, 20], seed=[0], epochs=[12])
    res = train.run_mlp_sweep(grid, data, depth=2, optimizer="sgd", n_buckets=2, chunk_epochs=3,
                              checkpoint=os.path.join(out, "sweep_checkpoint.npz"), keep_checkpoint=True,
                              on_chunk=(lambda done: time.sleep(1.5)) if slow else None)
    if jax.process_index() != 0:
        return
    runio.save_curves(os.path.join(out, "result.npz"), devices=np.array(len(jax.devices())),
                      train=res.final["train_loss"], test=res.final["test_loss"],
                      curves=res.curves["train_loss"], **{f"p{i}": leaf for i, leaf in
                                                          enumerate(jax.tree.leaves(res.states))})


if __name__ == "__main__":
    argv = sys.argv[2:]
    manual = [argv[argv.index(flag) + 1] for flag in ("--coordinator", "--num-processes", "--process-id")
              if flag in argv]
    main(sys.argv[1], "--slow" in argv, manual)
