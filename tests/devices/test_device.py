"""IonTrapDevice: target, transpilation, noise on Aer, readout, duration, shots."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.circuit.random import random_circuit
from qiskit.quantum_info import DensityMatrix, Operator, SparsePauliOp, Statevector, SuperOp
from qiskit_aer import AerSimulator
from qiskit_aer.noise import depolarizing_error, thermal_relaxation_error

import qrnn.devices as devices
from circuits import ansatz, cells
from circuits.native import GPI2Gate, GPIGate, IonQMSGate, IonQZZGate, U1qGate, ZZMaxGate

# one preset per native gate set
BY_GATE_SET = ["ionq-aria-1", "ionq-forte-1", "quantinuum-h1-1", "iontrap-10q"]


def expectation(device, native: QuantumCircuit, paulis: list[str], **run) -> np.ndarray:
    """Expectation values of a device's native circuit on Aer's density-matrix method."""
    circuit = device.aer_circuit(native)
    for k, label in enumerate(paulis):
        circuit.save_expectation_value(SparsePauliOp(label), circuit.qubits, label=f"e{k}")
    simulator = AerSimulator(method="density_matrix", noise_model=device.noise_model())
    result = simulator.run(circuit, **run).result()
    count = len(result.results)
    data = [result.data(i) for i in range(count)]
    return np.array([[d[f"e{k}"] for k in range(len(paulis))] for d in data]).squeeze()


# --- target --------------------------------------------------------------------------
def test_target_lists_native_gates_all_to_all():
    device = devices.get("ionq-aria-1", n_qubits=4)
    target = device.target()
    assert target.num_qubits == 4
    assert set(target.operation_names) == {"gpi", "gpi2", "ionq_ms", "rz", "measure"}
    assert len(target["ionq_ms"]) == 4 * 3  # every ordered pair
    assert target["ionq_ms"][(3, 0)].duration == pytest.approx(600e-6)
    assert target["ionq_ms"][(3, 0)].error == pytest.approx(0.0133 * 3 / 4)
    assert target["gpi2"][(1,)].duration == pytest.approx(135e-6)
    assert target["rz"][(1,)].duration == 0.0
    assert target["measure"][(2,)].error == pytest.approx(0.0039)
    assert "reset" in devices.get("quantinuum-h1-1", n_qubits=2).target().operation_names


# --- transpilation -------------------------------------------------------------------
@pytest.mark.parametrize("name", BY_GATE_SET)
def test_transpiled_random_circuits_are_native_and_equivalent(name):
    device = devices.get(name, n_qubits=4)
    allowed = set(device.native_gates) | {"measure", "reset", "barrier", "delay"}
    for seed in range(3):
        circuit = random_circuit(4, 4, max_operands=2, seed=seed)
        native = device.transpile(circuit, seed=seed)
        assert set(native.count_ops()) <= allowed
        assert Operator(native).equiv(Operator(circuit))


@pytest.mark.parametrize("name", BY_GATE_SET)
def test_transpiled_templates_are_equivalent_after_binding(name):
    device = devices.get(name, n_qubits=4)
    templates = [
        ansatz.ion_native(4, reps=1)[0],
        ansatz.hardware_efficient(3, reps=1)[0],
        cells.qrnn_step(n_data=2, n_hidden=2, reps=1).circuit,
    ]
    rng = np.random.default_rng(3)
    for circuit in templates:
        native = device.transpile(circuit)
        assert set(native.parameters) == set(circuit.parameters)
        values = rng.uniform(-math.pi, math.pi, circuit.num_parameters)
        bound_native = native.assign_parameters(values)
        assert Operator(bound_native).equiv(Operator(circuit.assign_parameters(values)))


def test_transpile_rejects_what_the_device_cannot_run():
    aria = devices.get("ionq-aria-1")
    with pytest.raises(ValueError, match="n_qubits=12"):
        aria.transpile(QuantumCircuit(12))
    with pytest.raises(ValueError, match="only 25"):
        aria.transpile(QuantumCircuit(26))
    mid = QuantumCircuit(2, 1)
    mid.h(0)
    mid.measure(0, 0)
    mid.cx(0, 1)
    with pytest.raises(ValueError, match="mid-circuit measurement"):
        aria.transpile(mid)
    reset = QuantumCircuit(1)
    reset.reset(0)  # a reset at the start is fine
    reset.h(0)
    reset.reset(0)
    with pytest.raises(ValueError, match="mid-circuit reset"):
        aria.transpile(reset)
    assert devices.get("iontrap-10q").transpile(mid).count_ops()["measure"] == 1
    with pytest.raises(TypeError):
        aria.transpile("OPENQASM 3;")


# --- noise on Aer --------------------------------------------------------------------
def test_one_qubit_noise_applied_once_per_gate_by_hand():
    device = devices.get("ionq-aria-1", n_qubits=1)
    lam, t = device.depolarizing_1q, device.duration_1q
    gamma = 1 - math.exp(-t / device.t1)
    circuit = QuantumCircuit(1)
    circuit.append(GPI2Gate(0.0), [0])  # |0> -> (|0> - i|1>)/√2: <Y> = -1
    y, z = expectation(device, circuit, ["Y", "Z"])
    # depolarizing shrinks the Bloch vector by (1 - λ); relaxation multiplies
    # coherences by exp(-t/T2) and moves population: <Z> -> γ + (1 - γ)<Z>
    assert y == pytest.approx(-(1 - lam) * math.exp(-t / device.t2), abs=1e-12)
    assert z == pytest.approx(gamma, abs=1e-12)
    circuit = QuantumCircuit(1)
    circuit.append(GPIGate(0.3), [0])  # |0> -> |1>: the order depolarizing -> relaxation shows
    (z,) = np.atleast_1d(expectation(device, circuit, ["Z"]))
    assert z == pytest.approx(gamma - (1 - gamma) * (1 - lam), abs=1e-12)
    circuit.append(GPIGate(0.3), [0])  # two gates: two errors
    (z,) = np.atleast_1d(expectation(device, circuit, ["Z"]))
    once = gamma - (1 - gamma) * (1 - lam)
    assert z == pytest.approx(gamma + (1 - gamma) * (-(1 - lam) * once), abs=1e-12)


def test_two_qubit_depolarizing_by_hand():
    device = dataclasses.replace(devices.get("ionq-forte-1", n_qubits=2), t1=math.inf, t2=math.inf)
    lam1, lam2 = device.depolarizing_1q, device.depolarizing_2q
    circuit = QuantumCircuit(2)
    circuit.append(GPI2Gate(0.25), [0])  # R(π/2, π/2) = Ry(π/2): |0> -> |+>
    circuit.append(GPI2Gate(0.25), [1])
    circuit.append(IonQZZGate(0.125), [0, 1])  # RZZ(π/4)
    # ideal: <XX> = 1 (XX commutes with ZZ), <IX> = cos(π/4), <ZZ> = 0; every
    # depolarizing channel shrinks the Paulis on its qubits by (1 - λ)
    xx, ix, zz = expectation(device, circuit, ["XX", "IX", "ZZ"])
    assert xx == pytest.approx((1 - lam1) ** 2 * (1 - lam2), abs=1e-12)
    assert ix == pytest.approx((1 - lam1) * (1 - lam2) * math.cos(math.pi / 4), abs=1e-12)
    assert zz == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("name", [*BY_GATE_SET, "aqt-ibex-q1"])
def test_aer_run_equals_channel_after_every_native_gate(name):
    """Aer on aer_circuit == quantum_info: ideal gate then the device's error, per gate."""
    device = devices.get(name, n_qubits=3)
    circuit = random_circuit(3, 3, max_operands=2, seed=5)
    native = device.transpile(circuit)
    runnable = device.aer_circuit(native)
    runnable.save_density_matrix()
    simulator = AerSimulator(method="density_matrix", noise_model=device.noise_model())
    rho = simulator.run(runnable).result().data()["density_matrix"]
    reference = DensityMatrix.from_label("000")
    errors = {1: device.gate_error(1), 2: device.gate_error(2)}
    for instruction in native.data:
        qubits = [native.find_bit(q).index for q in instruction.qubits]
        reference = reference.evolve(Operator(instruction.operation), qubits)
        if instruction.operation.name != "rz":
            reference = reference.evolve(SuperOp(errors[len(qubits)]), qubits)
    assert np.allclose(rho.data, reference.data, atol=1e-8)


def test_aer_binds_parameters_of_converted_circuits():
    device = devices.get("ideal", n_qubits=3)
    x = ParameterVector("x", 3)
    circuit = QuantumCircuit(3)
    for q in range(3):
        circuit.ry(x[q], q)
    circuit.rxx(x[0] * x[1], 0, 2)
    circuit.cx(1, 2)
    for name in BY_GATE_SET:
        native = devices.get(name, n_qubits=3).transpile(circuit)
        runnable = devices.get(name, n_qubits=3).aer_circuit(native)
        runnable.save_statevector()
        values = np.random.default_rng(0).uniform(-2, 2, size=(4, 3))
        binds = [{x[k]: list(values[:, k]) for k in range(3)}]
        result = AerSimulator(method="statevector").run(runnable, parameter_binds=binds).result()
        for row, vector in enumerate(values):
            expected = Statevector(circuit.assign_parameters(vector))
            got = result.data(row)["statevector"]
            assert np.allclose(np.asarray(got), expected.data, atol=1e-10)  # global phase too
    assert device.noise_model().is_ideal()


def test_aer_circuit_labels_and_rejections():
    device = devices.get("ionq-aria-1", n_qubits=2)
    native = QuantumCircuit(2)
    native.append(GPIGate(0.1), [0])
    native.append(IonQMSGate(0.2, 0.3), [0, 1])
    runnable = device.aer_circuit(native)
    labels = [(i.operation.name, i.operation.label) for i in runnable.data]
    assert labels.count(("r", "gpi")) == 1 and labels.count(("rxx", "ionq_ms")) == 1
    assert Operator(runnable).equiv(Operator(native))
    assert np.allclose(Operator(runnable).data, Operator(native).data)
    foreign = QuantumCircuit(1)
    foreign.h(0)
    with pytest.raises(ValueError, match="transpile"):
        device.aer_circuit(foreign)
    quantinuum = devices.get("quantinuum-h2-1", n_qubits=2)
    native = QuantumCircuit(2)
    native.append(U1qGate(0.4, 0.2), [0])
    native.append(ZZMaxGate(), [0, 1])
    runnable = quantinuum.aer_circuit(native)
    assert [i.operation.label for i in runnable.data] == ["u1q", "zzmax"]
    assert np.allclose(Operator(runnable).data, Operator(native).data)


def test_noise_model_names_and_basis():
    model = devices.get("ionq-aria-1").noise_model()
    assert set(model.noise_instructions) == {"gpi", "gpi2", "ionq_ms", "measure"}
    assert {"gpi", "gpi2", "ionq_ms", "r", "rz", "rxx"} <= set(model.basis_gates)
    model = devices.get("quantinuum-h1-1").noise_model()
    assert set(model.noise_instructions) == {"u1q", "rzz", "zzmax", "measure"}


# --- readout -------------------------------------------------------------------------
def test_readout_confusion_matrices():
    device = devices.get("quantinuum-h1-1", n_qubits=3)
    confusion = device.readout_confusion()
    assert confusion.shape == (3, 2, 2)
    assert np.allclose(confusion[1], [[0.999, 0.001], [0.004, 0.996]])


def test_readout_error_on_sampled_counts_matches():
    device = devices.get("quantinuum-h1-1", n_qubits=1)
    circuit = QuantumCircuit(1, 1)
    circuit.x(0)
    circuit.measure(0, 0)
    runnable = device.aer_circuit(device.transpile(circuit))
    simulator = AerSimulator(noise_model=device.noise_model(), seed_simulator=3)
    counts = simulator.run(runnable, shots=40_000).result().get_counts()
    # the noisy X leaves |0> with probability ε = λ/2, then readout flips each outcome
    eps = device.depolarizing_1q / 2
    p = (1 - eps) * device.readout_p0_given_1 + eps * (1 - device.readout_p1_given_0)
    assert counts.get("0", 0) / 40_000 == pytest.approx(p, abs=5 * math.sqrt(p / 40_000))


# --- duration and shots --------------------------------------------------------------
def test_duration_by_hand():
    aria = devices.get("ionq-aria-1", n_qubits=2)
    circuit = QuantumCircuit(2, 2)
    circuit.append(GPI2Gate(0.1), [0])
    circuit.append(GPIGate(0.2), [1])
    circuit.append(IonQMSGate(0, 0), [0, 1])
    circuit.rz(0.3, 0)
    circuit.barrier()
    circuit.measure([0, 1], [0, 1])
    # serial: 2 one-qubit gates + 1 MS + 2 measurements; rz and barrier are free
    assert aria.duration(circuit) == pytest.approx(2 * 135e-6 + 600e-6 + 2 * 300e-6)
    parallel = dataclasses.replace(aria, parallel_gates=True)
    assert parallel.duration(circuit) == pytest.approx(135e-6 + 600e-6 + 300e-6)
    circuit.delay(2, 0, unit="ms")
    assert aria.duration(circuit) == pytest.approx(1.47e-3 + 2e-3)


def test_duration_transpiles_standard_circuits():
    device = devices.get("iontrap-10q", n_qubits=2)
    circuit = QuantumCircuit(2)
    circuit.rx(0.3, 0)
    circuit.rxx(0.4, 0, 1)
    # R(0.3, 0) and RXX(0.4) are native: 135 us + 600 us
    assert device.duration(circuit) == pytest.approx(735e-6)


def test_check_shots():
    aqt = devices.get("aqt-ibex-q1")
    assert aqt.check_shots(2000) == 2000
    assert aqt.check_shots(np.int64(5)) == 5
    with pytest.raises(ValueError, match="1 to 2000"):
        aqt.check_shots(2001)
    with pytest.raises(ValueError, match="shots=0"):
        aqt.check_shots(0)
    with pytest.raises(TypeError):
        aqt.check_shots(10.0)
    with pytest.raises(TypeError):
        aqt.check_shots(True)


def test_describe_is_one_line_with_key_figures():
    line = devices.get("ionq-aria-1").describe()
    assert "\n" not in line
    for text in ("ionq-aria-1", "10/25", "5.00e-04", "1.33e-02", "3.90e-03", "600 us"):
        assert text in line


def test_initialize_expanding_into_a_mid_circuit_reset_is_caught():
    circuit = QuantumCircuit(1)
    circuit.h(0)
    circuit.initialize([0, 1], [0])  # Qiskit expands this into reset + preparation
    with pytest.raises(ValueError, match="mid-circuit reset"):
        devices.get("ionq-aria-1").transpile(circuit)
    native = devices.get("iontrap-10q").transpile(circuit)
    assert native.count_ops()["reset"] == 1


def test_gate_errors_are_shared_by_equal_devices_and_follow_every_change():
    """Equal devices hand out one error object (its Kraus form is then converted once for all
    their noise models); a changed figure gives the error Aer's factories build from it."""
    device = devices.get("iontrap-10q")
    assert device.gate_error(2) is devices.get("iontrap-10q").gate_error(2)
    models = [device.noise_model(), device.noise_model()]
    assert models[0] is not models[1]  # each call is a fresh NoiseModel to add errors to
    changed = dataclasses.replace(device, depolarizing_2q=0.06)
    relax = thermal_relaxation_error(device.t1, device.t2, device.duration_2q)
    expected = depolarizing_error(0.06, 2).compose(relax.tensor(relax))
    assert SuperOp(changed.gate_error(2)) == SuperOp(expected)
    assert SuperOp(device.gate_error(2)) != SuperOp(expected)
