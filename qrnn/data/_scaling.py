"""Min-max scaling into an encoding's angle range, for numpy arrays and torch tensors."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = ["NotFittedError", "Scaler"]

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, torch.Tensor)


class NotFittedError(RuntimeError):
    """A Scaler was used before ``fit``."""


class Scaler:
    """Per-feature min-max scaling: ``lo + (x - data_min) * (hi - lo) / (data_max - data_min)``.

    Fit it on the training span only, then transform every span with the same numbers; values
    outside the fitted range map outside ``feature_range`` (no clipping), so a test span that
    leaves the training range stays visible as such.

    Args:
        feature_range: ``(lo, hi)`` with ``lo < hi``, default ``(-1, 1)``.

    Shapes: ``fit`` takes ``(time,)`` (one feature) or ``(..., features)``; ``transform`` and
    ``inverse_transform`` take numpy arrays or torch tensors of any leading shape with the
    features last, ``(..., features)``, and return the same type and shape (tensors keep dtype
    and device, and gradients flow). A scaler fitted on one feature also accepts any shape,
    element-wise.
    """

    def __init__(self, feature_range: tuple[float, float] = (-1.0, 1.0)) -> None:
        self.feature_range = _check_range(feature_range)
        self.data_min: np.ndarray | None = None
        self.data_max: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        return self.data_min is not None

    @property
    def n_features(self) -> int:
        """Number of features seen by ``fit``."""
        return int(self._state()[0].shape[0])

    def fit(self, values: np.ndarray | torch.Tensor) -> Scaler:
        """Learn per-feature minimum and maximum from ``values`` ``(time,)`` or ``(..., features)``.

        Returns ``self``. Raises ValueError for empty, non-finite or constant features.
        """
        arr = _to_numpy(values)
        if arr.size == 0:
            raise ValueError(f"cannot fit a Scaler on empty values (shape {arr.shape})")
        if arr.ndim == 0:
            raise ValueError("cannot fit a Scaler on a scalar; pass (time,) or (..., features)")
        flat = arr.reshape(-1, 1) if arr.ndim == 1 else arr.reshape(-1, arr.shape[-1])
        if not np.isfinite(flat).all():
            bad = np.argwhere(~np.isfinite(flat))[0]
            raise ValueError(
                f"cannot fit a Scaler on non-finite values: {flat[tuple(bad)]} at row {bad[0]}, "
                f"feature {bad[1]}"
            )
        lo, hi = flat.min(axis=0), flat.max(axis=0)
        constant = np.flatnonzero(hi <= lo)
        if constant.size:
            f = int(constant[0])
            raise ValueError(
                f"feature {f} is constant ({lo[f]}) over the fitting data; min-max scaling "
                f"needs max > min"
            )
        self.data_min, self.data_max = lo, hi
        return self

    def fit_transform(self, values: ArrayOrTensor) -> ArrayOrTensor:
        """``fit(values)`` then ``transform(values)``."""
        return self.fit(values).transform(values)

    def transform(self, values: ArrayOrTensor) -> ArrayOrTensor:
        """Map original units to ``feature_range``; ``(..., features)`` in, same shape out."""
        scale, offset = self._affine()
        return self._apply(values, scale, offset, "transform")

    def inverse_transform(self, values: ArrayOrTensor) -> ArrayOrTensor:
        """Map ``feature_range`` back to original units; ``(..., features)`` in, same out."""
        scale, offset = self._affine()
        # x = (y - offset) / scale = y * (1/scale) + (-offset/scale)
        return self._apply(values, 1.0 / scale, -offset / scale, "inverse_transform")

    def to_dict(self) -> dict[str, Any]:
        """Plain-data state (JSON-serialisable) for run directories; see :meth:`from_dict`."""
        lo, hi = self._state()
        return {
            "feature_range": list(self.feature_range),
            "data_min": lo.tolist(),
            "data_max": hi.tolist(),
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Scaler:
        """Rebuild a fitted Scaler from :meth:`to_dict` output."""
        missing = {"feature_range", "data_min", "data_max"} - set(state)
        if missing:
            raise KeyError(f"Scaler state is missing {sorted(missing)}")
        scaler = cls(tuple(state["feature_range"]))
        lo = np.asarray(state["data_min"], dtype=np.float64).reshape(-1)
        hi = np.asarray(state["data_max"], dtype=np.float64).reshape(-1)
        if lo.shape != hi.shape or lo.size == 0 or not (hi > lo).all():
            raise ValueError(
                f"Scaler state needs equal-length data_min < data_max, got {lo} and {hi}"
            )
        scaler.data_min, scaler.data_max = lo, hi
        return scaler

    def __repr__(self) -> str:
        if not self.fitted:
            return f"Scaler(feature_range={self.feature_range}, unfitted)"
        lo, hi = self._state()
        return (
            f"Scaler(feature_range={self.feature_range}, data_min={lo.tolist()}, "
            f"data_max={hi.tolist()})"
        )

    def _state(self) -> tuple[np.ndarray, np.ndarray]:
        if self.data_min is None or self.data_max is None:
            raise NotFittedError("this Scaler is not fitted; call fit(training_values) first")
        return self.data_min, self.data_max

    def _affine(self) -> tuple[np.ndarray, np.ndarray]:
        data_min, data_max = self._state()
        lo, hi = self.feature_range
        scale = (hi - lo) / (data_max - data_min)
        return scale, lo - data_min * scale

    def _apply(self, values: Any, scale: np.ndarray, offset: np.ndarray, what: str) -> Any:
        n = scale.shape[0]
        if isinstance(values, torch.Tensor):
            _check_last_dim(tuple(values.shape), n, what)
            if values.is_complex():
                raise TypeError(f"Scaler.{what} takes real values, got {values.dtype}")
            if not values.is_floating_point():
                values = values.to(torch.get_default_dtype())
            s = torch.as_tensor(scale, dtype=values.dtype, device=values.device)
            o = torch.as_tensor(offset, dtype=values.dtype, device=values.device)
            return values * s + o
        if isinstance(values, (np.ndarray, list, tuple, numbers.Real)):
            try:
                arr = np.asarray(values, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"Scaler.{what} takes numeric values, got {values!r}") from None
            _check_last_dim(arr.shape, n, what)
            return arr * scale + offset
        raise TypeError(
            f"Scaler.{what} takes a numpy array or torch tensor, got {type(values).__name__}"
        )


def _check_last_dim(shape: tuple[int, ...], n: int, what: str) -> None:
    if n == 1:
        return  # one feature broadcasts over any shape
    if not shape or shape[-1] != n:
        raise ValueError(
            f"Scaler.{what} expected shape (..., {n}) with the {n} features last, got {shape}"
        )


def _check_range(feature_range: Any) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in feature_range)
    except (TypeError, ValueError):
        raise ValueError(
            f"feature_range must be a pair (lo, hi) of numbers, got {feature_range!r}"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"feature_range must be finite with lo < hi, got {feature_range!r}")
    return lo, hi


def _to_numpy(values: Any) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().to(torch.float64).numpy()
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"Scaler.fit takes numeric values (numpy array or torch tensor), "
            f"got {type(values).__name__}"
        ) from None
