"""Reading a time series from a CSV file (csv module only, no pandas).

Without a ``column``, the loader picks the series itself, but never a column that looks like an
index or a time axis (named like one, strictly increasing integers, dates): training on the
time axis, quietly, is the failure this module exists to prevent. A chosen column is parsed
strictly: one bad cell is an error naming its line, column and text.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qrnn.data._series import Series

__all__ = ["CSVFormatError", "load_csv", "parse_csv_text"]

# ISO 8601 dates as numpy parses them: YYYY, YYYY-MM, YYYY-MM-DD, optional [T ]hh:mm[:ss[.f]],
# at most nanoseconds (finer numpy units span only seconds to hours around 1970).
_ISO_DATE = re.compile(
    r"^\d{4}(-\d{2}(-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?)?)?$", re.ASCII
)
# numpy's datetime64 units, coarsest first.
_UNITS = ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns")
_META = re.compile(r"^#\s*([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$")
# Header names (compared case-insensitively) that say a column is an index or a time axis; the
# list is in load_csv's docstring.
_INDEX_NAMES = frozenset(
    {"t", "time", "timestamp", "date", "datetime", "index", "idx", "id", "step", "year",
     "month", "day", "period"}
)  # fmt: skip


class CSVFormatError(ValueError):
    """A CSV file that cannot be read as a time series; the message names file, line and text."""


Column = str | int


def load_csv(
    path: str | os.PathLike[str],
    column: Column | Sequence[Column] | None = None,
    date_column: Column | None = None,
    *,
    delimiter: str = ",",
) -> Series:
    """Read a time series from a CSV file with a header row.

    Args:
        path: the file. Lines starting with ``#`` are comments; comment lines of the form
            ``# source: ...`` and ``# licence: ...`` (or ``license``) above the header become the
            series' ``source`` and ``licence`` (else the path and ``"unspecified"``).
        column: which value column(s): a header name (``str``), a 0-based index (``int``;
            negative counts from the end), or a sequence of them for a multivariate series.
            ``None`` picks the one column, other than ``date_column``, that holds numbers and
            does not look like an index or a time axis: named like one (``t``, ``time``,
            ``timestamp``, ``date``, ``datetime``, ``index``, ``idx``, ``id``, ``step``,
            ``year``, ``month``, ``day``, ``period``, in any case), or holding strictly
            increasing integers or ISO dates. Such a column is used only when named here. No
            such column, or several, is an error that lists the columns and says why each was
            passed over.
        date_column: a header name or index of ISO 8601 dates (``1949-01``, ``2001-12-29``,
            ``2001-12-29T10:00``), parsed to ``datetime64``; they must be strictly increasing.
        delimiter: the field separator.

    Returns:
        ``Series`` with ``values`` ``(time,)`` for one column or ``(time, k)`` for a sequence of
        ``k`` columns (float64), ``times`` ``(time,)`` ``datetime64`` or ``None``, and ``name``
        the file's stem (or a ``# name:`` comment).

    Raises:
        FileNotFoundError: no such file.
        CSVFormatError (a ValueError): a file that is not UTF-8 text (binary), empty, no data
            rows, a missing, non-numeric or non-finite value, a bad date, a wrong number of
            fields, no value column or several to choose from (``column=None``); the message
            names the file, and the line number, column and offending text where there is one.
        KeyError: an unknown column name; IndexError: a column index out of range.
    """
    p = Path(path)
    if not p.is_file():
        if p.exists():
            raise CSVFormatError(f"{str(p)!r} is not a file")
        raise FileNotFoundError(f"no such CSV file: {str(p)!r}")
    return parse_csv_text(
        _read_text(p),
        origin=str(p),
        default_name=p.stem,
        column=column,
        date_column=date_column,
        delimiter=delimiter,
    )


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CSVFormatError(f"{path}: cannot read the file: {error.strerror or error}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CSVFormatError(f"{path}: the file is UTF-16 text; save it as UTF-8")
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise CSVFormatError(f"{path}, line {line}: a NUL byte; this is not a text CSV file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise CSVFormatError(
            f"{path}, line {line}: byte 0x{raw[error.start]:02x} is not UTF-8 text; "
            f"save the file as UTF-8 (not a binary file or another encoding)"
        ) from None


def parse_csv_text(
    text: str,
    *,
    origin: str,
    default_name: str,
    column: Column | Sequence[Column] | None = None,
    date_column: Column | None = None,
    delimiter: str = ",",
) -> Series:
    """Parse CSV ``text`` as :func:`load_csv` does; ``origin`` names the text in messages."""
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ValueError(f"delimiter must be a single character, got {delimiter!r}")
    meta: dict[str, str] = {}
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, list[str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            m = _META.match(line.strip())
            if header is None and m:
                meta.setdefault(m.group(1).lower(), m.group(2))
            continue
        if header is None:
            if not line.strip():
                continue  # blank lines before the header carry nothing
            header = [h.strip() for h in _split(line, delimiter, origin, lineno)]
            header_line = lineno
            continue
        rows.append((lineno, _split(line, delimiter, origin, lineno)))
    while rows and not "".join(rows[-1][1]).strip():
        rows.pop()  # trailing blank lines

    if header is None:
        raise CSVFormatError(f"{origin}: the file is empty (no header row, no data)")
    _check_header(header, origin, header_line)
    if not rows:
        raise CSVFormatError(
            f"{origin}: header on line {header_line} ({delimiter.join(header)!r}) but no data rows"
        )
    for lineno, row in rows:
        if len(row) != len(header) and not (len(header) == 1 and row == []):
            raise CSVFormatError(
                f"{origin}, line {lineno}: expected {len(header)} fields "
                f"({', '.join(header)}), found {len(row)}: {delimiter.join(row)!r}"
            )
    cells = [[c.strip() for c in row] if row else [""] for _, row in rows]
    linenos = [lineno for lineno, _ in rows]

    date_index = None if date_column is None else _resolve(date_column, header, origin)
    if column is None:
        value_indices = [_default_column(header, cells, linenos, date_index, origin)]
        single = True
    elif isinstance(column, (str, int)) and not isinstance(column, bool):
        value_indices = [_resolve(column, header, origin)]
        single = True
    elif isinstance(column, Sequence) and len(column) > 0:
        value_indices = [_resolve(c, header, origin) for c in column]
        single = False
        if len(set(value_indices)) != len(value_indices):
            raise ValueError(f"{origin}: column {list(column)!r} names a column twice")
    else:
        raise TypeError(
            f"column must be a name, an index, a non-empty sequence of them, or None; "
            f"got {column!r}"
        )
    if date_index is not None and date_index in value_indices:
        raise ValueError(
            f"{origin}: column {header[date_index]!r} cannot be both a value column and the "
            f"date_column"
        )

    values = np.empty((len(cells), len(value_indices)), dtype=np.float64)
    for j, ci in enumerate(value_indices):
        for i, row in enumerate(cells):
            values[i, j] = _parse_number(row[ci], origin, linenos[i], header[ci])
    times = None
    if date_index is not None:
        times = _parse_dates(
            [row[date_index] for row in cells], linenos, origin, header, date_index
        )

    return Series(
        values=values[:, 0] if single else values,
        name=meta.get("name", default_name),
        source=meta.get("source", origin),
        licence=meta.get("licence", meta.get("license", "unspecified")),
        times=times,
    )


def _split(line: str, delimiter: str, origin: str, lineno: int) -> list[str]:
    # One physical line = one record; quoted fields may contain the delimiter but not newlines.
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error as error:
        raise CSVFormatError(f"{origin}, line {lineno}: {error}") from None


def _check_header(header: list[str], origin: str, lineno: int) -> None:
    if any(not h for h in header):
        raise CSVFormatError(f"{origin}, line {lineno}: header has an empty column name: {header}")
    if all(_is_number(h) for h in header):
        raise CSVFormatError(
            f"{origin}, line {lineno}: expected a header row of column names, got data "
            f"{header}; add a header line such as 'value'"
        )
    seen: set[str] = set()
    for h in header:
        if h in seen:
            raise CSVFormatError(f"{origin}, line {lineno}: duplicate column name {h!r}")
        seen.add(h)


def _resolve(column: Column, header: list[str], origin: str) -> int:
    if isinstance(column, bool) or not isinstance(column, (str, int)):
        raise TypeError(f"a column is a header name (str) or 0-based index (int), got {column!r}")
    if isinstance(column, str):
        if column not in header:
            hint = f" (an index is an int: column={column.strip()})" if _is_int(column) else ""
            raise KeyError(f"{origin}: no column {column!r}; columns are {header}{hint}")
        return header.index(column)
    if not -len(header) <= column < len(header):
        hint = ""
        if str(column) in header:  # a header that is itself a number
            hint = (
                f"; to choose the column named {str(column)!r}, give the name as a str "
                f"(qrnn train: --column '\"{column}\"')"
            )
        raise IndexError(
            f"{origin}: column index {column} out of range for {len(header)} columns {header}{hint}"
        )
    return column % len(header)


def _default_column(
    header: list[str],
    cells: list[list[str]],
    linenos: list[int],
    date_index: int | None,
    origin: str,
) -> int:
    others = [i for i in range(len(header)) if i != date_index]
    if not others:
        raise CSVFormatError(f"{origin}: no value column besides the date column {header}")
    columns = {i: [row[i] for row in cells] for i in others}
    index_like = {i: why for i in others if (why := _looks_like_an_index(header[i], columns[i]))}
    textual = [i for i in others if i not in index_like and not any(map(_is_number, columns[i]))]
    chosen = [i for i in others if i not in index_like and i not in textual]
    if len(chosen) == 1:
        return chosen[0]
    if chosen:
        raise CSVFormatError(
            f"{origin}: several value columns {[header[i] for i in chosen]}; choose one with "
            f"column=<name or 0-based index> (qrnn train: --column NAME or --column INDEX), or "
            f"a list of them (--column a,b) for a multivariate series"
        )
    no_numbers = f"holds no numbers (line {linenos[0]}: {{!r}})"
    reasons = [
        f"{header[i]!r} {index_like.get(i) or no_numbers.format(columns[i][0])}" for i in others
    ]
    hint = ""
    if index_like:
        hint = (
            "; an index or time column is the series only when asked for: "
            "column=<name or 0-based index> (qrnn train: --column NAME)"
        )
    raise CSVFormatError(f"{origin}: no value column: {'; '.join(reasons)}{hint}")


def _looks_like_an_index(name: str, texts: list[str]) -> str | None:
    """Why a column looks like an index or a time axis, or None when it does not."""
    if name.strip().lower() in _INDEX_NAMES:
        return "is named like an index or time column"
    if all(_ISO_DATE.match(text) for text in texts) and not all(map(_is_number, texts)):
        return "holds dates"
    if len(texts) >= 2 and all(map(_is_number, texts)):
        numbers = [float(text) for text in texts]
        integers = all(math.isfinite(x) and x.is_integer() for x in numbers)
        if integers and all(b > a for a, b in itertools.pairwise(numbers)):
            return "holds strictly increasing integers, like an index"
    return None


def _is_int(text: str) -> bool:
    return re.fullmatch(r"\s*[+-]?[0-9]+\s*", text) is not None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _parse_number(text: str, origin: str, lineno: int, name: str) -> float:
    if text == "":
        raise CSVFormatError(f"{origin}, line {lineno}, column {name!r}: missing value")
    try:
        value = float(text)
    except ValueError:
        raise CSVFormatError(
            f"{origin}, line {lineno}, column {name!r}: {text!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise CSVFormatError(
            f"{origin}, line {lineno}, column {name!r}: {text!r} is not a finite number"
        )
    return value


def _parse_dates(
    texts: list[str], linenos: list[int], origin: str, header: list[str], index: int
) -> np.ndarray:
    name = header[index]
    stamps = []
    for text, lineno in zip(texts, linenos, strict=True):
        if text == "":
            raise CSVFormatError(f"{origin}, line {lineno}, column {name!r}: missing date")
        if not _ISO_DATE.match(text):
            raise CSVFormatError(
                f"{origin}, line {lineno}, column {name!r}: {text!r} is not an ISO 8601 date "
                f"(expected e.g. 1949-01, 1949-01-31 or 1949-01-31T12:00)"
            )
        try:
            stamps.append(np.datetime64(text))
        except ValueError:
            raise CSVFormatError(
                f"{origin}, line {lineno}, column {name!r}: {text!r} is not a valid date"
            ) from None
    # One unit for the column, the finest present; a date it cannot hold (1677 and 2263 are
    # out of range for nanoseconds) is an error, not a wrapped-around time.
    unit = max((np.datetime_data(stamp.dtype)[0] for stamp in stamps), key=_UNITS.index)
    times = np.empty(len(stamps), dtype=f"datetime64[{unit}]")
    for k, stamp in enumerate(stamps):
        try:
            times[k] = stamp.astype(times.dtype)
            exact = times[k].astype(stamp.dtype) == stamp
        except (OverflowError, ValueError):
            exact = False
        if not exact:
            raise CSVFormatError(
                f"{origin}, line {linenos[k]}, column {name!r}: date {texts[k]!r} is out of the "
                f"range of datetime64[{unit}], the finest resolution in the column"
            )
    for k in range(1, len(times)):
        if times[k] <= times[k - 1]:
            raise CSVFormatError(
                f"{origin}, line {linenos[k]}, column {name!r}: date {texts[k]!r} does not come "
                f"after {texts[k - 1]!r} on line {linenos[k - 1]}; dates must be strictly "
                f"increasing"
            )
    return times
