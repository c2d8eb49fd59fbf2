"""Device files: the TOML presets shipped in ``presets/`` and users' own files.

A device file has the top-level strings ``name``, ``description``, ``license`` and
(optional) ``retrieved``, and one table per figure::

    [gate_error_2q]
    value = 0.0133           # required
    kind = "depolarizing"    # error figures only, see below
    source = "IonQ docs ..." # required: where the figure comes from
    published = true         # optional (default true); false: a chosen stand-in
    note = "..."             # optional

Figures (times in seconds; ``inf`` is valid TOML): ``max_qubits``, ``gate_set``,
``gate_error_1q``, ``gate_error_2q``, ``readout_p1_given_0``, ``readout_p0_given_1``,
``t1``, ``t2``, ``duration_1q``, ``duration_2q``, ``duration_measure``,
``duration_reset``, ``mid_circuit_measurement``, ``mid_circuit_reset``,
``parallel_gates``, ``min_shots``, ``max_shots``.

Gate errors are stored as published and converted to the depolarizing parameter λ
of :class:`IonTrapDevice`: ``kind = "depolarizing"`` is λ itself (IonQ's cloud noise
model), ``"infidelity"`` an average gate infidelity r (Quantinuum's randomized
benchmarking), converted by ``λ = r d/(d-1)`` (d = 2 or 4), and ``"fidelity"`` an
average gate fidelity F, with r = 1 - F (AQT). Readout figures have ``kind =
"probability"`` (the flip probability) or ``"fidelity"`` (1 - flip probability).
"""

from __future__ import annotations

import functools
import math
import tomllib
from pathlib import Path

from qrnn.devices._device import IonTrapDevice

__all__ = ["DeviceFileError", "UnknownDeviceError", "get", "load", "names"]

_PRESETS = Path(__file__).parent / "presets"
_DEFAULT_QUBITS = 10

_TOP_LEVEL = {"name": True, "description": True, "license": True, "retrieved": False}
# figure -> (value type, kinds allowed (None: no kind))
_FIGURES: dict[str, tuple[type | tuple[type, ...], tuple[str, ...] | None]] = {
    "max_qubits": (int, None),
    "gate_set": (str, None),
    "gate_error_1q": ((int, float), ("depolarizing", "infidelity", "fidelity")),
    "gate_error_2q": ((int, float), ("depolarizing", "infidelity", "fidelity")),
    "readout_p1_given_0": ((int, float), ("probability", "fidelity")),
    "readout_p0_given_1": ((int, float), ("probability", "fidelity")),
    "t1": ((int, float), None),
    "t2": ((int, float), None),
    "duration_1q": ((int, float), None),
    "duration_2q": ((int, float), None),
    "duration_measure": ((int, float), None),
    "duration_reset": ((int, float), None),
    "mid_circuit_measurement": (bool, None),
    "mid_circuit_reset": (bool, None),
    "parallel_gates": (bool, None),
    "min_shots": (int, None),
    "max_shots": (int, None),
}
_FIGURE_KEYS = {"value", "source", "kind", "published", "note"}
# figure -> IonTrapDevice field
_FIELD = {"gate_error_1q": "depolarizing_1q", "gate_error_2q": "depolarizing_2q"}


class DeviceFileError(ValueError):
    """A device file is missing, unreadable or malformed; the message names the field."""


class UnknownDeviceError(KeyError):
    """A device name that is neither a preset nor an existing device file."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0])


def names() -> list[str]:
    """Names of the shipped presets, sorted (``iontrap-10q`` is the default device)."""
    return sorted(path.stem for path in _PRESETS.glob("*.toml"))


def get(
    device: str | Path | IonTrapDevice = "iontrap-10q", n_qubits: int | None = None
) -> IonTrapDevice:
    """A device by preset name, device-file path, or an existing ``IonTrapDevice``.

    Args:
        device: a name from :func:`names`, a path to a device file, or a device.
        n_qubits: qubits to use, 1 to the machine's size. ``None``: 10 (or the
            machine's size if smaller) for a name or path; a device keeps its own.

    Raises:
        UnknownDeviceError: an unknown name (the message lists the presets).
        DeviceFileError: a malformed device file.
        ValueError: ``n_qubits`` larger than the machine.
    """
    if isinstance(device, IonTrapDevice):
        return device if n_qubits is None else device.with_qubits(n_qubits)
    if not isinstance(device, str | Path):
        raise TypeError(f"device must be a preset name, a path or an IonTrapDevice, got {device!r}")
    if isinstance(device, str) and device in names():
        loaded = _preset(device)
    elif Path(device).suffix == ".toml" or Path(device).is_file():
        loaded = load(device)
    else:
        raise UnknownDeviceError(
            f"unknown device {str(device)!r}; known devices: {', '.join(names())} "
            f"(or the path of a .toml device file)"
        )
    if n_qubits is None:
        n_qubits = min(_DEFAULT_QUBITS, loaded.max_qubits)
    return loaded.with_qubits(n_qubits)


@functools.cache
def _preset(name: str) -> IonTrapDevice:
    return load(_PRESETS / f"{name}.toml")


def load(path: str | Path) -> IonTrapDevice:
    """Read a device file (format in this module's docstring).

    Returns:
        The device with ``n_qubits = min(10, max_qubits)``.

    Raises:
        DeviceFileError: unreadable file, invalid TOML, or a missing, unknown or
            invalid field (the message names it).
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise DeviceFileError(f"cannot read device file {str(path)!r}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DeviceFileError(f"device file {str(path)!r} is not valid TOML: {exc}") from exc

    def fail(field: str, message: str) -> DeviceFileError:
        return DeviceFileError(f"device file {str(path)!r}, field {field!r}: {message}")

    unknown = sorted(set(data) - set(_TOP_LEVEL) - set(_FIGURES))
    if unknown:
        raise fail(unknown[0], f"unknown field; expected {sorted(_TOP_LEVEL) + sorted(_FIGURES)}")
    for key, required in _TOP_LEVEL.items():
        if key not in data:
            if required:
                raise fail(key, "missing (a string)")
            continue
        if not isinstance(data[key], str) or not data[key]:
            raise fail(key, f"must be a non-empty string, got {data[key]!r}")

    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    unpublished: set[str] = set()
    for figure, (kind_of_value, kinds) in _FIGURES.items():
        if figure not in data:
            raise fail(figure, "missing (a table with 'value' and 'source')")
        table = data[figure]
        if not isinstance(table, dict):
            raise fail(figure, f"must be a table with 'value' and 'source', got {table!r}")
        extra = sorted(set(table) - _FIGURE_KEYS)
        if extra:
            raise fail(f"{figure}.{extra[0]}", f"unknown key; expected {sorted(_FIGURE_KEYS)}")
        for key in ("value", "source"):
            if key not in table:
                raise fail(f"{figure}.{key}", "missing")
        value = table["value"]
        wrong_bool = isinstance(value, bool) and kind_of_value is not bool
        if wrong_bool or not isinstance(value, kind_of_value):
            raise fail(f"{figure}.value", f"expected {_type_name(kind_of_value)}, got {value!r}")
        if not isinstance(table["source"], str) or not table["source"].strip():
            raise fail(f"{figure}.source", "must be a non-empty string")
        published = table.get("published", True)
        if not isinstance(published, bool):
            raise fail(f"{figure}.published", f"must be true or false, got {published!r}")
        note = table.get("note")
        if note is not None and not isinstance(note, str):
            raise fail(f"{figure}.note", f"must be a string, got {note!r}")
        if kinds is None:
            if "kind" in table:
                raise fail(f"{figure}.kind", "this figure takes no kind")
        else:
            kind = table.get("kind")
            if kind not in kinds:
                raise fail(f"{figure}.kind", f"must be one of {list(kinds)}, got {kind!r}")
            try:
                value = _convert(figure, float(value), kind)
            except ValueError as exc:
                raise fail(f"{figure}.value", str(exc)) from None
        field = _FIELD.get(figure, figure)
        values[field] = value
        sources[field] = table["source"] + (f" ({note})" if note else "")
        if not published:
            unpublished.add(field)

    try:
        return IonTrapDevice(
            name=data["name"],
            n_qubits=min(_DEFAULT_QUBITS, values["max_qubits"]),
            description=data["description"],
            sources=sources,
            unpublished=frozenset(unpublished),
            **values,
        )
    except (TypeError, ValueError) as exc:
        raise DeviceFileError(f"device file {str(path)!r}: {exc}") from exc


def _convert(figure: str, value: float, kind: str) -> float:
    """A published error figure as the model parameter (λ or flip probability)."""
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"must be a number in [0, 1], got {value!r}")
    if figure.startswith("readout"):
        return value if kind == "probability" else 1.0 - value
    dimension = 2 if figure.endswith("1q") else 4
    if kind == "depolarizing":
        return value
    infidelity = value if kind == "infidelity" else 1.0 - value
    return infidelity * dimension / (dimension - 1)


def _type_name(kind_of_value: type | tuple[type, ...]) -> str:
    if kind_of_value is bool:
        return "true or false"
    if kind_of_value is int:
        return "an integer"
    if kind_of_value is str:
        return "a string"
    return "a number"
