"""qrnn.sim.MemoryProgram: the hidden-register channel of quantum-memory cells.

References: qiskit.quantum_info.DensityMatrix on the full register (evolve by the step
circuit, read the observables, reset the data qubits, re-encode the next step), and finite
differences (float64) for the gradients.
"""

from __future__ import annotations

import math
import multiprocessing

import numpy as np
import pytest
import torch
from qiskit.circuit import Parameter, ParameterVector, QuantumCircuit
from qiskit.quantum_info import DensityMatrix, SparsePauliOp, partial_trace

from circuits import cells
from qrnn import sim
from qrnn.sim import _memory_channel

F64 = torch.float64


@pytest.fixture(params=["one sample", "two samples", "whole batch", "two threads"])
def chunks(request, monkeypatch):
    """How the channel splits a batch for its products: one sample at a time (the CPU with one
    thread), chunks of two (the last one shorter with a batch of 3), or the whole batch (off
    the CPU); with the first two the Kraus operators are also built in blocks of 24 columns
    (the last one shorter). With two torch threads the batch is cut into two parts (of 1 and 2
    samples with a batch of 3), each run by its own worker thread. Every result must be the
    same."""
    if request.param in ("one sample", "two samples"):
        size = 1 if request.param == "one sample" else 2
        monkeypatch.setattr(
            _memory_channel, "_chunk_size", lambda entries, batch, device: min(size, batch)
        )
        monkeypatch.setattr(_memory_channel, "_KRAUS_COLUMNS", 24)
    elif request.param == "whole batch":
        monkeypatch.setattr(_memory_channel, "_chunk_size", lambda entries, batch, device: batch)
    else:  # parts of any size (the channel's own rule wants 2**n_data samples in each)
        monkeypatch.setattr(_memory_channel, "_min_part", lambda psi, rho: 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(2 if request.param == "two threads" else 1)
    yield request.param
    torch.set_num_threads(threads)


def random_density_matrix(dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim))
    rho = a @ a.conj().T
    return rho / np.trace(rho)


def step_cell(n_data=2, n_hidden=2, ansatz="hardware_efficient") -> cells.Cell:
    return cells.qrnn_step(n_data=n_data, n_hidden=n_hidden, reps=2, ansatz=ansatz)


def compiled(cell: cells.Cell, observables=None) -> sim.MemoryProgram:
    observables = cell.observables if observables is None else observables
    return sim.MemoryProgram(cell.circuit, cell.inputs, observables, weight_params=cell.weights)


def reference(cell, weights, inputs, rho_h, observables):
    """Per-step expectation values and the final hidden state of one sequence, from full
    density matrices: ``inputs (L, n_data)``, ``rho_h (H, H)``."""
    n_data = len(cell.inputs)
    zero = np.zeros((2**n_data, 2**n_data))
    zero[0, 0] = 1
    state = DensityMatrix(np.kron(rho_h, zero))  # hidden qubits are the high ones
    outputs = []
    for x_t in inputs:
        binding = dict(zip(cell.weights, weights, strict=True))
        binding |= dict(zip(cell.inputs, x_t, strict=True))
        state = state.evolve(cell.circuit.assign_parameters(binding))
        outputs.append([state.expectation_value(SparsePauliOp(o)).real for o in observables])
        state = state.reset(list(range(n_data)))
    return np.array(outputs), partial_trace(state, list(range(n_data))).data


# diagonal observables on data qubits only, on hidden qubits, and across both registers
OBSERVABLES = {
    "data": ["IIIZ", "IIZI", "IIZZ"],
    "mixed": ["IIIZ", "ZIII", "IZZI", "ZZZZ", "IIII"],
}


@pytest.mark.parametrize("kind", sorted(OBSERVABLES))
def test_sequence_matches_density_matrix_with_resets(kind, chunks):
    cell = step_cell()
    observables = OBSERVABLES[kind]
    program = compiled(cell, observables)
    assert (program.n_qubits, program.n_data, program.n_hidden) == (4, 2, 2)
    rng = np.random.default_rng(0)
    weights = rng.uniform(0, 2 * math.pi, len(cell.weights))
    inputs = rng.uniform(0, 1, size=(4, 3, 2))  # (L, B, n_data)
    rhos = [random_density_matrix(4, seed) for seed in (1, 2, 3)]

    step = program.bind(torch.as_tensor(weights))
    out, rho = step.run(torch.as_tensor(inputs), torch.as_tensor(np.stack(rhos)))
    assert out.shape == (4, 3, len(observables)) and out.dtype == F64
    assert rho.shape == (3, 4, 4) and rho.dtype == torch.complex128
    for b in range(3):
        expected_out, expected_rho = reference(cell, weights, inputs[:, b], rhos[b], observables)
        np.testing.assert_allclose(out[:, b].numpy(), expected_out, atol=1e-10)
        np.testing.assert_allclose(rho[b].numpy(), expected_rho, atol=1e-10)


def test_one_step_at_a_time_equals_the_sequence():
    cell = step_cell()
    program = compiled(cell)
    step = program.bind(torch.rand(len(cell.weights), dtype=F64) * 6)
    inputs = torch.rand(3, 2, 2, dtype=F64)
    rho = program.ground_state(2, dtype=torch.complex128)
    outputs = []
    for x_t in inputs:
        out, rho = step(x_t, rho)
        outputs.append(out)
    whole, final = step.run(inputs, program.ground_state(2, dtype=torch.complex128))
    torch.testing.assert_close(torch.stack(outputs), whole)
    torch.testing.assert_close(rho, final)


def test_channel_probabilities_are_the_joint_distribution(chunks):
    cell = step_cell(n_data=1, n_hidden=2)
    program = compiled(cell)
    weights = np.random.default_rng(4).uniform(0, 2 * math.pi, len(cell.weights))
    step = program.bind(torch.as_tensor(weights))
    x = torch.tensor([[0.3]], dtype=F64)
    rho_h = random_density_matrix(4, seed=5)
    kraus = step.kraus_operators(x)
    assert kraus.shape == (1, 4, 2, 4)
    probabilities, new_rho = sim.memory_channel(kraus, torch.as_tensor(rho_h)[None])
    zero = np.diag([1.0, 0.0])
    binding = dict(zip(cell.weights, weights, strict=True)) | {cell.inputs[0]: 0.3}
    state = DensityMatrix(np.kron(rho_h, zero)).evolve(cell.circuit.assign_parameters(binding))
    # full basis index h * D + j: hidden bits high, data bits low
    np.testing.assert_allclose(probabilities[0].reshape(-1).numpy(), state.probabilities())
    np.testing.assert_allclose(new_rho[0].numpy(), partial_trace(state, [0]).data, atol=1e-12)


def test_ground_state_shortcut_equals_the_general_channel():
    cell = step_cell()
    program = compiled(cell)
    step = program.bind(torch.rand(len(cell.weights), dtype=F64) * 6)
    kraus = step.kraus_operators(torch.rand(3, 2, dtype=F64))
    ground = program.ground_state(3, dtype=torch.complex128)
    assert sim.MemoryProgram.is_ground_state(ground)
    shortcut = sim.memory_channel(kraus, ground)
    general = sim.memory_channel(kraus, ground.clone().requires_grad_(True))  # no shortcut
    for a, b in zip(shortcut, general, strict=True):
        torch.testing.assert_close(a, b.detach())


def test_ended_sequences_keep_their_state_and_output_zero(chunks):
    cell = step_cell()
    program = compiled(cell)
    step = program.bind(torch.rand(len(cell.weights), dtype=F64) * 6)
    inputs = torch.rand(4, 2, 2, dtype=F64)
    valid = torch.tensor([[True, True], [True, True], [True, False], [True, False]])
    out, rho = step.run(inputs, program.ground_state(2, dtype=torch.complex128), valid)
    short_out, short_rho = step.run(inputs[:2, 1:], program.ground_state(1, dtype=torch.complex128))
    torch.testing.assert_close(out[:2, 1:], short_out)
    assert bool((out[2:, 1] == 0).all())
    torch.testing.assert_close(rho[1:], short_rho)


def test_a_circuit_without_weights():
    cell = cells.reservoir(n_qubits=3, n_inputs=1, seed=2, reps=2)
    program = sim.MemoryProgram(cell.circuit, cell.inputs, cell.observables)
    step = program.bind(dtype=F64)
    inputs = torch.rand(3, 1, 1, dtype=F64, generator=torch.Generator().manual_seed(1))
    out, rho = step.run(inputs, program.ground_state(1, dtype=torch.complex128))
    expected_out, expected_rho = reference(
        cell, [], inputs[:, 0].numpy(), np.diag([1.0, 0, 0, 0]), cell.observables
    )
    np.testing.assert_allclose(out[:, 0].numpy(), expected_out, atol=1e-10)
    np.testing.assert_allclose(rho[0].numpy(), expected_rho, atol=1e-10)


def test_float32_runs_in_complex64():
    cell = step_cell()
    program = compiled(cell)
    weights = torch.rand(len(cell.weights), dtype=F64) * 6
    inputs = torch.rand(3, 2, 2, dtype=F64)
    out64, rho64 = program.bind(weights).run(
        inputs, program.ground_state(2, dtype=torch.complex128)
    )
    out32, rho32 = program.bind(weights.float()).run(inputs.float(), program.ground_state(2))
    assert out32.dtype == torch.float32 and rho32.dtype == torch.complex64
    torch.testing.assert_close(out32.double(), out64, atol=1e-5, rtol=0)
    torch.testing.assert_close(rho32.to(torch.complex128), rho64, atol=1e-5, rtol=0)


def test_gradients_match_finite_differences(chunks):
    """Weights, inputs and the initial state; ``rho`` enters as the Hermitian part of a free
    complex matrix, the directions in which a density matrix can move."""
    cell = step_cell(n_data=1, n_hidden=2)
    observables = ["IIZ", "ZIZ", "IZI"]
    program = compiled(cell, observables)
    generator = torch.Generator().manual_seed(6)
    weights = (torch.rand(len(cell.weights), dtype=F64, generator=generator) * 6).requires_grad_()
    inputs = torch.rand(3, 2, 1, dtype=F64, generator=generator).requires_grad_()
    free = torch.as_tensor(np.stack([random_density_matrix(4, s) for s in (7, 8)]))
    free = free.clone().requires_grad_()

    def run(weights, inputs, free):
        rho = (free + free.mH) / 2
        out, final = program.bind(weights).run(inputs, rho)
        return out, torch.view_as_real(final)

    assert torch.autograd.gradcheck(run, (weights, inputs, free))


def test_gradients_without_the_weights_match_finite_differences(chunks):
    """Frozen weights: the inputs and the initial state still get theirs."""
    cell = step_cell(n_data=1, n_hidden=2)
    program = compiled(cell, ["IIZ", "ZIZ"])
    generator = torch.Generator().manual_seed(23)
    step = program.bind(torch.rand(len(cell.weights), dtype=F64, generator=generator) * 6)
    inputs = torch.rand(3, 2, 1, dtype=F64, generator=generator).requires_grad_()
    free = torch.as_tensor(np.stack([random_density_matrix(4, s) for s in (24, 25)]))
    free = free.clone().requires_grad_()

    def run(inputs, free):
        out, final = step.run(inputs, (free + free.mH) / 2)
        return out, torch.view_as_real(final)

    assert torch.autograd.gradcheck(run, (inputs, free))


def test_gradients_from_the_ground_state_match_finite_differences(chunks):
    cell = step_cell(n_data=2, n_hidden=1)
    program = compiled(cell)
    generator = torch.Generator().manual_seed(9)
    weights = (torch.rand(len(cell.weights), dtype=F64, generator=generator) * 6).requires_grad_()
    inputs = torch.rand(2, 2, 2, dtype=F64, generator=generator).requires_grad_()
    ground = program.ground_state(2, dtype=torch.complex128)

    def run(weights, inputs):
        out, final = program.bind(weights).run(inputs, ground)
        return out, torch.view_as_real(final)

    assert torch.autograd.gradcheck(run, (weights, inputs))


def test_gradients_of_part_of_the_results_match_finite_differences(chunks):
    """Only the outputs (the last state gets no gradient), only the final state (the outputs
    get none), and only the output of one step in the middle."""
    cell = step_cell(n_data=1, n_hidden=2)
    program = compiled(cell, ["IIZ", "ZIZ"])
    generator = torch.Generator().manual_seed(11)
    weights = (torch.rand(len(cell.weights), dtype=F64, generator=generator) * 6).requires_grad_()
    inputs = torch.rand(3, 3, 1, dtype=F64, generator=generator).requires_grad_()
    free = torch.as_tensor(np.stack([random_density_matrix(4, s) for s in (12, 13, 14)]))
    free = free.clone().requires_grad_()

    def run(weights, inputs, free):
        return program.bind(weights).run(inputs, (free + free.mH) / 2)

    assert torch.autograd.gradcheck(lambda *a: run(*a)[0], (weights, inputs, free))
    final = lambda *a: torch.view_as_real(run(*a)[1])  # noqa: E731
    assert torch.autograd.gradcheck(final, (weights, inputs, free))
    assert torch.autograd.gradcheck(lambda *a: run(*a)[0][1], (weights, inputs, free))


def test_gradients_of_ended_sequences_match_finite_differences(chunks):
    cell = step_cell(n_data=1, n_hidden=2)
    program = compiled(cell, ["IIZ", "ZZI"])
    generator = torch.Generator().manual_seed(15)
    weights = (torch.rand(len(cell.weights), dtype=F64, generator=generator) * 6).requires_grad_()
    inputs = torch.rand(4, 3, 1, dtype=F64, generator=generator).requires_grad_()
    free = torch.as_tensor(np.stack([random_density_matrix(4, s) for s in (16, 17, 18)]))
    free = free.clone().requires_grad_()
    lengths = torch.tensor([4, 2, 1])
    valid = torch.arange(4)[:, None] < lengths  # (L, B)

    def run(weights, inputs, free):
        out, final = program.bind(weights).run(inputs, (free + free.mH) / 2, valid)
        return out, torch.view_as_real(final)

    assert torch.autograd.gradcheck(run, (weights, inputs, free))


def test_channel_gradients_match_finite_differences(chunks):
    """The primitive step on given Kraus operators: ``rho`` from the ground state (the
    shortcut) and from a general state."""
    cell = step_cell(n_data=1, n_hidden=2)
    step = compiled(cell).bind(torch.rand(len(cell.weights), dtype=F64) * 6)
    kraus = step.kraus_operators(torch.rand(3, 1, dtype=F64)).clone().requires_grad_()
    free = torch.as_tensor(np.stack([random_density_matrix(4, s) for s in (19, 20, 21)]))
    free = free.clone().requires_grad_()
    ground = compiled(cell).ground_state(3, dtype=torch.complex128)

    def general(kraus, free):
        probabilities, new_rho = sim.memory_channel(kraus, (free + free.mH) / 2)
        return probabilities, torch.view_as_real(new_rho)

    def from_ground(kraus):
        probabilities, new_rho = sim.memory_channel(kraus, ground)
        return probabilities, torch.view_as_real(new_rho)

    assert torch.autograd.gradcheck(general, (kraus, free))
    assert torch.autograd.gradcheck(from_ground, (kraus,))


def test_the_callers_kraus_operators_are_left_as_they_were(chunks):
    """The channel conjugates Kraus operators in place where they are its own: never the
    caller's, forward or backward."""
    cell = step_cell(n_data=1, n_hidden=2)
    step = compiled(cell).bind(torch.rand(len(cell.weights), dtype=F64) * 6)
    kraus = step.kraus_operators(torch.rand(3, 1, dtype=F64)).requires_grad_()
    before = kraus.detach().clone()
    rho = torch.as_tensor(np.stack([random_density_matrix(4, s) for s in (1, 2, 3)]))

    probabilities, new_rho = sim.memory_channel(kraus, rho)
    (probabilities.sum() + new_rho.real.square().sum()).backward()

    torch.testing.assert_close(kraus.detach(), before, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("registers", "batch", "threads", "parts", "each"),
    [
        ((4, 6), 32, 2, [16, 16], 1),  # W2
        ((4, 6), 32, 16, [16, 16], 8),  # parts of 2**4 samples at least
        ((4, 6), 33, 3, [16, 17], 1),
        ((4, 6), 48, 3, [16, 16, 16], 1),
        ((4, 6), 8, 4, [8], 4),
        ((3, 5), 64, 2, [32, 32], 1),  # 2**18 Kraus entries a part at least
        ((3, 5), 32, 2, [32], 2),
        ((2, 4), 128, 2, [128], 2),
    ],
)
def test_a_batch_is_cut_into_parts_only_where_they_pay(
    registers, batch, threads, parts, each, monkeypatch
):
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    n_data, n_hidden = registers
    psi = torch.zeros(5, batch, 2**n_data)
    rho = torch.zeros(batch, 2**n_hidden, 2**n_hidden, dtype=torch.complex64)

    slices, per_part = _memory_channel._parts(psi, rho)

    assert [len(range(batch)[part]) for part in slices] == parts
    assert per_part == each


def _run_with_two_threads(program, weights, inputs, queue) -> None:
    torch.set_num_threads(2)
    out, final = program.bind(weights).run(inputs, program.ground_state(3, dtype=torch.complex128))
    queue.put((out.numpy(), final.numpy()))  # plain arrays: the child exits before they are read


def test_a_forked_child_runs_the_parts_on_workers_of_its_own(monkeypatch):
    """After a fork the parent's worker threads do not exist in the child: it must make its
    own, not wait for threads that are not there."""
    monkeypatch.setattr(_memory_channel, "_min_part", lambda psi, rho: 1)
    cell = step_cell()
    program = compiled(cell)
    weights = torch.rand(len(cell.weights), dtype=F64)
    inputs = torch.rand(3, 3, 2, dtype=F64)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        expected = program.bind(weights).run(
            inputs, program.ground_state(3, dtype=torch.complex128)
        )
    finally:
        torch.set_num_threads(threads)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(
        target=_run_with_two_threads, args=(program, weights, inputs, queue), daemon=True
    )
    child.start()
    try:
        out, final = queue.get(timeout=60)  # a child waiting for absent workers never answers
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()

    assert child.exitcode == 0
    torch.testing.assert_close(torch.as_tensor(out), expected[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.as_tensor(final), expected[1], rtol=0, atol=1e-12)


def test_inference_mode_gives_what_no_grad_gives(chunks):
    """Tensors made in inference mode can only be written in it, on every worker thread."""
    cell = step_cell()
    step = compiled(cell).bind(torch.rand(len(cell.weights), dtype=F64))
    inputs = torch.rand(3, 3, 2, dtype=F64)
    ground = compiled(cell).ground_state(3, dtype=torch.complex128)
    with torch.no_grad():
        expected = step.run(inputs, ground)

    with torch.inference_mode():
        out, final = step.run(inputs, ground)

    torch.testing.assert_close(out, expected[0], rtol=0, atol=0)
    torch.testing.assert_close(final, expected[1], rtol=0, atol=0)


def test_a_second_backward_pass_gives_the_same_gradients(chunks):
    cell = step_cell()
    program = compiled(cell)
    weights = torch.rand(len(cell.weights), dtype=F64, requires_grad=True)
    out, final = program.bind(weights).run(
        torch.rand(3, 3, 2, dtype=F64), program.ground_state(3, dtype=torch.complex128)
    )
    loss = out.square().sum() + final.real.square().sum()
    (first,) = torch.autograd.grad(loss, weights, retain_graph=True)
    (second,) = torch.autograd.grad(loss, weights)
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_second_derivatives_are_refused_not_wrong():
    cell = step_cell()
    program = compiled(cell)
    weights = torch.rand(len(cell.weights), dtype=F64, requires_grad=True)
    rho = torch.as_tensor(random_density_matrix(4, 10))[None].requires_grad_()
    out, _ = program.bind(weights).run(torch.rand(2, 1, 2, dtype=F64), rho)
    with pytest.raises(RuntimeError, match="second derivatives"):
        torch.autograd.grad(out.sum(), weights, create_graph=True)


def _encoded(*operations) -> tuple[QuantumCircuit, ParameterVector]:
    x = ParameterVector("x", 1)
    circuit = QuantumCircuit(2)
    for operation in operations:
        operation(circuit, x)
    return circuit, x


@pytest.mark.parametrize(
    ("circuit_and_inputs", "observables", "error", "match"),
    [
        (_encoded(lambda c, x: c.rx(math.pi * x[0], 0)), ["IZ"], sim.SimulationError, "RY"),
        (_encoded(lambda c, x: c.ry(x[0], 0)), ["IZ"], sim.SimulationError, "RY"),
        (_encoded(lambda c, x: c.ry(math.pi * x[0] + 1, 0)), ["IZ"], sim.SimulationError, "RY"),
        (_encoded(lambda c, x: c.ry(math.pi * x[0], 1)), ["IZ"], sim.SimulationError, "qubit 0"),
        (
            _encoded(lambda c, x: c.ry(math.pi * x[0], 0), lambda c, x: c.rz(x[0], 1)),
            ["IZ"],
            sim.SimulationError,
            "uses an input",
        ),
        (_encoded(lambda c, x: c.ry(math.pi * x[0], 0)), ["IX"], sim.SimulationError, "diagonal"),
        (_encoded(lambda c, x: c.ry(math.pi * x[0], 0)), ["Z"], sim.SimulationError, "diagonal"),
        (
            _encoded(lambda c, x: c.ry(math.pi * x[0], 0), lambda c, x: c.rz(Parameter("t"), 1)),
            ["IZ"],
            sim.UnboundParameterError,
            "neither an input nor a weight",
        ),
    ],
)
def test_bad_step_circuits_are_refused(circuit_and_inputs, observables, error, match):
    circuit, inputs = circuit_and_inputs
    with pytest.raises(error, match=match):
        sim.MemoryProgram(circuit, inputs, observables)


def test_a_hidden_register_is_needed():
    x = ParameterVector("x", 2)
    circuit = QuantumCircuit(2)
    circuit.ry(math.pi * x[0], 0)
    circuit.ry(math.pi * x[1], 1)
    with pytest.raises(sim.SimulationError, match="hidden register"):
        sim.MemoryProgram(circuit, x, ["IZ"])


def test_bad_run_arguments_are_refused():
    cell = step_cell()
    program = compiled(cell)
    with pytest.raises(sim.UnboundParameterError, match=r"expected \(\d+,\)"):
        program.bind(torch.zeros(3, dtype=F64))
    step = program.bind(torch.zeros(len(cell.weights), dtype=F64))
    ground = program.ground_state(2, dtype=torch.complex128)
    with pytest.raises(sim.UnboundParameterError, match="n_data=2"):
        step(torch.zeros(2, 3, dtype=F64), ground)
    with pytest.raises(sim.UnboundParameterError, match=r"\(L, B, n_data\)"):
        step.run(torch.zeros(2, 2, dtype=F64), ground)
    with pytest.raises(sim.SimulationError, match=r"expected \(2, 4, 4\)"):
        step(torch.zeros(2, 2, dtype=F64), ground[:, :2])
    with pytest.raises(sim.SimulationError, match="must be complex"):
        step(torch.zeros(2, 2, dtype=F64), ground.real)
