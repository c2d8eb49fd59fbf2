"""Reference workload W2: the quantum-memory QRNN of issue 3.

10 qubits = data register (qubits 0-3) + hidden register (qubits 4-9); batch 32, 16 steps.
Per step: RY(pi * x_t) on each data qubit, then 2 layers of (RX and RZ with trainable angles on
all 10 qubits, then trainable RXX on the ring (0,1), (1,2), ..., (9,0)); <Z> of the 4 data
qubits; reset of the data register (the hidden register keeps its state). Linear(4 -> 1) of the
last step's <Z> predicts x_17; loss MSE; a training step is forward + backward + Adam.
Shared by the speed benchmark and any device check.
"""

from __future__ import annotations

import torch
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector

from qrnn.models import QRNN

N_DATA, N_HIDDEN, REPS, BATCH, STEPS = 4, 6, 2, 32, 16


def ansatz(n_qubits: int = N_DATA + N_HIDDEN, reps: int = REPS):
    """(QuantumCircuit, weights): per layer RX(w) RZ(w) on each qubit, then RXX(w) on the ring.

    Weight ``w[(2 n + n) * layer + 2 q]`` is qubit q's RX angle, ``+ 1`` its RZ angle, and
    ``w[(2 n + n) * layer + 2 n + i]`` the RXX angle of ring pair ``(i, i + 1 mod n)``.
    """
    per_layer = 3 * n_qubits
    weights = ParameterVector("w", reps * per_layer)
    circuit = QuantumCircuit(n_qubits, name="w2_ansatz")
    for layer in range(reps):
        base = layer * per_layer
        for q in range(n_qubits):
            circuit.rx(weights[base + 2 * q], q)
            circuit.rz(weights[base + 2 * q + 1], q)
        for i in range(n_qubits):
            circuit.rxx(weights[base + 2 * n_qubits + i], i, (i + 1) % n_qubits)
    return circuit, weights


class W2Model(torch.nn.Module):
    """QRNN with the W2 ansatz and a Linear(n_data -> 1) head on the last step's <Z>.

    The series value x_t is the angle of every data qubit (``RY(pi * x_t)`` on each).
    """

    def __init__(self, n_data=N_DATA, n_hidden=N_HIDDEN, reps=REPS, dtype=torch.float32):
        super().__init__()
        circuit, _ = ansatz(n_data + n_hidden, reps)
        self.n_data = n_data
        self.qrnn = QRNN(
            n_data,
            n_data,
            batch_first=True,
            n_qubits=n_data + n_hidden,
            ansatz=circuit,
            dtype=dtype,
        )
        self.head = torch.nn.Linear(n_data, 1, dtype=dtype)

    def forward(self, sequence: torch.Tensor) -> torch.Tensor:
        """(batch, steps, 1) -> (batch, 1)."""
        output, _ = self.qrnn(sequence.expand(-1, -1, self.n_data))
        return self.head(output[:, -1])


def data(batch=BATCH, steps=STEPS, dtype=torch.float32, seed=0):
    """Sine windows: inputs (batch, steps, 1) in [-1, 1] and the next values (batch, 1)."""
    generator = torch.Generator().manual_seed(seed)
    phase = torch.rand(batch, 1, generator=generator, dtype=torch.float64)
    time = torch.arange(steps + 1, dtype=torch.float64)[None] * 0.4 + 6 * phase
    windows = torch.sin(time)
    return windows[:, :steps, None].to(dtype), windows[:, steps, None].to(dtype)
