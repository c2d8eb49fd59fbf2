"""Shipped real series: contents, dates and provenance, checked against well-known facts."""

from __future__ import annotations

from importlib import resources

import numpy as np

from qrnn.data import load


def test_airline_is_box_jenkins_series_g():
    s = load("airline")
    assert s.name == "airline" and len(s) == 144 and s.n_features == 1
    # Box & Jenkins Series G: January 1949 starts at 112, December 1960 ends at 432 (thousands)
    assert s.values[0] == 112 and s.values[-1] == 432
    assert s.values.max() == 622 and s.times[int(s.values.argmax())] == np.datetime64("1960-07")
    np.testing.assert_array_equal(
        s.times, np.arange(np.datetime64("1949-01"), np.datetime64("1961-01"))
    )
    assert "Box" in s.source and "Series G" in s.source and "sha256" in s.source
    assert "BSD 3-Clause" in s.licence


def test_sunspots_are_the_yearly_series_1700_to_2008():
    s = load("sunspots")
    assert len(s) == 309
    np.testing.assert_array_equal(s.times, np.arange(np.datetime64("1700"), np.datetime64("2009")))
    assert s.values[0] == 5 and s.values[-1] == 2.9
    assert s.values.min() >= 0
    assert "NOAA" in s.source and s.licence.startswith("public domain")


def test_shipped_files_are_small_and_carry_source_and_licence():
    folder = resources.files("qrnn.data").joinpath("series")
    files = [f for f in folder.iterdir() if f.name.endswith(".csv")]
    assert {f.name for f in files} >= {"airline.csv", "sunspots.csv"}
    for f in files:
        text = f.read_text("utf-8")
        assert len(text.encode()) < 100_000
        header = [line for line in text.splitlines() if line.startswith("#")]
        assert any(line.startswith("# source: ") for line in header), f.name
        assert any(line.startswith("# licence: ") for line in header), f.name


def test_shipped_series_are_read_only_copies():
    a = load("airline")
    assert not a.values.flags.writeable
    assert load("airline").values is not a.values
