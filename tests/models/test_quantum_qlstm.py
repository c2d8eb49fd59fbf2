"""QLSTM: each LSTM gate is its own variational circuit; the state (h, c) is classical."""

from __future__ import annotations

import numpy as np
import torch
from qiskit.quantum_info import SparsePauliOp, Statevector

from qrnn.models import QLSTM, QLSTMCell, VQCGate

F64 = torch.float64


def gate_reference(gate: VQCGate, v: np.ndarray) -> np.ndarray:
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


def test_cell_follows_the_lstm_equations_with_circuit_gates():
    torch.manual_seed(0)
    cell = QLSTMCell(2, 3, n_qubits=3, reps=2, dtype=F64)
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(2, 2, generator=generator, dtype=F64)
    h = torch.rand(2, 3, generator=generator, dtype=F64) - 0.5
    c = torch.rand(2, 3, generator=generator, dtype=F64) - 0.5
    h1, c1 = cell(x, (h, c))

    v = np.concatenate([x.numpy(), h.numpy()], axis=1)
    f, i, g, o = (
        gate_reference(getattr(cell, n), v) for n in ("forget", "input", "cell", "output")
    )
    c_ref = sigmoid(f) * c.numpy() + sigmoid(i) * np.tanh(g)
    h_ref = sigmoid(o) * np.tanh(c_ref)
    np.testing.assert_allclose(c1.detach().numpy(), c_ref, atol=1e-10)
    np.testing.assert_allclose(h1.detach().numpy(), h_ref, atol=1e-10)


def test_sequence_module_iterates_its_cell():
    torch.manual_seed(0)
    model = QLSTM(2, 3, n_qubits=3, reps=1, dtype=F64)
    x = torch.rand(4, 2, 2, generator=torch.Generator().manual_seed(2), dtype=F64)
    output, (h_n, c_n) = model(x)
    cell, state = model.cell(0), None
    for t in range(4):
        state = cell(x[t], state)
        torch.testing.assert_close(output[t], state[0])
    torch.testing.assert_close(h_n[0], state[0])
    torch.testing.assert_close(c_n[0], state[1])


def test_each_gate_has_its_own_circuit_weights():
    torch.manual_seed(0)
    cell = QLSTMCell(1, 2, n_qubits=3, reps=1)
    weights = [getattr(cell, n).vqc.weight for n in QLSTMCell.gate_names]
    assert len({id(w) for w in weights}) == 4
    assert not torch.equal(weights[0], weights[1])


def test_every_weight_gets_a_gradient_and_changes_after_one_adam_step():
    torch.manual_seed(0)
    model = QLSTM(2, 3, num_layers=2, bidirectional=True, n_qubits=3, reps=1, dtype=F64)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    quantum = [name for name in before if name.endswith("vqc.weight")]
    assert len(quantum) == 2 * 2 * 4  # layers x directions x gates
    x = torch.rand(4, 3, 2, generator=torch.Generator().manual_seed(3), dtype=F64)
    output, _ = model(x)
    output.pow(2).sum().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and bool(parameter.grad.abs().sum() > 0), name
    optimizer.step()
    for name, parameter in model.named_parameters():
        assert not torch.equal(parameter.detach(), before[name]), name
    for name in quantum:  # every single circuit angle moved
        assert bool((dict(model.named_parameters())[name].detach() != before[name]).all()), name


def test_float32_agrees_with_float64():
    torch.manual_seed(0)
    model32 = QLSTM(1, 2, n_qubits=3, reps=1, dtype=torch.float32)
    model64 = QLSTM(1, 2, n_qubits=3, reps=1, dtype=F64)
    model64.load_state_dict({k: v.double() for k, v in model32.state_dict().items()})
    x = torch.rand(5, 2, 1, generator=torch.Generator().manual_seed(4))
    out32, (h32, _) = model32(x)
    out64, _ = model64(x.double())
    assert out32.dtype == torch.float32 and h32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), out64, atol=1e-5, rtol=0)
