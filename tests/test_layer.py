"""QuantumLayer: a circuit as an nn.Module whose trainable angles the optimizer sees."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit.quantum_info import Pauli, SparsePauliOp, Statevector

from circuits import cells
from qrnn import backends, sim
from qrnn.layer import QuantumLayer


def small_layer(dtype=torch.float64) -> tuple[QuantumLayer, cells.Cell]:
    gate = cells.qlstm_gate(n_qubits=3, n_inputs=2, reps=2)
    torch.manual_seed(0)
    layer = QuantumLayer(gate.circuit, gate.inputs, gate.weights, gate.observables, dtype=dtype)
    return layer, gate


def qiskit_expvals(circuit, assignment, observables) -> np.ndarray:
    """Independent reference: qiskit.quantum_info statevector expectation values."""
    state = Statevector(circuit.assign_parameters(assignment))
    return np.array([state.expectation_value(SparsePauliOp(o)).real for o in observables])


def test_output_equals_qiskit_statevector_and_sim_expval():
    layer, gate = small_layer()
    x = torch.tensor([[0.3, -1.2], [2.0, 0.5], [0.0, 0.0]], dtype=torch.float64)
    out = layer(x)
    assert out.shape == (3, 3) and out.dtype == torch.float64
    weights = layer.weight.detach()
    for row, sample in zip(out.detach().numpy(), x, strict=True):
        assignment = dict(zip(gate.weights, weights.tolist(), strict=True))
        assignment |= dict(zip(gate.inputs, sample.tolist(), strict=True))
        np.testing.assert_allclose(
            row, qiskit_expvals(gate.circuit, assignment, gate.observables), atol=1e-10
        )
    # the same values through qrnn.sim.expval with the full value vector (parameters order)
    full = {p: i for i, p in enumerate(gate.circuit.parameters)}
    values = torch.empty(3, len(full), dtype=torch.float64)
    values[:, [full[p] for p in gate.weights]] = weights
    values[:, [full[p] for p in gate.inputs]] = x
    torch.testing.assert_close(out, sim.expval(gate.circuit, values, gate.observables))


def test_inputs_follow_the_order_of_input_params_not_circuit_order():
    a, b, w = ParameterVector("a", 1), ParameterVector("b", 1), ParameterVector("w", 1)
    circuit = QuantumCircuit(2)
    circuit.ry(a[0], 0)
    circuit.ry(b[0], 1)
    circuit.rx(w[0], 0)
    layer = QuantumLayer(circuit, [b[0], a[0]], w, ["IZ", "ZI"], dtype=torch.float64)
    with torch.no_grad():
        layer.weight.zero_()
    out = layer(torch.tensor([[0.4, 1.1]], dtype=torch.float64))  # b = 0.4, a = 1.1
    expected = torch.tensor([[math.cos(1.1), math.cos(0.4)]], dtype=torch.float64)
    torch.testing.assert_close(out, expected)


def test_prepare_gives_the_same_values_as_forward_at_every_step():
    layer, _ = small_layer()
    step = layer.prepare()
    for seed in range(3):
        x = torch.rand(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(step(x), layer(x))
    assert step(torch.zeros(2, dtype=torch.float64)).shape == (3,)  # unbatched


def test_every_weight_gets_a_gradient_and_changes_after_one_adam_step():
    layer, _ = small_layer()
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.01)
    before = layer.weight.detach().clone()
    x = torch.rand(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    step = layer.prepare()  # the recurrent pattern: one prepare, several steps
    loss = sum(step(x * t).pow(2).sum() for t in (0.5, 1.0, 1.5))
    loss.backward()
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert layer.weight.grad is not None
    assert bool((layer.weight.grad != 0).all())
    optimizer.step()
    assert bool((layer.weight.detach() != before).all())


def test_gradient_matches_finite_differences():
    layer, _ = small_layer()
    x = torch.rand(2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    direction = torch.randn(layer.weight.shape, dtype=torch.float64)
    layer(x).sum().backward()
    analytic = float(layer.weight.grad @ direction)
    eps = 1e-6
    with torch.no_grad():
        base = layer.weight.detach().clone()
        layer.weight.copy_(base + eps * direction)
        plus = float(layer(x).sum())
        layer.weight.copy_(base - eps * direction)
        minus = float(layer(x).sum())
    assert analytic == pytest.approx((plus - minus) / (2 * eps), rel=1e-6, abs=1e-8)


def test_float32_runs_in_single_precision_and_agrees_with_float64():
    layer64, _ = small_layer(torch.float64)
    layer32, _ = small_layer(torch.float32)
    x = torch.rand(3, 2, generator=torch.Generator().manual_seed(3))
    out32 = layer32(x)
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), layer64(x.double()), atol=1e-5, rtol=0)


def test_weights_are_uniform_in_two_pi_and_seeded():
    layer, _ = small_layer()
    assert bool(((layer.weight >= 0) & (layer.weight < 2 * math.pi)).all())
    again, _ = small_layer()  # small_layer seeds torch's global generator
    torch.testing.assert_close(layer.weight, again.weight)
    layer.reset_parameters(torch.Generator().manual_seed(7))
    assert not torch.equal(layer.weight, again.weight)
    text = repr(layer)
    assert "n_qubits=3" in text and "n_weights=" in text and "backend='torch'" in text


def test_state_dict_round_trip():
    layer, gate = small_layer()
    fresh = QuantumLayer(
        gate.circuit, gate.inputs, gate.weights, gate.observables, dtype=torch.float64
    )
    fresh.load_state_dict(layer.state_dict())
    x = torch.rand(2, 2, dtype=torch.float64)
    torch.testing.assert_close(fresh(x), layer(x))


def test_other_backends_get_full_values_in_circuit_parameter_order():
    calls = []

    class Recorder(backends.Backend):
        """A new executor: a ``Backend`` subclass with its own ``_expval``."""

        name = "recorder"
        supports_autograd = True

        def _expval(self, circuit, values, observables):
            calls.append(values.detach().clone())
            return sim.expval(circuit, values, observables)

    layer, gate = small_layer()
    through_backend = QuantumLayer(
        gate.circuit, gate.inputs, gate.weights, gate.observables, Recorder(), dtype=torch.float64
    )
    through_backend.load_state_dict(layer.state_dict())
    x = torch.rand(3, 2, dtype=torch.float64)
    torch.testing.assert_close(through_backend(x), layer(x))
    order = list(gate.circuit.parameters)
    assert calls[0].shape == (3, len(order))
    torch.testing.assert_close(calls[0][:, order.index(gate.inputs[1])], x[:, 1])


def test_observables_in_every_form_the_engine_accepts():
    """One parser everywhere (``qrnn.sim.parse_observables``): lower-case labels, ``Pauli`` and
    ``SparsePauliOp`` give the same outputs as upper-case labels."""
    layer, gate = small_layer()
    labels = list(gate.observables)
    forms = [
        [label.lower() for label in labels],
        [Pauli(label) for label in labels],
        [SparsePauliOp(label) for label in labels],
    ]
    x = torch.rand(2, 2, dtype=torch.float64)
    for observables in forms:
        other = QuantumLayer(
            gate.circuit, gate.inputs, gate.weights, observables, dtype=torch.float64
        )
        other.load_state_dict(layer.state_dict())
        torch.testing.assert_close(other(x), layer(x))


def test_named_backend_from_qrnn_backends():
    layer, gate = small_layer()
    aer = QuantumLayer(
        gate.circuit, gate.inputs, gate.weights, gate.observables, "aer", dtype=torch.float64
    )
    aer.load_state_dict(layer.state_dict())
    x = torch.rand(2, 2, dtype=torch.float64)
    torch.testing.assert_close(aer(x), layer(x), atol=1e-8, rtol=0)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda g: {"input_params": list(g.inputs)[:1]}, ValueError, "neither inputs nor weights"),
        (lambda g: {"weight_params": [*g.weights, g.inputs[0]]}, ValueError, "both an input"),
        (lambda g: {"observables": ["ZZ"]}, sim.ObservableError, "acts on 2 qubits"),
        (lambda g: {"observables": "ZZZ"}, sim.ObservableError, "must be a list"),
        (lambda g: {"observables": ["ZQZ"]}, sim.ObservableError, "'ZQZ'"),
        (lambda g: {"circuit": "not a circuit"}, TypeError, "QuantumCircuit"),
        (lambda g: {"backend": "no-such-backend"}, Exception, "no-such-backend"),
        (lambda g: {"dtype": torch.int64}, TypeError, "float32 or torch.float64"),
    ],
)
def test_bad_arguments_are_named(change, error, match):
    gate = cells.qlstm_gate(n_qubits=3, n_inputs=2, reps=1)
    arguments = {
        "circuit": gate.circuit,
        "input_params": gate.inputs,
        "weight_params": gate.weights,
        "observables": gate.observables,
    }
    arguments |= change(gate)
    with pytest.raises(error, match=match):
        QuantumLayer(**arguments)


def test_bad_input_shape_is_named():
    layer, _ = small_layer()
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        layer(torch.zeros(4, 3, dtype=torch.float64))


# -- the natural loop: layer(x_t) at every step reuses the weight-only work --------------------


F64 = torch.float64


def counting_binds(layer: QuantumLayer) -> list:
    """Count the program binds of ``layer`` (each is the weight-only work of one forward)."""
    calls = []
    bind = layer._program.bind

    def counted(weights):
        calls.append(1)
        return bind(weights)

    layer._program.bind = counted
    return calls


def reference_outputs(layer: QuantumLayer, gate, x) -> torch.Tensor:
    """Outputs for the layer's current weights from a fresh layer: no cache shared."""
    fresh = QuantumLayer(gate.circuit, gate.inputs, gate.weights, gate.observables, dtype=F64)
    fresh.load_state_dict(layer.state_dict())
    return fresh(x)


def test_a_sequence_of_calls_binds_once_and_equals_the_explicit_form():
    layer, _gate = small_layer()
    binds = counting_binds(layer)
    xs = torch.rand(6, 4, 2, dtype=F64)
    natural = torch.stack([layer(x) for x in xs])
    assert len(binds) == 1
    step = layer.prepare()
    torch.testing.assert_close(natural, torch.stack([step(x) for x in xs]), atol=0, rtol=0)


def test_an_optimizer_step_and_load_state_dict_and_in_place_edits_rebind():
    layer, gate = small_layer()
    binds = counting_binds(layer)
    optimizer = torch.optim.Adam(layer.parameters(), lr=0.1)
    x = torch.rand(4, 2, dtype=F64)
    for _ in range(3):
        optimizer.zero_grad()
        layer(x).sum().backward()
        optimizer.step()
        torch.testing.assert_close(layer(x), reference_outputs(layer, gate, x))
    other, _ = small_layer()
    with torch.no_grad():
        other.weight.mul_(0.5)
    layer.load_state_dict(other.state_dict())
    torch.testing.assert_close(layer(x), reference_outputs(other, gate, x))
    with torch.no_grad():
        layer.weight[0] += 1.0
    torch.testing.assert_close(layer(x), reference_outputs(layer, gate, x))
    assert len(binds) >= 5  # every change of the weights rebuilt the bound program


def test_gradient_accumulation_and_autograd_grad_see_every_call():
    layer, gate = small_layer()
    x1, x2 = torch.rand(4, 2, dtype=F64), torch.rand(3, 2, dtype=F64)
    separate = []
    for x in (x1, x2):
        fresh = QuantumLayer(gate.circuit, gate.inputs, gate.weights, gate.observables, dtype=F64)
        fresh.load_state_dict(layer.state_dict())
        (fresh(x) ** 2).sum().backward()
        separate.append(fresh.weight.grad)
    (layer(x1) ** 2).sum().backward()  # a backward spends the cached bind ...
    (layer(x2) ** 2).sum().backward()  # ... so this forward builds a fresh graph
    torch.testing.assert_close(layer.weight.grad, separate[0] + separate[1])
    for x, expected in ((x1, separate[0]), (x2, separate[1])):
        (grad,) = torch.autograd.grad((layer(x) ** 2).sum(), layer.weight)
        torch.testing.assert_close(grad, expected)


def test_evaluation_under_no_grad_between_training_steps():
    layer, _gate = small_layer()
    binds = counting_binds(layer)
    x = torch.rand(4, 2, dtype=F64)
    out = layer(x)
    with torch.no_grad():
        evaluated = layer(x)
        assert not evaluated.requires_grad
        layer(x)
    out.sum().backward()  # the training entry kept its graph through the evaluation
    assert layer.weight.grad is not None
    torch.testing.assert_close(evaluated, out.detach())
    assert len(binds) == 2  # one bind per autograd mode
    copy.deepcopy(layer)  # cached graphs are not copied with the module


def test_a_circuit_too_wide_to_simulate_is_refused_at_construction():
    """40 qubits: refused by the engine's compile before any table of 2**40 entries."""
    gate = cells.qlstm_gate(n_qubits=40, reps=1)
    with pytest.raises(sim.SimulationMemoryError) as refused:
        QuantumLayer(gate.circuit, gate.inputs, gate.weights, gate.observables)
    message = str(refused.value)
    assert message.startswith("simulating this 40-qubit circuit (2**40 amplitudes) needs about")
    assert "is available. Use fewer qubits: at most" in message


def test_a_cuda_device_torch_cannot_use_is_refused_at_construction():
    gate = cells.qlstm_gate(n_qubits=3, reps=1)
    arguments = (gate.circuit, gate.inputs, gate.weights, gate.observables)
    if not torch.backends.cuda.is_built():
        device, reason = "cuda", r"needs a CUDA build of torch.*device='cpu'"
    elif not torch.cuda.is_available():
        device, reason = "cuda", r"sees no GPU.*device='cpu'"
    else:
        device, reason = f"cuda:{torch.cuda.device_count()}", "torch sees"
    with pytest.raises(backends.GPUUnavailableError, match=reason):
        QuantumLayer(*arguments, device=device)
