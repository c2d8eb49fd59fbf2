"""The Series value type: coercion, validation, immutability."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qrnn.data import Series


def test_series_holds_a_read_only_float64_copy():
    raw = np.array([1, 2, 3])
    s = Series(raw, name="x", source="test", licence="CC0")
    raw[0] = 99
    assert s.values.dtype == np.float64 and s.values[0] == 1.0
    assert len(s) == 3 and s.n_features == 1
    with pytest.raises(ValueError):
        s.values[0] = 5.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.name = "y"  # type: ignore[misc]
    assert "name='x'" in repr(s) and "length=3" in repr(s)


def test_multivariate_series_with_times():
    times = np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]")
    s = Series(np.zeros((2, 3)), name="m", source="test", licence="CC0", times=times)
    assert s.n_features == 3 and len(s) == 2
    np.testing.assert_array_equal(s.times, times)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"values": np.zeros((2, 2, 2))}, ValueError, r"shape \(time,\) or \(time, features\)"),
        ({"values": np.zeros(0)}, ValueError, r"must not be empty"),
        ({"values": np.array(["a", "b"])}, TypeError, r"must be numeric"),
        ({"values": np.array([1j, 2j])}, TypeError, r"must be real"),
        ({"name": 3}, TypeError, r"Series.name must be a str"),
        ({"times": np.array([1, 2, 3])}, TypeError, r"times must be datetime64"),
        ({"times": np.array(["2020", "2021"], dtype="datetime64[Y]")}, ValueError, r"shape \(3,\)"),
        (
            {"times": np.array(["2020", "2022", "2021"], dtype="datetime64[Y]")},
            ValueError,
            r"strictly increasing.*times\[2\]=2021",
        ),
    ],
)
def test_bad_series_are_rejected(kwargs, error, match):
    args = {"values": np.arange(3.0), "name": "s", "source": "test", "licence": "CC0", **kwargs}
    with pytest.raises(error, match=match):
        Series(**args)


def test_repr_shows_the_time_span_and_a_shortened_licence():
    times = np.array(["1949-01", "1949-02", "1949-03"], dtype="datetime64[M]")
    s = Series(np.arange(3.0), name="air", source="s", licence="L" * 50, times=times)
    assert repr(s) == (
        f"Series(name='air', length=3, n_features=1, times=1949-01..1949-03, "
        f"licence={'L' * 40!r}...)"
    )
