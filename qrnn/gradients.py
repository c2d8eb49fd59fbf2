"""Gradients for executors without autograd: parameter-shift and SPSA.

A gradient method is a pure function of the circuit, independent of any executor (as in
PennyLane's ``gradients``): ``parameter_shift(circuit, values)`` and ``spsa(circuit, values)``
return a ``GradientTask`` -- one circuit, a batch of values to run it at, and the
post-processing that turns those results into the jacobian. Every shifted evaluation of every
sample is one row of that batch, so an executor runs them all in ONE batched call.

``execute(evaluate, circuit, values)`` wraps any ``evaluate(circuit, values) -> (batch, ...)``
in a ``torch.autograd.Function`` whose backward contracts ``grad_output`` with the jacobian.

Parameter-shift. Each parameterised gate slot (a gate angle that depends on parameters) gets its
own parameter ``g_k`` in an *expanded* circuit, so a parameter used by several gates, or inside
``2*theta + 0.5``, is handled by the chain rule: ``d/d theta_j = sum_k d/d g_k * A[k, j]`` with
``g = A theta + c`` (angles must be affine in the parameters). For a slot whose expectation value
is a trigonometric polynomial with frequencies ``omega, 2 omega, ..., R omega`` the exact rule
(Wierichs et al., Quantum 6, 677 (2022), eq. 23) is

    f'(x) = sum_{mu=1}^{2R} f(x + x_mu / omega) * omega * (-1)^(mu-1) / (4 R sin^2(x_mu / 2)),
    x_mu = (2 mu - 1) pi / (2R).

R = 1, omega = 1 is the familiar two-term rule ``(f(x + pi/2) - f(x - pi/2)) / 2`` for gates
``exp(-i x G)`` with G's eigenvalues +-1/2 (rx, ry, rz, rxx, ryy, rzz, rzx, p, u's angles, r's
theta); r's phi enters twice (R = 2) and controlled rotations have frequencies 1/2 and 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
from qiskit.circuit import ParameterExpression, ParameterVector, QuantumCircuit
from qiskit.quantum_info import SparsePauliOp
from torch.autograd.function import once_differentiable

from qrnn._cache import CircuitCache
from qrnn._checks import integer
from qrnn._shift_cones import zero_slots
from qrnn.sim import check_values

__all__ = [
    "SHIFT_RULES",
    "ExpandedCircuit",
    "GradientError",
    "GradientTask",
    "execute",
    "expand_parameters",
    "jacobian",
    "parameter_shift",
    "shift_rule",
    "spsa",
]


class GradientError(ValueError):
    """A circuit or option a gradient method cannot handle."""


# gate name -> per parameter slot (omega, R): the slot's expectation value is a trigonometric
# polynomial with frequencies omega, 2 omega, ..., R omega.
SHIFT_RULES: dict[str, tuple[tuple[float, int], ...]] = {
    "rx": ((1.0, 1),),
    "ry": ((1.0, 1),),
    "rz": ((1.0, 1),),
    "p": ((1.0, 1),),
    "u1": ((1.0, 1),),
    "rxx": ((1.0, 1),),
    "ryy": ((1.0, 1),),
    "rzz": ((1.0, 1),),
    "rzx": ((1.0, 1),),
    "cp": ((1.0, 1),),  # diag(1, 1, 1, e^{i x}): one frequency
    "cu1": ((1.0, 1),),
    # U(theta, phi, lam) = RZ(phi) RY(theta) RZ(lam) up to a global phase.
    "u": ((1.0, 1), (1.0, 1), (1.0, 1)),
    "u3": ((1.0, 1), (1.0, 1), (1.0, 1)),
    "u2": ((1.0, 1), (1.0, 1)),
    # R(theta, phi) = RZ(phi) RX(theta) RZ(-phi): phi appears twice -> frequencies 1, 2.
    "r": ((1.0, 1), (1.0, 2)),
    # Controlled rotations: generator eigenvalues 0, +-1/2 -> frequencies 1/2 and 1.
    "crx": ((0.5, 2),),
    "cry": ((0.5, 2),),
    "crz": ((0.5, 2),),
}


def shift_rule(omega: float, R: int) -> tuple[np.ndarray, np.ndarray]:
    """(shifts (2R,), coefficients (2R,)) with f'(x) = sum_mu c_mu f(x + s_mu) (module doc)."""
    mu = np.arange(1, 2 * R + 1)
    x_mu = (2 * mu - 1) * math.pi / (2 * R)
    coefficients = omega * (-1.0) ** (mu - 1) / (4 * R * np.sin(x_mu / 2) ** 2)
    return x_mu / omega, coefficients


class GradientTask(NamedTuple):
    """What a gradient method asks an executor to run.

    Attributes:
        circuit: the circuit to evaluate (for parameter-shift, the expanded circuit).
        values: (batch * n_evaluations, circuit.num_parameters) rows to evaluate it at,
            sample-major (all rows of sample 0 first).
        postprocess: results (batch * n_evaluations, *out) -> jacobian (batch, *out, n_params)
            with respect to the original circuit's parameters.
    """

    circuit: QuantumCircuit
    values: torch.Tensor
    postprocess: Callable[[torch.Tensor], torch.Tensor]


class ExpandedCircuit(NamedTuple):
    """``circuit`` with one fresh parameter per parameterised gate slot.

    Attributes:
        circuit: same gates, each parameterised angle replaced by its own parameter (in
            ``circuit.parameters`` order: slot order); global phase dropped.
        coefficients: (n_slots, n_params) ``A`` with slot angles ``g = values @ A.T + offsets``.
        offsets: (n_slots,).
        rules: per slot (omega, R) of its shift rule, or None when the gate has no known rule.
        gate_names: per slot, the gate's name (for error messages).
    """

    circuit: QuantumCircuit
    coefficients: np.ndarray
    offsets: np.ndarray
    rules: list[tuple[float, int] | None]
    gate_names: list[str]

    def angles(self, values: torch.Tensor) -> torch.Tensor:
        """Slot angles (batch, n_slots) for ``values`` (batch, n_params)."""
        a = torch.as_tensor(self.coefficients, dtype=values.dtype, device=values.device)
        c = torch.as_tensor(self.offsets, dtype=values.dtype, device=values.device)
        return values @ a.T + c


def _affine(value, index: dict, where: str) -> tuple[float, dict[int, float]]:
    """(offset, {parameter index: coefficient}) of an affine gate angle."""
    terms = {}
    for parameter in value.parameters:
        slope = value.gradient(parameter)
        if isinstance(slope, ParameterExpression):
            if slope.parameters:
                raise GradientError(
                    f"{where} has the angle {value}, which is not affine in {parameter}; "
                    "parameter-shift supports angles such as 2*theta + 0.5 (use spsa, or make "
                    "the product a classical input)"
                )
            slope = slope.numeric()
        terms[index[parameter]] = float(np.real(complex(slope)))
    offset = value.bind(dict.fromkeys(value.parameters, 0.0))
    if isinstance(offset, ParameterExpression):
        offset = offset.numeric()
    return float(np.real(complex(offset))), terms


def expand_parameters(circuit: QuantumCircuit) -> ExpandedCircuit:
    """Give every parameterised gate slot of ``circuit`` its own parameter (cached per circuit
    object; do not mutate a circuit between calls)."""
    return _EXPANSIONS.get(circuit, "expanded", lambda: _expand(circuit))


_EXPANSIONS = CircuitCache()


def _expand(circuit: QuantumCircuit) -> ExpandedCircuit:
    index = {p: i for i, p in enumerate(circuit.parameters)}
    slots = []  # (offset, terms, rule, gate name)
    for position, instruction in enumerate(circuit.data):
        operation = instruction.operation
        rules = SHIFT_RULES.get(operation.name)
        for slot, value in enumerate(operation.params):
            if isinstance(value, ParameterExpression) and value.parameters:
                where = f"gate {operation.name!r} (instruction {position}, parameter {slot})"
                offset, terms = _affine(value, index, where)
                rule = rules[slot] if rules is not None and slot < len(rules) else None
                slots.append((offset, terms, rule, operation.name, position, slot))
    vector = ParameterVector("g", len(slots))
    expanded = circuit.copy_empty_like()
    expanded.global_phase = 0.0  # expectation values do not depend on it
    replacements: dict[int, dict[int, object]] = {}
    for k, (*_, position, slot) in enumerate(slots):
        replacements.setdefault(position, {})[slot] = vector[k]
    for position, instruction in enumerate(circuit.data):
        if position in replacements:
            operation = instruction.operation.to_mutable()
            params = list(operation.params)
            for slot, parameter in replacements[position].items():
                params[slot] = parameter
            operation.params = params
            instruction = instruction.replace(operation=operation)
        expanded.append(instruction)
    coefficients = np.zeros((len(slots), circuit.num_parameters))
    for k, (_offset, terms, *_rest) in enumerate(slots):
        for j, c in terms.items():
            coefficients[k, j] += c
    return ExpandedCircuit(
        circuit=expanded,
        coefficients=coefficients,
        offsets=np.array([s[0] for s in slots], dtype=float),
        rules=[s[2] for s in slots],
        gate_names=[s[3] for s in slots],
    )


def parameter_shift(
    circuit: QuantumCircuit,
    values: torch.Tensor,
    *,
    observables: list[SparsePauliOp] | None = None,
) -> GradientTask:
    """Parameter-shift jacobian task for ``values`` (batch, n_params) (module doc).

    Runs ``sum over slots of 2R`` evaluations per sample (2 per ordinary rotation gate).
    Raises ``GradientError`` for a shifted gate without a known shift rule.

    Args:
        observables: the Pauli observables (``SparsePauliOp``s on ``circuit``'s qubits) that
            the evaluated function reads, given by an executor that runs ``circuit`` without
            quantum noise. Slots whose angle provably cannot change them (outside every
            observable's light cone, or a diagonal gate followed by monomial gates before
            diagonal observables: ``qrnn._shift_cones``) then get no rows; their part of the
            jacobian is exactly 0.
    """
    values = _as_2d(values, circuit)
    expanded = expand_parameters(circuit)
    idle = frozenset() if observables is None else _zero_slots(circuit, observables)
    shifted_slots = [k for k in range(len(expanded.rules)) if k not in idle]
    missing = [k for k in shifted_slots if expanded.rules[k] is None]
    if missing:
        name = expanded.gate_names[missing[0]]
        raise GradientError(
            f"gate {name!r} has no known parameter-shift rule; known: "
            f"{', '.join(sorted(SHIFT_RULES))} (transpile the circuit to these, or use spsa)"
        )
    n_slots = len(expanded.rules)
    shift_rows, coefficient_rows, slot_of_row = [], [], []
    for k in shifted_slots:
        shifts, coefficients = shift_rule(*expanded.rules[k])
        shift_rows.extend(shifts)
        coefficient_rows.extend(coefficients)
        slot_of_row.extend([k] * len(shifts))
    n_evals = len(shift_rows)
    dtype, device = values.dtype, values.device
    shift_matrix = torch.zeros(n_evals, n_slots, dtype=dtype, device=device)
    rows = torch.arange(n_evals, device=device)
    slot_index = torch.as_tensor(slot_of_row, dtype=torch.long, device=device)
    shift_matrix[rows, slot_index] = torch.as_tensor(shift_rows, dtype=dtype, device=device)
    # (n_evals, n_slots): d f / d g_k = sum_e weight[e, k] f_e
    weights = torch.zeros(n_evals, n_slots, dtype=dtype, device=device)
    weights[rows, slot_index] = torch.as_tensor(coefficient_rows, dtype=dtype, device=device)
    chain = torch.as_tensor(expanded.coefficients, dtype=dtype, device=device)  # (K, P)
    angles = expanded.angles(values.detach())  # (B, K)
    batch = values.shape[0]
    shifted = (angles[:, None, :] + shift_matrix[None]).reshape(batch * n_evals, n_slots)

    def postprocess(results: torch.Tensor) -> torch.Tensor:
        results = results.reshape(batch, n_evals, *results.shape[1:]).to(dtype)
        per_slot = torch.einsum("be...,ek->b...k", results, weights)
        return per_slot @ chain

    return GradientTask(expanded.circuit, shifted, postprocess)


def _zero_slots(circuit: QuantumCircuit, observables: list[SparsePauliOp]) -> frozenset[int]:
    """``qrnn._shift_cones.zero_slots``, cached per circuit and observables' reading."""
    key = ("zero slots", tuple((o.paulis.x.tobytes(), o.paulis.z.tobytes()) for o in observables))
    return _EXPANSIONS.get(circuit, key, lambda: zero_slots(circuit, observables))


def spsa(
    circuit: QuantumCircuit,
    values: torch.Tensor,
    *,
    epsilon: float = 0.1,
    n_samples: int = 1,
    seed: int | np.random.Generator | None = None,
) -> GradientTask:
    """SPSA jacobian task: ``n_samples`` random directions ``delta`` in {-1, +1}^n_params per
    sample, ``J ~ mean over directions of (f(x + eps delta) - f(x - eps delta)) / (2 eps) *
    delta`` (unbiased up to O(eps^2)). Runs 2 * n_samples evaluations per sample.

    Args:
        values: (batch, n_params).
        epsilon: perturbation size (larger with shots: the shot noise is divided by 2 eps).
        n_samples: directions averaged per sample.
        seed: an int, a ``numpy.random.Generator`` (advanced by each call), or None.
    """
    values = _as_2d(values, circuit)
    if not (isinstance(epsilon, (int, float)) and epsilon > 0 and math.isfinite(epsilon)):
        raise GradientError(f"epsilon must be a positive number, got {epsilon!r}")
    integer("n_samples", n_samples)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    batch, n_params = values.shape
    delta = rng.choice([-1.0, 1.0], size=(batch, n_samples, n_params))
    delta = torch.as_tensor(delta, dtype=values.dtype, device=values.device)
    signs = torch.tensor([1.0, -1.0], dtype=values.dtype, device=values.device)
    shifted = (
        values.detach()[:, None, None, :]
        + epsilon * signs[None, None, :, None] * delta[:, :, None, :]
    )
    shifted = shifted.reshape(batch * n_samples * 2, n_params)

    def postprocess(results: torch.Tensor) -> torch.Tensor:
        results = results.reshape(batch, n_samples, 2, *results.shape[1:]).to(values.dtype)
        slope = (results[:, :, 0] - results[:, :, 1]) / (2 * epsilon)  # (B, S, *out)
        return torch.einsum("bs...,bsp->b...p", slope, delta) / n_samples

    return GradientTask(circuit, shifted, postprocess)


METHODS = {"parameter-shift": parameter_shift, "spsa": spsa}


def jacobian(
    evaluate: Callable[[QuantumCircuit, torch.Tensor], torch.Tensor],
    circuit: QuantumCircuit,
    values: torch.Tensor,
    *,
    method: str = "parameter-shift",
    **options,
) -> torch.Tensor:
    """Jacobian (batch, *out, n_params) of ``evaluate(circuit, values) -> (batch, *out)`` with
    ONE call of ``evaluate`` on all shifted rows. ``options`` go to the method (spsa's, or
    parameter-shift's ``observables``)."""
    values = _as_2d(values, circuit)
    if _method(method) is parameter_shift and set(options) - {"observables"}:
        raise GradientError(
            f"parameter-shift takes no options but observables, got {sorted(options)}"
        )
    task = _method(method)(circuit, values, **options)
    if task.values.shape[0] == 0:
        out = evaluate(circuit, values.detach()[:0])  # for the output's shape
        return out.new_zeros(values.shape[0], *out.shape[1:], values.shape[1])
    return task.postprocess(evaluate(task.circuit, task.values))


def execute(
    evaluate: Callable[[QuantumCircuit, torch.Tensor], torch.Tensor],
    circuit: QuantumCircuit,
    values: torch.Tensor,
    *,
    method: str = "parameter-shift",
    **options,
) -> torch.Tensor:
    """``evaluate(circuit, values)`` (batch, *out), differentiable in ``values`` (batch,
    n_params): backward computes ``jacobian(..., method=method, **options)`` and contracts it
    with the incoming gradient. First derivatives only."""
    _method(method)  # an unknown method fails now, not in the backward pass
    return _Execute.apply(values, evaluate, circuit, method, options)


def _method(name: str) -> Callable[..., GradientTask]:
    if name not in METHODS:
        raise GradientError(f"method must be one of {list(METHODS)}, got {name!r}")
    return METHODS[name]


class _Execute(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values, evaluate, circuit, method, options):
        ctx.evaluate, ctx.circuit, ctx.method, ctx.options = evaluate, circuit, method, options
        ctx.save_for_backward(values)
        with torch.no_grad():
            return evaluate(circuit, values.detach())

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (values,) = ctx.saved_tensors
        jac = jacobian(ctx.evaluate, ctx.circuit, values, method=ctx.method, **ctx.options)
        grad = torch.einsum("b...,b...p->bp", grad_output.to(jac.dtype), jac)
        return grad.to(values.dtype), None, None, None, None


def _as_2d(values, circuit: QuantumCircuit) -> torch.Tensor:
    return check_values(values, circuit.num_parameters, "values", circuit.parameters)
