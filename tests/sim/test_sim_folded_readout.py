"""Readouts in the chain: bit-flip (X- and Y-type) terms, and trailing constant one-wire gates
folded into the observables.

A statevector readout whose Pauli terms flip bits is read inside the chain as products of the
state's two halves (``_chain.FlipReadout``); constant one-wire gates at the end of a circuit
(basis changes, a measurement basis) fold into such terms when that is cheaper than running
them (``_schedule.fold_one_wire_suffix``). Values are checked against
``qiskit.quantum_info``, gradients (weights and inputs) with ``torch.autograd.gradcheck``, and
the schedules are inspected so that the folding cannot silently vanish.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from sim_references import (
    FIXED_1Q,
    assert_close,
    random_parameterized_circuit,
    random_pauli_labels,
    random_sparse_pauli_op,
    random_values,
    reference_expvals,
)

from qrnn import sim
from qrnn.sim import _schedule
from qrnn.sim._lowering import U1Q
from qrnn.sim._schedule import BlockKernel


def z_labels(n_qubits):
    return ["I" * (n_qubits - 1 - q) + "Z" + "I" * q for q in range(n_qubits)]


def scheduled_one_wire_gates(program):
    schedule = program.plan("expval").schedule
    kernels = [k for k in schedule.kernels if isinstance(k, BlockKernel)]
    in_blocks = sum(isinstance(op, U1Q) for kernel in kernels for op in kernel.ops)
    return in_blocks + sum(len(gates) for gates in schedule.prefix.values())


def with_tail(circuit, seed, wires):
    """``circuit``, a CNOT ring, then random constant one-wire gates on ``wires`` (after the
    ring they would be blocks of their own)."""
    rng = np.random.default_rng(seed)
    out = circuit.copy()
    n = out.num_qubits
    for q in range(n):
        out.cx(q, (q + 1) % n)
    for wire in wires:
        for _ in range(2):
            getattr(out, FIXED_1Q[int(rng.integers(len(FIXED_1Q)))])(wire)
        out.h(wire)
    return out


def check_against_reference(circuit, observables, weights, batch, seed, gradcheck=True):
    """The program with ``weights`` bound equals the reference on random inputs; with
    ``gradcheck``, its gradients for the weights and the inputs are checked as well."""
    inputs = [p for p in circuit.parameters if p not in set(weights)]
    program = sim.compile(circuit, observables, weight_params=weights)
    weight_values = random_values(len(weights), 1, seed)[0]
    input_values = random_values(len(inputs), batch, seed + 1)
    full = torch.cat([weight_values.expand(batch, -1), input_values], 1)
    order = [[*weights, *inputs].index(p) for p in circuit.parameters]
    assert_close(
        program.bind(weight_values).expval(input_values),
        reference_expvals(circuit, full[:, order], observables),
    )
    if gradcheck:

        def loss(weight_values, input_values):
            return program.bind(weight_values).expval(input_values).square().sum()

        arguments = (weight_values.requires_grad_(), input_values.requires_grad_())
        assert torch.autograd.gradcheck(loss, arguments, eps=1e-6, atol=1e-6)
    return program


@pytest.mark.parametrize("seed", range(6))
def test_bit_flip_observables_in_the_chain_against_qiskit(seed):
    """X-, Y- and Z-type Pauli strings and sums of them, after random gates of every kind."""
    n_qubits = 2 + seed % 4
    circuit, theta = random_parameterized_circuit(n_qubits, 10, 300 + seed)
    observables = [
        *random_pauli_labels(n_qubits, 3, seed),
        random_sparse_pauli_op(n_qubits, 3, seed),
    ]
    program = check_against_reference(circuit, observables, list(theta[:2]), 3, seed)
    assert program.plan("expval").readout.in_chain


@pytest.mark.parametrize("seed", range(6))
def test_trailing_constant_gates_fold_into_the_observables(seed, monkeypatch):
    """A random circuit, then constant one-wire gates (each ending in H) on one observed
    wire and on one wire without observables: both fold, the readout has flip terms."""
    n_qubits = 3 + seed % 3
    circuit, theta = random_parameterized_circuit(n_qubits, 8, 400 + seed)
    observables = [z_labels(n_qubits)[0], "I" * (n_qubits - 2) + "ZZ"]  # wires 0 and 1
    tailed = with_tail(circuit, seed, [0, n_qubits - 1])
    program = check_against_reference(tailed, observables, list(theta[:2]), 3, seed)
    readout = program.plan("expval").readout
    assert readout.flips
    # the six gates of the tail are not scheduled: a readout without flip terms runs them
    monkeypatch.setattr(_schedule, "_FLIP_COST", 1e9)
    unfolded = sim.compile(tailed, observables, weight_params=theta[:2])
    assert unfolded.plan("expval").readout.real
    assert scheduled_one_wire_gates(unfolded) - scheduled_one_wire_gates(program) == 6


def test_a_full_layer_of_basis_changes_stays_in_blocks_before_a_readout_of_every_wire():
    """Ten flip terms cost more than the basis changes' blocks (the scheduler's cost
    model): H on every wire before <Z_q> on every wire is run, not folded."""
    n_qubits = 6
    circuit, theta = random_parameterized_circuit(n_qubits, 12, 7)
    for q in range(n_qubits):
        circuit.h(q)
    program = check_against_reference(circuit, z_labels(n_qubits), list(theta), 2, 7, False)
    assert program.plan("expval").readout.real


def test_an_observable_flipping_several_bits_with_its_gradients():
    """XX- and YZX-type terms reverse more than one axis of a half."""
    x = ParameterVector("x", 4)
    w = ParameterVector("w", 4)
    circuit = QuantumCircuit(4)
    for q in range(4):
        circuit.ry(x[q], q)
    for q in range(3):
        circuit.rxx(w[q], q, q + 1)
        circuit.r(w[q + 1], 0.3 * q, q)
    circuit.cx(3, 0)
    circuit.s(1)
    observables = ["XIXI", "YZXI", "IXIY", "ZZII"]
    program = check_against_reference(circuit, observables, list(w), 4, 11)
    assert program.plan("expval").readout.flips


def test_float32_flip_readout():
    circuit, _theta = random_parameterized_circuit(4, 10, 21)
    observables = random_pauli_labels(4, 4, 21)
    program = sim.compile(circuit, observables)
    values = random_values(circuit.num_parameters, 3, 21)
    expected = program.expval(values)
    single = program.expval(values.to(torch.float32))
    assert single.dtype == torch.float32
    assert_close(single.double(), expected, atol=1e-5)
