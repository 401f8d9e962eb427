"""Gradient passes and FLOP counting never overlap in one process.

``FlopCounterMode`` installs process-wide module hooks while it counts; an ``autograd.grad`` running at that
moment in another thread (a visitor's ERF or Grad-CAM beside another's cost table) fails inside torch ("A leaf
node was passed to _will_engine_execute_node ..."). Gradient passes may run together; counting waits until
none runs, and holds them off while it counts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_state = threading.Condition()
_gradient_passes = 0
_counting = False


@contextmanager
def gradient_pass() -> Iterator[None]:
    """Around any ``autograd.grad``/``backward``: waits while FLOPs are being counted."""
    global _gradient_passes
    with _state:
        _state.wait_for(lambda: not _counting)
        _gradient_passes += 1
    try:
        yield
    finally:
        with _state:
            _gradient_passes -= 1
            _state.notify_all()


@contextmanager
def flop_counting() -> Iterator[None]:
    """Around ``FlopCounterMode``: waits until no gradient pass runs, and keeps new ones out meanwhile."""
    global _counting
    with _state:
        _state.wait_for(lambda: not _counting and _gradient_passes == 0)
        _counting = True
    try:
        yield
    finally:
        with _state:
            _counting = False
            _state.notify_all()
