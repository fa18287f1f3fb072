"""gradients_depth settings: --quick and --full defaults, one declared flag per key."""

from __future__ import annotations

from nndl import activations
from nndl.run.flags import Key


def get_config(full: bool = False) -> dict:
    config = {"seed": 0, "width": 64, "batch": 8, "depths": [5, 10, 20, 50], "scales": [1.0, 2.0],
              "activations": list(activations.NAMES)}
    if full:
        config.update(width=256, batch=64, scales=[1.0, 2.0, 4.0])
    return config


KEYS = {
    "width": Key("units per layer n", lo=1, hi=4096),
    "batch": Key("examples in E", lo=1, hi=100_000),
    "depths": Key("depths L, e.g. 5,10,20,50", lo=1, hi=200, unique=True, why="one padded stack holds them all"),
    "scales": Key("init scales: W ~ N(0, scale/n)", positive=True, hi=16, unique=True,
                  why="ReLU networks overflow float32 beyond"),
    "activations": Key("activations, e.g. relu,tanh", choices=activations.NAMES, unique=True),
}


def validate(config: dict) -> None:
    """No cross-key constraints: every key's bounds are declared in KEYS."""
    del config
