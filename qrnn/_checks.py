"""Checks of plain arguments shared across qrnn (one place, one wording).

Values of circuit parameters are checked by ``qrnn.sim`` and shot counts by
``qrnn.backends``; this module holds what is neither: integer counts and sizes.
"""

from __future__ import annotations

import operator


def integer(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an ``int`` >= ``minimum`` (numpy integers accepted).

    Raises:
        TypeError: ``value`` is not an integer (a bool or a float included).
        ValueError: ``value`` is below ``minimum``.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got the bool {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


def boolean(name: str, value: object) -> bool:
    """``value`` if it is a bool; a ``TypeError`` otherwise (no truthy stand-ins)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return value


def real_dtype(dtype):
    """``dtype`` (default ``torch.get_default_dtype()``) if it is float32 or float64, the two
    precisions the engine runs in (complex64 and complex128 states)."""
    import torch

    dtype = dtype or torch.get_default_dtype()
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    return dtype
