"""nndl: deep-learning coursework sheets as runnable, tested, fast JAX experiments."""

from nndl.run import cli, runio
from nndl import losses, models, tree
from nndl.run.cli import UserError

__all__ = ["cli", "losses", "models", "runio", "tree", "UserError"]
