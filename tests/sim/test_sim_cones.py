"""Light cones: each observable read on the gates and encoded wires it sees.

When a circuit is an angle encoding followed by input-free gates, ``qrnn.sim`` may read each
observable as ``<psi| U^H O U |psi>`` on its backward light cone (``qrnn.sim._cones``), cones of
one structure built together and cones of one width run as one batched product. These tests
check the values against ``qiskit.quantum_info`` and the gradients against central
differences, on library circuits where the cost model chooses cones and on random circuits run
on cones on purpose (cones that overlap, differ in structure, or span every wire).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from sim_references import (
    assert_close,
    random_parameterized_circuit,
    random_pauli_labels,
    random_sparse_pauli_op,
    reference_expvals,
)

from circuits import ansatz, encoding
from qrnn import sim
from qrnn.sim._cones import cone_plan

GRADCHECK = {"eps": 1e-6, "atol": 1e-7, "rtol": 1e-5}


def _rows(circuit, inputs, weights, x, w):
    """Full parameter rows (``circuit.parameters`` order) for the Qiskit reference."""
    index = {p: i for i, p in enumerate(circuit.parameters)}
    rows = torch.zeros(x.shape[0], len(index), dtype=torch.float64)
    rows[:, [index[p] for p in inputs]] = x
    rows[:, [index[p] for p in weights]] = w
    return rows


def _on_cones(program):
    """Make ``program`` read its observables on light cones whatever the cost model says."""
    assert program.plan("split").prefix.encoding is not None  # an angle encoding
    cones = cone_plan(program._lowered, program.observables, program.plan("split"), 5)
    assert cones is not None
    program.__dict__["cones"] = cones
    return cones


def _check(program, circuit, inputs, weights, batch=3, seed=0, gradients=True):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, len(inputs), generator=generator, dtype=torch.float64) * 2 * np.pi
    w = torch.rand(len(weights), generator=generator, dtype=torch.float64) * 2 * np.pi
    rows = _rows(circuit, inputs, weights, x, w)
    expected = reference_expvals(circuit, rows, program.observables)
    assert_close(program.bind(w).expval(x), expected)
    if gradients:
        assert torch.autograd.gradcheck(
            lambda a, b: program.bind(b).expval(a),
            (x.requires_grad_(), w.requires_grad_()),
            **GRADCHECK,
        )


def _z(n_qubits, q):
    return "I" * (n_qubits - 1 - q) + "Z" + "I" * q


def test_an_ion_native_ring_runs_on_cones_of_five_wires():
    # RXX couplings commute, so each <Z_q> sees two of the last ring's gates and four of the
    # first's: 5 wires of 8; the cones at the ring's wrap list their gates in another order
    # and on other wire numbers, yet all eight are one structure, built and run together
    n = 8
    circuit, x = encoding.angle_encoding(n)
    body, w = ansatz.ion_native(n, reps=2, connectivity="ring")
    circuit.compose(body, inplace=True)
    program = sim.compile(circuit, [_z(n, q) for q in range(n)], weight_params=w)
    cones = program.cones
    assert cones is not None  # the cost model's own choice
    assert [(group.k, len(group.columns)) for group in cones.groups] == [(5, n)]
    _check(program, circuit, list(x), list(w))


def test_all_to_all_couplings_keep_the_whole_state():
    circuit, x = encoding.angle_encoding(6)
    body, w = ansatz.ion_native(6, reps=2, connectivity="all")
    circuit.compose(body, inplace=True)
    program = sim.compile(circuit, [_z(6, q) for q in range(6)], weight_params=w)
    assert program.cones is None
    _check(program, circuit, list(x), list(w), gradients=False)


def _random_cell(n, n_gates, seed, local):
    """An encoding on most wires (RY, RX or R with a static gate before it), then a random
    body of every supported gate; ``local``: only gates on neighbouring wires, so cones stay
    narrow and overlap."""
    rng = np.random.default_rng(seed)
    x = ParameterVector("x", n)
    circuit = QuantumCircuit(n)
    inputs = []
    for q in range(n):
        if q == 0 and seed % 2:
            continue  # a wire without an input
        if rng.random() < 0.5:
            circuit.h(q)
        kind = rng.integers(3)
        if kind == 0:
            circuit.ry(x[q], q)
        elif kind == 1:
            circuit.rx(0.5 * x[q] + 0.1, q)
        else:
            circuit.r(x[q], 0.3 * q, q)
        inputs.append(x[q])
    if local:
        body, w = QuantumCircuit(n), None
        for block in range(n_gates):
            start = int(rng.integers(n - 1))
            part, _ = random_parameterized_circuit(2, 3, seed + block, 2, name=f"w{block}")
            body.compose(part, qubits=[start, start + 1], inplace=True)
        w = sorted(body.parameters, key=lambda p: p.name)
    else:
        body, theta = random_parameterized_circuit(n, n_gates, seed, n_params=5, name="w")
        w = list(theta)
    circuit.compose(body, inplace=True)
    weights = [p for p in circuit.parameters if p in set(w)]
    return circuit, inputs, weights


@pytest.mark.parametrize("seed", range(4))
def test_random_local_circuits_on_cones(seed):
    n = 6
    circuit, inputs, weights = _random_cell(n, 4, seed, local=True)
    observables = [_z(n, q) for q in range(n)] + random_pauli_labels(n, 3, seed)
    observables.append(random_sparse_pauli_op(n, 3, seed))
    observables.append(SparsePauliOp("I" * n, 0.5))  # on no wire: a constant
    program = sim.compile(circuit, observables, weight_params=weights)
    _on_cones(program)
    _check(program, circuit, inputs, weights, gradients=seed == 0)


@pytest.mark.parametrize("seed", range(3))
def test_random_circuits_whose_cones_span_every_wire(seed):
    n = 5
    circuit, inputs, weights = _random_cell(n, 14, seed, local=False)
    observables = [_z(n, q) for q in range(n)] + random_pauli_labels(n, 2, seed + 7)
    program = sim.compile(circuit, observables, weight_params=weights)
    cones = _on_cones(program)
    assert max(group.k for group in cones.groups) == n
    _check(program, circuit, inputs, weights, gradients=seed == 0)


def test_float32_no_grad_and_batched_weights():
    n = 6
    circuit, x = encoding.angle_encoding(n)
    body, w = ansatz.ion_native(n, reps=2, connectivity="ring")
    circuit.compose(body, inplace=True)
    observables = [_z(n, q) for q in range(n)]
    program = sim.compile(circuit, observables, weight_params=w)
    _on_cones(program)
    generator = torch.Generator().manual_seed(3)
    inputs = torch.rand(4, n, generator=generator, dtype=torch.float64)
    weights = torch.rand(len(w), generator=generator, dtype=torch.float64)
    expected = reference_expvals(circuit, _rows(circuit, list(x), list(w), inputs, weights),
                                 observables)  # fmt: skip
    with torch.no_grad():
        values = program.bind(weights.float()).expval(inputs.float())
    assert values.dtype == torch.float32
    assert_close(values.double(), expected, atol=1e-5)
    # weights per sample take the whole-state path, with the same values
    batched = program.bind(weights.expand(4, -1)).expval(inputs)
    assert_close(batched, expected)
