"""The noisy engine (Pauli-basis density matrices, fused PTM blocks) against references.

References: Aer's density-matrix method with the same noise model, ``qiskit.quantum_info``
``DensityMatrix`` evolved instruction by instruction through the gates and their errors'
``Kraus`` channels, and finite differences (``torch.autograd.gradcheck``) for gradients.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.quantum_info import DensityMatrix, Kraus, SparsePauliOp
from qiskit_aer import AerSimulator
from qiskit_aer.noise import (
    NoiseModel,
    amplitude_damping_error,
    depolarizing_error,
    pauli_error,
    thermal_relaxation_error,
)
from sim_references import (
    AER_GATES,
    FIXED_1Q,
    FIXED_2Q,
    FIXED_3Q,
    ROTATION_1Q,
    ROTATION_2Q,
    append_gate,
    bind,
    random_parameterized_circuit,
    random_values,
)

from qrnn import backends, devices, sim
from qrnn.sim import SimulationMemoryError

ATOL = 1e-8


def gate_noise(gates) -> NoiseModel:
    """A different channel after every gate kind: depolarizing, thermal relaxation (T1, T2,
    excited population), amplitude damping and Pauli errors, one- to three-qubit."""
    model = NoiseModel()
    one = [
        depolarizing_error(0.03, 1),
        thermal_relaxation_error(50.0, 40.0, 6.0, excited_state_population=0.1),
        amplitude_damping_error(0.07),
        pauli_error([("X", 0.05), ("Y", 0.03), ("I", 0.92)]),
    ]
    two = [
        depolarizing_error(0.06, 2),
        thermal_relaxation_error(30.0, 20.0, 9.0).tensor(amplitude_damping_error(0.05)),
    ]
    for k, gate in enumerate(sorted(gates)):
        if gate in FIXED_3Q:
            model.add_all_qubit_quantum_error(depolarizing_error(0.05, 3), [gate])
        elif gate in FIXED_2Q or gate in ROTATION_2Q or gate == "cp":
            model.add_all_qubit_quantum_error(two[k % 2], [gate])
        else:
            model.add_all_qubit_quantum_error(one[k % 4], [gate])
    return model


def kraus_channels(model: NoiseModel) -> dict:
    """gate name -> ``Kraus`` channel of the all-qubit error ``model`` attaches to it."""
    return {name: Kraus(error) for name, error in model._default_quantum_errors.items()}


def kraus_reference(circuit: QuantumCircuit, channels: dict) -> np.ndarray:
    """``DensityMatrix`` of |0..0> evolved through each instruction and then the channel
    ``channels[name]`` (``kraus_channels``)."""
    rho = DensityMatrix.from_label("0" * circuit.num_qubits)
    for instruction in circuit.data:
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        if instruction.operation.name == "reset":
            rho = rho.evolve(instruction.operation, qubits)
            continue
        rho = rho.evolve(instruction.operation, qubits)
        channel = channels.get(instruction.operation.name)
        if channel is not None:
            rho = rho.evolve(channel, qubits)
    return rho.data


def aer_density(circuit: QuantumCircuit, model: NoiseModel) -> np.ndarray:
    bound = circuit.copy()
    bound.save_density_matrix()
    simulator = AerSimulator(method="density_matrix", noise_model=model)
    return np.asarray(simulator.run(bound).result().data(0)["density_matrix"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_noisy_circuits_of_every_gate_match_aer_and_kraus_evolution(seed):
    gates = set(FIXED_1Q + FIXED_2Q + FIXED_3Q) | set(ROTATION_1Q) | set(ROTATION_2Q)
    gates &= AER_GATES
    circuit, _ = random_parameterized_circuit(4, 45, seed=seed, defined=False, allowed=gates)
    circuit.reset(2)
    circuit.cx(2, 3)
    model = gate_noise(gates)
    channels = kraus_channels(model)
    values = random_values(circuit.num_parameters, 2, seed)

    rho = sim.density_matrix(circuit, values, model).numpy()

    for row in range(2):
        bound = bind(circuit, values[row])
        np.testing.assert_allclose(rho[row], aer_density(bound, model), atol=ATOL, rtol=0)
        np.testing.assert_allclose(rho[row], kraus_reference(bound, channels), atol=ATOL, rtol=0)


def test_every_gate_kind_once_with_its_error():
    """Each supported gate alone after a mixing layer, with its own channel."""
    gates = sorted(set(FIXED_1Q + FIXED_2Q + FIXED_3Q) | set(ROTATION_1Q) | set(ROTATION_2Q))
    gates = [g for g in gates if g in AER_GATES]
    model = gate_noise(gates)
    channels = kraus_channels(model)
    theta = ParameterVector("theta", 3)
    counts = {**ROTATION_1Q, **ROTATION_2Q}
    for gate in gates:
        width = 3 if gate in FIXED_3Q else 2 if gate in FIXED_2Q or gate in ROTATION_2Q else 1
        circuit = QuantumCircuit(3)
        circuit.h([0, 1, 2])
        circuit.rx(0.4, 1)
        circuit.t(2)
        append_gate(circuit, gate, [0.7 * theta[k] - 0.2 for k in range(counts.get(gate, 0))],
                    [2, 0, 1][:width])  # fmt: skip
        values = random_values(circuit.num_parameters, 1, 9)
        rho = sim.density_matrix(circuit, values, model).numpy()[0]
        bound = bind(circuit, values[0])
        expected = kraus_reference(bound, channels)
        np.testing.assert_allclose(rho, expected, atol=ATOL, rtol=0, err_msg=gate)


def test_all_to_all_entanglers_match_aer():
    """Two layers of two-qubit rotations on every pair of 6 qubits in column order (an
    ion-trap entangler): each column is a star whose shared qubit walks along the state's
    axes from gate to gate, and some gates land on the axes next to the last (moved to the
    top first). Against Aer's density matrix and its expectation values."""
    n = 6
    theta = ParameterVector("theta", n * (n - 1) + n)
    circuit = QuantumCircuit(n)
    for q in range(n):
        circuit.ry(theta[n * (n - 1) + q], q)
    k = 0
    for _layer in range(2):
        for j in range(1, n):
            for i in range(j):
                circuit.rxx(theta[k], i, j)
                k += 1
    model = gate_noise({"ry", "rxx"})
    values = random_values(circuit.num_parameters, 2, 13)
    observables = ["IIIIIZ", "ZIIIZI", "IXIYII"]

    rho = sim.density_matrix(circuit, values, model).numpy()
    out = sim.expval(circuit, values, observables, noise_model=model).numpy()

    for row in range(2):
        reference = aer_density(bind(circuit, values[row]), model)
        np.testing.assert_allclose(rho[row], reference, atol=ATOL, rtol=0)
        expected = [np.trace(reference @ SparsePauliOp(o).to_matrix()).real for o in observables]
        np.testing.assert_allclose(out[row], expected, atol=ATOL, rtol=0)


def cell(n_qubits: int):
    """A small recurrent cell: angle encoding, weights, entanglers, a re-uploaded input."""
    x = ParameterVector("x", n_qubits)
    w = ParameterVector("w", 3 * n_qubits)
    circuit = QuantumCircuit(n_qubits)
    for q in range(n_qubits):
        circuit.ry(x[q], q)
    for q in range(n_qubits):
        circuit.rx(w[q], q)
        circuit.rz(w[n_qubits + q], q)
    for q in range(n_qubits):
        circuit.cx(q, (q + 1) % n_qubits)
    for q in range(n_qubits):
        circuit.ry(w[2 * n_qubits + q], q)
    return circuit, x, w


@pytest.mark.parametrize("name", devices.names())
def test_every_device_preset_matches_aer(name):
    device = devices.get(name, n_qubits=3)
    circuit, _x, _w = cell(3)
    observables = ["IIZ", "ZIZ", "XYI", SparsePauliOp(["ZZZ", "IXI"], [0.5, -1.5])]
    values = random_values(circuit.num_parameters, 3, 11)

    exact = backends.get("torch", device=device).expval(circuit, values, observables)
    reference = backends.get("aer", device=device).expval(circuit, values, observables)

    np.testing.assert_allclose(exact.numpy(), reference.numpy(), atol=ATOL, rtol=0)


def test_bound_weights_hoist_and_both_pictures_agree():
    """A model's call: weights bound once, inputs per batch; the Heisenberg run (observables
    evolved back once per bind) equals the Schroedinger run and Aer."""
    device = devices.get("iontrap-10q", n_qubits=4)
    circuit, _x, w = cell(4)
    runnable = backends.get("torch", device=device).executable(circuit)
    names = {p.name for p in w}
    weight_params = [p for p in runnable.parameters if p.name in names]
    observables = ["IIIZ", "IZII", "XXII"]
    program = sim.compile(
        runnable, observables, noise_model=device.noise_model(), weight_params=weight_params
    )
    generator = torch.Generator().manual_seed(4)
    weights = torch.rand(len(weight_params), generator=generator, dtype=torch.float64) * 6
    inputs = torch.rand(40, program.num_parameters - len(weights), generator=generator)
    inputs = inputs.double()
    bound = program.bind(weights)
    plan = program._noisy
    assert plan.cut == 0  # the inputs are an encoding: a product state meets the observables
    assert plan.heisenberg_cost(40, False) < plan.schroedinger_cost(40)
    assert plan.heisenberg_cost(1, False) > plan.schroedinger_cost(1)

    many = bound.expval(inputs)  # evolves the observables back, once
    again = bound.expval(inputs[:5])  # reuses them
    one_by_one = torch.cat([program.bind(weights).expval(inputs[k : k + 1]) for k in range(5)])

    np.testing.assert_allclose(many[:5].numpy(), again.numpy(), atol=1e-12, rtol=0)
    np.testing.assert_allclose(many[:5].numpy(), one_by_one.numpy(), atol=1e-12, rtol=0)
    values = torch.cat([weights.expand(3, -1), inputs[:3]], dim=1)  # w[...] sort before x[...]
    reference = backends.get("aer", device=device).expval(circuit, values, observables)
    np.testing.assert_allclose(many[:3].numpy(), reference.numpy(), atol=ATOL, rtol=0)
    rho = bound.density_matrix(inputs[:1]).numpy()[0]
    bound_runnable = bind(runnable, torch.cat([weights, inputs[0]]))
    np.testing.assert_allclose(
        rho, aer_density(bound_runnable, device.noise_model()), atol=ATOL, rtol=0
    )


def test_inputs_after_entanglers_cut_the_circuit():
    """An input re-uploaded after the entanglers: the Schroedinger part runs to the cut and
    meets the observables evolved back from the end."""
    circuit, x, w = cell(3)
    circuit.rx(2 * x[0] + 0.1, 0)
    circuit.cx(0, 2)
    circuit.rzz(w[1], 1, 2)
    model = gate_noise({"ry", "rx", "rz", "cx", "rzz"})
    program = sim.compile(circuit, ["IIZ", "ZZI", "IYX"], noise_model=model, weight_params=w)
    weights = random_values(len(w), 1, 1)[0]
    inputs = random_values(len(x), 50, 2)
    plan = program._noisy
    assert 0 < plan.cut < len(plan.blocks)

    out = program.bind(weights).expval(inputs)

    values = torch.cat([weights.expand(50, -1), inputs], dim=1)  # (w before x in order)
    order = [p.name for p in circuit.parameters]
    columns = [p.name for p in (*w, *x)]
    values = values[:, [columns.index(name) for name in order]]
    simulator = AerSimulator(method="density_matrix", noise_model=model)
    for row in (0, 17, 49):
        bound = bind(circuit, values[row])
        bound.save_density_matrix()
        rho = simulator.run(bound).result().data(0)["density_matrix"]
        expected = [rho.expectation_value(SparsePauliOp(o)).real for o in ["IIZ", "ZZI", "IYX"]]
        np.testing.assert_allclose(out[row].numpy(), expected, atol=ATOL, rtol=0)


@pytest.mark.parametrize("batch", [1, 12])  # the Schroedinger run, the Heisenberg run
def test_gradients_match_finite_differences(batch):
    circuit, x, w = cell(3)
    circuit.rx(x[1] - 0.3, 2)
    model = gate_noise({"ry", "rx", "rz", "cx"})
    program = sim.compile(circuit, ["IIZ", "XZI"], noise_model=model, weight_params=w)
    weights = random_values(len(w), 1, 5)[0].requires_grad_()
    inputs = random_values(len(x), batch, 6).requires_grad_()

    def run(weights, inputs):
        return program.bind(weights).expval(inputs)

    assert torch.autograd.gradcheck(run, (weights, inputs), atol=1e-7)


def test_one_shot_values_get_gradients():
    circuit, _x, _w = cell(3)
    model = gate_noise({"ry", "rx", "rz", "cx"})
    values = random_values(circuit.num_parameters, 2, 8).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda v: sim.expval(circuit, v, ["ZII", "IXZ"], noise_model=model), (values,)
    )


def test_a_state_that_cannot_fit_is_refused_before_allocation():
    circuit = QuantumCircuit(11)
    circuit.h(range(11))
    circuit.cx(0, 10)
    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(0.01, 2), ["cx"])
    program = sim.compile(circuit, ["Z" * 11], noise_model=model)
    with pytest.raises(SimulationMemoryError, match="samples"):
        program.expval(torch.zeros(10**6, 0, dtype=torch.float64))
    wide = QuantumCircuit(24)
    wide.cx(0, 1)
    with pytest.raises(SimulationMemoryError, match="qubits"):
        sim.compile(wide, noise_model=model)


def test_precision_follows_values():
    circuit, _x, _w = cell(3)
    model = gate_noise({"ry", "rx", "rz", "cx"})
    values = random_values(circuit.num_parameters, 3, 12)

    single = sim.density_matrix(circuit, values.float(), model)
    double = sim.density_matrix(circuit, values, model)

    assert single.dtype == torch.complex64 and double.dtype == torch.complex128
    np.testing.assert_allclose(single.numpy(), double.numpy(), atol=1e-5, rtol=0)
    expvals = sim.expval(circuit, values.float(), ["ZZI"], noise_model=model)
    assert expvals.dtype == torch.float32 and expvals.shape == (3, 1)
