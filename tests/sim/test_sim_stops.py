"""Readouts at stops: one pass of the noisy engine's states, read at several instructions.

A quantum-memory sequence (``circuits.cells.unroll``: steps, markers, resets) transpiled to an
ion-trap device with its noise. References: Aer's density-matrix method on each prefix circuit,
readout error by brute force (``tests/references.py``), and the engine's own prefix programs
(the path the stops replace, equal to 1e-10); gradients by finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.quantum_info import partial_trace
from qiskit_aer.noise import NoiseModel, amplitude_damping_error, depolarizing_error
from references import density_matrix, measured_pauli

from circuits import cells
from qrnn import backends, devices, sim
from qrnn.sim import _noisy

DEVICE = "iontrap-10q"
OBSERVABLES = ["IIIIZ", "IIIZI", "IIIZZ", "XIIII"]


def sequence(steps: int = 3):
    """The QRNN's unrolled sequence (2 data + 3 hidden qubits) in the device's executable
    form, its stops (the markers), noise model and readout confusion."""
    device = devices.get(DEVICE, n_qubits=5)
    step = cells.qrnn_step(n_data=2, n_hidden=3, reps=1, ansatz="ion_native")
    circuit, _ = cells.unroll(step, steps)
    runnable = backends.get("torch", device=device).executable(circuit)
    stops = backends.marker_positions(runnable)
    confusion = dict(enumerate(device.readout_confusion()))
    return runnable, stops, device.noise_model(), confusion


def prefix(circuit: QuantumCircuit, stop: int) -> QuantumCircuit:
    head = circuit.copy_empty_like()
    for instruction in circuit.data[:stop]:
        head.append(instruction)
    return head


def values_for(circuit, batch: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, circuit.num_parameters, generator=generator, dtype=torch.float64) * 3


def test_stops_read_each_prefix_state_in_one_pass():
    circuit, stops, noise, confusion = sequence()
    values = values_for(circuit, 2, seed=0)
    program = sim.compile(circuit, OBSERVABLES, noise_model=noise, stops=stops)
    out = program.expval_at_stops(values)
    assert out.shape == (2, len(stops), len(OBSERVABLES))
    for m, stop in enumerate(stops):
        head = prefix(circuit, stop)
        columns = [list(circuit.parameters).index(p) for p in head.parameters]
        engine = sim.compile(head, OBSERVABLES, noise_model=noise).expval(values[:, columns])
        np.testing.assert_allclose(out[:, m].numpy(), engine.numpy(), atol=1e-10)
        for b in range(2):  # Aer's state, readout error by brute force
            rho = density_matrix(head.assign_parameters(values[b, columns].numpy()), noise)
            expected = [measured_pauli(rho, label, confusion) for label in OBSERVABLES]
            np.testing.assert_allclose(out[b, m].numpy(), expected, atol=1e-8)


def test_bound_weights_and_the_final_state():
    circuit, stops, noise, _ = sequence(steps=2)
    values = values_for(circuit, 3, seed=1)
    weights = [p for p in circuit.parameters if p.name.startswith("w")]
    inputs = [p for p in circuit.parameters if not p.name.startswith("w")]
    program = sim.compile(  # up to the last stop (the data register's resets follow it)
        prefix(circuit, stops[-1]),
        OBSERVABLES,
        noise_model=noise,
        weight_params=weights,
        input_params=inputs,
    )
    staged = sim.compile(
        circuit,
        OBSERVABLES,
        noise_model=noise,
        weight_params=weights,
        input_params=inputs,
        stops=stops,
    )
    index = {p: k for k, p in enumerate(circuit.parameters)}
    w = values[0, [index[p] for p in weights]]
    x = values[:, [index[p] for p in inputs]]
    out, rho = staged.bind(w).expval_at_stops(x, final_qubits=[4, 2])
    np.testing.assert_allclose(out[:, -1].numpy(), program.bind(w).expval(x).numpy(), atol=1e-10)
    for b in range(3):
        row = torch.cat([w, x[b]])[[[*weights, *inputs].index(p) for p in circuit.parameters]]
        state = density_matrix(circuit.assign_parameters(row.numpy()), noise)
        expected = partial_trace(state, [0, 1, 3]).reverse_qargs().data  # bit 0 = qubit 4
        np.testing.assert_allclose(rho[b].numpy(), expected, atol=1e-8)


def test_gradients_through_the_stops_match_finite_differences():
    x = ParameterVector("x", 4)
    circuit = QuantumCircuit(2)
    for step in range(2):
        circuit.ry(x[2 * step], 0)
        circuit.rxx(x[2 * step + 1], 0, 1)
        circuit.barrier()
        circuit.reset(0)
    stops = [i for i, instruction in enumerate(circuit.data) if instruction.name == "barrier"]
    noise = devices.get(DEVICE, n_qubits=2).noise_model()
    program = sim.compile(circuit, ["IZ", "ZZ"], stops=stops, noise_model=noise)
    values = values_for(circuit, 2, seed=2).requires_grad_()
    assert torch.autograd.gradcheck(program.expval_at_stops, (values,))


@pytest.mark.parametrize("stops", [[3, 1], [-1], [99], [1.5]])
def test_bad_stops_are_refused(stops):
    circuit, _, noise, _ = sequence(steps=1)
    with pytest.raises(ValueError, match="stops must be non-decreasing instruction indices"):
        sim.compile(circuit, OBSERVABLES, noise_model=noise, stops=stops)


def test_a_program_without_stops_says_so():
    circuit, _, noise, _ = sequence(steps=1)
    with pytest.raises(ValueError, match="compiled without stops"):
        sim.compile(circuit, OBSERVABLES, noise_model=noise).expval_at_stops(
            values_for(circuit, 1, seed=0)
        )


def test_gates_outside_the_readout_run_after_the_reset_that_follows_it():
    # the readout is on the data register only: the step's last gates among hidden qubits
    # commute with it and with the data register's resets, so they run after those, on the
    # hidden register's state alone (the reset qubits released); the values are unchanged
    circuit, stops, noise, _ = sequence()
    data_only = ["IIIIZ", "IIIZI", "IIIZZ"]
    values = values_for(circuit, 2, seed=3)
    program = sim.compile(circuit, data_only, noise_model=noise, stops=stops)
    assert any(block.releases for block in program._noisy.blocks)  # the path under test
    out, rho = program.expval_at_stops(values, final_qubits=[2, 3, 4])
    for m, stop in enumerate(stops):
        head = prefix(circuit, stop)
        columns = [list(circuit.parameters).index(p) for p in head.parameters]
        engine = sim.compile(head, data_only, noise_model=noise).expval(values[:, columns])
        np.testing.assert_allclose(out[:, m].numpy(), engine.numpy(), atol=1e-10)
    for b in range(2):
        state = density_matrix(circuit.assign_parameters(values[b].numpy()), noise)
        expected = partial_trace(state, [0, 1]).data  # bit j = qubit 2 + j
        np.testing.assert_allclose(rho[b].numpy(), expected, atol=1e-8)


def test_gates_outside_the_readout_wait_for_every_reset_before_their_qubits_are_used():
    # after the stop, a gate between two reset data qubits comes before the third's reset:
    # the deferred gate among hidden qubits still runs after all three resets (on the hidden
    # register alone), not before that gate with the third data qubit still held
    x = ParameterVector("x", 6)
    circuit = QuantumCircuit(5)
    for step in range(2):
        for q in range(3):
            circuit.ry(x[3 * step + q], q)
        for a, b in [(0, 1), (1, 2), (2, 3), (3, 4)]:
            circuit.rxx(0.3 + a, a, b)
        circuit.barrier()
        circuit.reset([0, 1])
        circuit.rxx(0.7, 0, 1)
        circuit.reset(2)
    stops = [i for i, instruction in enumerate(circuit.data) if instruction.name == "barrier"]
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["rxx"])
    noise.add_all_qubit_quantum_error(amplitude_damping_error(0.1), ["ry", "reset"])
    observables = ["IIIIZ", "IIZIZ", "IIXII"]
    values = values_for(circuit, 2, seed=4)

    program = sim.compile(circuit, observables, noise_model=noise, stops=stops)
    out = program.expval_at_stops(values)

    blocks = program._noisy.blocks[program._noisy.marks[0] :]
    deferred = next(k for k, block in enumerate(blocks) if set(block.qubits) == {3, 4})
    assert sum(block.releases for block in blocks[:deferred]) == 3
    for m, stop in enumerate(stops):
        head = prefix(circuit, stop)
        for b in range(2):
            rho = density_matrix(head.assign_parameters(values[b, : head.num_parameters]), noise)
            expected = [measured_pauli(rho, label, {}) for label in observables]
            np.testing.assert_allclose(out[b, m].numpy(), expected, atol=1e-8)


def test_the_last_readout_meets_the_observables_evolved_back_through_the_weight_gates(
    monkeypatch,
):
    # without the final state, the last step's gates after its inputs run once per bind on
    # the observables (backwards), met with each sample's state after the step's encoding;
    # one sample per chunk of the run (each chunk meets the same observables)
    monkeypatch.setattr(_noisy, "_CPU_CHUNK_BYTES", 1)
    circuit, stops, noise, confusion = sequence(steps=2)
    weights = [p for p in circuit.parameters if p.name.startswith("w")]
    inputs = [p for p in circuit.parameters if not p.name.startswith("w")]
    staged = sim.compile(
        circuit,
        OBSERVABLES,
        noise_model=noise,
        weight_params=weights,
        input_params=inputs,
        stops=stops,
    )
    values = values_for(circuit, 8, seed=5)
    index = {p: k for k, p in enumerate(circuit.parameters)}
    w = values[0, [index[p] for p in weights]]
    x = values[:, [index[p] for p in inputs]]
    assert staged._noisy.last_stop_backwards(8, hoisted=False)  # the path under test
    bound = staged.bind(w)
    out = bound.expval_at_stops(x)
    again = bound.expval_at_stops(x)  # the evolved observables kept
    forward, _ = bound.expval_at_stops(x, final_qubits=[4])  # the states run to the end
    np.testing.assert_allclose(again.numpy(), out.numpy(), atol=1e-12)
    np.testing.assert_allclose(out.numpy(), forward.numpy(), atol=1e-10)
    for m, stop in enumerate(stops):
        head = prefix(circuit, stop)
        for b in range(8):
            row = torch.cat([w, x[b]])[[[*weights, *inputs].index(p) for p in circuit.parameters]]
            rho = density_matrix(head.assign_parameters(row[: head.num_parameters].numpy()), noise)
            expected = [measured_pauli(rho, label, confusion) for label in OBSERVABLES]
            np.testing.assert_allclose(out[b, m].numpy(), expected, atol=1e-8)


def test_gradients_through_the_last_readout_backwards_match_finite_differences():
    x, w = ParameterVector("x", 2), ParameterVector("w", 2)
    circuit = QuantumCircuit(2)
    for step in range(2):
        circuit.ry(x[step], 0)
        circuit.rxx(w[0], 0, 1)
        circuit.ry(w[1], 1)
        circuit.rxx(0.4, 0, 1)
        circuit.barrier()
        circuit.reset(0)
    stops = [i for i, instruction in enumerate(circuit.data) if instruction.name == "barrier"]
    noise = devices.get(DEVICE, n_qubits=2).noise_model()
    program = sim.compile(
        circuit,
        ["IZ", "ZZ"],
        stops=stops,
        noise_model=noise,
        weight_params=list(w),
        input_params=list(x),
    )
    assert program._noisy.last_stop_backwards(8, hoisted=False)  # the path under test
    inputs = values_for(circuit, 8, seed=6)[:, :2].requires_grad_()
    weights = torch.tensor([0.7, -1.2], dtype=torch.float64, requires_grad=True)

    def readouts(weights, inputs):
        return program.bind(weights).expval_at_stops(inputs)

    assert torch.autograd.gradcheck(readouts, (weights, inputs))
