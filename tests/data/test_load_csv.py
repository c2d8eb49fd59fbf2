"""load_csv: reading a user's series, and a clear error for every kind of bad file."""

from __future__ import annotations

import numpy as np
import pytest

from qrnn.data import CSVFormatError, load_csv


def write(tmp_path, text, name="series.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_single_numeric_column_is_chosen_by_default(tmp_path):
    path = write(tmp_path, "month,passengers\n1949-01,112\n1949-02,118\n1949-03,132\n")
    s = load_csv(path)
    np.testing.assert_array_equal(s.values, [112, 118, 132])
    assert s.name == "series" and s.source == str(path) and s.licence == "unspecified"
    assert s.times is None


def test_date_column_becomes_datetime64_times(tmp_path):
    path = write(tmp_path, "month,passengers\n1949-01,112\n1949-02,118\n")
    s = load_csv(path, column="passengers", date_column="month")
    np.testing.assert_array_equal(s.times, np.array(["1949-01", "1949-02"], dtype="datetime64[M]"))
    s = load_csv(path, column=1, date_column=0)
    np.testing.assert_array_equal(s.values, [112, 118])


def test_column_by_index_name_negative_index_and_list(tmp_path):
    path = write(tmp_path, "t,a,b\n2001-01-01,1,10\n2001-01-02,2,20\n2001-01-03,3,30\n")
    np.testing.assert_array_equal(load_csv(path, column="b").values, [10, 20, 30])
    np.testing.assert_array_equal(load_csv(path, column=-1).values, [10, 20, 30])
    np.testing.assert_array_equal(load_csv(path, column=1).values, [1, 2, 3])
    multi = load_csv(path, column=["b", "a"], date_column="t")
    assert multi.values.shape == (3, 2) and multi.n_features == 2
    np.testing.assert_array_equal(multi.values[:, 0], [10, 20, 30])
    assert multi.times.dtype == np.dtype("datetime64[D]")


def test_comment_header_gives_name_source_and_licence(tmp_path):
    text = (
        "# name: flow\n# source: Gauging station 7, annual report 2020\n"
        "# license: CC-BY-4.0\n\nvalue\n1.5\n-2e3\n 7 \n\n\n"
    )
    s = load_csv(write(tmp_path, text))
    assert (s.name, s.source, s.licence) == (
        "flow",
        "Gauging station 7, annual report 2020",
        "CC-BY-4.0",
    )
    np.testing.assert_array_equal(s.values, [1.5, -2000.0, 7.0])


def test_utf8_bom_and_other_delimiters(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_bytes("\ufeffdate;level\n2020-01-01T10:00;1.5\n".encode())
    s = load_csv(path, date_column="date", delimiter=";")
    assert s.values.tolist() == [1.5]
    assert s.times[0] == np.datetime64("2020-01-01T10:00")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no such CSV file: .*nope\.csv"):
        load_csv(tmp_path / "nope.csv")
    with pytest.raises(CSVFormatError, match=r"is not a file"):
        load_csv(tmp_path)


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        ("", {}, r"the file is empty"),
        ("# only a comment\n\n", {}, r"the file is empty"),
        ("value\n", {}, r"header on line 1 \('value'\) but no data rows"),
        ("value\n1\nabc\n3\n", {}, r"line 3, column 'value': 'abc' is not a number"),
        ("value\n1\n\n3\n", {}, r"line 3, column 'value': missing value"),
        ("a,b\n1,2\n3,\n", {"column": "b"}, r"line 3, column 'b': missing value"),
        ("value\n1\nnan\n", {}, r"line 3, column 'value': 'nan' is not a finite number"),
        ("value\n1\n-inf\n", {}, r"line 3, column 'value': '-inf' is not a finite number"),
        ("a,b\n1,2\n3\n", {"column": "a"}, r"line 3: expected 2 fields \(a, b\), found 1"),
        ("1\n2\n3\n", {}, r"line 1: expected a header row"),
        ("a,a\n1,2\n", {"column": 0}, r"duplicate column name 'a'"),
        ("a,\n1,2\n", {"column": 0}, r"empty column name"),
        (
            "d,e\nx,y\n",
            {},
            r"no column is entirely numeric: 'd' \(line 2: 'x'\); 'e' \(line 2: 'y'\)",
        ),
        (
            "d,v\n2020-13,1\n",
            {"date_column": "d"},
            r"line 2, column 'd': '2020-13' is not a valid date",
        ),
        ("d,v\n01/02/2020,1\n", {"date_column": "d"}, r"'01/02/2020' is not an ISO 8601 date"),
        ("d,v\n,1\n", {"date_column": "d"}, r"line 2, column 'd': missing date"),
        (
            "d,v\n2020-01,1\n2020-03,2\n2020-02,3\n",
            {"date_column": "d"},
            r"line 4, column 'd': date '2020-02' does not come after '2020-03' on line 3",
        ),
    ],
)
def test_bad_files_name_the_line_and_the_text(tmp_path, text, kwargs, match):
    path = write(tmp_path, text)
    with pytest.raises(CSVFormatError, match=match):
        load_csv(path, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"column": "c"}, KeyError, r"no column 'c'; columns are \['a', 'b'\]"),
        ({"column": 2}, IndexError, r"column index 2 out of range for 2 columns"),
        ({"column": ["a", "a"]}, ValueError, r"names a column twice"),
        ({"column": []}, TypeError, r"non-empty sequence"),
        ({"column": True}, TypeError, r"column must be"),
        ({"date_column": 1.0}, TypeError, r"header name \(str\) or 0-based index"),
        ({"delimiter": ";;"}, ValueError, r"single character"),
        ({}, ValueError, r"several numeric columns \['a', 'b'\]; choose one with column="),
        ({"column": "a", "date_column": 0}, ValueError, r"cannot be both a value column"),
    ],
)
def test_bad_column_arguments(tmp_path, kwargs, error, match):
    path = write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(error, match=match):
        load_csv(path, **kwargs)


def test_csv_format_error_is_a_value_error():
    assert issubclass(CSVFormatError, ValueError)
