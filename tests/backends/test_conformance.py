"""The conformance suite every backend passes: same circuits, independent references.

Exact backends must equal ``qiskit.quantum_info`` to 1e-6; shot backends must lie within five
standard errors (a bound computed from the exact term values and the shot count). Gradients
(autograd or parameter-shift) must equal central finite differences of the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Barrier, ParameterVector
from qiskit.circuit.library import RXGate, RYGate
from qiskit.quantum_info import SparsePauliOp, partial_trace
from qiskit_aer.noise import (
    NoiseModel,
    ReadoutError,
    amplitude_damping_error,
    depolarizing_error,
    pauli_error,
    phase_damping_error,
)
from references import Reference, density_matrix, finite_difference

import qrnn.backends as backends
from qrnn import sim

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
    # a cloud on its offline path: every call is a recorded job on Braket's LocalSimulator
    "cloud-braket-local": ("cloud:braket:local", {"shots": SHOTS}),
}
EXACT = [k for k, (_, options) in BACKENDS.items() if "shots" not in options]
# a cloud machine has its own noise (no noise_model=) and, on Braket, no mid-circuit reset
CLOUD = ["cloud-braket-local"]
ON_ANY_MACHINE = [k for k in BACKENDS if k not in CLOUD]


@pytest.fixture(autouse=True)
def _job_store(tmp_path, monkeypatch):
    """The cloud backend's jobs go to a store of this test's own."""
    monkeypatch.setenv("QRNN_HOME", str(tmp_path / "qrnn-home"))


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


@pytest.mark.parametrize(
    ("backend_id", "circuit_id"),
    [(b, c) for b in BACKENDS for c in CIRCUITS if not (b in CLOUD and c == "reset")],
)
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


@pytest.mark.parametrize("backend_id", ON_ANY_MACHINE)  # (its circuit resets a qubit)
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


@pytest.mark.filterwarnings("ignore:.*overrides previously defined all-qubit")
@pytest.mark.parametrize("backend_id", MIXED_STATE)
def test_markers_with_the_final_state_are_both_calls_in_one(backend_id):
    # a memory model's sequence: values at each marker and the carried register's final state
    x = ParameterVector("x", 4)
    circuit = QuantumCircuit(3)
    for step in range(2):
        circuit.ry(x[2 * step], 0)
        circuit.rxx(x[2 * step + 1], 0, 1)
        circuit.cx(1, 2)
        backends.add_marker(circuit)
        circuit.reset(0)
    values = sample_values(circuit, batch=2, seed=5)
    model = hand_made_noise()[0]
    backend = make(backend_id, noise_model=model)
    out, rho = backend.expval_at_markers(circuit, values, ["IZZ", "IIZ"], state_qubits=[2, 1])
    assert out.shape == (2, 2, 2) and rho.shape == (2, 4, 4)
    np.testing.assert_allclose(
        rho.detach().numpy(), reduced_reference(circuit, values.numpy(), [2, 1], model), atol=1e-6
    )
    confusion = hand_made_noise()[1]
    for m, stop in enumerate(backends.marker_positions(circuit)):
        prefix = circuit.copy_empty_like()
        for instruction in circuit.data[:stop]:
            prefix.append(instruction)
        columns = [list(circuit.parameters).index(p) for p in prefix.parameters]
        reference = Reference(prefix, values[:, columns], ["IZZ", "IIZ"], model, confusion)
        check_close(out[:, m], reference, backend)


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


def noise_rules_circuit() -> QuantumCircuit:
    """Every case of Aer's rule for where errors act (``qrnn.sim._noise``): gates by name, a
    labelled gate whose label has an error, one whose label has none, a labelled barrier, a
    gate right after it, a two-qubit gate with a local error and one with the all-qubit error,
    a reset, an identity, and a custom gate that Aer expands into noisy gates."""
    x = ParameterVector("x", 3)
    coupling = QuantumCircuit(2, name="coupling")
    coupling.rx(x[2], 0)
    coupling.cx(0, 1)
    circuit = QuantumCircuit(3)
    circuit.ry(x[0], 0)
    circuit.append(RXGate(x[1], label="calibrated"), [1])
    circuit.append(RYGate(0.4, label="quiet"), [2])
    circuit.append(Barrier(3, label="fence"), [0, 1, 2])
    circuit.rx(0.3, 2)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.reset(0)
    circuit.append(coupling.to_gate(), [0, 2])
    circuit.h(1)
    circuit.id(2)
    return circuit


def noise_rules_model() -> tuple[NoiseModel, dict]:
    model = NoiseModel(basis_gates=["rx", "ry", "cx", "h", "id"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.03, 1), ["ry"])
    model.add_all_qubit_quantum_error(amplitude_damping_error(0.1), ["rx"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.2, 1), ["calibrated"])
    model.add_all_qubit_quantum_error(amplitude_damping_error(0.5), ["fence"])
    model.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx"])
    model.add_quantum_error(depolarizing_error(0.15, 2), ["cx"], [0, 1])
    model.add_all_qubit_quantum_error(pauli_error([("X", 0.1), ("I", 0.9)]), ["reset"])
    model.add_all_qubit_quantum_error(phase_damping_error(0.3), ["id"])
    model.add_all_qubit_readout_error(ReadoutError(READOUT))
    model.add_readout_error(ReadoutError(READOUT_Q1), [1])
    return model, {0: READOUT, 1: READOUT_Q1, 2: READOUT}


@pytest.mark.filterwarnings("ignore:.*overrides previously defined all-qubit")
@pytest.mark.parametrize("backend_id", MIXED_STATE)
def test_errors_act_where_aer_puts_them(backend_id):
    """The reference is Aer itself on the same circuit and noise model (readout by brute force:
    Aer ignores it for saved states), so a backend that reads the noise model differently from
    Aer fails here."""
    circuit = noise_rules_circuit()
    model, confusion = noise_rules_model()
    observables = ["IIZ", "IZI", "ZII", "XIZ", "IYI", "ZZZ", "IXX"]
    values = sample_values(circuit, batch=2, seed=7)
    backend = make(backend_id, noise_model=model)
    out = backend.expval(circuit, values, observables)
    reference = Reference(circuit, values, observables, model, confusion)
    check_close(out, reference, backend)
    # every rule matters here: without the noise the values move by far more than 1e-6
    noiseless = Reference(circuit, values, observables).values
    assert np.abs(reference.values - noiseless).min(axis=0).max() > 1e-3


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


@pytest.mark.parametrize("backend_id", ON_ANY_MACHINE)
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
    with pytest.raises(backends.ObservableError, match="acts on 2 qubits"):
        backend.expval(circuit, sample_values(circuit), ["ZZ"])
    with pytest.raises(backends.ObservableError, match="Pauli label"):
        backend.expval(circuit, sample_values(circuit), ["ZQI"])
    with pytest.raises(sim.UnboundParameterError, match=r"expected \(batch, 4\)"):
        backend.expval(circuit, torch.zeros(2, 3), ["ZII"])
    measured = circuit.copy()
    measured.measure_all()
    with pytest.raises(backends.BackendError, match="remove_final_measurements"):
        backend.expval(measured, sample_values(circuit), ["ZII"])
    with pytest.raises(backends.BackendError, match="no markers"):
        backend.expval_at_markers(circuit, sample_values(circuit), ["ZII"])


# -- counts -------------------------------------------------------------------------------------


def measured_circuit() -> QuantumCircuit:
    """Two registers, one qubit left unmeasured, measurements out of qubit order."""
    x = ParameterVector("x", 2)
    circuit = QuantumCircuit(QuantumRegister(3, "q"), ClassicalRegister(2, "a"))
    circuit.add_register(ClassicalRegister(1, "b"))
    circuit.ry(x[0], 0)
    circuit.cx(0, 1)
    circuit.rx(x[1], 2)
    circuit.measure(1, 0)
    circuit.measure(2, 1)
    circuit.measure(0, 2)
    return circuit


def counts_reference(circuit, values, model=None, confusion=None) -> list[dict[str, float]]:
    """Outcome probabilities per key, from the exact final state and the confusion matrices."""
    unitary = circuit.remove_final_measurements(inplace=False)
    measured = {0: 1, 1: 2, 2: 0}  # clbit -> qubit, as in measured_circuit
    result = []
    for row in np.atleast_2d(values):
        rho = density_matrix(unitary.assign_parameters(row), model)
        true = rho.probabilities()
        read = np.zeros(8)
        for t in range(8):
            for r in range(8):
                weight = true[t]
                for q in range(3):
                    matrix = (confusion or {}).get(q, np.eye(2))
                    weight *= matrix[(t >> q) & 1, (r >> q) & 1]
                read[r] += weight
        keys: dict[str, float] = {}
        for r in range(8):
            bits = {c: (r >> q) & 1 for c, q in measured.items()}
            key = f"{bits[2]} {bits[1]}{bits[0]}"
            keys[key] = keys.get(key, 0.0) + read[r]
        result.append(keys)
    return result


@pytest.mark.filterwarnings("ignore:.*overrides previously defined all-qubit")
@pytest.mark.parametrize(
    ("name", "noisy"),
    [
        ("torch", False),
        ("torch", True),
        ("aer", False),
        ("aer", True),
        ("pennylane:default.qubit", False),
        ("pennylane:default.mixed", True),
    ],
)
def test_counts_follow_the_exact_outcome_distribution(name, noisy):
    circuit = measured_circuit()
    values = sample_values(circuit, batch=2, seed=8)
    model, confusion = hand_made_noise() if noisy else (None, None)
    backend = backends.get(name, noise_model=model, seed=31)
    counts = backend.counts(circuit, values, shots=SHOTS)
    assert len(counts) == 2
    for got, expected in zip(
        counts, counts_reference(circuit, values, model, confusion), strict=True
    ):
        assert sum(got.values()) == SHOTS
        assert set(got) <= set(expected)
        assert list(got.values()) == sorted(got.values(), reverse=True)
        for key, p in expected.items():
            sigma = np.sqrt(p * (1 - p) / SHOTS)
            assert abs(got.get(key, 0) / SHOTS - p) <= 5 * sigma + 1e-9, (key, got, expected)


@pytest.mark.parametrize("name", ["torch", "pennylane:default.qubit"])
def test_counts_of_mid_circuit_measurements_are_left_to_aer(name):
    circuit = QuantumCircuit(1, 2)
    circuit.h(0)
    circuit.measure(0, 0)
    circuit.h(0)
    circuit.measure(0, 1)
    with pytest.raises(backends.BackendError, match=r"mid-circuit.*'aer'"):
        backends.get(name).counts(circuit, shots=10)
    counts = backends.get("aer", seed=1).counts(circuit, shots=400)[0]
    assert set(counts) == {"00", "01", "10", "11"}


@pytest.mark.parametrize("backend_id", BACKENDS)
def test_counts_input_is_checked(backend_id):
    backend = make(backend_id)
    circuit = measured_circuit()
    with pytest.raises(backends.BackendError, match="measures nothing"):
        backend.counts(circuit.remove_final_measurements(inplace=False), [0.1, 0.2], shots=10)
    with pytest.raises(backends.BackendError, match="positive integer"):
        backend.counts(circuit, [0.1, 0.2], shots=0)
    if backend.shots is None:
        with pytest.raises(backends.BackendError, match="pass shots="):
            backend.counts(circuit, [0.1, 0.2])
    else:
        assert sum(backend.counts(circuit, [0.1, 0.2])[0].values()) == backend.shots


# -- states -------------------------------------------------------------------------------------


def reduced_reference(circuit, values, keep, model=None) -> np.ndarray:
    """(batch, 2**k, 2**k): Aer's (noisy) or quantum_info's state, partial-traced by qiskit;
    ``keep`` in increasing or decreasing order (qiskit keeps qubits increasing)."""
    assert keep in (sorted(keep), sorted(keep, reverse=True))
    states = []
    for row in np.atleast_2d(values):
        rho = density_matrix(circuit.assign_parameters(row), model)
        traced = [q for q in range(circuit.num_qubits) if q not in keep]
        reduced = partial_trace(rho, traced) if traced else rho
        if keep != sorted(keep):
            reduced = reduced.reverse_qargs()
        states.append(reduced.data)
    return np.stack(states)


@pytest.mark.filterwarnings("ignore:.*overrides previously defined all-qubit")
@pytest.mark.parametrize("noisy", [False, True], ids=["ideal", "noisy"])
@pytest.mark.parametrize("backend_id", MIXED_STATE)
def test_density_matrix_is_the_simulated_state(backend_id, noisy):
    circuit = with_reset()
    values = sample_values(circuit, batch=2, seed=9)
    model = hand_made_noise()[0] if noisy else None
    backend = make(backend_id, noise_model=model)
    for keep in ([0, 1, 2], [1, 2], [2, 0]):
        rho = backend.density_matrix(circuit, values, keep)
        assert rho.shape == (2, 2 ** len(keep), 2 ** len(keep)) and rho.dtype == torch.complex128
        expected = reduced_reference(circuit, values.numpy(), keep, model)
        np.testing.assert_allclose(rho.detach().numpy(), expected, atol=1e-6)
    assert backend.density_matrix(circuit, values.float(), [0]).dtype == torch.complex64


def test_density_matrix_differentiates_on_the_torch_engine():
    circuit = with_reset()
    values = sample_values(circuit, batch=1, seed=10).requires_grad_()
    weights = np.array([0.3, -1.0, 0.5, 2.0])  # any real weighting of the populations
    rho = backends.get("torch").density_matrix(circuit, values, [1, 2])
    (torch.diagonal(rho, dim1=-2, dim2=-1).real @ torch.tensor(weights)).sum().backward()

    def weighted(v):
        states = reduced_reference(circuit, v, [1, 2])
        return np.real(np.einsum("bii,i->b", states, weights))[:, None]

    expected = finite_difference(weighted, values.detach().numpy())[:, 0]
    np.testing.assert_allclose(values.grad.numpy(), expected, atol=1e-6)
