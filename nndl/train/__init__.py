"""The one training path: MLP regression (and ridge) runs as sweep tasks, swept by `nndl.sweep`'s engine.

`run_mlp_sweep` trains a grid of MLP configs (seeds, learning rates, weight decays,
widths, batch sizes, horizons, data draws, nested training sets) in one jitted call;
`mlp` holds the task for one config (one minibatch rule: a hashed permutation per
epoch, the last batch partial); `gradnoise` measures the gradient noise at a point.
"""

from nndl.train import gd, gradnoise, mlp, ridge
from nndl.train.gd import gradient_descent
from nndl.train.gradnoise import gradient_noise
from nndl.train.mlp import (
                            METRICS,
                            Spec,
                            TrainState,
                            epoch_permutation,
                            evaluate,
                            init_state,
                            make_spec,
                            make_task,
                            mean_mse,
                            minibatch_epoch,
                            predict,
                            select_data,
                            train_epoch,
                            weighted_loss,
)
from nndl.train.mlp_sweep import SweepResult, complete_grid, run_mlp_sweep

__all__ = ["METRICS", "Spec", "SweepResult", "TrainState", "complete_grid", "epoch_permutation", "evaluate", "gd",
           "gradient_descent", "gradient_noise", "gradnoise", "init_state", "make_spec", "make_task", "mean_mse",
           "minibatch_epoch", "mlp", "predict", "ridge", "run_mlp_sweep", "select_data", "train_epoch",
           "weighted_loss"]
