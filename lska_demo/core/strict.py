"""Strict checks for parameters that arrive from visitors (the web page or the raw HTTP API).

Gradio's components coerce loosely ("yes" -> True, 1.5 -> 1, "4" -> 4, NaN passes), so the app checks
every value itself. Each check returns the clean value or raises ``InputError`` with a plain message that
names the parameter and echoes what was given at most ``ECHO_CHARS`` characters long (a 16 MB string comes
back as its first few dozen characters, never whole). Messages never contain a server path.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TypeVar

ECHO_CHARS = 80

T = TypeVar("T")


class InputError(ValueError):
    """A parameter a visitor sent that the app cannot use; the message says which and why, in plain words."""


def echo(value: object, limit: int = ECHO_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters, so that a message never carries a huge input back.

    Args:
        value: what the visitor sent.
        limit: the most characters of the echo, including the trailing ellipsis.
    """
    if isinstance(value, str | bytes) and len(value) > 4 * limit:
        value = value[: 4 * limit]  # repr of a 16 MB string would itself cost 16 MB
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def strict_bool(name: str, value: object) -> bool:
    """``value`` if it is exactly ``True`` or ``False``; no "yes", 1, "true" or None.

    Args:
        name: the parameter's name as the visitor knows it.
        value: what the visitor sent.
    """
    if isinstance(value, bool):
        return value
    raise InputError(f"{name} must be true or false, not {echo(value)}")


def strict_int(name: str, value: object, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` if it is a whole number of type int (not bool, not 1.5, not "4", not NaN) within [lo, hi].

    A float with no fractional part (4.0, as JSON numbers from some clients arrive) is accepted as 4.

    Args:
        name: the parameter's name as the visitor knows it.
        value: what the visitor sent.
        lo: the smallest allowed value, or None for no bound.
        hi: the largest allowed value, or None for no bound.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name} must be a whole number, not {echo(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise InputError(f"{name} must be a whole number, not {echo(value)}")
        value = int(value)
    _check_range(name, value, lo, hi)
    return value


def strict_float(name: str, value: object, lo: float | None = None, hi: float | None = None) -> float:
    """``value`` as a finite float within [lo, hi]; numbers only (no "0.5", no bool, no NaN or infinity).

    Args:
        name: the parameter's name as the visitor knows it.
        value: what the visitor sent.
        lo: the smallest allowed value, or None for no bound.
        hi: the largest allowed value, or None for no bound.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name} must be a number, not {echo(value)}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"{name} must be a finite number, not {echo(value)}")
    _check_range(name, number, lo, hi)
    return number


def strict_choice(name: str, value: object, choices: Iterable[T]) -> T:
    """``value`` if it is one of ``choices`` (compared by equality and type, so True is not 1).

    Args:
        name: the parameter's name as the visitor knows it.
        value: what the visitor sent.
        choices: the allowed values; the message lists at most the first eight.
    """
    options = list(choices)
    for option in options:
        if type(option) is type(value) and option == value:
            return option
    shown = ", ".join(echo(o, 24) for o in options[:8]) + (", ..." if len(options) > 8 else "")
    raise InputError(f"{name} must be one of {shown}; got {echo(value)}")


def strict_text(name: str, value: object, max_chars: int) -> str:
    """``value`` if it is a string of at most ``max_chars`` characters.

    Args:
        name: the parameter's name as the visitor knows it.
        value: what the visitor sent.
        max_chars: the longest accepted string.
    """
    if not isinstance(value, str):
        raise InputError(f"{name} must be text, not {echo(value)}")
    if len(value) > max_chars:
        raise InputError(f"{name} is {len(value):,} characters long; the limit is {max_chars:,}: {echo(value)}")
    return value


def _check_range(name: str, value: float, lo: float | None, hi: float | None) -> None:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        low = "-inf" if lo is None else f"{lo:g}"
        high = "inf" if hi is None else f"{hi:g}"
        raise InputError(f"{name} must be between {low} and {high}, not {echo(value)}")
