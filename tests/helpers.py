"""Test helpers: run an experiment's CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_module(module: str, *args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python -m module args...` from the repo root, CPU only, captured output."""
    full_env = {**os.environ, "JAX_PLATFORMS": "cpu", "NNDL_PROGRESS": "0", **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
