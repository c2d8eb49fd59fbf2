"""Split chains: an angle-encoded state run as a short sum of products across a cut.

When a circuit is an angle encoding followed by input-free gates whose entanglers cross some
cut of the wires only a few times (the recurrent cells of this package: rotation layers and
CNOT rings), ``qrnn.sim`` keeps the state as ``sum_c u_c (x) w_c`` instead of all ``2**n``
amplitudes (``qrnn.sim._split``). These tests run such circuits, check the values against
``qiskit.quantum_info`` and the gradients against central differences, and assert that the
split form was the one chosen (so a change of the cost model cannot quietly send them down
the whole-state path). The gather decomposition is checked against the dense permutation.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.circuit.library import CYGate
from qiskit.quantum_info import SparsePauliOp
from sim_references import assert_close, reference_expvals

from circuits import ansatz, encoding
from qrnn import sim
from qrnn.sim._chain import ChainStep
from qrnn.sim._split import _gather_terms

GRADCHECK = {"eps": 1e-6, "atol": 1e-7, "rtol": 1e-5}


def _cell(n_qubits, reps, entangler="cx", rotation="ry"):
    """An encoding of one input per qubit, then the hardware-efficient ansatz (RX, RY, RZ
    weights on every qubit, a ring of ``entangler``): for 10 qubits and 2 reps the recurrent
    cell of the speed benchmark. Returns (circuit, inputs, weights)."""
    if rotation == "r":  # an input rotation with a static phase
        x = ParameterVector("x", n_qubits)
        circuit = QuantumCircuit(n_qubits)
        for q in range(n_qubits):
            circuit.r(x[q], 0.3 * q, q)
    else:
        circuit, x = encoding.angle_encoding(n_qubits, rotation=rotation)
    body, w = ansatz.hardware_efficient(n_qubits, reps=reps, entangler=entangler.replace("y", "x"))
    for instruction in body.data:
        if entangler == "cy" and instruction.operation.name == "cx":  # phases +-i
            instruction = instruction.replace(operation=CYGate())
        circuit.append(instruction)
    return circuit, list(x), list(w)


def _split_of(program, dtype=torch.float64):
    """The split plan a bound run of ``program`` (unbatched weights, on the CPU) chooses, or
    None for the whole state."""
    if not program.may_run_split:
        return None
    return program.plan("split").tensors(torch.device("cpu"), dtype).split_plan


def _rows(circuit, inputs, weights, input_values, weight_values):
    """Full parameter rows (``circuit.parameters`` order) for the Qiskit reference."""
    index = {p: i for i, p in enumerate(circuit.parameters)}
    rows = torch.zeros(input_values.shape[0], len(index), dtype=torch.float64)
    rows[:, [index[p] for p in inputs]] = input_values
    rows[:, [index[p] for p in weights]] = weight_values
    return rows


def _check(circuit, inputs, weights, observables, batch=3, seed=0, gradients=True):
    program = sim.compile(circuit, observables, weight_params=weights)
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, len(inputs), generator=generator, dtype=torch.float64) * 2 * np.pi
    w = torch.rand(len(weights), generator=generator, dtype=torch.float64) * 2 * np.pi
    expected = reference_expvals(circuit, _rows(circuit, inputs, weights, x, w), observables)
    assert_close(program.bind(w).expval(x), expected)
    if gradients:
        assert torch.autograd.gradcheck(
            lambda a, b: program.bind(b).expval(a),
            (x.requires_grad_(), w.requires_grad_()),
            **GRADCHECK,
        )
    return program


def _z(n_qubits, q):
    return "I" * (n_qubits - 1 - q) + "Z" + "I" * q


@pytest.mark.parametrize(
    "n_qubits, reps, entangler, rotation, terms",
    [
        (10, 2, "cx", "ry", 4),  # the speed benchmark's cell: a 5 | 5 cut, 4 terms
        (7, 2, "cx", "rx", 4),  # sides of unequal size
        (8, 3, "cz", "r", 16),  # gathers with phases, two rings to cross: 4 x 4 terms
        (6, 2, "cy", "ry", 4),  # phases +-i
    ],
)
def test_recurrent_cells_run_split_and_exact(n_qubits, reps, entangler, rotation, terms):
    circuit, inputs, weights = _cell(n_qubits, reps, entangler, rotation)
    observables = [_z(n_qubits, q) for q in range(n_qubits)]
    program = _check(circuit, inputs, weights, observables, gradients=n_qubits <= 8)
    split = _split_of(program)
    assert split is not None and split.chi == terms  # a ring crosses a cut twice: rank 4
    assert sorted(split.start_order) == list(range(n_qubits))
    assert abs(len(split.sides[0]) - len(split.sides[1])) <= 1


def test_the_speed_benchmark_cell_gradients():
    """The 10-qubit, 2-layer cell (60 weights): gradients of a few inputs and all weights."""
    circuit, _inputs, weights = _cell(10, 2)
    observables = [_z(10, q) for q in range(10)]
    program = sim.compile(circuit, observables, weight_params=weights)
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(2, 10, generator=generator, dtype=torch.float64) * 2 * np.pi
    w = torch.rand(60, generator=generator, dtype=torch.float64) * 2 * np.pi
    assert torch.autograd.gradcheck(
        lambda a, b: program.bind(b).expval(a),
        (x.requires_grad_(), w.requires_grad_()),
        **GRADCHECK,
    )
    split = _split_of(program)
    assert split is not None and split.chi == 4


def test_weighted_and_many_term_observables():
    """Z-type observables with coefficients and several terms, across the cut and within a
    side; the readout table is a general real table, not a product across the cut."""
    circuit, inputs, weights = _cell(6, 2)
    observables = [
        SparsePauliOp(["ZIIIIZ", "IIZZII", "IIIIII"], [0.5, -1.5, 0.25]),
        SparsePauliOp(["ZZZZZZ"], [2.0]),
        "IIIZII",
    ]
    program = _check(circuit, inputs, weights, observables)
    assert _split_of(program) is not None


def test_observables_off_the_diagonal_keep_the_whole_state():
    circuit, inputs, weights = _cell(6, 2)
    program = _check(circuit, inputs, weights, ["XIIIIZ", "IIZIII"], gradients=False)
    assert _split_of(program) is None


def test_inputs_past_the_encoding_keep_the_whole_state():
    """Data re-uploading: the chain has per-sample blocks, so it cannot be prepared per bind."""
    circuit, inputs, weights = _cell(6, 2)
    circuit.rx(inputs[0], 3)  # an input after the entanglers
    circuit.cx(3, 4)
    program = _check(circuit, inputs, weights, [_z(6, q) for q in range(6)], gradients=False)
    assert _split_of(program) is None


def test_all_to_all_entanglers_keep_the_whole_state():
    """RXX between every pair joins all wires into one block: no cut keeps blocks whole."""
    x = ParameterVector("x", 5)
    w = ParameterVector("w", 10)
    circuit = QuantumCircuit(5)
    for q in range(5):
        circuit.ry(x[q], q)
    pairs = [(a, b) for a in range(5) for b in range(a + 1, 5)]
    for k, (a, b) in enumerate(pairs):
        circuit.rxx(w[k], a, b)
    program = _check(circuit, list(x), list(w), ["ZIIII", "IIZZI"], gradients=False)
    assert _split_of(program) is None


def test_dense_two_qubit_gates_within_a_side():
    """RZZ and RXX gates that stay on one side of the cut are blocks of that side."""
    x = ParameterVector("x", 8)
    w = ParameterVector("w", 18)
    circuit = QuantumCircuit(8)
    for q in range(8):
        circuit.ry(x[q], q)
        circuit.rz(w[q], q)
    circuit.rzz(w[8], 0, 1)
    circuit.rxx(w[9], 6, 7)
    for q in range(8):
        circuit.cx(q, (q + 1) % 8)
        circuit.ry(w[10 + q], q)
    for q in range(8):
        circuit.cx(q, (q + 1) % 8)
    program = _check(circuit, list(x), list(w), [_z(8, q) for q in (0, 3, 4, 7)])
    split = _split_of(program)
    assert split is not None
    for pair in ((0, 1), (6, 7)):  # the canonical axis of qubit q is 7 - q
        axes = {7 - q for q in pair}
        assert axes <= set(split.sides[0]) or axes <= set(split.sides[1])


def test_float32_and_no_grad_runs():
    circuit, _inputs, weights = _cell(10, 2)
    program = sim.compile(circuit, [_z(10, q) for q in range(10)], weight_params=weights)
    generator = torch.Generator().manual_seed(2)
    x = torch.rand(5, 10, generator=generator, dtype=torch.float64) * 6
    w = torch.rand(60, generator=generator, dtype=torch.float64) * 6
    double = program.bind(w).expval(x)
    single = program.bind(w.float()).expval(x.float())
    assert single.dtype == torch.float32 and _split_of(program, torch.float32) is not None
    torch.testing.assert_close(single.double(), double, atol=1e-5, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(program.bind(w).expval(x), double, atol=1e-12, rtol=0)
    # weights without gradients: only the inputs get one
    x.requires_grad_()
    program.bind(w).expval(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_second_derivatives_are_refused():
    circuit, _inputs, weights = _cell(6, 2)
    program = sim.compile(circuit, [_z(6, 0)], weight_params=weights)
    x = torch.rand(2, 6, dtype=torch.float64, requires_grad=True)
    w = torch.rand(36, dtype=torch.float64)
    total = program.bind(w).expval(x).sum()
    assert _split_of(program) is not None
    with pytest.raises(RuntimeError, match="second derivatives"):
        torch.autograd.grad(total, x, create_graph=True)


@pytest.mark.parametrize("seed", range(4))
def test_gather_terms_rebuild_the_permutation(seed):
    """``sum_t A_t (x) B_t`` equals the gather's matrix, for random permutations with phases
    and random cuts (wires on each side in any order)."""
    rng = np.random.default_rng(seed)
    n = 6
    source = rng.permutation(2**n)
    phase = np.exp(1j * rng.uniform(0, 2 * np.pi, 2**n)) if seed % 2 else None
    canonical = list(rng.permutation(n))  # labels of the axes, MSB first
    left = [int(w) for w in rng.permutation(n)[: int(rng.integers(1, n))]]
    right = [int(w) for w in rng.permutation(n) if w not in left]
    step = ChainStep(
        None,
        torch.as_tensor(source),
        None if phase is None else torch.as_tensor(phase[:, None]),
    )
    a, b = _gather_terms(step, canonical, (left, right))  # 2**6 nonzeros: never too wide
    matrix = np.zeros((2**n, 2**n), complex)  # out[i] = state[source[i]] phase[i]
    matrix[np.arange(2**n), source] = 1 if phase is None else phase
    # reorder the canonical index into (left bits, right bits), each MSB first as given
    order = [canonical.index(w) for w in left + right]
    perm = np.zeros(2**n, int)
    for i in range(2**n):
        bits = [(i >> (n - 1 - k)) & 1 for k in range(n)]
        perm[int("".join(str(bits[p]) for p in order), 2)] = i
    rebuilt = sum(np.kron(a[t], b[t]) for t in range(a.shape[0]))
    np.testing.assert_allclose(rebuilt, matrix[np.ix_(perm, perm)], atol=1e-12)
