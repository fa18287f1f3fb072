"""Models as pure init/apply functions on pytrees, for ONE example (vmap over the batch)."""

from nndl.models import bn_block, deep, mlp, padded_mlp, resnet

__all__ = ["bn_block", "deep", "mlp", "padded_mlp", "resnet"]
