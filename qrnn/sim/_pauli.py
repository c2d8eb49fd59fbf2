"""Density matrices in the Pauli basis: real states, real Pauli-transfer matrices.

A density matrix on n qubits is ``rho = 2**-n sum_a c_a P_a`` with real coefficients
``c_a = Tr(P_a rho)``, ``a = sum_q a_q 4**q`` and digit ``a_q`` in (I, X, Y, Z) = (0, 1, 2, 3)
for qubit q (Qiskit's order: qubit 0 is the least significant digit). In this basis every
channel, unitary conjugations included, is a real matrix, its Pauli-transfer matrix (PTM)
``R[a, b] = 2**-k Tr(P_a E(P_b))``, so the noisy engine runs in real arithmetic: a quarter of
the complex multiply-adds on half the bytes. Expectation values of Pauli strings are single
coefficients, and ``|0><0|`` is ``(1, 0, 0, 1)`` on every qubit.

This module holds the constants and the builders: PTMs of the lowered operations (one-wire
gates and Pauli rotations from a batch of angles, so gradients flow by autograd; constant
gates and Kraus channels once), a block's PTM as the product of its operations' PTMs embedded
on its qubits, observables as coefficient vectors, and the way back to ``(2**n, 2**n)``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from qrnn.sim._gates import GateTable, apply_local, constant_tensor, kron, u1q_matrices
from qrnn.sim._lowering import U1Q, Channel, Dense, Monomial, Op, PauliRotation

_PAULIS = (
    np.eye(2, dtype=complex),
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]], dtype=complex),
    np.diag([1.0, -1.0]).astype(complex),
)
ZERO_STATE = (1.0, 0.0, 0.0, 1.0)  # |0><0| = (I + Z) / 2


@functools.cache
def pauli_matrices(k: int) -> np.ndarray:
    """``(4**k, 2**k, 2**k)``: ``P_a`` for every ``a = sum_j a_j 4**j`` (digit j on bit j)."""
    out = np.ones((1, 1, 1), dtype=complex)
    for _ in range(k):  # each new qubit is the most significant
        out = np.einsum("pij,akl->paikjl", np.stack(_PAULIS), out).reshape(
            4 * len(out), 2 * out.shape[1], 2 * out.shape[1]
        )
    return out


@functools.cache
def to_pauli(k: int) -> np.ndarray:
    """``T (4**k, 4**k)``: Pauli coefficients ``c = T vec(rho)`` of a row-major ``vec(rho)``
    (index ``r * 2**k + c``); its inverse is ``T^+ / 2**k``."""
    paulis = pauli_matrices(k)
    return paulis.transpose(0, 2, 1).reshape(4**k, 4**k)  # T[a, (r, c)] = P_a[c, r]


def superop_to_ptm(superop: np.ndarray) -> np.ndarray:
    """The PTM (real) of a row-major superoperator ``S (4**k, 4**k)``."""
    k = (len(superop).bit_length() - 1) // 2
    transform = to_pauli(k)
    return (transform @ superop @ transform.conj().T).real / 2**k


def kraus_ptm(kraus: list[np.ndarray]) -> np.ndarray:
    """The PTM of a channel given by Kraus operators (local bit j = the op's wire j)."""
    return superop_to_ptm(sum(np.kron(k, k.conj()) for k in kraus))


def unitary_ptms(unitaries: torch.Tensor) -> torch.Tensor:
    """``(b, 4**k, 4**k)`` real PTMs of ``(b, 2**k, 2**k)`` unitaries (differentiable)."""
    k = unitaries.shape[-1].bit_length() - 1
    transform = constant_tensor(to_pauli(k), unitaries.device, unitaries.dtype)
    superop = kron(unitaries, unitaries.conj())
    return (transform @ superop @ transform.mH).real / 2**k


def monomial_matrix(op: Monomial) -> np.ndarray:
    matrix = np.zeros((len(op.source), len(op.source)), dtype=complex)
    matrix[np.arange(len(op.source)), op.source] = op.phase
    return matrix


def constant_ptm(op: Op, channels: dict | None = None) -> np.ndarray | None:
    """The PTM of an operation without parameters (a constant gate or a channel), else None.
    ``channels``: PTMs already made, by the identity of their Kraus list (the noise reader
    gives every instruction with the same error the same list)."""
    if isinstance(op, Channel):
        if channels is None:
            return kraus_ptm(op.kraus)
        key = id(op.kraus)
        if key not in channels:
            channels[key] = (op.kraus, kraus_ptm(op.kraus))  # (keeps the list alive)
        return channels[key][1]
    if isinstance(op, Dense):
        return kraus_ptm([op.matrix])
    if isinstance(op, Monomial):
        return kraus_ptm([monomial_matrix(op)])
    return None


class BlockBuilder:
    """Builds the PTM of a block: ``ops`` in order on ``qubits`` (local qubit j =
    ``qubits[j]``), from a batch of gate angles. Constants are made once per device/dtype."""

    def __init__(self, ops: list[Op], qubits: tuple[int, ...], channels: dict | None = None):
        self.ops = ops
        self.qubits = qubits
        local = {q: j for j, q in enumerate(qubits)}
        # bit positions of each op's Pauli digits in the block's index (2 bits per digit)
        self.positions = [
            tuple(b for w in op.wires for b in (2 * local[w], 2 * local[w] + 1)) for op in ops
        ]
        self.constants = [constant_ptm(op, channels) for op in ops]
        self.u1q = [op for op in ops if isinstance(op, U1Q)]
        self._tensors: dict = {}

    def _device_tensors(self, device, dtype):
        key = (device, dtype)
        if key not in self._tensors:
            constants = [
                None if c is None else constant_tensor(c, device, dtype)[None]
                for c in self.constants
            ]
            gates = GateTable.build(self.u1q, device, dtype) if self.u1q else None
            paulis = [
                constant_tensor(op.pauli, device, _complex(dtype))
                if isinstance(op, PauliRotation)
                else None
                for op in self.ops
            ]
            self._tensors[key] = (constants, gates, paulis)
        return self._tensors[key]

    def matrix(self, angles: torch.Tensor) -> torch.Tensor:
        """``(b, 4**m, 4**m)`` real PTM for ``angles (b, n_rows)`` (b = 1 when constant)."""
        constants, gates, paulis = self._device_tensors(angles.device, angles.dtype)
        u1q = unitary_ptms(u1q_matrices(angles, gates)) if gates is not None else None
        m = len(self.qubits)
        result = None
        position = 0
        for op, constant, pauli, bits in zip(
            self.ops, constants, paulis, self.positions, strict=True
        ):
            if constant is not None:
                ptm = constant
            elif isinstance(op, U1Q):
                ptm = u1q[:, position]
                position += 1
            else:  # a Pauli rotation cos(t/2) I - i sin(t/2) P
                theta = angles[:, op.row, None, None]
                eye = torch.eye(len(pauli), dtype=pauli.dtype, device=pauli.device)
                unitary = torch.cos(theta / 2) * eye - 1j * torch.sin(theta / 2) * pauli
                ptm = unitary_ptms(unitary)
            if result is None and bits == tuple(range(2 * m)):
                result = ptm
            else:
                result = apply_local(result, ptm, bits, 2 * m)
        return result


def _complex(dtype: torch.dtype) -> torch.dtype:
    return torch.complex64 if dtype == torch.float32 else torch.complex128


def pauli_index(label_digits: dict[int, int], order) -> int:
    """Index of a Pauli string (qubit -> digit) in a state whose axes hold ``order`` (most
    significant first)."""
    n = len(order)
    return sum(label_digits.get(q, 0) * 4 ** (n - 1 - k) for k, q in enumerate(order))


def observable_terms(observables, n_qubits: int) -> list[tuple[dict[int, int], float, int]]:
    """``[(qubit -> digit, coefficient, column)]`` of ``SparsePauliOp``s (readout already
    rewritten): ``<O_column> = sum coefficient * c_a``."""
    terms = []
    for column, observable in enumerate(observables):
        for pauli, coefficient in zip(observable.paulis, observable.coeffs, strict=True):
            real = (coefficient * (-1j) ** int(pauli.phase)).real  # Hermitian: real
            digits = {}
            for q in range(n_qubits):
                z, x = bool(pauli.z[q]), bool(pauli.x[q])
                if z or x:
                    digits[q] = 3 if z and not x else (1 if x and not z else 2)
            terms.append((digits, float(real), column))
    return terms


def to_density_matrix(state: torch.Tensor, order, n_qubits: int) -> torch.Tensor:
    """Pauli coefficients ``(b, 4**n)`` in axis ``order`` -> ``(b, 2**n, 2**n)`` complex."""
    batch = state.shape[0]
    n = n_qubits
    complex_dtype = _complex(state.dtype)
    # per qubit: (r, c) entries from its digit, rho = 2**-n sum c_a P_a
    back = constant_tensor(np.stack(_PAULIS).reshape(4, 4).T / 2, state.device, complex_dtype)
    tensor = state.to(complex_dtype).reshape(batch, *([4] * n))
    for _ in range(n):  # replace each digit axis by its (r, c) pair, in place of order
        tensor = torch.tensordot(tensor, back, dims=([1], [1]))  # digit axis -> last
    # now axes: batch, then (r, c) pairs in ``order``; rows then columns, qubit n-1 first
    tensor = tensor.reshape(batch, *([2, 2] * n))
    rows = [1 + 2 * order.index(q) for q in range(n - 1, -1, -1)]
    cols = [2 + 2 * order.index(q) for q in range(n - 1, -1, -1)]
    return tensor.permute(0, *rows, *cols).reshape(batch, 2**n, 2**n)
