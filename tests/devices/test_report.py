"""Where noise is felt: one time step of a cell on a device, counted by hand."""

from __future__ import annotations

import math

import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector

from circuits import cells
from qrnn import devices
from qrnn.cli import main


def two_qubit_step() -> QuantumCircuit:
    """RX(a) on 0, RXX(b), then RZ and RY on 1: on R/RZ/RXX hardware two R pulses (the RZ is
    virtual, absorbed into the RY's phase) and one RXX."""
    circuit = QuantumCircuit(2, name="step")
    circuit.rx(Parameter("a"), 0)
    circuit.rxx(Parameter("b"), 0, 1)
    circuit.rz(0.3, 1)
    circuit.ry(0.2, 1)
    return circuit


def test_a_bare_circuit_counts_its_gates_fidelity_and_time():
    device = devices.get("iontrap-10q")  # depolarizing 1e-3 (1q), 1.5e-2 (2q)
    cost = devices.step_cost(device, two_qubit_step())
    assert (cost.gates_1q, cost.gates_2q, cost.measurements, cost.resets) == (2, 1, 0, 0)
    # average infidelity = lambda (d - 1) / d: 5e-4 per R, 1.125e-2 per RXX
    assert math.isclose(cost.fidelity, (1 - 5e-4) ** 2 * (1 - 1.125e-2), rel_tol=1e-12)
    assert math.isclose(cost.duration, 2 * 135e-6 + 600e-6, rel_tol=1e-12)  # one at a time


def test_a_memory_cell_is_measured_and_reset_after_its_step():
    circuit = two_qubit_step()
    inputs, weights = ParameterVector("x", 0), ParameterVector("w", 0)
    cell = cells.Cell(circuit, inputs, weights, ["IZ"], data_qubits=(0,), hidden_qubits=(1,))
    cost = devices.step_cost(devices.get("iontrap-10q"), cell)
    assert (cost.measurements, cost.resets) == (1, 1)
    # + one 300 us readout and one 50 us reset of the data qubit
    assert math.isclose(cost.duration, 2 * 135e-6 + 600e-6 + 300e-6 + 50e-6, rel_tol=1e-12)


def test_the_ideal_device_has_fidelity_one_and_the_same_gates():
    cell = devices.default_cell()
    ideal = devices.step_cost(devices.get("ideal"), cell)
    noisy = devices.step_cost(devices.get("iontrap-10q"), cell)
    assert ideal.fidelity == 1.0 and noisy.fidelity < 1.0
    assert ideal.gates_2q == noisy.gates_2q > 0


def test_bad_arguments():
    with pytest.raises(TypeError, match="device must be an IonTrapDevice"):
        devices.step_cost("iontrap-10q", two_qubit_step())
    with pytest.raises(TypeError, match=r"cell must be a circuits\.cells\.Cell"):
        devices.step_cost(devices.get("iontrap-10q"), "qrnn")


def test_cli_report_of_one_and_every_preset(capsys):
    assert main(["devices", "iontrap-10q", "--report"]) == 0
    out = capsys.readouterr().out
    expected = devices.step_cost(devices.get("iontrap-10q"), devices.default_cell())
    assert "4 data + 6 hidden qubits" in out
    assert expected.line() in out
    assert main(["devices", "--report"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in devices.names())
    assert main(["devices", "nope", "--report"]) == 2
    assert "unknown device 'nope'" in capsys.readouterr().err
