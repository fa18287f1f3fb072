"""Numerical building blocks, each written once: ODE integration and power iteration."""

from nndl.numerics.ode import rk4, rk4_step
from nndl.numerics.spectral import power_iteration

__all__ = ["power_iteration", "rk4", "rk4_step"]
