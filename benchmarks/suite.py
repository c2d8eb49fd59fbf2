"""The circuit shapes of the speed suite (``bench_suite.py``), and the recurrent shell that
trains each of them.

A shape is a recurrent cell circuit: ``n_inputs`` input angles (per sample and time step) and
trainable weights, read out as ``<Z_q>`` on every qubit. The shell is W1's (``w1.py``): at each
of 16 time steps v = [x_t, h] (1 + 4 values) -> Linear(5, n_inputs) -> circuit -> z;
h = tanh(Linear(n_qubits, 4)(z)); after the last step Linear(4, 1) predicts x_17. Loss MSE; a
training step is forward + backward + Adam. Only the circuit changes from row to row.

Every circuit comes from the circuit library (``circuits``), so the engine sees what a user's
model gives it; none is written for the benchmark. Shared with the tensorcircuit-ng peer
(``peer_tensorcircuit.py``), which needs only qiskit and ``circuits``.
"""

from __future__ import annotations

from dataclasses import dataclass

from qiskit.circuit import ParameterVector, QuantumCircuit

from circuits import ansatz, cells, encoding

HIDDEN, BATCH, STEPS = 4, 32, 16


@dataclass(frozen=True)
class Shape:
    """One row of the suite: a circuit with its inputs and weights, read out as ``<Z_q>``."""

    name: str
    circuit: QuantumCircuit
    inputs: ParameterVector
    weights: ParameterVector
    what: str

    @property
    def n_qubits(self) -> int:
        return self.circuit.num_qubits

    @property
    def observables(self) -> list[str]:
        n = self.n_qubits
        return ["I" * (n - 1 - q) + "Z" + "I" * q for q in range(n)]


def _encoded(n_qubits: int, body: QuantumCircuit, weights: ParameterVector):
    """``RY(x_q)`` on every qubit, then ``body``: (circuit, inputs, weights)."""
    circuit, inputs = encoding.angle_encoding(n_qubits)
    circuit.compose(body, inplace=True)
    return circuit, inputs, weights


def w1(n_qubits: int = 10) -> Shape:
    circuit = _encoded(n_qubits, *ansatz.hardware_efficient(n_qubits, reps=2))
    return Shape(f"w1-{n_qubits}", *circuit, "RY encoding, 2 x (RX RY RZ, CNOT ring) (W1)")


def ion_all(n_qubits: int = 10) -> Shape:
    circuit = _encoded(n_qubits, *ansatz.ion_native(n_qubits, reps=2, connectivity="all"))
    return Shape(f"ion-all-{n_qubits}", *circuit, "RY encoding, 2 x (R, RXX on all pairs)")


def ion_ring(n_qubits: int = 10) -> Shape:
    circuit = _encoded(n_qubits, *ansatz.ion_native(n_qubits, reps=2, connectivity="ring"))
    return Shape(f"ion-ring-{n_qubits}", *circuit, "RY encoding, 2 x (R, RXX on the ring)")


def brickwork_cz(n_qubits: int = 10) -> Shape:
    circuit = _encoded(n_qubits, *ansatz.brickwork(n_qubits, reps=2, entangler="cz"))
    return Shape(f"brick-cz-{n_qubits}", *circuit, "RY encoding, 2 x (RY, CZ brick)")


def reuploading_ion(n_qubits: int = 10, reps: int = 2) -> Shape:
    """The encoding repeated before every ion-native layer (all-to-all RXX)."""
    inputs = ParameterVector("x", n_qubits)
    per_layer = ansatz.ion_native(n_qubits, reps=1, connectivity="all")[1]
    weights = ParameterVector("w", reps * len(per_layer))
    circuit = QuantumCircuit(n_qubits, name="reuploading_ion")
    for layer in range(reps):
        for q in range(n_qubits):
            circuit.ry(inputs[q], q)
        body, layer_weights = ansatz.ion_native(n_qubits, reps=1, connectivity="all")
        offset = layer * len(layer_weights)
        binding = {w: weights[offset + k] for k, w in enumerate(layer_weights)}
        circuit.compose(body.assign_parameters(binding), inplace=True)
    return Shape(
        f"reupload-ion-{n_qubits}",
        circuit,
        inputs,
        weights,
        "2 x (RY encoding, R, RXX on all pairs): data re-uploading",
    )


def qlstm_gate(n_qubits: int = 10) -> Shape:
    """One gate circuit of the default QLSTM (``qrnn.models.QLSTM``: 10 qubits, ion-native
    all-to-all, 2 reps; H then RY(v_q))."""
    cell = cells.qlstm_gate(n_qubits=n_qubits)
    return Shape(
        f"qlstm-gate-{n_qubits}",
        cell.circuit,
        cell.inputs,
        cell.weights,
        "the default QLSTM's gate: H, RY encoding, 2 x ion-native all-to-all",
    )


# name -> builder; each row is built at the sizes listed
ROWS: list[tuple[str, object, int]] = [
    ("w1", w1, 10),
    ("ion-all", ion_all, 10),
    ("ion-ring", ion_ring, 10),
    ("brick-cz", brickwork_cz, 10),
    ("reupload-ion", reuploading_ion, 10),
    ("qlstm-gate", qlstm_gate, 10),
    ("w1", w1, 12),
    ("w1", w1, 14),
    ("ion-all", ion_all, 12),
    ("ion-all", ion_all, 14),
]


def shapes(names=None) -> list[Shape]:
    """The suite's shapes (all rows, or those whose ``name-size`` or ``name`` is in
    ``names``)."""
    chosen = []
    for name, builder, n_qubits in ROWS:
        if names is None or name in names or f"{name}-{n_qubits}" in names:
            chosen.append(builder(n_qubits))
    return chosen


def data(seed: int = 0):
    """``(inputs (BATCH, STEPS, 1), targets (BATCH, 1))`` as float64 numpy arrays: windows of
    sine waves with random phases (W1's data)."""
    import numpy as np

    generator = np.random.default_rng(seed)
    phase = generator.random((BATCH, 1))
    time = np.arange(STEPS + 1)[None] * 0.4 + 6 * phase
    windows = np.sin(time)
    return windows[:, :STEPS, None], windows[:, STEPS, None]
