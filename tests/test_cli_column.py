"""qrnn train --csv --column: names, indices, lists, and a header that is itself a number."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from qrnn.cli import main
from qrnn.runs import load_data, read_run_config

# 24 rows: 't' an index, 'a' and 'b' two series, '2020' a series whose header is a number.
ROWS = [(k, math.sin(k / 3), math.cos(k / 5), k % 7 - 3.0) for k in range(24)]
CSV = "t,a,b,2020\n" + "".join(f"{t},{a!r},{b!r},{c!r}\n" for t, a, b, c in ROWS)
COLUMNS = {"t": 0, "a": 1, "b": 2, "2020": 3}


def train(tmp_path, column: str, name: str) -> int:
    (tmp_path / "series.csv").write_text(CSV)
    argv = ["train", "--csv", str(tmp_path / "series.csv"), "--column", column, "--name", name]
    argv += ["--model", "lstm", "--hidden-size", "2", "--epochs", "1", "--baseline", "none"]
    return main([*argv, "--window", "2", "--output-dir", str(tmp_path / "runs"), "--quiet"])


@pytest.mark.parametrize(
    ("column", "saved", "trained_on"),
    [
        ("b", "b", ["b"]),
        ("2", 2, ["b"]),  # a bare integer is an index
        ("-1", -1, ["2020"]),
        ('"2020"', "2020", ["2020"]),  # double quotes: the column named 2020
        ("a,b", ["a", "b"], ["a", "b"]),  # a multivariate series
        ('1, "2020"', [1, "2020"], ["a", "2020"]),
        ("t", "t", ["t"]),  # an index column when asked for
    ],
)
def test_column_flag_chooses_the_series(tmp_path, column, saved, trained_on):
    assert train(tmp_path, column, "run") == 0
    config = json.loads((tmp_path / "runs" / "run" / "config.json").read_text())
    assert config["column"] == saved
    series = load_data(read_run_config(tmp_path / "runs" / "run")).series
    expected = np.array([[row[COLUMNS[c]] for c in trained_on] for row in ROWS])
    np.testing.assert_array_equal(series.values.reshape(expected.shape), expected)


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ("a,,b", "argument --column: empty column name in 'a,,b'"),
        ('"2020', """argument --column: cannot read '"2020' as columns"""),
    ],
)
def test_a_column_flag_that_cannot_be_read_is_a_usage_error(tmp_path, capsys, column, message):
    with pytest.raises(SystemExit) as exit_:
        train(tmp_path, column, "bad")
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_an_index_that_names_a_numeric_header_says_how_to_quote_it(tmp_path, capsys):
    assert train(tmp_path, "2020", "bad") == 2
    err = capsys.readouterr().err
    assert "column index 2020 out of range for 4 columns" in err
    assert """give the name as a str (qrnn train: --column '"2020"')""" in err


def test_the_default_column_is_never_the_index(tmp_path, capsys):
    (tmp_path / "typo.csv").write_text("t,value\n0,1.5\n1,2.5\n2,abc\n3,0.5\n")
    argv = ["train", "--csv", str(tmp_path / "typo.csv"), "--model", "lstm", "--quiet"]
    assert main([*argv, "--output-dir", str(tmp_path / "runs")]) == 2
    assert "typo.csv, line 4, column 'value': 'abc' is not a number" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
