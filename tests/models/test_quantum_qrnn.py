"""QRNN with quantum memory: exact Kraus simulation against brute-force density matrices.

The references run the whole multi-step circuit (encoding, cell ansatz, reset of the data
register, repeated) as one circuit on the full register: with ``qrnn.sim``'s density-matrix
path, and with ``qiskit.quantum_info.DensityMatrix`` for a given initial state.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.quantum_info import DensityMatrix, SparsePauliOp, partial_trace
from torch.nn.utils.rnn import pack_sequence

from circuits import ansatz as ansatz_library
from qrnn import backends, sim
from qrnn.models import QRNN, QRNNCell

F64 = torch.float64


def unrolled(model: QRNN, steps: int) -> tuple[QuantumCircuit, list[ParameterVector]]:
    """The model's first cell run for ``steps`` steps as one circuit with resets (weights bound)."""
    cell = model.cell(0)
    step = cell.step_cell
    weights = dict(zip(step.weights, cell.weight.detach().tolist(), strict=True))
    circuit = QuantumCircuit(step.circuit.num_qubits)
    inputs = []
    for t in range(steps):
        x_t = ParameterVector(f"x{t}", len(step.inputs))
        inputs.append(x_t)
        binding = weights | dict(zip(step.inputs, x_t, strict=True))
        circuit.compose(step.circuit.assign_parameters(binding), inplace=True)
        for qubit in step.data_qubits:
            circuit.reset(qubit)
    return circuit, inputs


def brute_force(model: QRNN, angles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-step <Z> of the data qubits and the final hidden-register state, from full density
    matrices computed by qrnn.sim. ``angles``: (batch, steps, n_data)."""
    batch, steps, n_data = angles.shape
    circuit, _ = unrolled(model, steps)
    observables = model.cell(0).observables
    per_step = []
    cut = 0
    for t in range(steps):
        cut += len(model.cell(0).step_cell.circuit.data)
        truncated = circuit.copy_empty_like()
        for instruction in circuit.data[:cut]:
            truncated.append(instruction)
        cut += n_data  # skip the resets
        values = angles[:, : t + 1].reshape(batch, -1)  # x0[..], x1[..] in parameters order
        per_step.append(sim.expval(truncated, values, observables))
    full = sim.density_matrix(circuit, angles.reshape(batch, -1))
    data_dim, hidden_dim = 2**n_data, 2**model.n_hidden
    # after the final reset the data register is |0>: rho_full = rho_h (x) |0><0|
    hidden = full.view(batch, hidden_dim, data_dim, hidden_dim, data_dim)[:, :, 0, :, 0]
    return torch.stack(per_step, dim=1), hidden


def test_matches_brute_force_density_matrix_with_reset():
    torch.manual_seed(0)
    model = QRNN(2, 2, n_qubits=4, reps=2, batch_first=True, dtype=F64)
    x = torch.rand(3, 3, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    output, h_n = model(x)
    reference, hidden = brute_force(model, x)  # input_size == hidden_size: x are the angles
    torch.testing.assert_close(output, reference, atol=1e-6, rtol=0)
    torch.testing.assert_close(h_n[0], hidden, atol=1e-6, rtol=0)


def test_matches_brute_force_with_an_input_encoder():
    torch.manual_seed(0)
    model = QRNN(1, 2, n_qubits=4, reps=1, batch_first=True, dtype=F64)
    x = torch.rand(2, 3, 1, generator=torch.Generator().manual_seed(2), dtype=F64)
    output, _ = model(x)
    angles = model.cell(0).encoder(x).detach()
    reference, _ = brute_force(model, angles)
    torch.testing.assert_close(output, reference, atol=1e-6, rtol=0)


@pytest.mark.slow
def test_default_four_data_six_hidden_matches_brute_force():
    torch.manual_seed(0)
    model = QRNN(4, batch_first=True, dtype=F64)  # 10 qubits: 4 data + 6 hidden, ion_native
    assert (model.n_data, model.n_hidden) == (4, 6)
    x = torch.rand(1, 2, 4, generator=torch.Generator().manual_seed(3), dtype=F64)
    output, _ = model(x)
    # only the per-step outputs: the final density matrix of 20 wires would double the cost
    circuit, _ = unrolled(model, 2)
    observables = model.cell(0).observables
    step_length = len(model.cell(0).step_cell.circuit.data)
    first = circuit.copy_empty_like()
    for instruction in circuit.data[:step_length]:
        first.append(instruction)
    second = circuit.copy_empty_like()
    for instruction in circuit.data[: 2 * step_length + 4]:
        second.append(instruction)
    reference = torch.stack(
        [
            sim.expval(first, x[:, 0], observables),
            sim.expval(second, x.reshape(1, -1), observables),
        ],
        dim=1,
    )
    torch.testing.assert_close(output, reference, atol=1e-6, rtol=0)


def random_density_matrix(dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim))
    rho = a @ a.conj().T
    return rho / np.trace(rho)


def test_given_initial_state_matches_qiskit_density_matrix():
    torch.manual_seed(0)
    model = QRNN(2, 2, n_qubits=4, reps=2, dtype=F64)
    rho_h = random_density_matrix(4, seed=4)
    x = torch.rand(3, 1, 2, generator=torch.Generator().manual_seed(5), dtype=F64)
    hx = torch.as_tensor(rho_h)[None, None]  # (num_layers * D, N, 4, 4)
    output, h_n = model(x, hx)

    circuit, inputs = unrolled(model, 3)
    names = [p for x_t in inputs for p in x_t]
    values = dict(zip(names, x[:, 0].reshape(-1).tolist(), strict=True))
    zero = np.zeros((4, 4))
    zero[0, 0] = 1  # data register |00>
    state = DensityMatrix(np.kron(rho_h, zero))  # hidden qubits are the high ones
    expected = []
    step_length = len(model.cell(0).step_cell.circuit.data)
    for t in range(3):
        start = t * (step_length + 2)
        piece = circuit.copy_empty_like()
        for instruction in circuit.data[start : start + step_length]:
            piece.append(instruction)
        state = state.evolve(piece.assign_parameters({p: values[p] for p in piece.parameters}))
        expected.append([state.expectation_value(SparsePauliOp(o)).real for o in ("IIIZ", "IIZI")])
        state = state.reset([0, 1])
    np.testing.assert_allclose(output[:, 0].detach().numpy(), np.array(expected), atol=1e-10)
    hidden = partial_trace(state, [0, 1]).data
    np.testing.assert_allclose(h_n[0, 0].detach().numpy(), hidden, atol=1e-10)


def test_hidden_state_stays_a_density_matrix():
    torch.manual_seed(0)
    model = QRNN(1, 2, n_qubits=5, reps=2, dtype=F64)
    x = torch.rand(12, 2, 1, generator=torch.Generator().manual_seed(6), dtype=F64)
    with torch.no_grad():
        output, h_n = model(x)
    rho = h_n[0]
    assert rho.shape == (2, 8, 8)
    torch.testing.assert_close(rho, rho.mH)
    torch.testing.assert_close(
        torch.diagonal(rho, dim1=-2, dim2=-1).sum(-1).real, torch.ones(2, dtype=F64)
    )
    assert float(torch.linalg.eigvalsh(rho).min()) > -1e-12
    assert float(output.abs().max()) <= 1 + 1e-12  # <Z> values


def test_every_weight_gets_a_gradient_and_changes_after_one_adam_step():
    torch.manual_seed(0)
    model = QRNN(1, 2, num_layers=2, bidirectional=True, n_qubits=4, reps=2, dtype=F64)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    assert sum(name.endswith(".weight") and "encoder" not in name for name in before) == 4
    x = torch.rand(4, 3, 1, generator=torch.Generator().manual_seed(7), dtype=F64)
    model(x)[0].pow(2).sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and bool((parameter.grad != 0).all()), name
    optimizer.step()
    for name, parameter in model.named_parameters():
        assert bool((parameter.detach() != before[name]).all()), name


def test_gradient_matches_finite_differences():
    torch.manual_seed(0)
    model = QRNN(2, 2, n_qubits=4, reps=1, dtype=F64)
    x = torch.rand(4, 2, 2, generator=torch.Generator().manual_seed(8), dtype=F64)
    weight = model.cell(0).weight
    direction = torch.randn(weight.shape, dtype=F64, generator=torch.Generator().manual_seed(9))

    def loss() -> torch.Tensor:
        output, h_n = model(x)
        return output.pow(2).sum() + h_n.real.diagonal(dim1=-2, dim2=-1).pow(2).sum()

    loss().backward()
    analytic = float(weight.grad @ direction)
    eps = 1e-6
    with torch.no_grad():
        base = weight.detach().clone()
        weight.copy_(base + eps * direction)
        plus = float(loss())
        weight.copy_(base - eps * direction)
        minus = float(loss())
    assert analytic == pytest.approx((plus - minus) / (2 * eps), rel=1e-6, abs=1e-9)


def test_second_derivatives_are_refused_not_wrong():
    """The channel's hand-written backward has no graph: create_graph=True must fail."""
    model = QRNN(2, 2, n_qubits=4, reps=1, dtype=F64)
    x = torch.rand(2, 3, 2, dtype=F64)
    output, _ = model(x)
    with pytest.raises(RuntimeError, match="second derivatives"):
        torch.autograd.grad(output.sum(), model.cell(0).weight, create_graph=True)


def test_float32_uses_complex64_and_agrees_with_float64():
    torch.manual_seed(0)
    model32 = QRNN(1, 2, n_qubits=4, reps=2, dtype=torch.float32)
    model64 = QRNN(1, 2, n_qubits=4, reps=2, dtype=F64)
    model64.load_state_dict({k: v.double() for k, v in model32.state_dict().items()})
    x = torch.rand(6, 2, 1, generator=torch.Generator().manual_seed(10))
    out32, h32 = model32(x)
    out64, h64 = model64(x.double())
    assert out32.dtype == torch.float32 and h32.dtype == torch.complex64
    torch.testing.assert_close(out32.double(), out64, atol=1e-5, rtol=0)
    torch.testing.assert_close(h32.to(torch.complex128), h64, atol=1e-5, rtol=0)


def test_unitary_is_built_once_per_forward(monkeypatch):
    torch.manual_seed(0)
    model = QRNN(2, 2, n_qubits=4, reps=1, dtype=F64)
    calls = []
    original = sim.MemoryProgram.bind

    def counting(program, *args, **kwargs):
        calls.append(program)
        return original(program, *args, **kwargs)

    monkeypatch.setattr(sim.MemoryProgram, "bind", counting)
    model(torch.rand(7, 3, 2, dtype=F64))
    assert calls == [model.cell(0).memory]


def test_ansatz_may_be_a_circuit():
    torch.manual_seed(0)
    named = QRNN(2, 2, n_qubits=4, reps=2, ansatz="hardware_efficient", dtype=F64)
    circuit, _ = ansatz_library.get("hardware_efficient", 4, 2)
    custom = QRNN(2, 2, n_qubits=4, ansatz=circuit, dtype=F64)
    custom.load_state_dict(named.state_dict())
    x = torch.rand(3, 2, 2, dtype=F64)
    torch.testing.assert_close(custom(x)[0], named(x)[0])
    assert "ansatz='hardware_efficient'" in repr(custom)


@pytest.mark.parametrize("name", ["aer", "pennylane:default.mixed"])
def test_other_backend_runs_the_unrolled_circuit_with_resets(name):
    """Another executor runs each sequence as one circuit with resets (read at markers) and
    returns the hidden register's state it simulated: both equal the exact Kraus engine's,
    for sequences of different lengths too."""
    torch.manual_seed(0)
    kraus = QRNN(2, 2, n_qubits=4, reps=1, bidirectional=True, dtype=F64)
    through_backend = QRNN(2, 2, n_qubits=4, reps=1, bidirectional=True, backend=name, dtype=F64)
    through_backend.load_state_dict(kraus.state_dict())
    x = torch.rand(3, 2, 2, dtype=F64)
    output, h_n = through_backend(x)
    expected_output, expected_h_n = kraus(x)
    torch.testing.assert_close(output, expected_output, atol=1e-10, rtol=0)
    torch.testing.assert_close(h_n, expected_h_n, atol=1e-10, rtol=0)
    packed = pack_sequence([x[:, 0], x[:2, 1]], enforce_sorted=False)
    torch.testing.assert_close(through_backend(packed)[1], kraus(packed)[1], atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="initial state"):
        through_backend(x, expected_h_n)


def test_an_exact_torch_backend_object_is_the_engine_itself():
    model = QRNN(2, 2, n_qubits=4, reps=1, backend=backends.get("torch"), dtype=F64)
    x = torch.rand(3, 2, 2, dtype=F64)
    rho = model(x)[1].detach().clone().requires_grad_()
    model(x, rho)[1].real.sum().backward()  # initial states: only the engine takes them
    assert rho.grad is not None


def test_gradient_to_the_initial_state_matches_finite_differences():
    torch.manual_seed(0)
    model = QRNN(2, 2, n_qubits=4, reps=1, dtype=F64)
    x = torch.rand(3, 2, 2, generator=torch.Generator().manual_seed(11), dtype=F64)
    rho = torch.as_tensor(random_density_matrix(4, seed=12)).expand(1, 2, 4, 4).clone()
    # a Hermitian, traceless direction keeps rho + eps * direction a valid state to first order
    direction = torch.as_tensor(random_density_matrix(4, seed=13) - np.eye(4) / 4)

    def loss(hx: torch.Tensor) -> torch.Tensor:
        output, h_n = model(x, hx)
        return output.pow(2).sum() + (h_n.real * torch.arange(16, dtype=F64).view(4, 4)).sum()

    hx = rho.clone().requires_grad_(True)
    loss(hx).backward()
    analytic = float((hx.grad.conj() * direction).real.sum())  # torch: grad = dL/d(re) + i dL/d(im)
    eps = 1e-6
    with torch.no_grad():
        numeric = (float(loss(rho + eps * direction)) - float(loss(rho - eps * direction))) / (
            2 * eps
        )
    assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_a_cell_alone_runs_on_another_backend_from_the_ground_state():
    torch.manual_seed(0)
    exact = QRNNCell(2, 2, n_qubits=4, reps=1, dtype=F64)
    other = QRNNCell(2, 2, n_qubits=4, reps=1, backend="aer", dtype=F64)
    other.load_state_dict(exact.state_dict())
    x = torch.rand(3, 2, dtype=F64)
    output, rho = other(x)
    expected_output, expected_rho = exact(x)
    torch.testing.assert_close(output, expected_output, atol=1e-10, rtol=0)
    torch.testing.assert_close(rho, expected_rho, atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="initial state"):
        other(x, exact(x)[1])
