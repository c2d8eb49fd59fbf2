"""Fusion across commuting gates: a gate may join a block before later stages that it commutes
with (both diagonal in one Pauli basis per wire, agreeing on shared wires), so an ion-trap
ring's RXX couplings fill the blocks of their neighbours. States and expectation values
against ``qiskit.quantum_info``, gradients with ``torch.autograd.gradcheck``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import QuantumCircuit
from sim_references import (
    assert_close,
    random_parameterized_circuit,
    random_pauli_labels,
    random_values,
    reference_expvals,
    reference_states,
)

from circuits import ansatz, encoding
from qrnn import sim
from qrnn.sim import _schedule
from qrnn.sim._schedule import BlockKernel


def block_count(program):
    return sum(isinstance(k, BlockKernel) for k in program.plan("expval").schedule.kernels)


def encoded_ring(n_qubits):
    circuit, inputs = encoding.angle_encoding(n_qubits)
    body, weights = ansatz.ion_native(n_qubits, reps=2, connectivity="ring")
    circuit.compose(body, inplace=True)
    return circuit, inputs, weights


def test_a_ring_of_couplings_fills_its_neighbours_blocks(monkeypatch):
    n_qubits = 6
    circuit, inputs, weights = encoded_ring(n_qubits)
    observables = ["I" * (n_qubits - 1 - q) + "Z" + "I" * q for q in range(n_qubits)]
    program = sim.compile(circuit, observables, weight_params=weights, input_params=inputs)
    weight_values = random_values(len(weights), 1, 3)[0]
    input_values = random_values(len(inputs), 3, 4)
    full = torch.cat([weight_values.expand(3, -1), input_values], 1)
    order = [[*weights, *inputs].index(p) for p in circuit.parameters]
    assert_close(
        program.bind(weight_values).expval(input_values),
        reference_expvals(circuit, full[:, order], observables),
    )

    def loss(weight_values, input_values):
        return program.bind(weight_values).expval(input_values).square().sum()

    arguments = (weight_values.requires_grad_(), input_values.requires_grad_())
    assert torch.autograd.gradcheck(loss, arguments, eps=1e-6, atol=1e-6)
    # on 10 qubits: in circuit order only (no commutation), the ring needs more blocks
    circuit, inputs, weights = encoded_ring(10)
    observables = ["I" * (9 - q) + "Z" + "I" * q for q in range(10)]
    program = sim.compile(circuit, observables, weight_params=weights, input_params=inputs)
    blocks = block_count(program)  # (plans are compiled when first asked for)
    monkeypatch.setattr(_schedule, "_axes_reader", lambda table: None)
    in_order = sim.compile(circuit, observables, weight_params=weights, input_params=inputs)
    assert blocks < block_count(in_order)


@pytest.mark.parametrize("seed", range(4))
def test_commuting_and_non_commuting_gates_interleaved(seed):
    """RXX / RYY / RZZ / RZX / CZ / RZ on random pairs with random one-wire and Clifford gates
    in between: only gates that commute may move."""
    rng = np.random.default_rng(seed)
    n_qubits = 4
    circuit, theta = random_parameterized_circuit(n_qubits, 6, 500 + seed)
    tail = QuantumCircuit(n_qubits)
    for _ in range(14):
        a, b = (int(q) for q in rng.choice(n_qubits, 2, replace=False))
        angle = float(rng.uniform(-2, 2)) * theta[int(rng.integers(len(theta)))]
        kind = int(rng.integers(7))
        if kind == 0:
            tail.rxx(angle, a, b)
        elif kind == 1:
            tail.ryy(angle, a, b)
        elif kind == 2:
            tail.rzz(angle, a, b)
        elif kind == 3:
            tail.rzx(angle, a, b)
        elif kind == 4:
            tail.cz(a, b)
        elif kind == 5:
            tail.rz(angle, a)
        else:
            tail.h(a)
    circuit.compose(tail, inplace=True)
    values = random_values(circuit.num_parameters, 2, seed)
    program = sim.compile(circuit, random_pauli_labels(n_qubits, 4, seed))
    assert_close(program.statevector(values), reference_states(circuit, values))
    assert_close(
        program.expval(values),
        reference_expvals(circuit, values, random_pauli_labels(n_qubits, 4, seed)),
    )
