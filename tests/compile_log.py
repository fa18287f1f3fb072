"""Which programs JAX compiled inside a block, read from JAX's own compile log (`jax.log_compiles`)."""

from __future__ import annotations

import contextlib
import logging
import re
import threading

import jax

_RECORDS: list[logging.LogRecord] = []
_LOCK = threading.Lock()


class _ToList(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _RECORDS.append(record)


logging.getLogger("jax").addHandler(_ToList())


@contextlib.contextmanager
def log_compilations():
    """Yields a list that, after the block, holds the names of the programs compiled inside it."""
    with _LOCK, jax.log_compiles():
        _RECORDS.clear()
        names: list[str] = []
        yield names
        for record in _RECORDS:
            match = re.search(r"Finished XLA compilation of (?:jit\()?([\w.<>]+)", record.getMessage())
            if match:
                names.append(match.group(1))
