"""qrnn.sim expectation values against Statevector / DensityMatrix.expectation_value.

Pauli labels with X/Y/Z mixes, SparsePauliOp sums with real coefficients, and circuits that
end in permutation or diagonal gates (the compiler folds those into the observables, which
must stay correct for X and Y observables too).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import Pauli, SparsePauliOp
from sim_references import (
    ATOL_FLOAT32,
    assert_close,
    parameterize,
    random_parameterized_circuit,
    random_pauli_labels,
    random_sparse_pauli_op,
    random_values,
    reference_expvals,
)

from circuits import cells
from qrnn import sim


@pytest.mark.parametrize("seed", range(12))
def test_pauli_labels_and_sums_on_random_circuits(seed):
    n_qubits = 1 + seed % 6
    circuit, _ = random_parameterized_circuit(n_qubits, 30, seed=600 + seed)
    observables = [
        *random_pauli_labels(n_qubits, 6, seed),
        random_sparse_pauli_op(n_qubits, 5, seed),
        "I" * n_qubits,
    ]
    values = random_values(circuit.num_parameters, 3, seed)

    result = sim.expval(circuit, values, observables)

    assert result.shape == (3, len(observables))
    assert result.dtype == torch.float64
    assert_close(result, reference_expvals(circuit, values, observables))


@pytest.mark.parametrize("seed", range(6))
def test_expval_on_parameterized_qiskit_random_circuits(seed):
    n_qubits = 2 + seed % 3
    circuit = parameterize(random_circuit(n_qubits, 5, max_operands=3, seed=700 + seed), seed)
    observables = [*random_pauli_labels(n_qubits, 4, seed), random_sparse_pauli_op(n_qubits, 3, 1)]
    values = random_values(circuit.num_parameters, 2, seed)

    assert_close(
        sim.expval(circuit, values, observables), reference_expvals(circuit, values, observables)
    )


def test_sparse_pauli_op_with_repeated_and_identity_terms():
    circuit, _ = random_parameterized_circuit(3, 20, seed=5)
    observable = SparsePauliOp(["XYZ", "XYZ", "III", "ZIZ", "YYI"], [0.5, 0.25, -1.5, 2.0, -0.75])
    values = random_values(circuit.num_parameters, 2, 5)

    assert_close(
        sim.expval(circuit, values, [observable]),
        reference_expvals(circuit, values, [observable]),
    )


def test_every_observable_form_of_the_one_parser():
    """Labels in either case, ``Pauli`` (with a phase that makes it Hermitian) and
    ``SparsePauliOp`` are the same observables; a single one needs no list."""
    circuit, _ = random_parameterized_circuit(3, 20, seed=6)
    values = random_values(circuit.num_parameters, 2, 6)
    expected = reference_expvals(circuit, values, ["XYZ", "ZIZ"])

    for forms in (
        ["xyz", "zIz"],
        [Pauli("XYZ"), Pauli("-ZIZ")],
        [SparsePauliOp("XYZ"), SparsePauliOp(Pauli("ZIZ"))],
    ):
        result = sim.expval(circuit, values, forms)
        signs = [1.0, -1.0] if str(forms[1]) == "-ZIZ" else [1.0, 1.0]
        assert_close(result, expected * np.array(signs))
    assert_close(sim.expval(circuit, values, Pauli("XYZ")), expected[:, :1])


def test_little_endian_labels():
    """ "IIZ" is Z on qubit 0: after X on qubit 0 only that label flips sign."""
    circuit = QuantumCircuit(3)
    circuit.x(0)

    result = sim.expval(circuit, None, ["IIZ", "IZI", "ZII"])

    assert_close(result, [[-1.0, 1.0, 1.0]])


# --- folding of trailing permutation and diagonal gates -----------------------------------

TRAILING = {
    "cx": lambda c, t: c.cx(0, 1),
    "cx-reversed": lambda c, t: c.cx(2, 0),
    "cz": lambda c, t: c.cz(1, 2),
    "swap": lambda c, t: c.swap(0, 2),
    "iswap": lambda c, t: c.iswap(1, 0),
    "dcx": lambda c, t: c.dcx(2, 1),
    "ccx": lambda c, t: c.ccx(2, 0, 1),
    "cswap": lambda c, t: c.cswap(1, 2, 0),
    "ccz": lambda c, t: c.ccz(0, 1, 2),
    "cy": lambda c, t: c.cy(0, 2),
    "x-y-z": lambda c, t: (c.x(0), c.y(1), c.z(2)),
    "s-t-sdg": lambda c, t: (c.s(0), c.t(1), c.sdg(2)),
    "rz-param": lambda c, t: c.rz(2 * t[0] + 0.5, 1),
    "p-param": lambda c, t: c.p(t[1], 0),
    "rzz-param": lambda c, t: c.rzz(t[0] - t[1], 0, 2),
    "cp-param": lambda c, t: c.cp(t[1], 2, 1),
    "diagonal-unitary": lambda c, t: c.unitary(np.diag(np.exp(1j * np.arange(4))), [2, 0]),
    "permutation-unitary": lambda c, t: c.unitary(np.eye(4)[[2, 0, 3, 1]], [1, 2]),
    "mixed-chain": lambda c, t: (c.cx(0, 1), c.rz(t[0], 1), c.swap(1, 2), c.cz(0, 2), c.t(0)),
}


@pytest.mark.parametrize("trailing", sorted(TRAILING))
def test_trailing_permutation_and_diagonal_gates_with_xyz_observables(trailing):
    theta = ParameterVector("t", 2)
    circuit, _ = random_parameterized_circuit(3, 15, seed=len(trailing))
    circuit.ry(theta[0], 0)
    circuit.rx(theta[1] + 0.2, 2)
    TRAILING[trailing](circuit, theta)
    observables = [
        "IIX",
        "IYI",
        "ZII",
        "XYZ",
        "YXI",
        "ZIZ",
        "XXX",
        SparsePauliOp(["ZZI", "XIY", "IYY"], [0.5, -1.0, 2.0]),
    ]
    values = random_values(circuit.num_parameters, 3, len(trailing))
    expected = reference_expvals(circuit, values, observables)

    for width in (1, 2, 3, 5):
        program = sim.compile(circuit, observables, max_fused_qubits=width)
        assert_close(program.expval(values), expected)
        # Z-only observables take the diagonal shortcut; check them on their own too
        z_only = ["IIZ", "ZZI", "ZIZ"]
        assert_close(
            sim.compile(circuit, z_only, max_fused_qubits=width).expval(values),
            reference_expvals(circuit, values, z_only),
        )


def test_circuit_made_only_of_permutations_and_diagonals():
    circuit = QuantumCircuit(3)
    circuit.x(0)
    circuit.cx(0, 1)
    circuit.swap(1, 2)
    circuit.cz(0, 2)
    circuit.t(2)
    observables = ["ZZZ", "IZI", "XII", "YIY"]

    assert_close(
        sim.expval(circuit, None, observables), reference_expvals(circuit, [[]], observables)
    )


# --- density path (resets), precision, 10 qubits ------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_expval_with_resets_matches_density_matrix(seed):
    circuit, _ = random_parameterized_circuit(3, 20, seed=800 + seed)
    circuit.reset(seed % 3)
    circuit.h(seed % 3)
    circuit.cx(seed % 3, (seed + 1) % 3)
    circuit.swap(0, 1)  # trailing permutation after a reset
    observables = [*random_pauli_labels(3, 5, seed), random_sparse_pauli_op(3, 3, seed)]
    values = random_values(circuit.num_parameters, 2, seed)

    assert_close(
        sim.expval(circuit, values, observables), reference_expvals(circuit, values, observables)
    )


def test_float32_expval():
    circuit, _ = random_parameterized_circuit(4, 30, seed=17)
    observables = [*random_pauli_labels(4, 4, 17), random_sparse_pauli_op(4, 4, 17)]
    values = random_values(circuit.num_parameters, 3, 17)

    result = sim.expval(circuit, values.float(), observables)

    assert result.dtype == torch.float32
    assert_close(result, reference_expvals(circuit, values, observables), atol=ATOL_FLOAT32)


@pytest.mark.parametrize("builder", ["qlstm_gate", "reservoir"])
def test_ten_qubit_cells_with_their_observables(builder):
    cell = getattr(cells, builder)()
    observables = [*cell.observables, "XYZIIIIZYX"]
    values = random_values(cell.circuit.num_parameters, 2, 18)

    result = sim.expval(cell.circuit, values, observables)

    assert result.shape == (2, len(observables))
    assert_close(result, reference_expvals(cell.circuit, values, observables))
