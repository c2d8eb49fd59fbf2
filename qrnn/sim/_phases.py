"""Phase stages: a run of commuting Pauli rotations and diagonal gates as one phase vector.

Gates that are diagonal in one Pauli basis per wire commute: ``RXX`` gates on any pairs, or
``RZZ``, ``RZX``, ``CZ``, ``P`` and ``RZ`` where their axes agree wire by wire. Such a run is
``C^+ D C`` with ``C`` one-wire Cliffords (``Lowered.basis``: H for X, H S^+ for Y) and ``D``
diagonal, ``D[i] = exp(i (offsets[i] + sum_r angles[r] coefficients[r, i]))``: an elementwise
multiply of the state, where a fused block would need a matrix product per few wires. The
basis changes are one-wire gates that fuse with their neighbours like any other.

``phase_runs`` finds the candidate runs of a circuit (maximal, in circuit order: a gate that
shares no wire with a run may move before it; the phase of each set of wires that the run's
gates connect is a table of its own, so the row and column copies of a density matrix, or
separate pairs, never make a table over all wires); ``rewrite`` puts the chosen ones in as
``PhaseRun`` ops. Which to take is the scheduler's choice, by its cost model
(``_schedule.schedule``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from qrnn.sim._lowering import U1Q, AngleTable, Dense, Monomial, Op, PauliRotation, is_diagonal

_PAULIS = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], complex),
    "Y": np.array([[0, -1j], [1j, 0]], complex),
    "Z": np.diag([1.0 + 0j, -1.0]),
}


# Largest angle table of one factor, (rows, 2**wires) entries: 32 MiB in float64. A run past
# it stays in blocks (all-to-all couplings on more than about 14 qubits).
_MAX_TABLE = 2**22


@dataclass
class PhaseFactor:
    """``exp(i (offsets + angles[:, rows] @ coefficients))`` over the local index of
    ``wires`` (local bit j is ``wires[j]``): ``coefficients (len(rows), 2**k)``,
    ``offsets (2**k,)``."""

    wires: tuple[int, ...]
    rows: tuple[int, ...]
    coefficients: np.ndarray
    offsets: np.ndarray


@dataclass
class PhaseRun(Op):
    """The product of its ``factors`` (one per set of wires that its gates connect, e.g. the
    row and the column copies of a density matrix), elementwise; ``axes``: each wire's Pauli
    axis, whose basis change the rewrite put around it."""

    factors: list[PhaseFactor]
    axes: dict[int, str]

    @property
    def rows(self) -> list[int]:
        return [row for factor in self.factors for row in factor.rows]


def pauli_string(matrix: np.ndarray):
    """``(sign, letters)`` with ``matrix = sign * P_letters`` (letter j on local bit j), or
    None when ``matrix`` is not a signed Pauli string."""
    k = matrix.shape[0].bit_length() - 1
    for letters in itertools.product("IXYZ", repeat=k):
        product = np.ones((1, 1), complex)
        for letter in letters:  # the last local bit is the most significant
            product = np.kron(_PAULIS[letter], product)
        overlap = np.trace(product @ matrix) / 2**k
        if abs(abs(overlap) - 1) < 1e-9:
            if abs(overlap.imag) > 1e-9 or not np.allclose(matrix, overlap * product):
                return None
            return round(overlap.real), letters
    return None


def _parity(k: int) -> np.ndarray:
    """``prod_j z_j`` over the local index of k wires (z = +1 for |0>, -1 for |1>)."""
    index = np.arange(2**k)
    ones = np.zeros(2**k, dtype=np.int64)
    for j in range(k):
        ones += (index >> j) & 1
    return 1.0 - 2.0 * (ones % 2)


def diagonal_terms(op: Op, table: AngleTable):
    """``(axes, terms)`` of a gate that is diagonal in one Pauli basis per wire, or None:
    ``axes`` wire -> "X", "Y" or "Z"; ``terms`` (row or None, wires, values): the phase it adds
    is ``values`` (over the local index of ``wires``) times angle ``row`` (None: times 1)."""
    if isinstance(op, PauliRotation):
        string = pauli_string(op.pauli)
        if string is None or set(string[1]) == {"I"}:
            return None
        sign, letters = string
        # the conjugate copy is cos + i sin P: exp(-i t/2 (-P))
        sign = -sign if op.conjugate else sign
        support = tuple(w for w, letter in zip(op.wires, letters, strict=True) if letter != "I")
        axes = {w: letter for w, letter in zip(op.wires, letters, strict=True) if letter != "I"}
        return axes, [(op.row, support, -0.5 * sign * _parity(len(support)))]
    if isinstance(op, U1Q):  # diagonal: exp(i s g) diag(1, exp(i s (f + l)))
        if not is_diagonal(op, table):
            return None
        s = -1.0 if op.conjugate else 1.0
        _theta, phi, lam, gamma = op.rows
        bit = np.array([0.0, s])
        return {op.wires[0]: "Z"}, [
            (gamma, op.wires, np.array([s, s])),
            (phi, op.wires, bit),
            (lam, op.wires, bit),
        ]
    if isinstance(op, (Monomial, Dense)) and is_diagonal(op, table):
        diagonal = op.phase if isinstance(op, Monomial) else np.diag(op.matrix)
        if not np.allclose(np.abs(diagonal), 1.0):
            return None
        return dict.fromkeys(op.wires, "Z"), [(None, tuple(op.wires), np.angle(diagonal))]
    return None


@dataclass
class Run:
    """A candidate phase stage: the units it takes (positions in the unit list, the first
    and last of its span) and the units inside its span that move before it."""

    members: list[int] = field(default_factory=list)
    passed: list[int] = field(default_factory=list)
    axes: dict[int, str] = field(default_factory=dict)
    terms: list = field(default_factory=list)
    op: PhaseRun | None = None


def phase_runs(units: list[list[Op]], table: AngleTable) -> list[Run]:
    """The candidate runs of ``units`` (lists of ops that stay together), in order.

    A run starts at a multi-wire gate that is diagonal in some Pauli basis per wire; it takes
    every later such unit whose axes agree with its own on the wires they share (one-wire
    gates only on wires it has); a unit sharing no wire with it moves before it; any other
    unit that shares a wire ends it."""
    runs: list[Run] = []
    current: Run | None = None
    for i, unit in enumerate(units):
        found = [diagonal_terms(op, table) for op in unit]
        phaseable = all(f is not None for f in found)
        axes: dict[int, str] = {}
        terms = []
        consistent = phaseable
        if phaseable:
            for op_axes, op_terms in found:
                for wire, axis in op_axes.items():
                    consistent = consistent and axes.setdefault(wire, axis) == axis
                terms.extend(op_terms)
        wide = consistent and any(len(wires) >= 2 for _row, wires, _values in terms)
        wires = {w for op in unit for w in op.wires}
        if current is not None:
            shared = wires & current.axes.keys()
            agrees = consistent and all(current.axes.get(w, a) == a for w, a in axes.items())
            if agrees and (wide or (shared and axes.keys() <= current.axes.keys())):
                current.members.append(i)
                current.axes.update(axes)
                current.terms.extend(terms)
                continue
            if not shared:
                current.passed.append(i)
                continue
            runs.append(current)
            current = None
        if wide:
            current = Run([i], [], dict(axes), list(terms))
    if current is not None:
        runs.append(current)
    for run in runs:  # units passed after the last member stay where they are
        run.passed = [i for i in run.passed if i < run.members[-1]]
        run.op = phase_op(run)
    return [run for run in runs if run.op is not None]


def phase_op(run: Run) -> PhaseRun | None:
    """The ``PhaseRun`` of a run: its terms summed into one table per set of connected
    wires; None when a table would be larger than ``_MAX_TABLE``."""
    component = {w: w for w in run.axes}

    def root(w):
        while component[w] != w:
            w = component[w]
        return w

    for _row, term_wires, _values in run.terms:
        for wire in term_wires[1:]:
            component[root(wire)] = root(term_wires[0])
    groups: dict[int, list] = {}
    for term in run.terms:
        groups.setdefault(root(term[1][0]), []).append(term)
    factors = []
    for terms in groups.values():
        factor = _factor(terms)
        if factor is None:
            return None
        factors.append(factor)
    return PhaseRun(tuple(sorted(run.axes)), factors, dict(run.axes))


def _factor(terms) -> PhaseFactor | None:
    wires = tuple(sorted({w for _row, term_wires, _values in terms for w in term_wires}))
    rows = list(dict.fromkeys(row for row, _wires, _values in terms if row is not None))
    k = len(wires)
    if max(1, len(rows)) * 2**k > _MAX_TABLE:
        return None
    position = {w: j for j, w in enumerate(wires)}
    index = np.arange(2**k)
    coefficients = np.zeros((len(rows), 2**k))
    offsets = np.zeros(2**k)
    row_index = {row: r for r, row in enumerate(rows)}
    for row, term_wires, values in terms:
        local = np.zeros(2**k, dtype=np.int64)
        for j, wire in enumerate(term_wires):
            local |= ((index >> position[wire]) & 1) << j
        if row is None:
            offsets += values[local]
        else:
            coefficients[row_index[row]] += values[local]
    return PhaseFactor(wires, tuple(rows), coefficients, offsets)


def rewrite(units: list[list[Op]], runs: list[Run], basis) -> list[list[Op]]:
    """``units`` with each of ``runs`` as its passed units, the basis changes of its wires
    (one unit per gate), its ``PhaseRun`` and the basis changes back."""
    starts = {run.members[0]: run for run in runs}
    out: list[list[Op]] = []
    i = 0
    while i < len(units):
        run = starts.get(i)
        if run is None:
            out.append(units[i])
            i += 1
            continue
        op = run.op
        changed = [w for w in op.wires if op.axes[w] != "Z"]
        out.extend(units[p] for p in run.passed)
        out.extend([U1Q((w,), basis[op.axes[w]][0])] for w in changed)
        out.append([op])
        out.extend([U1Q((w,), basis[op.axes[w]][1])] for w in changed)
        i = run.members[-1] + 1
    return out
