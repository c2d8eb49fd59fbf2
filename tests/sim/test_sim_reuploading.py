"""Re-uploaded encodings: layers of one-wire gates whose inputs enter through one gate's theta
per wire are built per run as ``cos(theta/2) P + sin(theta/2) Q`` from matrices made once per
bind (``_gates.EncodedLayer``). Values against ``qiskit.quantum_info``, gradients for the
weights and the inputs with ``torch.autograd.gradcheck``; the layers are inspected so that the
form cannot silently vanish.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from sim_references import FIXED_1Q, assert_close, random_values, reference_expvals

from qrnn import sim


def reuploading_circuit(n_qubits, seed, layers=2, second_input_gate=False):
    """Per layer and wire: a static gate, an input rotation (RY, RX, R or U with an affine
    theta of an input and a weight), weight rotations; then RXX / CX couplings. With
    ``second_input_gate`` one wire gets a second input rotation in each layer."""
    rng = np.random.default_rng(seed)
    x = ParameterVector("x", n_qubits)
    w = ParameterVector("w", 3 * n_qubits * layers)
    circuit = QuantumCircuit(n_qubits)
    k = 0
    for _ in range(layers):
        for q in range(n_qubits):
            getattr(circuit, FIXED_1Q[int(rng.integers(len(FIXED_1Q)))])(q)
            theta = float(rng.uniform(0.5, 2)) * x[q] + 0.3 * w[k] - 0.2
            kind = int(rng.integers(4))
            if kind == 0:
                circuit.ry(theta, q)
            elif kind == 1:
                circuit.rx(theta, q)
            elif kind == 2:
                circuit.r(theta, float(rng.uniform(-1, 1)), q)
            else:
                circuit.u(theta, float(rng.uniform(-1, 1)), w[k + 1], q)
            circuit.r(w[k + 1], w[k + 2], q)
            if second_input_gate and q == 0:
                circuit.rz(x[(q + 1) % n_qubits], q)
            k += 3
        for q in range(n_qubits - 1):
            circuit.rxx(w[(k + q) % len(w)], q, q + 1)
        circuit.cx(n_qubits - 1, 0)
    return circuit, x, w


def encoded_layers(program):
    tensors = program.plan("expval").tensors(torch.device("cpu"), torch.float64)
    kernels = program.plan("expval").schedule.kernels
    return [
        k
        for k, kernel in enumerate(kernels)
        if getattr(kernel, "dynamic", False)
        and hasattr(kernel, "local_wires")
        and tensors.block(k).encoded is not None
    ]


def check(circuit, x, w, batch, seed, gradcheck=True):
    observables = ["I" * (circuit.num_qubits - 1 - q) + "Z" + "I" * q for q in range(2)]
    observables.append("X" * circuit.num_qubits)
    program = sim.compile(circuit, observables, weight_params=list(w), input_params=list(x))
    weights = random_values(len(w), 1, seed)[0]
    inputs = random_values(len(x), batch, seed + 1)
    full = torch.cat([weights.expand(batch, -1), inputs], 1)
    order = [[*w, *x].index(p) for p in circuit.parameters]
    assert_close(
        program.bind(weights).expval(inputs),
        reference_expvals(circuit, full[:, order], observables),
    )
    if gradcheck:

        def loss(weights, inputs):
            return program.bind(weights).expval(inputs).square().sum()

        arguments = (weights.requires_grad_(), inputs.requires_grad_())
        assert torch.autograd.gradcheck(loss, arguments, eps=1e-6, atol=1e-6)
    return program


@pytest.mark.parametrize("seed", range(4))
def test_reuploaded_layers_against_qiskit_with_gradients(seed):
    circuit, x, w = reuploading_circuit(3 + seed % 2, seed)
    program = check(circuit, x, w, 3, seed)
    assert encoded_layers(program)


def test_a_wire_with_two_input_gates_builds_its_layer_gate_by_gate():
    circuit, x, w = reuploading_circuit(3, 9, second_input_gate=True)
    program = check(circuit, x, w, 3, 9)
    assert not encoded_layers(program)
    assert encoded_layers(check(*reuploading_circuit(3, 9), 3, 9, gradcheck=False))


def test_float32_reuploaded_layers():
    circuit, x, w = reuploading_circuit(4, 5)
    program = sim.compile(circuit, ["IIIZ", "ZIII"], weight_params=list(w), input_params=list(x))
    weights = random_values(len(w), 1, 5)[0]
    inputs = random_values(len(x), 4, 6)
    expected = program.bind(weights).expval(inputs)
    single = program.bind(weights.float()).expval(inputs.float())
    assert single.dtype == torch.float32
    assert_close(single.double(), expected, atol=1e-5)
