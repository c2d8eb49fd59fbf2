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

    def __init__(self, kernel: BlockKernel, device, real_dtype, dynamic_rows=None):
        self.kernel = kernel
        self.device = device
        self.real_dtype = real_dtype
        self.complex_dtype = complex_dtype(real_dtype)
        self.u1q_ops = [op for op in kernel.ops if isinstance(op, U1Q)]
        self.layer = len(self.u1q_ops) == len(kernel.ops)
        self.encoded: EncodedLayer | None = None
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
            if kernel.dynamic and dynamic_rows is not None:
                self.encoded = EncodedLayer.find(self, [runs[w] for w in wires], dynamic_rows)
        else:  # Pauli rotations and dense gates by position in kernel.ops
            self.constants = [_op_constant(op, device, self.complex_dtype) for op in kernel.ops]

    @cached_property
    def gates(self) -> GateTable:
        return GateTable.build(self.u1q_ops, self.device, self.real_dtype)


@dataclass(frozen=True)
class EncodedLayer:
    """A layer of one-wire gates whose inputs enter each wire's run through one gate's
    theta only (a re-uploaded angle encoding with static gates around it): the run is
    ``cos(theta / 2) P + sin(theta / 2) Q`` with ``P`` and ``Q`` the run at theta = 0 and pi,
    built once per bind, so a run costs a cosine, a sine and the Kronecker product instead
    of every gate's matrix and their products per sample.

    ``zero`` / ``pi``: the block's ``GateTable`` with the input gates' theta at the constant
    angle columns ``n_rows`` (0) and ``n_rows + 1`` (pi); ``theta_rows (n_runs,)``: each
    run's input angle row, ``n_rows`` (zero: P alone) for a run without inputs."""

    zero: GateTable
    pi: GateTable
    theta_rows: torch.Tensor

    @classmethod
    def find(cls, tables: BlockTables, runs, dynamic_rows) -> EncodedLayer | None:
        """The form of a dynamic layer block's ``runs`` (gate positions per wire, MSB first),
        or None when some run has more than one input gate or inputs outside a theta."""
        n_rows = len(dynamic_rows)
        ops = tables.u1q_ops
        rows = np.array([op.rows for op in ops])
        zero, pi = rows.copy(), rows.copy()
        theta_rows = []
        for run in runs:
            dynamic = [k for k in run if dynamic_rows[list(ops[k].rows)].any()]
            if len(dynamic) > 1:
                return None
            theta_rows.append(n_rows)
            if dynamic:
                (k,) = dynamic
                if dynamic_rows[list(ops[k].rows[1:])].any():
                    return None
                theta_rows[-1] = ops[k].rows[0]
                zero[k, 0], pi[k, 0] = n_rows, n_rows + 1
        device, real = tables.device, tables.real_dtype
        return cls(
            GateTable.build(ops, device, real, zero),
            GateTable.build(ops, device, real, pi),
            constant_tensor(theta_rows, device, torch.int64),
        )

    def runs(self, tables: BlockTables, static_angles) -> tuple[torch.Tensor, torch.Tensor]:
        """``(P, Q)``, each ``(b_w, n_runs, 2, 2)``, for the bind's ``static_angles``."""
        constants = torch.tensor([0.0, np.pi], dtype=static_angles.dtype)
        angles = torch.cat(
            (static_angles, constants.to(static_angles.device).expand(len(static_angles), 2)), 1
        )
        batch, dtype, device = len(static_angles), tables.complex_dtype, tables.device
        return tuple(
            run_products(u1q_matrices(angles, table), tables.run_index, batch, dtype, device)
            for table in (self.zero, self.pi)
        )

    def matrix(self, tables: BlockTables, p, q, angles) -> torch.Tensor:
        """``(b, d, d)``: the layer for ``angles (b, n_rows)`` from its bind's ``P``, ``Q``."""
        extended = torch.cat((angles, angles.new_zeros(len(angles), 1)), 1)
        half = extended[:, self.theta_rows] / 2  # (b, n_runs)
        dtype = tables.complex_dtype
        cos = torch.cos(half).to(dtype)[..., None, None]
        sin = torch.sin(half).to(dtype)[..., None, None]
        products = cos * p + sin * q
        return _kronecker(tables, products)


def _kronecker(tables: BlockTables, products) -> torch.Tensor:
    """A layer block from its runs' products ``(b, n_runs, 2, 2)`` (``tables.factors``)."""
    identity = torch.eye(2, dtype=tables.complex_dtype, device=tables.device)[None]
    result = None
    for row in tables.factors:
        gate = products[:, row] if row is not None else identity
        result = gate if result is None else kron(result, gate)
    return result


def block_matrix(tables: BlockTables, angles, u1q=None) -> torch.Tensor:
    """``(b, d, d)`` matrix of a fused block, local bit j = ``kernel.local_wires[j]``, for
    ``angles (b, n_rows)``; ``u1q (b, n, 2, 2)``: its one-wire gates' matrices when already
    built (then ``angles`` is only read by its other gates)."""
    kernel = tables.kernel
    dtype, device = tables.complex_dtype, tables.device
    if u1q is None and tables.u1q_ops:
        u1q = u1q_matrices(angles, tables.gates)
    if tables.layer:  # a layer of one-wire gates: a Kronecker product
        return _kronecker(tables, run_products(u1q, tables.run_index, u1q.shape[0], dtype, device))
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
