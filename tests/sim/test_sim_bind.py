"""Program.bind: weights given once, inputs per sample.

``bound.expval(inputs)`` must equal ``program.expval(values)`` with the same numbers placed in
``circuit.parameters`` order, and the Qiskit reference; weights broadcast over the batch or
come batched; gradients reach weights and inputs.
"""

from __future__ import annotations

import pytest
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit_aer.noise import NoiseModel, amplitude_damping_error, depolarizing_error
from sim_references import (
    ATOL_FLOAT32,
    assert_close,
    random_parameterized_circuit,
    random_values,
    reference_density,
    reference_expvals,
    reference_states,
    reference_unitary,
)

from circuits import cells
from qrnn import sim


def full_values(circuit, weight_params, weights, inputs):
    """(batch, n_params) in circuit.parameters order from weights (in weight_params order,
    (n_weight,) or (batch, n_weight)) and inputs (the rest, in circuit.parameters order)."""
    parameters = list(circuit.parameters)
    weight_set = set(weight_params)
    input_params = [p for p in parameters if p not in weight_set]
    batch = inputs.shape[0]
    values = torch.zeros(batch, len(parameters), dtype=torch.float64)
    weights = weights.expand(batch, -1) if weights.dim() == 1 else weights
    for k, parameter in enumerate(weight_params):
        values[:, parameters.index(parameter)] = weights[:, k]
    for k, parameter in enumerate(input_params):
        values[:, parameters.index(parameter)] = inputs[:, k]
    return values


def interleaved_circuit():
    """Weights and inputs interleaved in circuit.parameters (sorted by name), shared across
    gates, with input-only, weight-only and mixed angles, and a product-state prefix."""
    a = ParameterVector("a_weight", 3)
    m = ParameterVector("m_input", 2)
    z = ParameterVector("z_weight", 2)
    circuit = QuantumCircuit(4)
    circuit.ry(a[0], 0)  # weight-only prefix
    circuit.rx(m[0], 1)  # input prefix
    circuit.rz(a[1] + 2 * m[1], 1)  # mixed
    circuit.cx(0, 1)
    circuit.rxx(z[0], 1, 2)
    circuit.ry(m[0] - 0.3, 3)
    circuit.cz(2, 3)
    circuit.u(a[2], z[1], m[1], 2)
    circuit.rzz(z[0] + 0.5, 0, 3)
    circuit.cx(3, 2)
    circuit.ry(a[0], 2)
    return circuit, [*a, *z]


OBSERVABLES_4Q = ["IIIZ", "IZZI", "XIIY", "YXZI"]


@pytest.mark.parametrize("order", ["given", "reversed"])
def test_bound_expval_equals_full_expval_and_reference(order):
    circuit, weight_params = interleaved_circuit()
    if order == "reversed":
        weight_params = weight_params[::-1]
    program = sim.compile(circuit, OBSERVABLES_4Q, weight_params=weight_params)
    weights = random_values(len(weight_params), 1, 0)[0]
    inputs = random_values(circuit.num_parameters - len(weight_params), 5, 1)
    values = full_values(circuit, weight_params, weights, inputs)

    bound = program.bind(weights).expval(inputs)

    assert bound.shape == (5, len(OBSERVABLES_4Q))
    assert_close(bound, program.expval(values), atol=1e-12)
    assert_close(bound, reference_expvals(circuit, values, OBSERVABLES_4Q))


def test_bound_states_and_density_matrices():
    circuit, weight_params = interleaved_circuit()
    program = sim.compile(circuit, weight_params=weight_params)
    weights = random_values(len(weight_params), 1, 2)[0]
    inputs = random_values(2, 3, 3)
    values = full_values(circuit, weight_params, weights, inputs)
    bound = program.bind(weights)

    assert_close(bound.statevector(inputs), reference_states(circuit, values))
    assert_close(bound.density_matrix(inputs), reference_density(circuit, values))


def test_bound_program_serves_many_input_batches():
    """One bind per forward, then one call per time step, as a recurrent model does."""
    cell = cells.qlstm_gate(4, n_inputs=3, reps=2)
    program = sim.compile(cell.circuit, cell.observables, weight_params=cell.weights)
    weights = random_values(len(cell.weights), 1, 4)[0]
    bound = program.bind(weights)

    for step, batch in enumerate([4, 1, 6]):
        inputs = random_values(len(cell.inputs), batch, 10 + step)
        values = full_values(cell.circuit, list(cell.weights), weights, inputs)
        expected = reference_expvals(cell.circuit, values, cell.observables)
        assert_close(bound.expval(inputs), expected)


def test_batched_weights():
    circuit, weight_params = interleaved_circuit()
    program = sim.compile(circuit, OBSERVABLES_4Q, weight_params=weight_params)
    weights = random_values(len(weight_params), 3, 5)
    inputs = random_values(2, 3, 6)
    values = full_values(circuit, weight_params, weights, inputs)

    result = program.bind(weights).expval(inputs)

    assert_close(result, reference_expvals(circuit, values, OBSERVABLES_4Q))


def test_all_parameters_are_weights():
    circuit, weight_params = random_parameterized_circuit(3, 20, seed=19)
    weight_params = list(weight_params)
    program = sim.compile(circuit, ["ZZZ", "XIY"], weight_params=weight_params)
    weights = random_values(len(weight_params), 1, 19)[0]

    result = program.bind(weights).expval(torch.zeros(4, 0, dtype=torch.float64))

    expected = reference_expvals(circuit, weights[None], ["ZZZ", "XIY"])
    assert_close(result, torch.as_tensor(expected).expand(4, -1))


def test_bound_noisy_program_hoists_weights_on_the_density_path():
    circuit, weight_params = interleaved_circuit()
    circuit.reset(0)
    circuit.ry(weight_params[0], 0)
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx", "cz"])
    noise.add_all_qubit_quantum_error(amplitude_damping_error(0.1), ["ry"])
    program = sim.compile(circuit, OBSERVABLES_4Q, noise_model=noise, weight_params=weight_params)
    weights = random_values(len(weight_params), 1, 9)[0]
    inputs = random_values(2, 3, 10)
    values = full_values(circuit, weight_params, weights, inputs)

    assert_close(program.bind(weights).expval(inputs), program.expval(values), atol=1e-12)
    assert_close(
        program.bind(weights).density_matrix(inputs),
        sim.density_matrix(circuit, values, noise),
        atol=1e-12,
    )


def test_gradients_reach_weights_and_inputs():
    circuit, weight_params = interleaved_circuit()
    program = sim.compile(circuit, OBSERVABLES_4Q, weight_params=weight_params)
    coefficients = random_values(len(OBSERVABLES_4Q), 3, 11)

    def loss(weights, inputs_a, inputs_b):
        bound = program.bind(weights)  # one bind, two uses: both must carry gradients
        return (bound.expval(inputs_a) * coefficients).sum() + bound.expval(inputs_b)[:, 2].sum()

    weights = random_values(len(weight_params), 1, 12)[0].requires_grad_()
    inputs_a = random_values(2, 3, 13).requires_grad_()
    inputs_b = random_values(2, 3, 14).requires_grad_()
    loss(weights, inputs_a, inputs_b).backward()

    for tensor in (weights, inputs_a, inputs_b):
        assert tensor.grad is not None
        assert tensor.grad.abs().sum() > 0
    assert torch.autograd.gradcheck(
        loss,
        (weights.detach().requires_grad_(), inputs_a.detach().requires_grad_(), inputs_b),
        eps=1e-6,
        atol=1e-6,
    )


def test_gradients_of_batched_weights():
    circuit, weight_params = interleaved_circuit()
    program = sim.compile(circuit, OBSERVABLES_4Q, weight_params=weight_params)
    weights = random_values(len(weight_params), 2, 15).requires_grad_()
    inputs = random_values(2, 2, 16).requires_grad_()

    assert torch.autograd.gradcheck(
        lambda w, x: program.bind(w).expval(x), (weights, inputs), eps=1e-6, atol=1e-6
    )


def test_one_program_runs_every_mode_in_turn():
    circuit, weight_params = interleaved_circuit()
    program = sim.compile(circuit, OBSERVABLES_4Q, weight_params=weight_params)
    values = random_values(circuit.num_parameters, 2, 17)

    for _ in range(2):  # second round: every plan and constant comes from the caches
        assert_close(program.expval(values), reference_expvals(circuit, values, OBSERVABLES_4Q))
        assert_close(program.statevector(values), reference_states(circuit, values))
        assert_close(program.density_matrix(values), reference_density(circuit, values))
        assert_close(program.unitary(values[0]), reference_unitary(circuit, values[0]))
        assert_close(
            program.expval(values.float()),
            reference_expvals(circuit, values, OBSERVABLES_4Q),
            atol=ATOL_FLOAT32,
        )


def test_full_values_differentiate_through_a_program_with_weight_params():
    circuit, weight_params = interleaved_circuit()
    program = sim.compile(circuit, OBSERVABLES_4Q, weight_params=weight_params)
    values = random_values(circuit.num_parameters, 2, 18).requires_grad_()

    assert torch.autograd.gradcheck(program.expval, (values,), eps=1e-6, atol=1e-6)
