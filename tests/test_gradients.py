"""qrnn.gradients: parameter-shift and SPSA as circuit transforms, checked against finite
differences of qiskit.quantum_info (no backend involved)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter, ParameterVector
from qiskit.circuit.library import U2Gate, XXPlusYYGate
from qiskit.quantum_info import SparsePauliOp, Statevector

from qrnn import gradients, sim

OBSERVABLES = [SparsePauliOp("ZZI"), SparsePauliOp.from_list([("XIY", 0.5), ("IZZ", 1.0)])]


def statevector_expvals(circuit, values, observables=OBSERVABLES):
    """(batch, n_obs) from qiskit.quantum_info, the independent reference executor."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    out = []
    for row in values:
        state = Statevector(circuit.assign_parameters(row) if circuit.num_parameters else circuit)
        out.append([state.expectation_value(o).real for o in observables])
    return np.array(out).reshape(len(values), len(observables))


class Counting:
    """An executor that records its calls."""

    def __init__(self):
        self.calls = []

    def __call__(self, circuit, values):
        self.calls.append(values.shape)
        return torch.as_tensor(statevector_expvals(circuit, values.numpy()))


def finite_differences(circuit, values, h=1e-6, observables=OBSERVABLES):
    columns = []
    for j in range(values.shape[1]):
        step = np.zeros_like(values)
        step[:, j] = h
        plus = statevector_expvals(circuit, values + step, observables)
        minus = statevector_expvals(circuit, values - step, observables)
        columns.append((plus - minus) / (2 * h))
    return np.stack(columns, axis=-1)  # (batch, n_obs, n_params)


def every_rule() -> QuantumCircuit:
    """Every gate with a shift rule; a and b each drive several gates, some through affine
    expressions such as 2*a + 0.5."""
    a, b, c = Parameter("a"), Parameter("b"), Parameter("c")
    qc = QuantumCircuit(3)
    qc.h([0, 1, 2])
    qc.rx(2 * a + 0.5, 0)
    qc.ry(a, 1)
    qc.rz(b - 0.3, 2)
    qc.p(c, 0)
    qc.u(a, b, 0.3 * c, 1)
    qc.append(U2Gate(b, -c), [2])
    qc.r(b, a - b, 2)  # phi needs the four-term rule
    qc.rxx(c, 0, 1)
    qc.ryy(-a, 1, 2)
    qc.rzz(b + c, 0, 2)
    qc.rzx(a, 1, 0)
    qc.crx(b, 0, 1)
    qc.cry(c, 1, 2)
    qc.crz(0.5 * a, 2, 0)
    qc.cp(b, 0, 2)
    qc.cx(2, 1)
    qc.ry(c, 1)
    return qc


def test_parameter_shift_equals_finite_differences():
    circuit = every_rule()
    values = np.random.default_rng(0).uniform(-np.pi, np.pi, (3, 3))
    executor = Counting()
    jacobian = gradients.jacobian(executor, circuit, torch.tensor(values))
    assert jacobian.shape == (3, len(OBSERVABLES), 3)
    np.testing.assert_allclose(jacobian.numpy(), finite_differences(circuit, values), atol=1e-7)
    assert len(executor.calls) == 1  # every shifted row of every sample in one call


def test_task_is_one_expanded_circuit_and_a_batch_of_rows():
    x = ParameterVector("x", 2)
    circuit = QuantumCircuit(2)
    circuit.rx(x[0], 0)
    circuit.ry(3 * x[0] - 1, 1)  # shared parameter
    circuit.r(x[1], 0.2, 0)  # theta: two terms
    circuit.r(0.4, x[1], 1)  # phi: four terms
    circuit.global_phase = x[1]
    task = gradients.parameter_shift(circuit, torch.zeros(5, 2, dtype=torch.float64))
    assert task.circuit.num_parameters == 4  # one per gate slot, global phase dropped
    assert task.values.shape == (5 * (2 + 2 + 2 + 4), 4)
    expanded = gradients.expand_parameters(circuit)
    np.testing.assert_allclose(expanded.coefficients, [[1, 0], [3, 0], [0, 1], [0, 1]])
    np.testing.assert_allclose(expanded.offsets, [0, -1, 0, 0])
    assert gradients.expand_parameters(circuit) is expanded  # cached per circuit


@pytest.mark.parametrize(("omega", "R"), [(1.0, 1), (1.0, 2), (0.5, 2), (1.0, 3)])
def test_shift_rule_is_exact_for_its_frequencies(omega, R):
    rng = np.random.default_rng(int(10 * omega) + R)
    a = rng.normal(size=R + 1)
    b = rng.normal(size=R + 1)

    def f(x):
        k = np.arange(R + 1)
        return np.sum(a * np.cos(k * omega * x) + b * np.sin(k * omega * x))

    def df(x):
        return sum(
            k * omega * (-a[k] * np.sin(k * omega * x) + b[k] * np.cos(k * omega * x))
            for k in range(R + 1)
        )

    shifts, coefficients = gradients.shift_rule(omega, R)
    assert len(shifts) == 2 * R
    x0 = 0.37
    estimate = sum(c * f(x0 + s) for s, c in zip(shifts, coefficients, strict=True))
    assert abs(estimate - df(x0)) < 1e-12


def test_gate_without_rule_and_nonaffine_angles_are_refused():
    a = Parameter("a")
    circuit = QuantumCircuit(2)
    circuit.append(XXPlusYYGate(a, 0.0), [0, 1])
    with pytest.raises(gradients.GradientError, match="'xx_plus_yy' has no known parameter-shift"):
        gradients.parameter_shift(circuit, torch.zeros(1, 1))
    b = Parameter("b")
    product = QuantumCircuit(1)
    product.rx(a * b, 0)
    with pytest.raises(gradients.GradientError, match="not affine"):
        gradients.parameter_shift(product, torch.zeros(1, 2))
    with pytest.raises(gradients.GradientError, match="method must be one of"):
        gradients.jacobian(Counting(), product, torch.zeros(1, 2), method="adjoint")


def test_execute_is_differentiable_through_parameter_shift():
    circuit = every_rule()
    values = torch.tensor([[0.2, -1.0, 0.7], [1.5, 0.3, -2.2]], dtype=torch.float64)
    values.requires_grad_()
    out = gradients.execute(Counting(), circuit, values)
    weights = torch.tensor([1.0, -2.0], dtype=torch.float64)
    (out * weights).sum().backward()
    expected = np.einsum("bop,o->bp", finite_differences(circuit, values.detach().numpy()), weights)
    np.testing.assert_allclose(values.grad.numpy(), expected, atol=1e-7)


def test_spsa_is_unbiased_within_its_statistical_bound():
    """With Rademacher directions, one SPSA estimate of grad_j is sum_i g_i d_i d_j: its mean is
    g_j (up to O(eps^2)) and its variance sum_{i != j} g_i^2. Circuit with a closed form:
    <Z Z> after RY(a) RX(2b + 0.1) on qubit 0 and RY(c) on qubit 1 is cos a cos(2b + 0.1) cos c.
    """
    a, b, c = Parameter("a"), Parameter("b"), Parameter("c")
    circuit = QuantumCircuit(2)
    circuit.ry(a, 0)
    circuit.rx(2 * b + 0.1, 0)
    circuit.ry(c, 1)
    values = np.array([[0.4, -0.9, 1.3]])
    np.testing.assert_allclose(
        statevector_expvals(circuit, values, [SparsePauliOp("ZZ")])[0, 0],
        np.cos(0.4) * np.cos(-1.7) * np.cos(1.3),
    )

    def closed_form(_circuit, v):
        return (torch.cos(v[:, 0]) * torch.cos(2 * v[:, 1] + 0.1) * torch.cos(v[:, 2]))[:, None]

    n_samples = 20000
    jacobian = gradients.jacobian(
        closed_form,
        circuit,
        torch.tensor(values),
        method="spsa",
        n_samples=n_samples,
        epsilon=1e-3,
        seed=7,
    ).numpy()
    exact = finite_differences(circuit, values, observables=[SparsePauliOp("ZZ")])
    squares = exact**2
    spread = np.sqrt((squares.sum(axis=-1, keepdims=True) - squares) / n_samples)
    assert np.all(np.abs(jacobian - exact) <= 5 * spread + 1e-5)
    assert np.abs(jacobian - exact).max() > 1e-4  # it is an estimate, not the exact value


def test_spsa_seed_reproduces_and_options_are_checked():
    circuit = every_rule()
    values = torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float64)
    first = gradients.spsa(circuit, values, seed=3, n_samples=2)
    second = gradients.spsa(circuit, values, seed=3, n_samples=2)
    assert first.values.shape == (1 * 2 * 2, 3)
    torch.testing.assert_close(first.values, second.values)
    with pytest.raises(gradients.GradientError, match="epsilon must be a positive number"):
        gradients.spsa(circuit, values, epsilon=0)
    with pytest.raises(ValueError, match="n_samples must be >= 1, got 0"):
        gradients.spsa(circuit, values, n_samples=0)
    with pytest.raises(TypeError, match=r"n_samples must be an integer, got 1\.5"):
        gradients.spsa(circuit, values, n_samples=1.5)
    with pytest.raises(sim.UnboundParameterError, match=r"expected \(batch, 3\)"):
        gradients.parameter_shift(circuit, torch.zeros(2, 4))


def test_spsa_defaults_are_one_direction_of_size_0_1():
    """With its defaults (epsilon 0.1, one direction) SPSA is the central difference along
    one Rademacher direction delta: (f(x + 0.1 delta) - f(x - 0.1 delta)) / 0.2 * delta, here
    recomputed from the directions the task shifted by and qiskit.quantum_info's values."""
    circuit = every_rule()
    values = torch.tensor([[0.1, 0.2, 0.3], [-0.4, 0.8, 1.1]], dtype=torch.float64)
    task = gradients.spsa(circuit, values, seed=11)
    shifted = task.values.view(2, 2, 3)  # (sample, +/-, parameter)
    delta = (shifted[:, 0] - values) / 0.1
    torch.testing.assert_close(delta.abs(), torch.ones_like(delta))  # Rademacher, size 0.1
    torch.testing.assert_close(shifted[:, 1], values - 0.1 * delta)
    plus = statevector_expvals(circuit, (values + 0.1 * delta).numpy())
    minus = statevector_expvals(circuit, (values - 0.1 * delta).numpy())
    expected = ((plus - minus) / 0.2)[:, :, None] * delta.numpy()[:, None, :]
    got = gradients.jacobian(Counting(), circuit, values, method="spsa", seed=11)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("method", ["parameter-shift", "spsa"])
def test_the_jacobian_of_an_empty_batch_is_empty(method):
    circuit = every_rule()
    executor = Counting()
    jacobian = gradients.jacobian(
        executor, circuit, torch.zeros(0, 3, dtype=torch.float64), method=method
    )
    assert jacobian.shape == (0, len(OBSERVABLES), 3)
    assert executor.calls == [(0, 3)]  # asked once, for the output's shape only


def shifted_slots(circuit, observables):
    """Slots that get rows (each rotation here has two), from the task's shift matrix."""
    values = torch.zeros(1, circuit.num_parameters, dtype=torch.float64)
    task = gradients.parameter_shift(circuit, values, observables=observables)
    unshifted = gradients.expand_parameters(circuit).angles(values)
    return sorted({int(k) for k in torch.nonzero(task.values - unshifted)[:, 1]})


def test_slots_that_cannot_change_the_observables_are_not_shifted():
    """W1's form: the last RZ of every wire is followed only by the CX ring before <Z_i>
    (monomial gates, diagonal observables), so it is not shifted; with an X observable, or a
    rotation after the ring, it is. A gate whose light cone misses every observable's qubits
    is not shifted either."""
    w = ParameterVector("w", 6)
    ring = QuantumCircuit(3)
    for q in range(3):
        ring.ry(w[2 * q], q)
        ring.rz(w[2 * q + 1], q)
    for q in range(3):
        ring.cx(q, (q + 1) % 3)
    z_all = [SparsePauliOp("IIZ"), SparsePauliOp("IZI"), SparsePauliOp("ZII")]
    assert shifted_slots(ring, z_all) == [0, 2, 4]  # the RYs
    assert shifted_slots(ring, [SparsePauliOp("XII"), *z_all]) == list(range(6))
    assert shifted_slots(ring, None) == list(range(6))
    late = ring.copy()
    late.h(1)
    assert shifted_slots(late, z_all) == list(range(6))  # H on the cone's wire 1
    apart = QuantumCircuit(3)
    apart.rx(w[0], 0)
    apart.cx(0, 1)
    apart.ry(w[1], 2)
    apart.barrier()
    assert shifted_slots(apart, [SparsePauliOp("ZII")]) == [1]  # rx's cone: qubits 0, 1
    assert shifted_slots(apart, [SparsePauliOp("IXI")]) == [0]


@pytest.mark.parametrize("seed", range(12))
def test_parameter_shift_with_observables_equals_finite_differences(seed):
    """Random circuits of diagonal, monomial and mixing gates, read on few qubits: skipping
    slots never changes the jacobian (qiskit.quantum_info finite differences)."""
    rng = np.random.default_rng(seed)
    x = ParameterVector("x", 4)
    circuit = QuantumCircuit(4)
    for _ in range(14):
        a, b = (int(q) for q in rng.choice(4, 2, replace=False))
        angle = x[int(rng.integers(4))] * float(rng.choice([1.0, -2.0])) + float(rng.normal())
        kind = str(rng.choice(["rz", "p", "rzz", "crz", "cp", "cx", "swap", "s", "rx", "ry", "h"]))
        if kind in ("rz", "p", "rx", "ry"):
            getattr(circuit, kind)(angle, a)
        elif kind in ("rzz", "crz", "cp"):
            getattr(circuit, kind)(angle, a, b)
        elif kind in ("cx", "swap"):
            getattr(circuit, kind)(a, b)
        else:
            getattr(circuit, kind)(a)
    labels = ["IIZZ", "ZIII"] if seed % 2 else ["IIZX", "IZII"]
    observables = [SparsePauliOp(label) for label in labels]
    values = rng.uniform(-np.pi, np.pi, (2, circuit.num_parameters))
    jacobian = gradients.jacobian(
        lambda c, v: torch.as_tensor(statevector_expvals(c, v.numpy(), observables)),
        circuit,
        torch.tensor(values),
        observables=observables,
    )
    expected = finite_differences(circuit, values, observables=observables)
    np.testing.assert_allclose(jacobian.numpy(), expected, atol=1e-7)


def test_no_shifted_slot_gives_a_zero_jacobian_and_other_options_are_refused():
    a = Parameter("a")
    circuit = QuantumCircuit(2)
    circuit.rz(a, 0)
    circuit.cx(0, 1)
    executor = Counting()
    z = [SparsePauliOp("ZI")]
    jacobian = gradients.jacobian(
        lambda c, v: executor(c, v)[:, :1], circuit, torch.ones(2, 1), observables=z
    )
    assert jacobian.shape == (2, 1, 1) and not jacobian.any()
    assert executor.calls == [(0, 1)]  # nothing to run but the output's shape
    with pytest.raises(gradients.GradientError, match="no options but observables"):
        gradients.jacobian(Counting(), circuit, torch.ones(1, 1), epsilon=0.1)
