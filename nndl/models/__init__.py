"""Models as pure init/apply functions on pytrees."""

from nndl.models import mlp

__all__ = ["mlp"]
