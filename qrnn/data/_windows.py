"""Chronological splits, scaling and sliding windows for one-step / multi-step forecasting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from qrnn._checks import integer
from qrnn.data._scaling import Scaler
from qrnn.data._series import Series

__all__ = ["Split", "WindowedData", "prepare"]


@dataclass(frozen=True, eq=False)
class Split:
    """The windows of one chronological span.

    Attributes:
        inputs: ``(n, window, features)`` float32, scaled.
        targets: ``(n, horizon * features)`` float32, scaled; horizon-major, i.e.
            ``targets.reshape(n, horizon, features)[:, k]`` is step ``k + 1`` ahead.
            With ``horizon=1`` this is ``(n, features)``.
        target_index: ``(n,)`` int64, position in the series of each sample's first target
            (the inputs are positions ``target_index - window ... target_index - 1``).
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    target_index: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.inputs.shape[0])


@dataclass(frozen=True, eq=False)
class WindowedData:
    """A series cut into train / val / test windows with the scaler fitted on train.

    Attributes:
        train, val, test: the three :class:`Split` s (val or test has ``n = 0`` when its
            fraction is 0).
        scaler: fitted on the training span only.
        window: input steps per sample. horizon: target steps per sample.
        series: the original series (original units).
        boundaries: ``(train_end, val_end)``: the spans are ``[0, train_end)``,
            ``[train_end, val_end)`` and ``[val_end, len(series))``.
    """

    train: Split
    val: Split
    test: Split
    scaler: Scaler
    window: int
    horizon: int
    series: Series
    boundaries: tuple[int, int] | None = None

    @property
    def n_features(self) -> int:
        return self.series.n_features

    def inverse_targets(self, targets: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """Scaled ``(..., horizon * features)`` targets or predictions -> original units.

        Same type and shape out, e.g. ``inverse_targets(model(x))`` for metrics in original units.
        """
        shape = tuple(targets.shape)
        width = self.horizon * self.n_features
        if not shape or shape[-1] != width:
            raise ValueError(
                f"expected shape (..., {width}) = (..., horizon*features) with horizon="
                f"{self.horizon}, features={self.n_features}; got {shape}"
            )
        split = (*shape[:-1], self.horizon, self.n_features)
        out = self.scaler.inverse_transform(targets.reshape(split))
        return out.reshape(shape)


def prepare(
    series: Series | np.ndarray,
    window: int = 4,
    horizon: int = 1,
    split: Sequence[float] = (0.6, 0.2, 0.2),
    feature_range: tuple[float, float] = (-1.0, 1.0),
) -> WindowedData:
    """Split a series chronologically, scale it, and cut it into sliding windows.

    The series of length ``T`` is cut at ``train_end = round(T * split[0])`` and
    ``val_end = round(T * (split[0] + split[1]))``. The scaler is fitted on ``[0, train_end)``
    only and applied to everything. A sample predicts the ``horizon`` values at positions
    ``t .. t + horizon - 1`` from the ``window`` values ``t - window .. t - 1`` and belongs to the
    span that holds all its targets; samples whose targets straddle a boundary are dropped.
    Validation and test inputs may reach back into the preceding span (those values are past
    observations, known at forecast time), so the first val/test targets are the first values
    of their span. Nothing is shuffled.

    Args:
        series: a :class:`Series`, or an array ``(time,)`` / ``(time, features)``.
        window: input length, >= 1.
        horizon: steps predicted per sample, >= 1.
        split: ``(train, val, test)`` fractions summing to 1, or ``(train, test)`` (no val).
        feature_range: the scaler's target interval, e.g. the encoding's angle range.

    Returns:
        :class:`WindowedData`; each split has inputs ``(n, window, features)`` and targets
        ``(n, horizon * features)``, float32.

    Raises:
        TypeError / ValueError before any work: bad window/horizon/split, non-finite values,
        a training span too short for one window, a val/test span too short for one sample.
    """
    if isinstance(series, np.ndarray):
        series = Series(series, name="array", source="in-memory array", licence="unspecified")
    if not isinstance(series, Series):
        raise TypeError(f"prepare takes a Series or numpy array, got {type(series).__name__}")
    window = integer("window", window)
    horizon = integer("horizon", horizon)
    fractions = _check_split(split)
    values = series.values if series.values.ndim == 2 else series.values[:, None]
    if not np.isfinite(values).all():
        t, f = (int(i) for i in np.argwhere(~np.isfinite(values))[0])
        raise ValueError(
            f"series {series.name!r} has a non-finite value {values[t, f]} at time index {t}"
            f"{'' if values.shape[1] == 1 else f', feature {f}'}; clean it before prepare"
        )
    n = len(series)
    train_end = round(n * fractions[0])
    val_end = round(n * (fractions[0] + fractions[1]))
    need = window + horizon
    if train_end < need:
        raise ValueError(
            f"window={window} + horizon={horizon} needs a training span of at least {need} "
            f"points, but split {fractions} of series {series.name!r} (length {n}) gives "
            f"{train_end}; use a smaller window or a longer series"
        )
    for label, start, stop, frac in (
        ("val", train_end, val_end, fractions[1]),
        ("test", val_end, n, fractions[2]),
    ):
        if frac > 0 and stop - start < horizon:
            raise ValueError(
                f"the {label} span of series {series.name!r} (length {n}, split {fractions}) "
                f"has {stop - start} points, fewer than horizon={horizon}; give it a larger "
                f"fraction, or 0 to have no {label} split"
            )

    scaler = Scaler(feature_range).fit(values[:train_end])
    scaled = scaler.transform(values)
    splits = [
        _windows(scaled, window, horizon, first, stop)
        for first, stop in ((window, train_end), (train_end, val_end), (val_end, n))
    ]
    return WindowedData(
        train=splits[0],
        val=splits[1],
        test=splits[2],
        scaler=scaler,
        window=window,
        horizon=horizon,
        series=series,
        boundaries=(train_end, val_end),
    )


def _windows(scaled: np.ndarray, window: int, horizon: int, first: int, stop: int) -> Split:
    """Samples whose targets ``t .. t+horizon-1`` lie in ``[first, stop)``, ``t >= window``."""
    starts = np.arange(max(first, window), stop - horizon + 1, dtype=np.int64)
    features = scaled.shape[1]
    # (n, window) and (n, horizon) position grids, gathered in one indexing step each
    inputs = scaled[starts[:, None] + np.arange(-window, 0)]
    targets = scaled[starts[:, None] + np.arange(horizon)]
    return Split(
        inputs=torch.from_numpy(inputs.reshape(-1, window, features).astype(np.float32)),
        targets=torch.from_numpy(targets.reshape(-1, horizon * features).astype(np.float32)),
        target_index=starts,
    )


def _check_split(split: Sequence[float]) -> tuple[float, float, float]:
    if isinstance(split, (str, bytes)) or not isinstance(split, Sequence):
        raise TypeError(f"split must be a (train, val, test) or (train, test) tuple, got {split!r}")
    if len(split) not in (2, 3):
        raise ValueError(
            f"split must have 2 (train, test) or 3 (train, val, test) fractions, got {split!r}"
        )
    try:
        parts = [float(f) for f in split]
    except (TypeError, ValueError):
        raise TypeError(f"split fractions must be numbers, got {split!r}") from None
    except OverflowError:  # an int too large for a float
        raise ValueError(f"split fractions must be in [0, 1], got {split!r}") from None
    if len(parts) == 2:
        parts.insert(1, 0.0)
    if not all(math.isfinite(f) and f >= 0 for f in parts) or parts[0] <= 0:
        raise ValueError(
            f"split fractions must be >= 0 with a positive training fraction, got {split!r}"
        )
    if abs(sum(parts) - 1.0) > 1e-9:
        raise ValueError(f"split fractions must sum to 1, got {split!r} (sum {sum(parts)})")
    return parts[0], parts[1], parts[2]
