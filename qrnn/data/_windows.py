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
        differenced: made with ``difference=True``: ``series`` is the first differences of
            the series given to :func:`prepare`, and targets are changes from the window's
            last value (see :func:`prepare`).
    """

    train: Split
    val: Split
    test: Split
    scaler: Scaler
    window: int
    horizon: int
    series: Series
    boundaries: tuple[int, int] | None = None
    differenced: bool = False

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
    difference: bool = False,
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
        difference: model the changes of a trending series instead of its levels. The
            windows then hold first differences ``d_t = x_t - x_(t-1)`` and the target ``k``
            steps ahead is the change from the window's last level, ``x_(t+k) - x_(t-1)``,
            so that the level forecast is ``x_(t-1) + prediction`` and MSE and MAE in
            original units are exactly those of the level forecast (R^2 is that of the
            changes). The splits cut the series where the undifferenced ones do: val and test
            predict the same positions; training loses its first window. ``series`` becomes
            the differenced series (what plots show).

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
    if not isinstance(difference, bool):
        raise TypeError(f"difference must be True or False, got {difference!r}")
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
    if difference:  # position t of the changes is t + 1 of the levels: cut where they are cut
        if n < 3:
            raise ValueError(f"difference=True needs a series of 3 or more points, got {n}")
        series = _differenced(series)
        values = np.diff(values, axis=0)
        n, train_end, val_end = n - 1, train_end - 1, val_end - 1
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
    splits = [
        _windows(values, scaler, window, horizon, first, stop, cumulative=difference)
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
        differenced=difference,
    )


def _differenced(series: Series) -> Series:
    return Series(
        np.diff(series.values, axis=0),
        name=f"{series.name} (differenced)",
        source=f"first differences of {series.source}",
        licence=series.licence,
        times=None if series.times is None else series.times[1:],
    )


def _windows(
    values: np.ndarray,
    scaler: Scaler,
    window: int,
    horizon: int,
    first: int,
    stop: int,
    cumulative: bool = False,
) -> Split:
    """Samples whose targets ``t .. t+horizon-1`` lie in ``[first, stop)``, ``t >= window``,
    scaled by ``scaler``; ``cumulative``: target ``k`` is the sum of values ``t .. t+k``."""
    starts = np.arange(max(first, window), stop - horizon + 1, dtype=np.int64)
    features = values.shape[1]
    # (n, window) and (n, horizon) position grids, gathered in one indexing step each
    inputs = scaler.transform(values[starts[:, None] + np.arange(-window, 0)])
    targets = values[starts[:, None] + np.arange(horizon)]
    if cumulative:
        targets = targets.cumsum(axis=1)
    targets = scaler.transform(targets)
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
