"""Built-in series by name: synthetic generators and the CSV files shipped in ``series/``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib import resources
from typing import NamedTuple

from qrnn.data import _synthetic
from qrnn.data._csv import parse_csv_text
from qrnn.data._series import Series

__all__ = ["load", "names"]

_GENERATORS: dict[str, Callable[..., Series]] = {
    "sine": _synthetic.sine,
    "damped_oscillator": _synthetic.damped_oscillator,
    "bessel_j2": _synthetic.bessel_j2,
    "narma5": _synthetic.narma5,
    "narma10": _synthetic.narma10,
    "mackey_glass": _synthetic.mackey_glass,
    "lorenz63": _synthetic.lorenz63,
}


class _Shipped(NamedTuple):
    file: str
    column: str
    date_column: str


_SHIPPED: dict[str, _Shipped] = {
    # Box & Jenkins Series G, monthly, 1949-01..1960-12, thousands of passengers.
    "airline": _Shipped("airline.csv", "passengers", "month"),
    # Yearly mean sunspot numbers 1700..2008 (version 1.0 series, NOAA NGDC, public domain).
    "sunspots": _Shipped("sunspots.csv", "sunspot_number", "year"),
}


class UnknownSeriesError(KeyError):
    """``load`` was asked for a name that is not built in."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def names() -> list[str]:
    """Names accepted by :func:`load`, sorted: synthetic generators and shipped series."""
    return sorted([*_GENERATORS, *_SHIPPED])


def load(name: str, **options: object) -> Series:
    """A built-in series by name; nothing is downloaded.

    Synthetic (options keyword-only, all with defaults; every one takes ``seed``):

    ================== ===================================================================
    ``sine``            length=200, period=20.0, amplitude=1.0, phase=0.0, noise, seed
    ``damped_oscillator`` QLSTM paper pendulum: length=240, t_end=20.0, damping=0.15,
                        gravity=9.81, pendulum_length=1.0, mass=1.0, theta0=0.0, omega0=3.0,
                        observable="velocity" | "angle" | "both", substeps=10, noise, seed
    ``bessel_j2``       J_order(linspace(start=2, stop=100, length=256)), order=2.0, noise, seed
    ``narma5``          NARMA-5 driven by U[0, 0.5]: length=300, washout=200,
                        include_input=False, seed
    ``narma10``         NARMA-10, same options
    ``mackey_glass``    length=500, tau=17.0, beta=0.2, gamma=0.1, n=10.0, x0=1.2, dt=0.1,
                        sample_interval=1.0, transient=500.0, noise, seed
    ``lorenz63``        length=500, sigma=10, rho=28, beta=8/3, initial=(1, 1, 1), dt=0.01,
                        sample_interval=0.05, transient=20.0, coordinates="x", noise, seed
    ================== ===================================================================

    ``noise`` (default 0) is the standard deviation of added Gaussian observation noise; see
    each generator's docstring in ``qrnn.data._synthetic`` for formulas.

    Shipped (no options; ``times`` set; source and licence in the file header):
    ``airline`` (144 months 1949-1960, thousands of passengers) and ``sunspots`` (yearly
    1700-2008).

    Returns:
        :class:`Series` with ``values`` ``(time,)`` or ``(time, features)``.

    Raises:
        KeyError (``UnknownSeriesError``) for an unknown name, listing the known ones;
        TypeError for an option the series does not take, listing the ones it does.
    """
    if not isinstance(name, str):
        raise TypeError(f"series name must be a str, got {name!r}")
    if name in _GENERATORS:
        generator = _GENERATORS[name]
        accepted = [
            p.name
            for p in inspect.signature(generator).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise TypeError(f"load({name!r}) got unknown option(s) {unknown}; it takes {accepted}")
        return generator(**options)
    if name in _SHIPPED:
        if options:
            raise TypeError(
                f"load({name!r}) is a shipped data file and takes no options, got {sorted(options)}"
            )
        entry = _SHIPPED[name]
        text = resources.files("qrnn.data").joinpath("series", entry.file).read_text("utf-8")
        return parse_csv_text(
            text,
            origin=f"qrnn/data/series/{entry.file}",
            default_name=name,
            column=entry.column,
            date_column=entry.date_column,
        )
    raise UnknownSeriesError(f"no built-in series {name!r}; known series: {names()}")
