"""nndl: deep-learning coursework sheets as runnable, tested, fast JAX experiments.

The library's face: models and losses for one example (`models`, `losses`), optimisers as optax
transformations (`optim`), the sweep engine (`sweep`) and the one training path on it (`train`),
data sets (`data`), numerical building blocks (`numerics`), pytree helpers (`tree`), means and
standard errors with the significance rule every report sentence follows (`stats`), and the
library's exception for input a user can fix (`NndlError`). The harness around it (command
line, run folders, progress bars, figures, the report) lives in `nndl.run` and `nndl.report`.
"""

from nndl import data, losses, models, numerics, optim, stats, sweep, train, tree
from nndl.errors import ConfigError, DataError, NndlError

__all__ = ["ConfigError", "DataError", "NndlError", "data", "losses", "models", "numerics", "optim", "stats", "sweep",
           "train", "tree"]
