"""Gate matrices: one-wire gates in batches, the matrices of fused blocks, and the small
products they are made of (runs of one-wire gates, Kronecker products, a gate on some bits of
a block). Functions of a batch of angles and of index tables; the tables are made once per
plan, device and dtype (``_plan.PlanTensors``) and passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

from qrnn.sim._lowering import U1Q, Dense, PauliRotation
from qrnn.sim._schedule import BlockKernel


def complex_dtype(real_dtype: torch.dtype) -> torch.dtype:
    """The state dtype for angles in ``real_dtype``: complex64 below float64."""
    if real_dtype in (torch.float32, torch.float16, torch.bfloat16):
        return torch.complex64
    return torch.complex128


def constant_tensor(array, device, dtype) -> torch.Tensor:
    """A constant table (numpy array or nested lists) as a tensor on ``device``."""
    return torch.as_tensor(np.array(array)).to(device=device, dtype=dtype)


# exp(i g) U(t, f, l) = [[cos(t/2) e^{ig}, -sin(t/2) e^{i(l+g)}],
#                        [sin(t/2) e^{i(f+g)}, cos(t/2) e^{i(f+l+g)}]]
_PHASE_SIGNS = np.array([[0, 0, 1, 1], [0, 1, 0, 1], [1, 1, 1, 1]], dtype=float)  # (f, l, g)
_MAGNITUDES = np.array([[1.0, 0, 0, 1], [0, -1, 1, 0]])  # from (cos, sin) of t/2


@dataclass(frozen=True)
class GateTable:
    """Where a list of one-wire gates finds its angles, on one device and dtype."""

    rows: torch.Tensor  # (n, 4) int64: angle columns of (theta, phi, lam, gamma)
    phase_map: torch.Tensor  # (n, 3, 4): the four entries' phases from (phi, lam, gamma)
    magnitude_map: torch.Tensor  # (2, 4): the four entries' magnitudes from (cos, sin)

    @classmethod
    def build(cls, ops: list[U1Q], device, real_dtype, rows=None) -> GateTable:
        """``rows (n, 4)``: the angle columns of each gate when not the gates' own."""
        return cls(
            constant_tensor(
                np.array([op.rows for op in ops]) if rows is None else rows, device, torch.int64
            ),
            # conjugate copies negate all three phases
            constant_tensor(
                np.array([(-1.0 if op.conjugate else 1.0) * _PHASE_SIGNS for op in ops]),
                device,
                real_dtype,
            ),
            constant_tensor(_MAGNITUDES, device, real_dtype),
        )


def u1q_matrices(angles: torch.Tensor, table: GateTable) -> torch.Tensor:
    """``(b, n, 2, 2)`` matrices of the gates of ``table`` for ``angles (b, n_rows)``: two
    small matrix products (magnitudes, phases) and one polar."""
    values = angles[:, table.rows]  # (b, n, 4): theta, phi, lam, gamma
    half = values[..., :1] / 2
    trig = torch.cat((torch.cos(half), torch.sin(half)), -1)  # (b, n, 2)
    magnitude = trig @ table.magnitude_map
    phase = (values[..., 1:, None] * table.phase_map).sum(-2)  # (b, n, 4)
    matrix = torch.polar(torch.ones_like(phase), phase) * magnitude
    return matrix.view(*values.shape[:2], 2, 2)


def run_index(runs: list[list[int]], n_gates: int) -> np.ndarray:
    """``(len(runs), depth)`` index table for ``run_products``: each run's gates, padded with
    the identity (index ``n_gates``) to the longest run."""
    depth = max(1, max(len(run) for run in runs))
    return np.array([run + [n_gates] * (depth - len(run)) for run in runs])


def run_products(matrices, index: torch.Tensor, batch: int, dtype, device) -> torch.Tensor:
    """``matrices (b, n, 2, 2)`` (or None: no gates) and a ``run_index`` table -> each run's
    product ``(b, n_runs, 2, 2)``, later gates on the left; all runs at once."""
    identity = torch.eye(2, dtype=dtype, device=device)
    batch = matrices.shape[0] if matrices is not None else batch
    table = identity.expand(batch, 1, 2, 2)
    if matrices is not None:
        table = torch.cat((matrices, table), dim=1)
    gathered = table[:, index].unbind(2)  # each (b, n_runs, 2, 2)
    product = gathered[0]
    for factor in gathered[1:]:
        product = factor @ product
    return product


def kron(a, b):
    """Batched Kronecker product of (..., p, p) and (..., q, q)."""
    p, q = a.shape[-1], b.shape[-1]
    product = a[..., :, None, :, None] * b[..., None, :, None, :]
    return product.reshape(*product.shape[:-4], p * q, p * q)


def apply_local(matrix, gate, positions, m):
    """``gate (b, 2**g, 2**g)`` on local bits ``positions`` of ``matrix (b, 2**m, 2**m)``
    (rows); ``matrix`` None is the identity."""
    d = 2**m
    if matrix is None:
        matrix = torch.eye(d, dtype=gate.dtype, device=gate.device)[None]
    batch = max(matrix.shape[0], gate.shape[0])
    g = len(positions)
    # row index of the block as m binary axes, MSB (local bit m-1) first
    axes = [m - 1 - p for p in reversed(positions)]  # axes of local bits g-1..0
    others = [a for a in range(m) if a not in axes]
    tensor = matrix.reshape(matrix.shape[0], *([2] * m), d)
    permuted = tensor.permute(0, *(a + 1 for a in axes), *(a + 1 for a in others), m + 1)
    flat = permuted.reshape(matrix.shape[0], 2**g, -1)
    result = (gate @ flat).reshape(batch, *([2] * m), d)
    inverse = np.argsort([*axes, *others])
    return result.permute(0, *(int(a) + 1 for a in inverse), m + 1).reshape(batch, d, d)


class BlockTables:
    """The constants of one block kernel's matrix on one device and dtype: its one-wire
    gates' ``GateTable``, and either (a layer of one-wire gates only) where each wire's run
    of gates is, or the constant matrices of its other gates."""

    def __init__(self, kernel: BlockKernel, device, real_dtype):
        self.kernel = kernel
        self.device = device
        self.real_dtype = real_dtype
        self.complex_dtype = complex_dtype(real_dtype)
        self.u1q_ops = [op for op in kernel.ops if isinstance(op, U1Q)]
        self.layer = len(self.u1q_ops) == len(kernel.ops)
        if self.layer:  # a Kronecker product of each wire's run of gates
            runs = {w: [] for w in kernel.local_wires}
            for k, op in enumerate(self.u1q_ops):
                runs[op.wires[0]].append(k)
            wires = [w for w in reversed(kernel.local_wires) if runs[w]]  # MSB first
            index = run_index([runs[w] for w in wires], len(self.u1q_ops))
            self.run_index = constant_tensor(index, device, torch.int64)
            # per wire, MSB first: its run's row in the products, or None (the identity)
            self.factors = [
                wires.index(w) if runs[w] else None for w in reversed(kernel.local_wires)
            ]
        else:  # Pauli rotations and dense gates by position in kernel.ops
            self.constants = [_op_constant(op, device, self.complex_dtype) for op in kernel.ops]

    @cached_property
    def gates(self) -> GateTable:
        return GateTable.build(self.u1q_ops, self.device, self.real_dtype)


def block_matrix(tables: BlockTables, angles, u1q=None) -> torch.Tensor:
    """``(b, d, d)`` matrix of a fused block, local bit j = ``kernel.local_wires[j]``, for
    ``angles (b, n_rows)``; ``u1q (b, n, 2, 2)``: its one-wire gates' matrices when already
    built (then ``angles`` is only read by its other gates)."""
    kernel = tables.kernel
    dtype, device = tables.complex_dtype, tables.device
    if u1q is None and tables.u1q_ops:
        u1q = u1q_matrices(angles, tables.gates)
    if tables.layer:  # a layer of one-wire gates: a Kronecker product
        products = run_products(u1q, tables.run_index, u1q.shape[0], dtype, device)
        identity = torch.eye(2, dtype=dtype, device=device)[None]
        result = None
        for row in tables.factors:
            gate = products[:, row] if row is not None else identity
            result = gate if result is None else kron(result, gate)
        return result
    local = {w: j for j, w in enumerate(kernel.local_wires)}
    m = len(local)
    # runs of one-wire gates are multiplied out before they meet a multi-wire gate
    pending: dict[int, torch.Tensor] = {}
    matrix = None
    position = 0
    for op, constant in zip(kernel.ops, tables.constants, strict=True):
        if isinstance(op, U1Q):
            gate = u1q[:, position]
            position += 1
            wire = op.wires[0]
            pending[wire] = gate if wire not in pending else gate @ pending[wire]
            continue
        for wire in op.wires:
            if wire in pending:
                matrix = apply_local(matrix, pending.pop(wire), (local[wire],), m)
        gate = _op_matrix(op, constant, angles, dtype, device)
        matrix = apply_local(matrix, gate, tuple(local[w] for w in op.wires), m)
    for wire in list(pending):
        matrix = apply_local(matrix, pending.pop(wire), (local[wire],), m)
    return matrix


def _op_constant(op, device, dtype):
    """The constant part of a gate's matrix: a Pauli rotation's Pauli string, a dense gate's
    matrix; None for other gates."""
    if isinstance(op, PauliRotation):
        return constant_tensor(op.pauli, device, dtype)
    if isinstance(op, Dense):
        return constant_tensor(op.matrix, device, dtype)
    return None


def _op_matrix(op, constant, angles, dtype, device):
    """``(b or 1, d, d)`` matrix of a Pauli rotation (``constant``: its Pauli string) or a
    dense gate (``constant``: its matrix)."""
    if isinstance(op, PauliRotation):
        theta = angles[:, op.row]
        c = torch.cos(theta / 2).to(dtype)[:, None, None]
        s = torch.sin(theta / 2).to(dtype)[:, None, None]
        identity = torch.eye(len(op.pauli), dtype=dtype, device=device)
        sign = 1j if op.conjugate else -1j
        return c * identity + sign * s * constant
    if isinstance(op, Dense):
        return constant[None]
    raise TypeError(f"no matrix for {type(op).__name__}")
