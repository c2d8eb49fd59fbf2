"""QReservoir: fixed random ion-trap dynamics with quantum memory; only a readout is trained."""

from __future__ import annotations

import torch
from qiskit.circuit import ParameterVector, QuantumCircuit

from qrnn import sim
from qrnn.models import Forecaster, QReservoir

F64 = torch.float64


def brute_force_outputs(model: QReservoir, angles: torch.Tensor) -> torch.Tensor:
    """Per-step readout from full density matrices (qrnn.sim, resets in the circuit)."""
    cell = model.cell(0)
    step = cell.step_cell
    batch, steps, _ = angles.shape
    circuit = QuantumCircuit(step.circuit.num_qubits)
    outputs = []
    for t in range(steps):
        x_t = ParameterVector(f"x{t}", len(step.inputs))
        circuit.compose(
            step.circuit.assign_parameters(dict(zip(step.inputs, x_t, strict=True))), inplace=True
        )
        values = angles[:, : t + 1].reshape(batch, -1)
        outputs.append(sim.expval(circuit, values, cell.observables))
        for qubit in step.data_qubits:
            circuit.reset(qubit)
    return torch.stack(outputs, dim=1)


def test_has_no_trainable_parameters():
    model = QReservoir(1, 2, n_qubits=4, num_layers=2, bidirectional=True)
    assert list(model.parameters()) == []
    assert {name for name, _ in model.named_buffers()} == {
        "cell_l0.input_weight",
        "cell_l0_reverse.input_weight",
        "cell_l1.input_weight",
        "cell_l1_reverse.input_weight",
    }
    forecaster = Forecaster(model, 1)
    trainable = [name for name, p in forecaster.named_parameters() if p.requires_grad]
    assert trainable == ["head.weight", "head.bias"]


def test_readout_matches_brute_force_density_matrices():
    model = QReservoir(2, 2, n_qubits=4, reps=2, seed=3, batch_first=True, dtype=F64)
    assert model.output_size == 2 * 4 - 1  # <Z_q> of 4 qubits and <Z_q Z_q+1> of 3 pairs
    x = torch.rand(2, 3, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    output, h_n = model(x)
    torch.testing.assert_close(output, brute_force_outputs(model, x), atol=1e-6, rtol=0)
    assert h_n.shape == (1, 2, 4, 4)


def test_fixed_input_map_when_sizes_differ():
    model = QReservoir(3, 2, n_qubits=4, reps=1, batch_first=True, dtype=F64)
    weight = model.cell(0).input_weight
    assert weight.shape == (2, 3)
    torch.testing.assert_close(weight.abs().sum(1), torch.ones(2, dtype=F64))
    x = torch.rand(2, 3, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    output, _ = model(x)
    torch.testing.assert_close(output, brute_force_outputs(model, x @ weight.T), atol=1e-6, rtol=0)


def test_seed_fixes_the_dynamics():
    x = torch.rand(5, 2, 1, generator=torch.Generator().manual_seed(2), dtype=F64)
    a = QReservoir(1, 2, n_qubits=4, seed=7, dtype=F64)(x)[0]
    b = QReservoir(1, 2, n_qubits=4, seed=7, dtype=F64)(x)[0]
    c = QReservoir(1, 2, n_qubits=4, seed=8, dtype=F64)(x)[0]
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_training_moves_only_the_readout():
    torch.manual_seed(0)
    forecaster = Forecaster(QReservoir(1, 2, n_qubits=4, reps=1, batch_first=True), 1)
    buffers = {k: v.clone() for k, v in forecaster.state_dict().items() if "recurrent" in k}
    optimizer = torch.optim.Adam(forecaster.parameters(), lr=0.05)
    windows = torch.rand(8, 4, 1, generator=torch.Generator().manual_seed(3))
    targets = windows[:, -1] * 0.5
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(forecaster(windows), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    for key, value in buffers.items():
        torch.testing.assert_close(forecaster.state_dict()[key], value)
