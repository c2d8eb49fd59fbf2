"""One-qubit gate fusion for Aer (qrnn.backends._fusion): every fused circuit is the expanded
circuit up to a global phase, checked with qiskit.quantum_info; Aer runs it where noise-free."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.circuit.library import U2Gate
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector, random_unitary
from qiskit_aer.noise import NoiseModel, depolarizing_error

import qrnn.backends as backends
from circuits import ansatz, encoding
from qrnn import gradients
from qrnn.backends._fusion import fuse, zyz_angles


def assert_equal_up_to_phase(a: np.ndarray, b: np.ndarray) -> None:
    """|<a, b>| = |a| |b| for the flattened operators: equal up to one global phase."""
    overlap = np.vdot(a.ravel(), b.ravel())
    np.testing.assert_allclose(abs(overlap), np.linalg.norm(a) * np.linalg.norm(b), rtol=1e-12)
    np.testing.assert_allclose(a * (overlap / abs(overlap)), b, atol=1e-12)


def test_zyz_angles_rebuild_any_unitary_up_to_phase():
    unitaries = [random_unitary(2, seed=s).data for s in range(20)]
    unitaries += [np.diag([1j, np.exp(0.3j)]), np.array([[0, 1], [1j, 0]]), np.eye(2)]
    theta, phi, lam = zyz_angles(np.stack(unitaries))
    for k, unitary in enumerate(unitaries):
        rebuilt = QuantumCircuit(1)
        rebuilt.u(theta[k], phi[k], lam[k], 0)
        assert_equal_up_to_phase(Operator(rebuilt).data, unitary)


def random_circuit(seed: int) -> QuantumCircuit:
    """Every fusible gate kind, constant one-qubit gates, two-qubit gates, a marker barrier
    and a reset between them."""
    rng = np.random.default_rng(seed)
    x = ParameterVector("x", 5)
    qc = QuantumCircuit(3)
    for _ in range(30):
        q, r = (int(v) for v in rng.choice(3, 2, replace=False))
        a = x[int(rng.integers(5))] * float(rng.choice([1.0, -0.5])) + float(rng.normal())
        kind = str(rng.choice(["rx", "ry", "rz", "p", "u", "u2", "r", "h", "sx", "t", "cx", "rzz"]))
        if kind in ("rx", "ry", "rz", "p"):
            getattr(qc, kind)(a, q)
        elif kind == "u":
            qc.u(a, 0.4, a, q)
        elif kind == "u2":
            qc.append(U2Gate(a, -0.2), [q])
        elif kind == "r":
            qc.r(0.7, a, q)
        elif kind in ("h", "sx", "t"):
            getattr(qc, kind)(q)
        elif kind == "cx":
            qc.cx(q, r)
        else:
            qc.rzz(a, q, r)
        if rng.random() < 0.05:
            backends.add_marker(qc)
    return qc


@pytest.mark.parametrize("seed", range(4))
def test_fused_circuit_is_the_expanded_one_up_to_phase(seed):
    circuit = random_circuit(seed)
    expanded = gradients.expand_parameters(circuit)
    fused = fuse(expanded.circuit)
    assert fused.circuit.size() < expanded.circuit.size()
    values = np.random.default_rng(seed).uniform(-3, 3, (3, circuit.num_parameters))
    angles = expanded.angles(torch.tensor(values)).numpy()
    binds = fused.binds(angles)
    assert set(binds) == set(fused.circuit.parameters)
    for row in range(3):
        original = expanded.circuit.assign_parameters(angles[row])
        bound = fused.circuit.assign_parameters({p: v[row] for p, v in binds.items()})
        assert_equal_up_to_phase(Operator(bound).data, Operator(original).data)
        markers = backends.marker_positions
        assert len(markers(bound)) == len(markers(original))


def test_nothing_to_fuse_and_what_stops_a_run():
    x = ParameterVector("x", 2)
    lone = QuantumCircuit(2)
    lone.rx(x[0], 0)
    lone.h(1)
    lone.h(1)  # constant runs stay as they are
    lone.cx(0, 1)
    lone.ry(x[1], 1)
    assert fuse(gradients.expand_parameters(lone).circuit) is None
    reset = QuantumCircuit(1)
    reset.rx(x[0], 0)
    reset.reset(0)
    reset.ry(x[1], 0)
    assert fuse(gradients.expand_parameters(reset).circuit) is None


def test_aer_fuses_noise_free_runs_only():
    """W1's cell form: RY encoding, then RX RY RZ per qubit and a CX ring, twice; <Z_i>. Aer's
    values (fused) equal qiskit.quantum_info's; with a noise model nothing is fused, since
    errors attach to gates by name."""
    qc, _angles = encoding.angle_encoding(4)
    qc.compose(ansatz.hardware_efficient(4, reps=2)[0], inplace=True)
    labels = ["IIIZ", "IIZI", "IZII", "ZIII", "XXII"]
    values = torch.tensor(np.random.default_rng(3).uniform(-3, 3, (5, 28)))
    backend = backends.get("aer")
    got = backend.expval(qc, values, labels)
    expected = [
        [Statevector(qc.assign_parameters(row)).expectation_value(SparsePauliOp(o)).real
         for o in labels]
        for row in values.numpy()
    ]  # fmt: skip
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)
    run_circuit = backend._binds(qc, backend._prepared(qc), values)[0]
    assert run_circuit.count_ops() == {"u": 8, "cx": 8}
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.01, 1), ["rx"])
    noisy = backends.get("aer", noise_model=noise)
    assert noisy._binds(qc, noisy._prepared(qc), values)[0].count_ops()["rx"] == 8
