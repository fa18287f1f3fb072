"""nndl experiments: `python -m experiments` lists them, `python -m experiments.<name>` runs one."""

import importlib
import importlib.util
from types import ModuleType

# The order of the experiments (as the sheets introduce them); a name appears in listings and `all` once its
# package exists.
ORDER = (
    "autodiff",
    "backprop",
    "init",
    "gradients_depth",
    "quadratic",
    "adam",
    "heteroscedastic",
    "lipschitz",
    "double_descent",
    "implicit_reg",
    "sgd_noise",
    "linear_models",
)


def available() -> list[str]:
    """Experiment names, in ORDER, whose package is present."""
    return [name for name in ORDER if importlib.util.find_spec(f"experiments.{name}") is not None]


def load(name: str) -> ModuleType:
    return importlib.import_module(f"experiments.{name}")


def summary(name: str) -> str:
    """First line of the experiment module's docstring."""
    doc = load(name).__doc__ or name
    return doc.strip().splitlines()[0]
