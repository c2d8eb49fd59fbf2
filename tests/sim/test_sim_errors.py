"""Bad input to qrnn.sim: each case raises an error that names the problem and what was
expected, before any simulation work."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import Gate, Parameter, ParameterVector, QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, random_unitary
from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

from qrnn import sim


def parameterized_circuit():
    theta = ParameterVector("theta", 2)
    circuit = QuantumCircuit(2)
    circuit.rx(theta[0], 0)
    circuit.cx(0, 1)
    circuit.ry(2 * theta[1] + 0.5, 1)
    return circuit


def test_error_classes_are_value_errors():
    for error in (
        sim.SimulationError,
        sim.UnsupportedGateError,
        sim.UnsupportedNoiseError,
        sim.UnboundParameterError,
        sim.ObservableError,
        sim.SimulationMemoryError,
    ):
        assert issubclass(error, ValueError)
    assert issubclass(sim.SimulationMemoryError, MemoryError)


# --- circuits -------------------------------------------------------------------------------


def test_gate_without_definition_is_named_with_the_supported_list():
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.append(Gate("mystery_gate", 1, []), [1])

    with pytest.raises(sim.UnsupportedGateError, match=r"'mystery_gate'.*supported: .*\bcx\b"):
        sim.statevector(circuit)


def test_gate_without_definition_inside_a_composite_gate():
    inner = QuantumCircuit(2, name="block")
    inner.cx(0, 1)
    inner.append(Gate("opaque", 2, []), [0, 1])
    circuit = QuantumCircuit(2)
    circuit.append(inner.to_gate(), [1, 0])

    with pytest.raises(sim.UnsupportedGateError, match="'opaque'"):
        sim.compile(circuit)


@pytest.mark.parametrize("mode", ["statevector", "expval", "density_matrix"])
def test_measurement_is_rejected(mode):
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.measure(0, 0)

    with pytest.raises(sim.UnsupportedGateError, match=r"measure.*observables"):
        if mode == "expval":
            sim.expval(circuit, None, ["ZZ"])
        else:
            getattr(sim, mode)(circuit)


def test_classical_control_flow_is_rejected():
    circuit = QuantumCircuit(1, 1)
    with circuit.if_test((circuit.clbits[0], 1)):
        circuit.x(0)

    with pytest.raises(sim.UnsupportedGateError, match="if_else"):
        sim.statevector(circuit)


@pytest.mark.parametrize("angle", ["square", "sin"])
def test_nonlinear_angle_is_rejected(angle):
    theta = Parameter("theta")
    circuit = QuantumCircuit(1)
    circuit.rx(theta * theta if angle == "square" else theta.sin(), 0)

    with pytest.raises(sim.UnsupportedGateError, match="not linear in theta"):
        sim.statevector(circuit, [0.3])


@pytest.mark.parametrize("argument", ["bell", None, 3, np.eye(2)])
def test_non_circuit_argument(argument):
    with pytest.raises(TypeError, match="QuantumCircuit"):
        sim.statevector(argument)
    with pytest.raises(TypeError, match="QuantumCircuit"):
        sim.compile(argument, ["Z"])


def test_statevector_of_a_circuit_with_reset_points_to_density_matrix():
    circuit = QuantumCircuit(1)
    circuit.h(0)
    circuit.reset(0)

    with pytest.raises(ValueError, match="density_matrix"):
        sim.statevector(circuit)


def test_unitary_of_a_circuit_with_reset():
    circuit = QuantumCircuit(1)
    circuit.reset(0)

    with pytest.raises(ValueError, match="no unitary"):
        sim.compile(circuit).unitary()


# --- parameter values -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["statevector", "expval", "density_matrix"])
def test_unbound_parameters(mode):
    circuit = parameterized_circuit()

    with pytest.raises(sim.UnboundParameterError, match=r"2 unbound parameters.*\(batch, 2\)"):
        if mode == "expval":
            sim.expval(circuit, None, ["ZZ"])
        else:
            getattr(sim, mode)(circuit, None)


@pytest.mark.parametrize(
    "shape", [(3,), (4, 1), (4, 3), (2, 2, 1), (), (0,)], ids=lambda s: f"shape{s}"
)
def test_values_of_the_wrong_shape(shape):
    circuit = parameterized_circuit()
    values = torch.zeros(shape, dtype=torch.float64)

    expected = r"values has shape .*expected \(batch, 2\)"
    with pytest.raises(sim.UnboundParameterError, match=expected):
        sim.expval(circuit, values, ["ZZ"])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_values_with_nan_or_inf(bad):
    circuit = parameterized_circuit()
    values = torch.tensor([[0.1, 0.2], [0.3, bad]], dtype=torch.float64)

    with pytest.raises(sim.UnboundParameterError, match=r"NaN or inf.*\(1, 1\)"):
        sim.statevector(circuit, values)


def test_complex_values_are_rejected_not_truncated():
    """Casting complex angles to real would drop the imaginary part silently."""
    circuit = parameterized_circuit()
    values = torch.tensor([[0.1 + 0.5j, 0.2]], dtype=torch.complex128)

    with pytest.raises((TypeError, ValueError), match="complex"):
        sim.statevector(circuit, values)


def test_weight_parameter_that_is_not_in_the_circuit():
    with pytest.raises(sim.UnboundParameterError, match=r"'?elsewhere'? is not a parameter"):
        sim.compile(parameterized_circuit(), ["ZZ"], weight_params=[Parameter("elsewhere")])


def test_weights_of_the_wrong_shape():
    circuit = parameterized_circuit()
    program = sim.compile(circuit, ["ZZ"], weight_params=[circuit.parameters[0]])

    with pytest.raises(sim.UnboundParameterError, match=r"weights has shape \(1, 2\)"):
        program.bind(torch.zeros(2))


def test_inputs_of_the_wrong_width_after_bind():
    circuit = parameterized_circuit()
    program = sim.compile(circuit, ["ZZ"], weight_params=[circuit.parameters[0]])

    with pytest.raises(sim.UnboundParameterError, match=r"inputs has shape \(3, 2\)"):
        program.bind(torch.zeros(1)).expval(torch.zeros(3, 2))


def test_missing_inputs_after_bind():
    """Inputs left out must not silently count as zeros."""
    circuit = parameterized_circuit()
    program = sim.compile(circuit, ["ZZ"], weight_params=[circuit.parameters[0]])

    with pytest.raises(sim.UnboundParameterError, match="inputs"):
        program.bind(torch.zeros(1)).expval()


def test_batched_weights_and_inputs_of_different_batch():
    circuit = parameterized_circuit()
    program = sim.compile(circuit, ["ZZ"], weight_params=[circuit.parameters[0]])

    with pytest.raises(sim.UnboundParameterError, match="weights have batch 3 but inputs"):
        program.bind(torch.zeros(3, 1)).expval(torch.zeros(2, 1))


def test_unitary_of_a_batch():
    circuit = parameterized_circuit()

    with pytest.raises(sim.UnboundParameterError, match="not a batch"):
        sim.compile(circuit).unitary(torch.zeros(2, 2))


# --- observables ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "observable", ["ZZZ", "Z", SparsePauliOp(["XXX"])], ids=["label-3", "label-1", "sparse-3"]
)
def test_observable_of_the_wrong_width(observable):
    circuit = parameterized_circuit()

    with pytest.raises(sim.ObservableError, match=r"acts on [13] qubits; the circuit has 2"):
        sim.expval(circuit, [0.1, 0.2], ["ZZ", observable])


@pytest.mark.parametrize("label", ["ZA", "", "Z Z", "-Z"])
def test_bad_pauli_label(label):
    circuit = QuantumCircuit(2)

    with pytest.raises(sim.ObservableError, match="expected a Pauli label"):
        sim.expval(circuit, None, ["ZZ", label])


def test_observable_of_the_wrong_type():
    with pytest.raises(sim.ObservableError, match="has type int"):
        sim.expval(QuantumCircuit(1), None, [3])


def test_no_observables():
    with pytest.raises(sim.ObservableError, match="at least one"):
        sim.expval(QuantumCircuit(1), None, [])


def test_non_hermitian_observable():
    with pytest.raises(sim.ObservableError, match="complex coefficients"):
        sim.expval(QuantumCircuit(2), None, [SparsePauliOp(["XY"], [1j])])


def test_expval_of_a_program_compiled_without_observables():
    with pytest.raises(ValueError, match="without observables"):
        sim.compile(QuantumCircuit(1)).expval(None)


# --- noise models ---------------------------------------------------------------------------


def test_noise_model_of_the_wrong_type():
    with pytest.raises(TypeError, match="NoiseModel"):
        sim.density_matrix(QuantumCircuit(1), None, {"h": 0.01})


def test_correlated_readout_error():
    noise_model = NoiseModel()
    probabilities = np.full((4, 4), 0.02) + np.eye(4) * 0.92
    noise_model.add_readout_error(ReadoutError(probabilities), [0, 1])

    with pytest.raises(sim.UnsupportedNoiseError, match=r"correlated readout.*\(0, 1\)"):
        sim.expval(QuantumCircuit(2), None, ["ZZ"], noise_model)


def test_error_size_not_matching_the_instruction():
    circuit = QuantumCircuit(2)
    circuit.unitary(random_unitary(4, seed=0), [0, 1], label="coupler")
    noise_model = NoiseModel()
    noise_model.add_all_qubit_quantum_error(depolarizing_error(0.1, 1), ["coupler"])

    with pytest.raises(sim.UnsupportedNoiseError, match=r"'coupler' acts on 1 qubits.*on 2"):
        sim.density_matrix(circuit, None, noise_model)


# --- compile options ------------------------------------------------------------------------


@pytest.mark.parametrize("width", [0, -1, 2.5, "3"])
def test_bad_max_fused_qubits(width):
    circuit = parameterized_circuit()

    with pytest.raises((TypeError, ValueError), match="max_fused_qubits"):
        sim.compile(circuit, max_fused_qubits=width).statevector([0.1, 0.2])
