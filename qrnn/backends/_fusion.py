"""One-qubit gate fusion for an executor that binds every gate angle per row (Aer).

Aer's statevector simulator spends most of a ten-qubit run on applying gates one by one (its own
fusion starts at 14 qubits, and fusing per binding costs more than it saves). Consecutive
one-qubit gates on one wire with at least one parameterised angle become one ``u(theta, phi,
lam)`` here: the product of the run's 2x2 matrices is formed for every row at once and written
as ZYZ angles (``fuse``), so W1's 90 gates run as 40. The product equals the run's gates up to a
global phase, which no expectation value, count or density matrix sees. Only noise-free
circuits are fused: a noise model attaches errors to gates by name.

The circuit to fuse is an expanded one (``qrnn.gradients.expand_parameters``): every
parameterised angle is its own parameter ("slot"), angles are bound as plain numbers.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from qiskit.circuit import Parameter, ParameterExpression, ParameterVector, QuantumCircuit
from qiskit.circuit.exceptions import CircuitError


class FusedCircuit(NamedTuple):
    """``circuit``: the expanded circuit with runs of one-qubit gates as ``u`` gates;
    ``runs``: per fused ``u`` (its three parameters, its gates in order as (matrix function,
    angle sources)); ``kept``: the slot parameters still in ``circuit`` with their slots."""

    circuit: QuantumCircuit
    runs: list[tuple[tuple[Parameter, Parameter, Parameter], list[tuple[object, list]]]]
    kept: list[tuple[Parameter, int]]

    def binds(self, angles: np.ndarray) -> dict[Parameter, list[float]]:
        """Aer's ``parameter_binds`` for slot ``angles`` (rows, n_slots)."""
        binds = {parameter: angles[:, slot].tolist() for parameter, slot in self.kept}
        for parameters, gates in self.runs:
            product = np.broadcast_to(np.eye(2, dtype=complex), (len(angles), 2, 2))
            for matrices, sources in gates:
                args = [
                    angles[:, s] if isinstance(s, int) else np.full(len(angles), s) for s in sources
                ]
                product = matrices(*args) @ product
            for parameter, column in zip(parameters, zyz_angles(product), strict=True):
                binds[parameter] = column.tolist()
        return binds


def zyz_angles(unitaries: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(theta, phi, lam) with ``u(theta, phi, lam)`` equal to each of ``unitaries`` (rows, 2, 2)
    up to a global phase."""
    det = unitaries[:, 0, 0] * unitaries[:, 1, 1] - unitaries[:, 0, 1] * unitaries[:, 1, 0]
    special = unitaries / np.sqrt(det)[:, None, None]  # in SU(2)
    theta = 2 * np.arctan2(np.abs(special[:, 1, 0]), np.abs(special[:, 0, 0]))
    plus, minus = np.angle(special[:, 1, 1]), np.angle(special[:, 1, 0])
    return theta, plus + minus, plus - minus


def _rx(t):
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.stack([np.stack([c, -1j * s], -1), np.stack([-1j * s, c], -1)], -2)


def _ry(t):
    c, s = np.cos(t / 2), np.sin(t / 2)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2).astype(complex)


def _rz(t):
    zero = np.zeros_like(t)
    return np.stack(
        [np.stack([np.exp(-0.5j * t), zero], -1), np.stack([zero, np.exp(0.5j * t)], -1)], -2
    )


def _p(t):
    zero, one = np.zeros_like(t), np.ones_like(t)
    return np.stack([np.stack([one, zero], -1), np.stack([zero, np.exp(1j * t)], -1)], -2)


def _u(theta, phi, lam):
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.stack(
        [
            np.stack([c + 0j, -np.exp(1j * lam) * s], -1),
            np.stack([np.exp(1j * phi) * s, np.exp(1j * (phi + lam)) * c], -1),
        ],
        -2,
    )


def _u2(phi, lam):
    return _u(np.full_like(phi, np.pi / 2), phi, lam)


def _r(theta, phi):
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.stack(
        [
            np.stack([c + 0j, -1j * np.exp(-1j * phi) * s], -1),
            np.stack([-1j * np.exp(1j * phi) * s, c + 0j], -1),
        ],
        -2,
    )


# one-qubit gates with angles -> their matrices for arrays of angles (rows,) -> (rows, 2, 2)
MATRICES = {
    "rx": _rx,
    "ry": _ry,
    "rz": _rz,
    "p": _p,
    "u1": _p,
    "u": _u,
    "u3": _u,
    "u2": _u2,
    "r": _r,
}


def fuse(expanded: QuantumCircuit) -> FusedCircuit | None:
    """``expanded`` (one parameter per slot, ``qrnn.gradients.expand_parameters``) with every
    run of two or more one-qubit gates on a wire, one of them parameterised, as one ``u`` gate;
    None when no run fuses."""
    slot_of = {p: k for k, p in enumerate(expanded.parameters)}
    fused = expanded.copy_empty_like()
    pending: dict[int, list] = {}  # wire -> its run of (instruction, fusible gate)
    runs, kept_parameters = [], set()
    names = iter(ParameterVector("fused", 3 * len(expanded.data)))

    def flush(wire):
        run = pending.pop(wire, [])
        angled = any(isinstance(s, int) for _, (_, sources) in run for s in sources)
        if len(run) < 2 or not angled:  # nothing to gain: the gates stay as they are
            for instruction, _ in run:
                keep(instruction)
            return
        parameters = (next(names), next(names), next(names))
        runs.append((parameters, [gate for _, gate in run]))
        fused.u(*parameters, wire)

    def keep(instruction):
        fused.append(instruction)
        for value in instruction.operation.params:
            if isinstance(value, ParameterExpression):
                kept_parameters.update(value.parameters)

    for instruction in expanded.data:
        wires = [expanded.find_bit(q).index for q in instruction.qubits]
        gate = _fusible(instruction.operation, slot_of) if len(wires) == 1 else None
        if gate is not None and not instruction.clbits:
            pending.setdefault(wires[0], []).append((instruction, gate))
            continue
        for wire in list(pending) if instruction.operation.name == "barrier" else wires:
            flush(wire)
        keep(instruction)
    for wire in list(pending):
        flush(wire)
    if not runs:
        return None
    kept = [(p, slot_of[p]) for p in fused.parameters if p in kept_parameters]
    return FusedCircuit(fused, runs, kept)


def _fusible(operation, slot_of):
    """(matrix function, angle sources: slot index or number) of a one-qubit gate, or None."""
    sources = []
    for value in operation.params:
        if isinstance(value, ParameterExpression):
            if value not in slot_of:  # an expression of a slot, not the slot itself
                return None
            sources.append(slot_of[value])
        elif isinstance(value, (int, float)):
            sources.append(float(value))
        else:
            return None
    if any(isinstance(s, int) for s in sources):
        function = MATRICES.get(operation.name)
        return None if function is None else (function, sources)
    try:
        matrix = np.asarray(operation.to_matrix(), dtype=complex)
    except (AttributeError, CircuitError):  # not a gate: a reset, a save, a marker
        return None
    return (lambda m=matrix: m), []  # a constant: no angles
