"""Models as pure init/apply functions on pytrees, for ONE example (vmap over the batch)."""

import importlib

from nndl.models import deep, mlp, padded_mlp, resnet

__all__ = ["bn_block", "deep", "mlp", "padded_mlp", "resnet"]


def __getattr__(name: str):
    # bn_block needs flax (~0.7 s to import): loaded on first use, so experiments without batch norm start faster
    if name == "bn_block":
        return importlib.import_module("nndl.models.bn_block")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
