"""Reference workload W1: a 10-qubit recurrent circuit cell trained on sequences.

At each of 16 time steps v = [x_t, h] (1 + 4 values) -> Linear(5, 10) -> 10 angles; the
circuit is RY(angle_i) on qubit i, then 2 layers of (RX, RY, RZ with trainable weights on
every qubit, then CNOT(i, i+1 mod 10)); <Z_i> of all qubits; h = tanh(Linear(10, 4)(z));
after the last step Linear(4, 1) predicts x_17. Loss MSE; a step is forward + backward +
Adam update. Shared by the speed benchmark and the GPU check.
"""

from __future__ import annotations

import torch

from circuits import ansatz, encoding

N_QUBITS, HIDDEN, REPS, BATCH, STEPS = 10, 4, 2, 32, 16


def circuit(n_qubits=N_QUBITS, reps=REPS):
    """(QuantumCircuit, angles ParameterVector, weights ParameterVector) of the W1 cell, from
    the circuit library: RY(angle_q) on qubit q, then the hardware-efficient ansatz."""
    qc, angles = encoding.angle_encoding(n_qubits)
    body, weights = ansatz.hardware_efficient(n_qubits, reps=reps)
    qc.compose(body, inplace=True)
    return qc, angles, weights


def observables(n_qubits=N_QUBITS):
    return ["I" * (n_qubits - 1 - q) + "Z" + "I" * q for q in range(n_qubits)]


class W1Model(torch.nn.Module):
    """The classical shell of W1 around a quantum cell ``quantum(angles (B, 10)) -> (B, 10)``.

    ``prepare()`` is called once per forward and returns the per-step cell, so an engine can
    hoist weight-only work out of the time loop.
    """

    def __init__(self, cell: torch.nn.Module):
        super().__init__()
        self.cell = cell
        self.encode = torch.nn.Linear(1 + HIDDEN, N_QUBITS)
        self.hidden = torch.nn.Linear(N_QUBITS, HIDDEN)
        self.head = torch.nn.Linear(HIDDEN, 1)

    def forward(self, sequence):  # (batch, steps, 1) -> (batch, 1)
        step = self.cell.prepare()
        h = sequence.new_zeros(sequence.shape[0], HIDDEN)
        for t in range(sequence.shape[1]):
            z = step(self.encode(torch.cat([sequence[:, t], h], dim=1)))
            h = torch.tanh(self.hidden(z))
        return self.head(h)


def data(dtype=torch.float64, device="cpu", seed=0):
    generator = torch.Generator().manual_seed(seed)
    phase = torch.rand(BATCH, 1, generator=generator, dtype=torch.float64)
    time = torch.arange(STEPS + 1, dtype=torch.float64)[None] * 0.4 + 6 * phase
    windows = torch.sin(time)
    inputs = windows[:, :STEPS, None].to(device=device, dtype=dtype)
    targets = windows[:, STEPS, None].to(device=device, dtype=dtype)
    return inputs, targets
