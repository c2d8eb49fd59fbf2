"""Memory limits of the torch engine: what cannot fit is refused before it is allocated.

Every test runs under an address-space cap (``address_space_limit``): an attempt to
allocate a huge array fails at once instead of filling the machine, and the engine, which
counts that cap as the memory available, must refuse first, saying how much it needs, how
much is available and what fits.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.quantum_info import Statevector
from references import address_space_limit

from circuits import cells
from qrnn import sim

ONE_LINE = r"^[^\n]* needs about [^\n]+; [^\n]+ is available\. [^\n]+\.$"


def ghz(n_qubits: int) -> QuantumCircuit:
    circuit = QuantumCircuit(n_qubits)
    circuit.h(0)
    for q in range(n_qubits - 1):
        circuit.cx(q, q + 1)
    return circuit


def layered(n_qubits: int, reps: int = 3) -> QuantumCircuit:
    """RY on every qubit, then ``reps`` layers of a CZ ladder and RY rotations."""
    theta = ParameterVector("theta", n_qubits * (reps + 1))
    circuit = QuantumCircuit(n_qubits)
    for layer in range(reps + 1):
        if layer:
            for q in range(n_qubits - 1):
                circuit.cz(q, q + 1)
        for q in range(n_qubits):
            circuit.ry(theta[layer * n_qubits + q], q)
    return circuit


# --- circuits too wide for any run ----------------------------------------------------------


def run(call: str, circuit: QuantumCircuit):
    n = circuit.num_qubits
    if call == "compile":
        return sim.compile(circuit, ["Z" * n])
    if call == "expval":
        return sim.expval(circuit, None, ["Z" * n])
    if call == "unitary":
        return sim.compile(circuit).unitary()
    return getattr(sim, call)(circuit)


@pytest.mark.parametrize("n_qubits", [40, 60])
@pytest.mark.parametrize("call", ["compile", "statevector", "expval", "density_matrix", "unitary"])
def test_a_circuit_too_wide_is_refused_when_compiled(call, n_qubits):
    """40 qubits are 16 TiB as a complex128 state, 60 qubits 16 EiB; the compile refuses
    before its first table over 2**n basis states."""
    expected = rf"^simulating this {n_qubits}-qubit circuit \(2\*\*{n_qubits} amplitudes\)"
    with address_space_limit(), pytest.raises(sim.SimulationMemoryError) as refused:
        run(call, ghz(n_qubits))
    message = str(refused.value)
    assert re.match(expected, message) and re.match(ONE_LINE, message), message
    assert "ulimit -v" in message  # the cap is what limits this process here
    assert re.search(r"Use fewer qubits: at most \d+ fit\.$", message)


def test_a_product_state_too_wide_is_refused():
    circuit = QuantumCircuit(40)
    circuit.ry(0.3, range(40))

    with address_space_limit(), pytest.raises(sim.SimulationMemoryError, match=r"2\*\*40"):
        sim.statevector(circuit)


def test_a_noisy_circuit_is_counted_as_a_density_matrix():
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.01, 2), ["cx"])

    with address_space_limit(), pytest.raises(sim.SimulationMemoryError) as refused:
        sim.compile(ghz(20), ["Z" * 20], noise_model=noise)
    assert "as a density matrix (2**40 entries)" in str(refused.value)


def test_the_advised_width_runs_under_the_same_limit_and_agrees_with_qiskit():
    with address_space_limit(2**28), pytest.raises(sim.SimulationMemoryError) as refused:
        sim.statevector(ghz(40))
    fits = int(re.search(r"at most (\d+) fit", str(refused.value))[1])
    assert 14 <= fits < 40

    with address_space_limit(2**28):
        state = sim.statevector(ghz(fits), torch.zeros(1, 0, dtype=torch.float64))
    np.testing.assert_allclose(state[0].numpy(), Statevector(ghz(fits)).data, atol=1e-12)


# --- modes that need more than the compile ----------------------------------------------------


def test_the_density_matrix_of_a_pure_circuit_is_checked_on_its_own():
    """The statevector of 16 qubits is small; its density matrix has 2**32 entries."""
    program = sim.compile(ghz(16))
    with address_space_limit(), pytest.raises(sim.SimulationMemoryError) as refused:
        program.density_matrix()
    assert str(refused.value).startswith("simulating this 16-qubit circuit as a density matrix")
    assert re.search(r"at most \d+ fit", str(refused.value))


def test_a_unitary_is_checked_before_its_columns_exist():
    program = sim.compile(ghz(16))
    with address_space_limit(), pytest.raises(sim.SimulationMemoryError) as refused:
        program.unitary()
    assert str(refused.value).startswith(
        "the unitary of this 16-qubit circuit (2**16 columns of 2**16)"
    )


# --- batches ----------------------------------------------------------------------------------


def test_a_batch_too_large_is_refused_with_the_batch_that_fits():
    circuit = layered(16)
    program = sim.compile(circuit, ["Z" * 16])
    values = torch.rand(4096, circuit.num_parameters)

    with address_space_limit(), pytest.raises(sim.SimulationMemoryError) as refused:
        program.expval(values)
    message = str(refused.value)
    assert message.startswith("a batch of 4096 on 16 wires (2**16 amplitudes each)")
    assert re.search(r"Use a smaller batch \(at most \d+ samples fit\) or fewer qubits\.$", message)


def test_gradients_count_the_states_the_backward_pass_keeps():
    """A batch that runs without gradients is refused with them: the forward pass keeps the
    state before every dense block for the backward pass."""
    circuit = layered(12, reps=6)
    n_inputs = 12
    program = sim.compile(circuit, ["Z" * 12], weight_params=circuit.parameters[n_inputs:])
    weights = torch.rand(circuit.num_parameters - n_inputs)
    inputs = torch.rand(2048, n_inputs)

    with address_space_limit(2**30):
        with torch.no_grad():
            assert program.bind(weights).expval(inputs).shape == (2048, 1)
        weights.requires_grad_(True)
        with pytest.raises(sim.SimulationMemoryError, match=r"^a batch of 2048 .* with gradients"):
            program.bind(weights).expval(inputs)


# --- the quantum-memory channel -----------------------------------------------------------------


@pytest.mark.parametrize("n_qubits", [40, 60])
def test_a_memory_step_circuit_too_wide_is_refused(n_qubits):
    step = cells.qrnn_step(n_data=4, n_hidden=n_qubits - 4, reps=1)

    with address_space_limit(), pytest.raises(sim.SimulationMemoryError) as refused:
        sim.MemoryProgram(step.circuit, step.inputs, step.observables, weight_params=step.weights)
    message = str(refused.value)
    assert message.startswith(f"the quantum-memory channel of this {n_qubits}-qubit step")
    assert re.match(ONE_LINE, message) and re.search(r"at most \d+ fit", message)


def test_a_memory_sequence_too_large_is_refused_before_its_kraus_operators():
    step = cells.qrnn_step(n_data=4, n_hidden=6, reps=1)
    program = sim.MemoryProgram(
        step.circuit, step.inputs, step.observables, weight_params=step.weights
    )
    weights = torch.rand(len(step.weights), requires_grad=True)
    memory_step = program.bind(weights)
    batch = 1024
    rho = program.ground_state(batch)

    with address_space_limit(2**30), pytest.raises(sim.SimulationMemoryError) as refused:
        memory_step.run(torch.rand(20, batch, 4), rho)
    assert str(refused.value).startswith(
        "20 steps of a batch of 1024 through the channel of 6 hidden qubits with gradients"
    )


# --- what is available ----------------------------------------------------------------------


def test_available_memory_honours_the_address_space_limit():
    with address_space_limit(2**30):
        available, where = sim.available_memory()
    assert 0.9 * 2**30 < available <= 2**30
    assert where == "under the address-space limit (ulimit -v)"


def test_small_runs_do_not_ask():
    """Runs of a few MiB are never refused, whatever the system says."""
    with address_space_limit(0):
        sim.check_memory("a small run", lambda n: 2**n, 20)
