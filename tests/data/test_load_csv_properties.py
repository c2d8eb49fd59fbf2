"""load_csv on arbitrary input: a Series or a CSVFormatError, never another exception.

Property-based (hypothesis), derandomized so that every run tries the same examples.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qrnn.data import CSVFormatError, Series, load_csv

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # one file, rewritten each time
)

# Cells that exercise every branch of the loader: numbers in several spellings, dates (valid,
# invalid, out of order), text, empty, non-finite, quotes, delimiters and comment marks.
CELLS = st.one_of(
    st.integers(-5, 5).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        ["", " ", "1e3", "1_0", "nan", "-inf", "abc", "t", "time", "index", "#", '"', '"a,b"']
    ),
    st.sampled_from(["2020-01", "2020-02-30", "1999-12-31T23:59", "2020-13", "٢٠٢٠", "0001"]),
    st.datetimes().map(lambda d: d.isoformat()),  # microseconds: datetime64[us]
    st.sampled_from(["1000", "3000-01-01T00:00:00.000000001", "2020-01-01 10:00:00.5"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=6),
)
LINES = st.lists(st.lists(CELLS, min_size=1, max_size=4).map(",".join), max_size=8)


def load_or_error(path, **kwargs) -> Series | None:
    try:
        series = load_csv(path, **kwargs)
    except CSVFormatError as error:
        assert str(error).startswith(str(path)), error  # the message names the file
        return None
    assert series.values.dtype == np.float64 and np.isfinite(series.values).all()
    return series


@PROPERTY
@given(content=st.binary(max_size=200))
def test_arbitrary_bytes(tmp_path, content):
    path = tmp_path / "any.csv"
    path.write_bytes(content)
    load_or_error(path)


@PROPERTY
@given(
    lines=LINES,
    comments=st.lists(st.sampled_from(["# name: x", "# source: s", "#", ""]), max_size=2),
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_arbitrary_small_csv_documents(tmp_path, lines, comments, newline):
    path = tmp_path / "doc.csv"
    path.write_bytes(newline.join([*comments, *lines]).encode())
    load_or_error(path)
    load_or_error(path, column=0)  # every header has a column 0
    load_or_error(path, date_column=0)


finite = st.floats(allow_nan=False, allow_infinity=False)


@PROPERTY
@given(
    values=st.lists(finite, min_size=2, max_size=12),  # an index needs 2 rows
    index=st.sampled_from(["t", "time", "Date", "step", "index", "n"]),
    typo_at=st.none() | st.integers(0, 11),
)
def test_a_value_column_beside_an_index_reads_back_exactly(tmp_path, values, index, typo_at):
    cells = [repr(v) for v in values]  # repr round-trips a float64 exactly
    if typo_at is not None and typo_at < len(cells):
        cells[typo_at] = "abc"
    rows = [f"{k},{cell}" for k, cell in enumerate(cells)]  # 0, 1, 2, ...: an index
    path = tmp_path / "series.csv"
    path.write_text("\n".join([f"{index},value", *rows]) + "\n")
    integers = all(v.is_integer() for v in values)
    looks_like_an_index = integers and all(b > a for a, b in itertools.pairwise(values))
    if "abc" in cells:
        match = rf"line {cells.index('abc') + 2}, column 'value': 'abc' is not a number"
        with pytest.raises(CSVFormatError, match=match):
            load_csv(path)
    elif looks_like_an_index:  # then neither column is the series
        with pytest.raises(CSVFormatError, match=r"no value column: .*'value' holds strictly"):
            load_csv(path)
    else:
        series = load_csv(path)
        assert series.values.tolist() == values
        assert all(
            math.copysign(1, a) == math.copysign(1, b)
            for a, b in zip(series.values, values, strict=True)
        )
