"""load_csv: reading a user's series, and a clear error for every kind of bad file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qrnn.data import CSVFormatError, load_csv


def write(tmp_path, text, name="series.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_single_numeric_column_is_chosen_by_default(tmp_path):
    path = write(tmp_path, "month,passengers\n1949-01,112\n1949-02,118\n1949-03,104\n")
    s = load_csv(path)
    np.testing.assert_array_equal(s.values, [112, 118, 104])
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
            r"no value column: 'd' holds no numbers \(line 2: 'x'\); 'e' holds no numbers "
            r"\(line 2: 'y'\)$",
        ),
        (
            "d,v\n2020-13,1\n",
            {"date_column": "d"},
            r"line 2, column 'd': '2020-13' is not a valid date",
        ),
        ("d,v\n01/02/2020,1\n", {"date_column": "d"}, r"'01/02/2020' is not an ISO 8601 date"),
        ("d,v\n,1\n", {"date_column": "d"}, r"line 2, column 'd': missing date"),
        ("d\n2020-01\n", {"date_column": "d"}, r"no value column besides the date column \['d'\]"),
        (
            "d,v\n1000,5\n2020-01-01T00:00:00.000000001,2\n",
            {"date_column": "d"},
            r"line 2, column 'd': date '1000' is out of the range of datetime64\[ns\], the finest",
        ),
        (
            "d,v\n2020-01,1\n2020-03,5\n2020-02,3\n",
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
        (
            {},
            CSVFormatError,
            r"several value columns \['a', 'b'\]; choose one with column=<name or 0-based "
            r"index> \(qrnn train: --column NAME or --column INDEX\), or a list of them "
            r"\(--column a,b\)",
        ),
        ({"column": "a", "date_column": 0}, ValueError, r"cannot be both a value column"),
    ],
)
def test_bad_column_arguments(tmp_path, kwargs, error, match):
    path = write(tmp_path, "a,b\n1,2\n")
    with pytest.raises(error, match=match):
        load_csv(path, **kwargs)


def test_csv_format_error_is_a_value_error():
    assert issubclass(CSVFormatError, ValueError)


# ----------------------------------------------------------------------------- the default column


def test_a_typo_in_the_value_column_is_an_error_not_a_series_of_times(tmp_path):
    # The file the issue was found with: 't' is the only all-numeric column, yet never the series.
    path = write(tmp_path, "t,value\n0,1.5\n1,2.5\n2,abc\n3,0.5\n")
    with pytest.raises(CSVFormatError, match=r"series\.csv, line 4, column 'value': 'abc' is not"):
        load_csv(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("t,value\n0,3\n1,1\n2,2\n", [3, 1, 2]),  # named like a time axis, and 0, 1, 2
        ("value,Time\n3,0.0\n1,0.5\n2,0.25\n", [3, 1, 2]),  # the name alone, in any case
        ("STEP,loss\n5,0.3\n9,0.1\n7,0.2\n", [0.3, 0.1, 0.2]),  # even when not increasing
        ("n,value\n10,3\n20,1\n30,2\n", [3, 1, 2]),  # strictly increasing integers
        ("yr,v\n1700.0,5\n1701.0,3\n", [5, 3]),  # integers written as floats
        ("when,v\n2020-01-01,5\n2020-01-02,3\n", [5, 3]),  # dates
        ("label,when,v\nx,2020-01,5\ny,2020-02,3\n", [5, 3]),  # and text is not a series
        ("v,w\n5,1\n3,2\n", [5, 3]),  # 'w' is 1, 2: an index
        ("v,w\n5,1\n3,1\n", None),  # 'w' is not increasing: two value columns
    ],
)
def test_index_and_time_columns_are_never_chosen_by_default(tmp_path, text, expected):
    path = write(tmp_path, text)
    if expected is None:
        with pytest.raises(CSVFormatError, match=r"several value columns \['v', 'w'\]"):
            load_csv(path)
    else:
        np.testing.assert_array_equal(load_csv(path).values, expected)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("t\n0.5\n0.25\n", r"no value column: 't' is named like an index or time column; an "),
        ("value\n1\n2\n3\n", r"'value' holds strictly increasing integers, like an index; an "),
        (
            "when,v\n2020-01,1\n2020-02,2\n",
            r"no value column: 'when' holds dates; 'v' holds strictly increasing integers, like "
            r"an index; an index or time column is the series only when asked for: "
            r"column=<name or 0-based index> \(qrnn train: --column NAME\)$",
        ),
        (
            "index,name\n0,a\n1,b\n",
            r"no value column: 'index' is named like an index or time column; 'name' holds no "
            r"numbers \(line 2: 'a'\); an index or time column",
        ),
    ],
)
def test_without_a_value_column_the_error_says_why_each_column_was_passed_over(
    tmp_path, text, match
):
    with pytest.raises(CSVFormatError, match=match):
        load_csv(write(tmp_path, text))


def test_an_index_column_is_the_series_when_asked_for(tmp_path):
    path = write(tmp_path, "t,value\n0,3\n1,1\n2,2\n")
    np.testing.assert_array_equal(load_csv(path, column="t").values, [0, 1, 2])
    np.testing.assert_array_equal(load_csv(path, column=0).values, [0, 1, 2])
    np.testing.assert_array_equal(load_csv(path, column=["value", "t"]).values[:, 1], [0, 1, 2])


def test_a_header_that_is_a_number_is_chosen_by_a_str(tmp_path):
    path = write(tmp_path, "year,2020\n1,5\n2,3\n")
    np.testing.assert_array_equal(load_csv(path, column="2020").values, [5, 3])
    np.testing.assert_array_equal(load_csv(path, column=1).values, [5, 3])
    with pytest.raises(
        IndexError,
        match=r"""named '2020', give the name as a str \(qrnn train: --column '"2020"'\)""",
    ):
        load_csv(path, column=2020)
    with pytest.raises(KeyError, match=r"no column '1'; .* \(an index is an int: column=1\)"):
        load_csv(write(tmp_path, "a,b\n1,2\n"), column="1")


# ----------------------------------------------------------------------------- not text at all


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            r"data\.csv, line 3: a NUL byte; this is not a text",
        ),
        (
            "value\n1\ncaf\xe9\n".encode("latin-1"),
            r"data\.csv, line 3: byte 0xe9 is not UTF-8 text; save the file as UTF-8",
        ),
        ("value\n1\n".encode("utf-16"), r"data\.csv: the file is UTF-16 text; save it as UTF-8"),
        (b"value\n" + b'"' + b"9" * 200_000 + b'"\n', r"data\.csv, line 2: field larger than"),
    ],
)
def test_a_file_that_is_not_utf8_text_is_a_one_line_error_naming_it(tmp_path, content, match):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(CSVFormatError, match=match) as error:
        load_csv(path)
    assert "\n" not in str(error.value)


def test_an_unreadable_file_is_an_error_naming_it(tmp_path, monkeypatch):
    path = write(tmp_path, "value\n1\n")

    def refuse(self):  # what reading a file without read permission does (root reads any)
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(
        CSVFormatError, match=r"series\.csv: cannot read the file: Permission denied$"
    ):
        load_csv(path)


def test_column_edges_a_list_of_one_and_the_first_column_from_the_end(tmp_path):
    path = write(tmp_path, "a,b\n1,10\n2,20\n")
    one = load_csv(path, column=["b"])  # a list is multivariate, even of one column
    assert one.values.shape == (2, 1) and one.n_features == 1
    np.testing.assert_array_equal(load_csv(path, column=-2).values, [1, 2])
    with pytest.raises(IndexError, match=r"column index -3 out of range for 2 columns"):
        load_csv(path, column=-3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"column": "c"},
        {"column": 5},
        {"column": ["a", "c"]},
        {"date_column": "c"},
        {"column": "a", "date_column": "b"},  # b holds numbers, not dates
    ],
)
def test_errors_about_columns_name_the_file(tmp_path, kwargs):
    path = write(tmp_path, "a,b\n1,2\n3,4\n")
    with pytest.raises((KeyError, IndexError, ValueError)) as info:
        load_csv(path, **kwargs)
    assert str(path) in str(info.value)
