"""nndl: deep-learning coursework sheets as runnable, tested, fast JAX experiments."""

from nndl import cli, losses, models, runio, tree
from nndl.cli import UserError

__all__ = ["cli", "losses", "models", "runio", "tree", "UserError"]
