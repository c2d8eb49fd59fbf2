"""The Series value type: one (possibly multivariate) time series with its provenance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False, repr=False)
class Series:
    """A time series with its name, source and licence.

    Attributes:
        values: ``(time,)`` for a univariate series or ``(time, features)``, float64. Stored as a
            read-only copy, so a ``Series`` never changes after construction.
        name: short identifier, e.g. ``"airline"``.
        source: where the numbers come from (a citation, a file path, or the generator and its
            options for synthetic series).
        licence: the terms the numbers may be used under.
        times: ``(time,)`` ``datetime64`` time stamps, strictly increasing, or ``None`` when the
            series has only an integer step index.

    ``len(series)`` is the number of time steps; ``series.n_features`` is 1 for a ``(time,)``
    series. Equality is identity (arrays have no single truth value).
    """

    values: np.ndarray
    name: str
    source: str
    licence: str
    times: np.ndarray | None = None

    def __post_init__(self) -> None:
        for field in ("name", "source", "licence"):
            if not isinstance(getattr(self, field), str):
                raise TypeError(
                    f"Series.{field} must be a str, got {type(getattr(self, field)).__name__}"
                )
        values = np.asarray(self.values)
        if values.dtype == object or not (
            np.issubdtype(values.dtype, np.number) or values.dtype == np.bool_
        ):
            raise TypeError(f"Series.values must be numeric, got dtype {values.dtype}")
        if np.iscomplexobj(values):
            raise TypeError("Series.values must be real, got a complex array")
        if values.ndim not in (1, 2):
            raise ValueError(
                f"Series.values must have shape (time,) or (time, features), got {values.shape}"
            )
        if values.shape[0] == 0 or (values.ndim == 2 and values.shape[1] == 0):
            raise ValueError(f"Series.values must not be empty, got shape {values.shape}")
        values = np.array(values, dtype=np.float64, copy=True)
        values.setflags(write=False)
        object.__setattr__(self, "values", values)

        if self.times is not None:
            times = np.asarray(self.times)
            if not np.issubdtype(times.dtype, np.datetime64):
                raise TypeError(f"Series.times must be datetime64, got dtype {times.dtype}")
            if times.shape != (values.shape[0],):
                raise ValueError(
                    f"Series.times must have shape ({values.shape[0]},) to match values, "
                    f"got {times.shape}"
                )
            if np.isnat(times).any():
                raise ValueError(
                    f"Series.times contains NaT at index {int(np.flatnonzero(np.isnat(times))[0])}"
                )
            if times.size > 1 and not (times[1:] > times[:-1]).all():
                i = int(np.flatnonzero(times[1:] <= times[:-1])[0])
                raise ValueError(
                    f"Series.times must be strictly increasing, but times[{i + 1}]={times[i + 1]} "
                    f"does not follow times[{i}]={times[i]}"
                )
            times = times.copy()
            times.setflags(write=False)
            object.__setattr__(self, "times", times)

    @property
    def n_features(self) -> int:
        """Number of features: 1 for a ``(time,)`` series, else ``values.shape[1]``."""
        return 1 if self.values.ndim == 1 else int(self.values.shape[1])

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def __repr__(self) -> str:
        span = ""
        if self.times is not None:
            span = f", times={self.times[0]}..{self.times[-1]}"
        return (
            f"Series(name={self.name!r}, length={len(self)}, n_features={self.n_features}"
            f"{span}, licence={self.licence[:40]!r}{'...' if len(self.licence) > 40 else ''})"
        )
