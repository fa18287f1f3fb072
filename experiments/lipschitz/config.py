"""lipschitz settings: --quick and --full defaults, one declared flag per key, cross-key checks."""

from __future__ import annotations

from nndl.run import cli
from nndl.run.flags import Key


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "dim": 16, "hidden": 32, "depths": [1, 2, 4, 8, 16],
              "n_inputs": 128,       # inputs for the Jacobian power iteration
              "n_iter": 30,          # power iterations per Jacobian
              "sn_iter": 500,        # power iterations of the spectral normalisation
              "n_pairs": 64, "pair_steps": 200, "pair_lr": 0.02, "pair_delta": 0.1,
              "bn_scales": [0.03, 0.1, 0.3, 1.0, 3.0, 10.0],  # std of the data the BN statistics see
              "bn_batch": 64, "bn_batches": 100, "bn_momentum": 0.9, "bn_epsilon": 1e-5}
    if full:
        # larger matrices have closer top singular values: more power iterations for ‖W‖₂ = 1 ± 1e-4
        config.update(dim=64, hidden=128, n_inputs=1024, n_iter=100, sn_iter=3000, n_pairs=512, pair_steps=1000,
                      bn_batches=200)
    return config


KEYS = {
    "dim": Key("block width d", lo=1, hi=4096),
    "hidden": Key("hidden width of F", lo=1, hi=4096),
    "depths": Key("numbers of blocks L, e.g. 1,2,4,8,16", lo=1, hi=64, unique=True,
                  why="2^64 overflows float32 bounds"),
    "n_inputs": Key("inputs for the Jacobian power iteration", lo=1, hi=100_000),
    "n_iter": Key("power iterations per Jacobian", lo=1, hi=100_000),
    "sn_iter": Key("power iterations of the spectral normalisation", lo=1, hi=1_000_000),
    "n_pairs": Key("input pairs in the adversarial search", lo=1, hi=100_000),
    "pair_steps": Key("Adam steps of the pair search", lo=0, hi=1_000_000),
    "pair_lr": Key("Adam learning rate of the pair search", positive=True),
    "pair_delta": Key("std of the initial offsets y - x", positive=True, hi=1e6),
    "bn_scales": Key("data std values seen by BatchNorm, e.g. 0.1,1,10", positive=True, hi=1e6, unique=True),
    "bn_batch": Key("BatchNorm batch size", lo=2, hi=100_000, why="a batch of one has zero variance"),
    "bn_batches": Key("train-mode batches that collect the running statistics", lo=1, hi=1_000_000),
    "bn_momentum": Key("BatchNorm momentum in [0, 1)", lo=0, hi=1),
    "bn_epsilon": Key("BatchNorm epsilon", positive=True, hi=1e6),
}


def validate(config: dict) -> None:
    if config["bn_momentum"] >= 1:
        raise cli.UserError(f"--bn-momentum must be < 1 (1 never updates the statistics), "
                            f"got {config['bn_momentum']:g}")
