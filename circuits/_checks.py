"""Argument validation shared by the circuit builders (private).

Every builder validates its arguments here before building anything, so a bad
value fails fast with a message that names the argument, the value and what was
expected.
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
import warnings
from collections.abc import Callable, Iterable, Sequence

from qiskit.circuit import QuantumCircuit


def positive_int(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` as an ``int`` >= ``minimum`` or raise (bools are rejected)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got the bool {value!r}")
    try:
        number = operator.index(value)  # accepts int and numpy integers, not floats
    except TypeError:
        raise TypeError(
            f"{name} must be an integer, got {value!r} of type {type(value).__name__}"
        ) from None
    if number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


def choice(name: str, value: object, allowed: Iterable[str]) -> str:
    """Return ``value`` (case-insensitive) if it is one of ``allowed``, else raise ValueError."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value.lower()


def prefix(name: str, value: object) -> str:
    """Return ``value`` if it is a valid ParameterVector name (a Python identifier)."""
    # Identifiers survive OpenQASM 3 export and read well in parameter listings.
    if not isinstance(value, str) or not value.isidentifier():
        raise ValueError(f"{name} must be a non-empty identifier such as 'x' or 'w', got {value!r}")
    return value


def distinct_prefixes(**prefixes: str) -> None:
    """Raise ValueError if two ParameterVector names coincide (their parameters would clash)."""
    seen: dict[str, str] = {}
    for arg, value in prefixes.items():
        if value in seen:
            raise ValueError(
                f"{seen[value]} and {arg} must differ (both are {value!r}); inputs and weights "
                "need distinguishable parameter names"
            )
        seen[value] = arg


def real_number(name: str, value: object) -> float:
    """Return ``value`` as a finite float or raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}")
    return number


def qubit_list(name: str, qubits: object, n_qubits: int) -> tuple[int, ...]:
    """Return ``qubits`` as a tuple of distinct indices in ``[0, n_qubits)`` or raise."""
    if isinstance(qubits, str | bytes) or not isinstance(qubits, Sequence | range):
        raise TypeError(f"{name} must be a sequence of qubit indices, got {qubits!r}")
    if len(qubits) == 0:
        raise ValueError(f"{name} must name at least one qubit, got {list(qubits)}")
    indices = tuple(positive_int(f"{name} entry", q, minimum=0) for q in qubits)
    bad = [q for q in indices if q >= n_qubits]
    if bad:
        raise ValueError(
            f"{name} entries must be qubit indices in [0, {n_qubits}), got {bad} in {list(indices)}"
        )
    if len(set(indices)) != len(indices):
        raise ValueError(f"{name} must not repeat a qubit, got {list(indices)}")
    return indices


def circuit(name: str, value: object) -> QuantumCircuit:
    """Return ``value`` if it is a QuantumCircuit, else raise TypeError."""
    if not isinstance(value, QuantumCircuit):
        raise TypeError(f"{name} must be a qiskit QuantumCircuit, got {type(value).__name__}")
    return value


def renamed_keywords(**renames: str) -> Callable[[Callable], Callable]:
    """Decorator keeping old keyword names as deprecated aliases: ``renamed_keywords(
    n_layers="reps")`` lets callers still pass ``n_layers=`` (with a ``DeprecationWarning``
    naming ``reps``); passing both is a ``TypeError``. Works on functions and ``__init__``."""

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                owner = function.__qualname__.removesuffix(".__init__")
                if function.__name__ == "__init__" and args:
                    owner = type(args[0]).__name__  # the class the caller named
                if new in kwargs:
                    raise TypeError(
                        f"{owner}() got both {new}= and its deprecated alias {old}=; pass {new}="
                    )
                warnings.warn(
                    f"{owner}(): {old}= is deprecated and will be removed; use {new}=",
                    DeprecationWarning,
                    stacklevel=2,
                )
                kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper

    return decorate
