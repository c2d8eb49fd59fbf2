"""Circuit templates for quantum recurrent networks (no execution).

Every builder returns Qiskit objects: a ``QuantumCircuit`` with named
``Parameter``s and the ``ParameterVector``s of its inputs (default name ``x``)
and trainable weights (default name ``w``). Qubit order is Qiskit's
little-endian one: Pauli label ``"IIZ"`` is Z on qubit 0. Circuit depth is
``reps`` (repetitions of a layer), as in Qiskit's circuit library.

Modules:
    encoding  angle encoding, data re-uploading
    ansatz    hardware-efficient, ion-native (R + RXX), brickwork; ``get(name)``
    cells     per-time-step circuits of QLSTM/QGRU, QRNN and reservoir models, and
              ``unroll``: a quantum-memory cell's steps as one circuit with resets
    interop   PennyLane translation, OpenQASM 3 (and 2) and QPY files

This package never imports ``qrnn``.
"""

from __future__ import annotations

from circuits import ansatz, cells, encoding, interop
from circuits.ansatz import brickwork, hardware_efficient, ion_native
from circuits.cells import Cell, qlstm_gate, qrnn_step, reservoir, unroll
from circuits.encoding import angle_encoding, reuploading
from circuits.interop import (
    PennyLaneCircuit,
    QASMError,
    from_pennylane,
    from_qasm2,
    from_qasm3,
    load_qpy,
    pauli_observable,
    save_qpy,
    to_pennylane,
    to_qasm3,
)

__all__ = [
    "Cell",
    "PennyLaneCircuit",
    "QASMError",
    "angle_encoding",
    "ansatz",
    "brickwork",
    "cells",
    "encoding",
    "from_pennylane",
    "from_qasm2",
    "from_qasm3",
    "hardware_efficient",
    "interop",
    "ion_native",
    "load_qpy",
    "pauli_observable",
    "qlstm_gate",
    "qrnn_step",
    "reservoir",
    "reuploading",
    "save_qpy",
    "to_pennylane",
    "to_qasm3",
    "unroll",
]
