"""QGRU: the GRU equations with reset, update and candidate gates as circuits."""

from __future__ import annotations

import numpy as np
import torch
from qiskit.quantum_info import SparsePauliOp, Statevector

from qrnn.models import QGRU, QGRUCell

F64 = torch.float64


def gate_reference(gate, v: np.ndarray) -> np.ndarray:
    """Independent reference of one gate: numpy Linear maps around qiskit statevector <Z>."""
    layer = gate.vqc
    encoder_w, encoder_b = (t.detach().numpy() for t in (gate.encoder.weight, gate.encoder.bias))
    decoder_w, decoder_b = (t.detach().numpy() for t in (gate.decoder.weight, gate.decoder.bias))
    rows = []
    for sample in v:
        angles = encoder_w @ sample + encoder_b
        assignment = dict(zip(layer.weight_params, layer.weight.detach().tolist(), strict=True))
        assignment |= dict(zip(layer.input_params, angles.tolist(), strict=True))
        state = Statevector(layer.circuit.assign_parameters(assignment))
        z = np.array([state.expectation_value(SparsePauliOp(o)).real for o in layer.observables])
        rows.append(decoder_w @ z + decoder_b)
    return np.array(rows)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_cell_follows_the_gru_equations_with_circuit_gates():
    torch.manual_seed(0)
    cell = QGRUCell(2, 3, n_qubits=3, reps=2, dtype=F64)
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(2, 2, generator=generator, dtype=F64)
    h = torch.rand(2, 3, generator=generator, dtype=F64) - 0.5
    h1 = cell(x, h)

    x_np, h_np = x.numpy(), h.numpy()
    v = np.concatenate([x_np, h_np], axis=1)
    r = sigmoid(gate_reference(cell.reset, v))
    z = sigmoid(gate_reference(cell.update, v))
    n = np.tanh(gate_reference(cell.new, np.concatenate([x_np, r * h_np], axis=1)))
    np.testing.assert_allclose(h1.detach().numpy(), (1 - z) * n + z * h_np, atol=1e-10)
    assert cell(x[0], h[0]).shape == (3,)  # unbatched, like nn.GRUCell


def test_sequence_module_iterates_its_cell():
    torch.manual_seed(0)
    model = QGRU(2, 3, n_qubits=3, reps=1, batch_first=True, dtype=F64)
    x = torch.rand(2, 4, 2, generator=torch.Generator().manual_seed(2), dtype=F64)
    output, h_n = model(x)
    h = None
    for t in range(4):
        h = model.cell(0)(x[:, t], h)
        torch.testing.assert_close(output[:, t], h)
    torch.testing.assert_close(h_n[0], h)


def test_every_weight_gets_a_gradient_and_changes_after_one_adam_step():
    torch.manual_seed(0)
    model = QGRU(1, 2, num_layers=2, n_qubits=3, reps=1, dtype=F64)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    assert sum(name.endswith("vqc.weight") for name in before) == 2 * 3
    x = torch.rand(4, 3, 1, generator=torch.Generator().manual_seed(3), dtype=F64)
    model(x)[0].pow(2).sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and bool(parameter.grad.abs().sum() > 0), name
    optimizer.step()
    for name, parameter in model.named_parameters():
        assert bool((parameter.detach() != before[name]).any()), name


def test_float32_agrees_with_float64():
    torch.manual_seed(0)
    model32 = QGRU(1, 2, n_qubits=3, reps=1, dtype=torch.float32)
    model64 = QGRU(1, 2, n_qubits=3, reps=1, dtype=F64)
    model64.load_state_dict({k: v.double() for k, v in model32.state_dict().items()})
    x = torch.rand(5, 2, 1, generator=torch.Generator().manual_seed(4))
    out32, _ = model32(x)
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), model64(x.double())[0], atol=1e-5, rtol=0)
