"""The engine's hand-written backward passes, against finite differences and Qiskit.

``qrnn.sim`` runs a circuit's kernels inside one autograd function with an adjoint backward
(``_chain``), builds product states with its own backward, and folds angle encodings
(``RY(x)``, ``RX(x)``, ``R(x, phi)``, ... as the first input-dependent gate of a wire) into two
2-vectors per wire. These tests build circuits that reach every branch of that code: uniform
and per-sample blocks, blocks at every axis position, gathers with phases, states broadcast
over a batch of weights, wires with static gates only or no gates, encodings with static
offsets, and prefixes that do not have the encoding shape. Values are checked against
``qiskit.quantum_info``; gradients with ``torch.autograd.gradcheck`` (central differences).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from qiskit_aer.noise import NoiseModel, amplitude_damping_error, depolarizing_error
from sim_references import (
    assert_close,
    reference_density,
    reference_expvals,
    reference_states,
)

from circuits import ansatz, encoding
from qrnn import sim
from qrnn.sim._product import product_groups, product_state

GRADCHECK = {"eps": 1e-6, "atol": 1e-7, "rtol": 1e-5}


def _encoded_circuit(n_qubits: int = 5):
    """Angle encodings of several shapes, an entangling layer with phases, re-uploading.

    Wire 0: RY(x0) between static gates; wire 1: RX(2 x1 + w0 + 0.3); wire 2: R(x2, w1) (a
    static phase on an input rotation); wire 3: static gates only; wire 4: no prefix gate.
    After the prefix: CX/CY/CZ/SWAP (gathers with phases), weight-only rotations (uniform
    blocks) and one input-dependent gate after the entanglers (a per-sample block).
    """
    x = ParameterVector("x", 3)
    w = ParameterVector("w", 8)
    circuit = QuantumCircuit(n_qubits)
    circuit.h(0)
    circuit.ry(x[0], 0)
    circuit.rz(w[2], 0)
    circuit.rx(2 * x[1] + w[0] + 0.3, 1)
    circuit.r(x[2], w[1], 2)
    circuit.sx(3)
    circuit.rz(w[3], 3)
    for q in range(n_qubits - 1):
        circuit.cx(q, q + 1)
    circuit.cy(4, 0)
    circuit.cz(1, 3)
    circuit.swap(2, 4)
    for q in range(n_qubits):
        circuit.ry(w[4 + q % 4], q)
    circuit.rzz(w[5], 0, 4)
    circuit.rx(x[0] - x[1], 2)  # an input after the entanglers: a per-sample block
    circuit.rxx(w[6] + x[2], 1, 3)
    circuit.cx(3, 2)
    return circuit, list(x), list(w)


OBSERVABLES = ["ZIIIZ", "IIZII", "XXIIY", "IZIZI"]


def _values(circuit, inputs, weights, input_values, weight_values):
    """Full parameter rows (circuit.parameters order) from the two halves."""
    index = {p: i for i, p in enumerate(circuit.parameters)}
    batch = max(input_values.shape[0], weight_values.shape[0])
    rows = torch.zeros(batch, len(index), dtype=torch.float64)
    rows[:, [index[p] for p in inputs]] = input_values.expand(batch, -1)
    rows[:, [index[p] for p in weights]] = weight_values.expand(batch, -1)
    return rows


def _check_values_and_gradients(program, circuit, observables, parameters, inputs, weights):
    """Bound expectation values against Qiskit, and central-difference gradients for the
    ``inputs`` (b, n_in) and the ``weights`` (n_w,) or (b, n_w); ``parameters``: the
    circuit's (input, weight) parameter lists."""
    rows = _values(circuit, *parameters, inputs, weights.reshape(-1, weights.shape[-1]))
    expected = reference_expvals(circuit, rows, observables)
    assert_close(program.bind(weights).expval(inputs), expected)
    assert torch.autograd.gradcheck(
        lambda a, b: program.bind(b).expval(a),
        (inputs.requires_grad_(), weights.requires_grad_()),
        **GRADCHECK,
    )


@pytest.mark.parametrize("diagonal_only", [True, False])
def test_bound_expval_values_and_gradients(diagonal_only):
    circuit, inputs, weights = _encoded_circuit()
    observables = [o for o in OBSERVABLES if set(o) <= {"I", "Z"}] if diagonal_only else OBSERVABLES
    program = sim.compile(circuit, observables, weight_params=weights)
    generator = torch.Generator().manual_seed(3)
    input_values = torch.rand(4, len(inputs), generator=generator, dtype=torch.float64) * 3
    weight_values = torch.rand(len(weights), generator=generator, dtype=torch.float64) * 3

    expected = reference_expvals(
        circuit, _values(circuit, inputs, weights, input_values, weight_values[None]), observables
    )
    assert_close(program.bind(weight_values).expval(input_values), expected)

    def run(x, w):
        return program.bind(w).expval(x)

    assert torch.autograd.gradcheck(
        run, (input_values.requires_grad_(), weight_values.requires_grad_()), **GRADCHECK
    )


def test_input_free_head_is_broadcast_over_the_batch():
    """No input before the entanglers: the leading part runs once per bind (batch 1) and the
    chain broadcasts it over the per-sample blocks, in the forward and the backward pass."""
    x = ParameterVector("x", 2)
    w = ParameterVector("w", 3)
    circuit = QuantumCircuit(4)
    for q in range(4):
        circuit.ry(w[q % 3], q)
    circuit.cx(0, 1)
    circuit.cx(2, 3)
    circuit.cz(1, 2)
    circuit.rx(x[0], 1)  # the first input: a per-sample block after the entanglers
    circuit.rzz(x[1] + w[2], 0, 3)
    circuit.ry(w[0], 2)
    observables = ["ZIIZ", "IXZI"]
    program = sim.compile(circuit, observables, weight_params=list(w))
    generator = torch.Generator().manual_seed(4)
    input_values = torch.rand(3, 2, generator=generator, dtype=torch.float64)
    weight_values = torch.rand(3, generator=generator, dtype=torch.float64)
    _check_values_and_gradients(
        program, circuit, observables, (list(x), list(w)), input_values, weight_values
    )


def test_batched_weights():
    circuit, inputs, weights = _encoded_circuit()
    observables = ["ZIIIZ", "IXIZI"]
    program = sim.compile(circuit, observables, weight_params=weights)
    generator = torch.Generator().manual_seed(7)
    input_values = torch.rand(3, len(inputs), generator=generator, dtype=torch.float64)
    weight_values = torch.rand(3, len(weights), generator=generator, dtype=torch.float64)
    _check_values_and_gradients(
        program, circuit, observables, (inputs, weights), input_values, weight_values
    )


def test_prefix_without_the_encoding_shape_takes_the_general_path():
    """Two input gates on one wire, and an input in a phase angle: still exact."""
    x = ParameterVector("x", 3)
    circuit = QuantumCircuit(3)
    circuit.ry(x[0], 0)
    circuit.rx(x[1], 0)  # a second input gate on wire 0
    circuit.r(0.4, x[2], 1)  # the input is the phase, not theta
    circuit.ry(x[0], 2)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    circuit.rz(0.7, 2)
    program = sim.compile(circuit, ["ZZI", "IXI"])
    values = torch.rand(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    assert_close(program.expval(values), reference_expvals(circuit, values, ["ZZI", "IXI"]))
    assert torch.autograd.gradcheck(program.expval, (values.requires_grad_(),), **GRADCHECK)


def test_statevector_and_unitary_run_the_same_chain():
    circuit, inputs, weights = _encoded_circuit(5)
    program = sim.compile(circuit, weight_params=weights)
    generator = torch.Generator().manual_seed(6)
    input_values = torch.rand(2, len(inputs), generator=generator, dtype=torch.float64)
    weight_values = torch.rand(len(weights), generator=generator, dtype=torch.float64)
    rows = _values(circuit, inputs, weights, input_values, weight_values[None])
    bound = program.bind(weight_values)
    assert_close(bound.statevector(input_values), reference_states(circuit, rows))
    unitary = bound.unitary(input_values[:1])
    zero = np.zeros(2**5)
    zero[0] = 1
    assert_close(
        unitary @ torch.as_tensor(zero, dtype=unitary.dtype), reference_states(circuit, rows[:1])[0]
    )

    def state_loss(w):
        state = program.bind(w).statevector(input_values)
        return (state.abs() ** 2 * torch.arange(2**5)).sum(-1)

    assert torch.autograd.gradcheck(state_loss, (weight_values.requires_grad_(),), **GRADCHECK)


def test_float32_takes_the_same_path():
    circuit, inputs, weights = _encoded_circuit()
    program = sim.compile(circuit, ["ZIIIZ"], weight_params=weights)
    x = torch.rand(5, len(inputs), dtype=torch.float64)
    w = torch.rand(len(weights), dtype=torch.float64)
    single = program.bind(w.float()).expval(x.float())
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.double(), program.bind(w).expval(x), atol=1e-5, rtol=0)


def test_no_grad_run_equals_grad_run():
    circuit, inputs, weights = _encoded_circuit()
    program = sim.compile(circuit, OBSERVABLES, weight_params=weights)
    x = torch.rand(3, len(inputs), dtype=torch.float64)
    w = torch.rand(len(weights), dtype=torch.float64, requires_grad=True)
    with_grad = program.bind(w).expval(x)
    with torch.no_grad():
        without = program.bind(w).expval(x)
    assert with_grad.requires_grad and not without.requires_grad
    torch.testing.assert_close(with_grad.detach(), without, atol=0, rtol=0)


@pytest.mark.parametrize("n_wires", [1, 2, 6, 10, 11, 13])
def test_product_state_is_the_kronecker_product_and_differentiates(n_wires):
    """1, 2 and 3 wire groups; compared with numpy's kron and central differences."""
    generator = torch.Generator().manual_seed(n_wires)
    vectors = torch.randn(n_wires, 2, 2, dtype=torch.complex128, generator=generator)
    groups = product_groups(n_wires, "cpu", torch.complex128)
    state = product_state(vectors, groups)
    for sample in range(2):
        expected = np.array([1.0 + 0j])
        for wire in range(n_wires):  # first wire most significant
            expected = np.kron(expected, vectors[wire, :, sample].numpy())
        np.testing.assert_allclose(state[:, sample].numpy(), expected, atol=1e-12)
    if n_wires <= 11:
        vectors.requires_grad_()
        assert torch.autograd.gradcheck(lambda v: product_state(v, groups), (vectors,))


def test_product_state_gradient_where_amplitudes_vanish():
    """RY(0)|0> has a zero amplitude: the backward must not divide by it."""
    vectors = torch.zeros(6, 2, 1, dtype=torch.complex128)
    vectors[:, 0] = 1
    vectors[2, 1] = 0.5
    vectors.requires_grad_()
    groups = product_groups(6, "cpu", torch.complex128)
    assert torch.autograd.gradcheck(lambda v: product_state(v, groups), (vectors,))


def _shared_input_circuit():
    """One input on two prefix wires (scaled and offset on one), a wire with static gates
    only, a wire without prefix gates."""
    x = ParameterVector("x", 2)
    w = ParameterVector("w", 2)
    circuit = QuantumCircuit(4)
    circuit.rx(2 * x[0] + w[0] + 0.3, 0)
    circuit.ry(x[0], 1)
    circuit.s(3)
    circuit.h(3)
    circuit.cx(0, 1)
    circuit.cz(1, 3)
    circuit.cx(3, 2)
    circuit.ry(w[1], 2)
    circuit.rzz(x[1], 0, 2)
    return circuit


def test_one_input_on_two_wires_and_the_density_matrix_of_a_pure_circuit():
    """The density-matrix mode runs conjugate copies of the encoding through the same
    prefix; values against Qiskit, gradients against central differences."""
    circuit = _shared_input_circuit()
    observables = ["ZZII", "IXZI", "YIIX"]
    program = sim.compile(circuit)
    values = torch.rand(3, circuit.num_parameters, dtype=torch.float64)
    assert_close(
        sim.compile(circuit, observables).expval(values),
        reference_expvals(circuit, values, observables),
    )
    assert_close(program.density_matrix(values), reference_density(circuit, values))
    assert torch.autograd.gradcheck(
        lambda v: torch.view_as_real(program.density_matrix(v)),
        (values.requires_grad_(),),
        **GRADCHECK,
    )


def test_noisy_program_through_the_chain_and_the_encoding_prefix():
    """Non-unitary blocks (Kraus channels) in the chain, the encoding in the prefix."""
    circuit = _shared_input_circuit()
    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.05, 2), ["cx", "cz", "rzz"])
    noise.add_all_qubit_quantum_error(amplitude_damping_error(0.1), ["ry"])
    program = sim.compile(circuit, ["ZZII", "IXZI"], noise_model=noise)
    values = torch.rand(2, circuit.num_parameters, dtype=torch.float64)
    assert torch.autograd.gradcheck(program.expval, (values.requires_grad_(),), **GRADCHECK)


def test_second_derivatives_raise_instead_of_being_wrong():
    """The hand-written backward passes are not differentiable; building a graph of them
    must fail loudly, for the encoding prefix and for input-dependent blocks alike."""
    circuit, inputs, weights = _encoded_circuit()
    program = sim.compile(circuit, ["ZIIIZ"], weight_params=weights)
    x = torch.rand(2, len(inputs), dtype=torch.float64, requires_grad=True)
    w = torch.rand(len(weights), dtype=torch.float64, requires_grad=True)
    for wrt in (x, w):
        with pytest.raises(RuntimeError, match="second derivatives"):
            torch.autograd.grad(program.bind(w).expval(x).sum(), wrt, create_graph=True)


def test_a_bound_program_used_under_no_grad_still_gives_gradients_later():
    """Weight-only work hoisted during a no_grad call must not be reused without its graph."""
    circuit, inputs, weights = _encoded_circuit()
    program = sim.compile(circuit, ["ZIIIZ", "IZIZI"], weight_params=weights)
    x = torch.rand(3, len(inputs), dtype=torch.float64)
    w = torch.rand(len(weights), dtype=torch.float64, requires_grad=True)
    bound = program.bind(w)
    with torch.no_grad():
        before = bound.expval(x)
    after = bound.expval(x)
    torch.testing.assert_close(after.detach(), before, atol=1e-12, rtol=0)
    (gradient,) = torch.autograd.grad(after.sum(), w)
    (fresh,) = torch.autograd.grad(program.bind(w).expval(x).sum(), w)
    torch.testing.assert_close(gradient, fresh, atol=1e-12, rtol=0)
    assert gradient.abs().sum() > 0


def _layer_circuit(n_qubits: int, layers: int):
    """Angle encoding, then layers of weight rotations on every wire and a CNOT ring (the
    hardware-efficient ansatz): the recurrent-cell shape whose blocks rotate the state's
    memory layout."""
    circuit, x = encoding.angle_encoding(n_qubits)
    body, w = ansatz.hardware_efficient(n_qubits, reps=layers, rotations=("rx", "rz"))
    circuit.compose(body, inplace=True)
    return circuit, list(x), list(w)


@pytest.mark.parametrize(("n_qubits", "layers", "max_fused"), [(7, 3, 3), (8, 2, 5), (6, 4, 2)])
def test_layers_of_blocks_and_gathers_rotate_the_layout_exactly(n_qubits, layers, max_fused):
    """Several layers: gathers meet rotated layouts, blocks lead, trail or sit inside them."""
    circuit, inputs, weights = _layer_circuit(n_qubits, layers)
    observables = ["Z" * n_qubits, "I" * (n_qubits - 1) + "Z", "X" + "I" * (n_qubits - 1)]
    program = sim.compile(
        circuit, observables[:2], weight_params=weights, max_fused_qubits=max_fused
    )
    generator = torch.Generator().manual_seed(n_qubits)
    input_values = torch.rand(3, len(inputs), generator=generator, dtype=torch.float64) * 3
    weight_values = torch.rand(len(weights), generator=generator, dtype=torch.float64) * 3
    rows = _values(circuit, inputs, weights, input_values, weight_values[None])
    bound = program.bind(weight_values)
    assert_close(bound.expval(input_values), reference_expvals(circuit, rows, observables[:2]))
    assert_close(bound.statevector(input_values), reference_states(circuit, rows))
    mixed = sim.compile(circuit, observables, weight_params=weights, max_fused_qubits=max_fused)
    assert_close(
        mixed.bind(weight_values).expval(input_values),
        reference_expvals(circuit, rows, observables),
    )
    if n_qubits <= 7:
        assert torch.autograd.gradcheck(
            lambda a, b: program.bind(b).expval(a),
            (input_values.requires_grad_(), weight_values.requires_grad_()),
            **GRADCHECK,
        )


def test_readout_straight_from_the_encoding():
    """No kernel after the prefix: the probabilities of the product state itself are read
    out (batch-last), with gradients."""
    x = ParameterVector("x", 3)
    circuit = QuantumCircuit(3)
    for q in range(3):
        circuit.ry(x[q], q)
    circuit.rz(0.3, 1)
    observables = ["ZZI", "IIZ", "ZIZ"]
    program = sim.compile(circuit, observables)
    values = torch.rand(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    assert_close(program.expval(values), reference_expvals(circuit, values, observables))
    assert torch.autograd.gradcheck(program.expval, (values.requires_grad_(),), **GRADCHECK)


@pytest.mark.parametrize("batch", [1, 3])
def test_a_last_block_on_some_wires_read_out_in_place(batch):
    """The chain ends with a block on one wire (an input-dependent gate: per-sample for a
    batch, shared for one sample), applied in place with the batch axis last; the readout and
    its gradient see the state in that layout."""
    x = ParameterVector("x", 3)
    w = ParameterVector("w", 1)
    circuit = QuantumCircuit(3)
    circuit.ry(x[0], 0)
    circuit.ry(x[2], 2)
    circuit.cx(0, 1)
    circuit.rx(2 * x[1] + w[0], 1)
    observables = ["ZZI", "IZI", "ZZZ"]
    program = sim.compile(circuit, observables, weight_params=list(w))
    generator = torch.Generator().manual_seed(10 + batch)
    input_values = torch.rand(batch, 3, generator=generator, dtype=torch.float64) * 3
    weight_values = torch.rand(1, generator=generator, dtype=torch.float64) * 3
    _check_values_and_gradients(
        program, circuit, observables, (list(x), list(w)), input_values, weight_values
    )


def test_state_gradients_when_the_chain_ends_in_a_block():
    """statevector() hands the chain back a transposed gradient; a chain that ends with a
    block on some wires must take it (for the encoded and the general prefix)."""
    x = ParameterVector("x", 3)
    w = ParameterVector("w", 2)
    encoded = QuantumCircuit(3)
    for q in range(3):
        encoded.ry(x[q], q)
    encoded.rxx(w[0], 1, 2)
    general = QuantumCircuit(2)
    general.ryy(x[0], 0, 1)
    general.rz(w[0], 0)
    general.rz(w[1], 1)
    for circuit, n_inputs, n_weights, fused in ((encoded, 3, 1, 5), (general, 1, 2, 1)):
        inputs, weights = list(x)[:n_inputs], list(w)[:n_weights]
        program = sim.compile(circuit, weight_params=weights, max_fused_qubits=fused)
        generator = torch.Generator().manual_seed(12)
        input_values = torch.rand(3, n_inputs, generator=generator, dtype=torch.float64)
        weight_values = torch.rand(n_weights, generator=generator, dtype=torch.float64)
        rows = _values(circuit, inputs, weights, input_values, weight_values[None])
        assert_close(
            program.bind(weight_values).statevector(input_values), reference_states(circuit, rows)
        )
        dim = 2**circuit.num_qubits

        def loss(a, b, program=program, dim=dim):
            state = program.bind(b).statevector(a)
            return (state.abs().square() * torch.arange(dim)).sum(-1)

        assert torch.autograd.gradcheck(
            loss, (input_values.requires_grad_(), weight_values.requires_grad_()), **GRADCHECK
        )


def test_batched_weights_without_inputs_read_out_from_the_head():
    """No input at all: the whole circuit is the head, built per bind with a batch of weights
    (small per-sample blocks give a strided state), then read out."""
    w = ParameterVector("w", 2)
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.rzz(w[0], 0, 1)
    circuit.rx(w[1], 1)
    program = sim.compile(circuit, ["IZ", "ZZ"], weight_params=list(w))
    weight_values = torch.rand(
        3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(13)
    )
    expected = reference_expvals(circuit, weight_values, ["IZ", "ZZ"])
    assert_close(program.bind(weight_values).expval(), expected)
    assert torch.autograd.gradcheck(
        lambda b: program.bind(b).expval(), (weight_values.requires_grad_(),), **GRADCHECK
    )
