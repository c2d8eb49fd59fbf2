"""Validation of parameter values: the one check every angle batch passes at the boundary."""

from __future__ import annotations

import math

import numpy as np
import torch

from qrnn.sim._errors import UnboundParameterError


def check_values(values, width: int, name: str, parameters=()) -> torch.Tensor:
    """``values`` as a real ``(batch, width)`` tensor: the one check of parameter values (the
    engine's, every backend's, the gradient methods' and ``QuantumLayer``'s).

    Args:
        values: a tensor, array or nested list of real angles, ``(batch, width)`` or
            ``(width,)`` (one sample); integers become float64, floats keep their dtype. None
            when ``width`` is 0 (then ``(1, 0)`` float64).
        width: the number of values per sample.
        name: what the values are, for the error message ("values", "inputs", "weights").
        parameters: the parameters the values are for, named when values are missing.

    Returns:
        ``(batch, width)`` real tensor (a view of ``values`` when it already is one).

    Raises:
        UnboundParameterError: values missing, complex, of another shape, NaN or inf.
    """
    if values is None:
        if width:
            names = ", ".join(str(p) for p in list(parameters)[:5])
            listed = f" ({names}{', ...' if len(parameters) > 5 else ''})" if names else ""
            raise UnboundParameterError(
                f"the circuit has {width} unbound parameters{listed}; pass {name} of shape "
                f"(batch, {width})"
            )
        return torch.zeros(1, 0, dtype=torch.float64)
    if not isinstance(values, torch.Tensor):
        values = torch.as_tensor(np.asarray(values, dtype=np.float64))
    if values.is_complex():
        raise UnboundParameterError(
            f"{name} are complex ({values.dtype}); expected real angles (float32 or float64)"
        )
    if not values.is_floating_point():
        values = values.to(torch.float64)
    if values.dim() == 1:
        values = values.unsqueeze(0)
    if values.dim() != 2 or values.shape[1] != width:
        raise UnboundParameterError(
            f"{name} has shape {tuple(values.shape)}; expected (batch, {width}) or ({width},)"
        )
    # the sum is finite when every entry is (NaN and inf propagate): one reduction on every
    # time step of a recurrent model; only a non-finite sum (or an overflow) looks closer
    if values.numel() and not math.isfinite(float(values.detach().sum())):
        bad = torch.nonzero(~torch.isfinite(values))
        if len(bad):
            raise UnboundParameterError(
                f"{name} contains NaN or inf (first at index {tuple(bad[0].tolist())}); "
                "expected finite angles"
            )
    return values
