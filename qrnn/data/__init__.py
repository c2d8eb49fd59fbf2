"""Time series for qrnn: built-in and user series, chronological splits, scaling, windows.

>>> from qrnn.data import load, prepare
>>> data = prepare(load("damped_oscillator"), window=4)
>>> data.train.inputs.shape[1:], data.train.targets.shape[1:]
(torch.Size([4, 1]), torch.Size([1]))
"""

from __future__ import annotations

from qrnn.data._csv import CSVFormatError, load_csv
from qrnn.data._registry import UnknownSeriesError, load, names
from qrnn.data._scaling import NotFittedError, Scaler
from qrnn.data._series import Series
from qrnn.data._windows import Split, WindowedData, prepare

__all__ = [
    "CSVFormatError",
    "NotFittedError",
    "Scaler",
    "Series",
    "Split",
    "UnknownSeriesError",
    "WindowedData",
    "load",
    "load_csv",
    "names",
    "prepare",
]
