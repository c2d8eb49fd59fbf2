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


def torch_device(device):
    """``device`` (a torch factory argument: None, a string or a ``torch.device``) if torch
    can allocate there. A CUDA device on a torch built without CUDA, or with no GPU visible,
    is a ``qrnn.backends.GPUUnavailableError`` that says how to get one (torch's own error is
    a bare ``AssertionError``, raised only when the first tensor is made)."""
    import torch

    if device is None:
        return None
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"device must be a torch device such as 'cpu' or 'cuda', got {device!r} ({error})"
        ) from None
    if parsed.type != "cuda":
        return device
    from qrnn.backends import GPUUnavailableError

    if not torch.backends.cuda.is_built():
        raise GPUUnavailableError(
            f"device={device!r} needs a CUDA build of torch, but this torch ({torch.__version__}) "
            "has no CUDA: install a CUDA build (https://pytorch.org/get-started/locally/) or use "
            "device='cpu'"
        )
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count == 0:
        raise GPUUnavailableError(
            f"device={device!r}: torch is built with CUDA {torch.version.cuda} but sees no GPU "
            "(check the NVIDIA driver and CUDA_VISIBLE_DEVICES), or use device='cpu'"
        )
    if parsed.index is not None and parsed.index >= count:
        raise GPUUnavailableError(
            f"device={device!r}: torch sees {count} GPU{'s' if count > 1 else ''} "
            f"(cuda:0 to cuda:{count - 1})"
        )
    return device
