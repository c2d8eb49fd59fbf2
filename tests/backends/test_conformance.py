"""The conformance suite every backend passes: same circuits, independent references.

Exact backends must equal ``qiskit.quantum_info`` to 1e-6; shot backends must lie within five
standard errors (a bound computed from the exact term values and the shot count). Gradients
(autograd or parameter-shift) must equal central finite differences of the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from backend_reference import Reference, finite_difference
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import SparsePauliOp
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

import qrnn.backends as backends

SHOTS = 4000

# id -> (name, options)
BACKENDS = {
    "torch": ("torch", {}),
    "torch-shots": ("torch", {"shots": SHOTS, "seed": 11}),
    "aer": ("aer", {}),
    "aer-shots": ("aer", {"shots": SHOTS, "seed": 12}),
    "pennylane-default.qubit": ("pennylane:default.qubit", {}),
    "pennylane-default.mixed": ("pennylane:default.mixed", {}),
    "pennylane-default.qubit-shots": ("pennylane:default.qubit", {"shots": SHOTS, "seed": 13}),
}
EXACT = [k for k, (_, options) in BACKENDS.items() if "shots" not in options]
MIXED_STATE = ["torch", "torch-shots", "aer", "aer-shots", "pennylane-default.mixed"]


def make(backend_id, **extra):
    name, options = BACKENDS[backend_id]
    return backends.get(name, **options, **extra)


def mixed_gates() -> QuantumCircuit:
    """3 qubits; x[0] drives two gates, x[3] enters as 2*x[3] + 0.5; many gate kinds."""
    x = ParameterVector("x", 4)
    qc = QuantumCircuit(3)
    qc.ry(x[0], 0)
    qc.ry(x[1], 1)
    qc.rx(x[2], 2)
    qc.cx(0, 1)
    qc.rzz(2 * x[3] + 0.5, 1, 2)
    qc.rx(x[0], 2)
    qc.r(x[1], 0.3, 0)
    qc.rxx(x[2] - 0.2, 0, 2)
    qc.h(1)
    qc.cz(1, 2)
    return qc


def with_reset() -> QuantumCircuit:
    """A register re-used after a reset, as in the quantum-memory QRNN."""
    x = ParameterVector("x", 3)
    qc = QuantumCircuit(3)
    qc.ry(x[0], 0)
    qc.cx(0, 1)
    qc.reset(0)
    qc.ry(x[1], 0)
    qc.rzz(x[2], 0, 2)
    qc.cx(0, 1)
    qc.rx(x[1], 2)
    return qc


CIRCUITS = {
    "mixed-gates": (
        mixed_gates,
        ["ZII", "IXZ", SparsePauliOp.from_list([("YYI", 0.3), ("ZZZ", -1.2), ("III", 0.25)])],
    ),
    "reset": (with_reset, ["IIZ", "IZI", "ZXI", "XIZ"]),
}


def sample_values(circuit, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    return torch.tensor(rng.uniform(-np.pi, np.pi, (batch, circuit.num_parameters)))


def check_close(out, reference, backend, sigma=None):
    out = out.detach().numpy()
    assert out.shape == reference.values.shape
    if backend.shots is None:
        np.testing.assert_allclose(out, reference.values, atol=1e-6)
    else:
        bound = 5 * (sigma if sigma is not None else reference.sigma(backend.shots)) + 1e-9
        assert np.all(np.abs(out - reference.values) <= bound), (out, reference.values, bound)


@pytest.mark.parametrize("circuit_id", CIRCUITS)
@pytest.mark.parametrize("backend_id", BACKENDS)
def test_expval_equals_quantum_info(backend_id, circuit_id):
    build, observables = CIRCUITS[circuit_id]
    circuit = build()
    values = sample_values(circuit)
    backend = make(backend_id)
    out = backend.expval(circuit, values, observables)
    assert out.dtype == torch.float64
    check_close(out, Reference(circuit, values, observables), backend)


@pytest.mark.parametrize("backend_id", ["torch", "aer", "pennylane-default.qubit"])
def test_one_dimensional_values_and_float32(backend_id):
    circuit = mixed_gates()
    values = sample_values(circuit, batch=1)[0]
    backend = make(backend_id)
    out = backend.expval(circuit, values, ["ZII", "IIZ"])
    assert out.shape == (1, 2)
    np.testing.assert_allclose(
        out.numpy(), Reference(circuit, values, ["ZII", "IIZ"]).values, atol=1e-6
    )
    assert backend.expval(circuit, values.float(), ["ZII"]).dtype == torch.float32


@pytest.mark.parametrize("circuit_id", CIRCUITS)
@pytest.mark.parametrize("backend_id", EXACT)
def test_gradient_equals_finite_differences(backend_id, circuit_id):
    build, observables = CIRCUITS[circuit_id]
    circuit = build()
    values = sample_values(circuit, batch=2, seed=1).requires_grad_()
    weights = torch.linspace(0.5, 1.5, len(observables), dtype=torch.float64)
    backend = make(backend_id)
    (backend.expval(circuit, values, observables) * weights).sum().backward()
    jacobian = finite_difference(
        lambda v: Reference(circuit, v, observables).values, values.detach().numpy()
    )
    expected = np.einsum("bop,o->bp", jacobian, weights.numpy())
    np.testing.assert_allclose(values.grad.numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("backend_id", [k for k in BACKENDS if k not in EXACT])
def test_shot_gradient_within_statistical_bound(backend_id):
    """Parameter-shift with shots: every two-term shifted value has a standard error of at
    most 1/sqrt(shots) per Pauli term; each parameter below drives one gate with slope 1."""
    x = ParameterVector("x", 3)
    circuit = QuantumCircuit(2)
    circuit.ry(x[0], 0)
    circuit.rx(x[1], 1)
    circuit.cx(0, 1)
    circuit.rz(x[2], 1)
    circuit.ry(1.1, 1)
    observables = ["ZI", "IZ", "ZZ"]
    values = sample_values(circuit, batch=2, seed=2).requires_grad_()
    backend = make(backend_id)
    assert not backend.supports_autograd and backend.gradient == "parameter-shift"
    backend.expval(circuit, values, observables).sum().backward()
    jacobian = finite_difference(
        lambda v: Reference(circuit, v, observables).values, values.detach().numpy()
    )
    sigma = len(observables) / np.sqrt(backend.shots)  # (1/2) * 2 shifts * sum over observables
    assert np.all(np.abs(values.grad.numpy() - jacobian.sum(axis=1)) <= 5 * sigma)


@pytest.mark.parametrize("backend_id", BACKENDS)
def test_expval_at_markers_equals_prefix_states(backend_id):
    x = ParameterVector("x", 3)
    circuit = QuantumCircuit(2)
    circuit.ry(x[0], 0)
    circuit.cx(0, 1)
    backends.add_marker(circuit)
    circuit.reset(0)
    circuit.rx(x[1], 0)
    circuit.rzz(x[2], 0, 1)
    backends.add_marker(circuit)
    circuit.h(1)
    observables = ["ZI", "IZ", "XX"]
    values = sample_values(circuit, batch=2, seed=3)
    backend = make(backend_id)
    out = backend.expval_at_markers(circuit, values, observables)
    assert out.shape == (2, 2, 3)
    for m, stop in enumerate(backends.marker_positions(circuit)):
        prefix = circuit.copy_empty_like()
        for instruction in circuit.data[:stop]:
            prefix.append(instruction)
        columns = [list(circuit.parameters).index(p) for p in prefix.parameters]
        check_close(out[:, m], Reference(prefix, values[:, columns], observables), backend)


# -- noise --------------------------------------------------------------------------------------

READOUT = np.array([[0.97, 0.03], [0.08, 0.92]])
READOUT_Q1 = np.array([[0.9, 0.1], [0.2, 0.8]])


def hand_made_noise() -> tuple[NoiseModel, dict]:
    """Depolarizing gate errors and asymmetric readout errors (one qubit different)."""
    model = NoiseModel(basis_gates=["rx", "ry", "rz", "cx", "rzz", "rxx", "r", "h", "cz"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.02, 1), ["rx", "ry", "r"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx", "rzz", "rxx"])
    model.add_all_qubit_readout_error(ReadoutError(READOUT))
    model.add_readout_error(ReadoutError(READOUT_Q1), [1])
    return model, {0: READOUT, 1: READOUT_Q1, 2: READOUT}


@pytest.mark.filterwarnings("ignore:.*overrides previously defined all-qubit readout error")
@pytest.mark.parametrize("circuit_id", CIRCUITS)
@pytest.mark.parametrize("backend_id", MIXED_STATE)
def test_noise_model_equals_brute_force_reference(backend_id, circuit_id):
    build, observables = CIRCUITS[circuit_id]
    circuit = build()
    model, confusion = hand_made_noise()
    values = sample_values(circuit, batch=2, seed=4)
    backend = make(backend_id, noise_model=model)
    out = backend.expval(circuit, values, observables)
    check_close(out, Reference(circuit, values, observables, model, confusion), backend)


@pytest.mark.parametrize("device", ["ionq-aria-1", "quantinuum-h1-1", "iontrap-10q"])
def test_same_device_same_numbers_on_every_backend(device):
    from qrnn import devices

    machine = devices.get(device, n_qubits=3)
    circuit = mixed_gates()
    observables = CIRCUITS["mixed-gates"][1]
    values = sample_values(circuit, batch=2, seed=5)
    results = {
        name: backends.get(name, device=machine).expval(circuit, values, observables)
        for name in ("torch", "aer", "pennylane:default.mixed")
    }
    for name in ("aer", "pennylane:default.mixed"):
        torch.testing.assert_close(results[name], results["torch"], atol=1e-6, rtol=0)
    # The device's noise is really there.
    ideal = Reference(circuit, values, observables).values
    assert np.abs(results["aer"].numpy() - ideal).max() > 1e-4


@pytest.mark.parametrize(
    ("name", "seed"), [("aer", 21), ("torch", 22), ("pennylane:default.mixed", 23)]
)
def test_device_with_shots_samples_the_exact_device_values(name, seed):
    """Z-type observables: sampling adds no gates, so the exact noisy value is the mean."""
    from qrnn import devices

    machine = devices.get("quantinuum-h1-1", n_qubits=3)  # asymmetric readout error
    circuit = mixed_gates()
    observables = ["ZII", "IZZ", "ZZZ"]
    values = sample_values(circuit, batch=2, seed=6)
    exact = backends.get("aer", device=machine).expval(circuit, values, observables).numpy()
    out = backends.get(name, device=machine, shots=SHOTS, seed=seed).expval(
        circuit, values, observables
    )
    sigma = np.sqrt(np.clip(1 - exact**2, 0, None) / SHOTS)
    assert np.all(np.abs(out.numpy() - exact) <= 5 * sigma + 1e-9)


@pytest.mark.parametrize("backend_id", BACKENDS)
def test_readout_error_follows_the_analytic_formula(backend_id):
    """Product state: measured <Z_q> = sum_t P(t) (A_q[t, 0] - A_q[t, 1]) and <Z0 Z1> is the
    product; <X_q> the same with P(t) taken in the X basis."""
    a, b = 0.7, -1.9
    circuit = QuantumCircuit(2)
    circuit.ry(a, 0)
    circuit.ry(b, 1)
    model = NoiseModel(basis_gates=["ry"])
    model.add_readout_error(ReadoutError(READOUT), [0])
    model.add_readout_error(ReadoutError(READOUT_Q1), [1])
    backend = make(backend_id, noise_model=model)
    out = backend.expval(circuit, None, ["IZ", "ZI", "ZZ", "IX"]).numpy()[0]

    def measured_z(p_one, matrix):
        return (1 - p_one) * (matrix[0, 0] - matrix[0, 1]) + p_one * (matrix[1, 0] - matrix[1, 1])

    z0 = measured_z(np.sin(a / 2) ** 2, READOUT)
    z1 = measured_z(np.sin(b / 2) ** 2, READOUT_Q1)
    x0 = measured_z((1 - np.sin(a)) / 2, READOUT)  # P(-) = (1 - sin a) / 2 after RY(a)
    expected = np.array([z0, z1, z0 * z1, x0])
    if backend.shots is None:
        np.testing.assert_allclose(out, expected, atol=1e-9)
    else:
        assert np.all(np.abs(out - expected) <= 5 / np.sqrt(backend.shots))
    assert abs(z1 - np.cos(b)) > 0.1  # the effect is large enough to be seen


# -- protocol -----------------------------------------------------------------------------------


@pytest.mark.parametrize("backend_id", BACKENDS)
def test_attributes(backend_id):
    name, options = BACKENDS[backend_id]
    backend = make(backend_id)
    assert backend.name == name
    assert backend.shots == options.get("shots")
    assert backend.device is None
    assert backend.supports_autograd == ("shots" not in options and backend_id != "aer")


@pytest.mark.parametrize("backend_id", BACKENDS)
def test_bad_input_is_refused_before_running(backend_id):
    backend = make(backend_id)
    circuit = mixed_gates()
    with pytest.raises(backends.BackendError, match="acts on 2 qubits"):
        backend.expval(circuit, sample_values(circuit), ["ZZ"])
    with pytest.raises(backends.BackendError, match="Pauli label"):
        backend.expval(circuit, sample_values(circuit), ["ZQI"])
    with pytest.raises(backends.BackendError, match=r"expected \(batch, 4\)"):
        backend.expval(circuit, torch.zeros(2, 3), ["ZII"])
    measured = circuit.copy()
    measured.measure_all()
    with pytest.raises(backends.BackendError, match="remove_final_measurements"):
        backend.expval(measured, sample_values(circuit), ["ZII"])
    with pytest.raises(backends.BackendError, match="no markers"):
        backend.expval_at_markers(circuit, sample_values(circuit), ["ZII"])
