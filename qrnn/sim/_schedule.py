"""Scheduling: wire operations become a few large tensor kernels.

Done once per circuit, independent of values:

1. trailing permutation/diagonal gates are folded into the observables (``fold_suffix``),
   and trailing constant one-wire gates into bit-flip terms when that is cheaper
   (``fold_one_wire_suffix``);
2. one-wire gates before a wire's first multi-wire gate form a product-state prefix;
3. the rest is fused into stages: dense blocks on at most ``max_fused`` wires, grown while a
   cost model (a pass over the state plus 2**m multiply-adds per amplitude) says one bigger
   block beats two (gates may join an earlier block when no later stage touches their
   wires, or every later stage on their wires commutes with them: gates diagonal in one
   Pauli basis per wire that agree on their shared wires, such as a ring of RXX couplings,
   so commuting layers fuse), and
   gather stages that apply runs of permutation-with-phase gates (CNOT rings, CZ, SWAP) as
   one index permutation of the whole state, and phase stages that apply runs of commuting
   Pauli rotations and diagonal gates (RXX on all pairs, RZZ, CZ, RZ) as one phase vector
   between one-wire basis changes (``_phases``), each taken when it makes the whole
   schedule cheaper by the same cost model (a phase stage: one pass);
4. the axis order is tracked at compile time (``permute`` when a block's wires are not
   adjacent); at run time ``_chain.ChainPlan`` maps that canonical order onto the memory
   layout it keeps, so blocks are single matrix products and gathers move whole rows of the
   batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qrnn.sim._lowering import U1Q, Monomial, Op, is_diagonal
from qrnn.sim._observables import Terms, expand_monomial
from qrnn.sim._phases import PhaseRun, diagonal_terms, phase_runs, rewrite


def fold_suffix(ops: list[Op], terms: Terms, table) -> list[Op]:
    """Remove trailing ops that the observables can absorb; return the remaining ops."""
    blocked: set[int] = set()
    kept: list[Op] = []
    for op in reversed(ops):
        wires = set(op.wires)
        if not wires & blocked:
            if isinstance(op, Monomial):
                terms.fold(op)
                continue
            if terms.all_diagonal() and is_diagonal(op, table):
                continue  # commutes with every Z-type observable
        blocked |= wires
        kept.append(op)
    kept.reverse()
    return kept


def constant_matrix(op: U1Q, table) -> np.ndarray | None:
    """The (2, 2) matrix of a one-wire gate whose angles depend on no parameter, else None."""
    rows = [table.rows[r] for r in op.rows]
    if any(terms for _offset, terms in rows):
        return None
    theta, phi, lam, gamma = (offset for offset, _terms in rows)
    s = -1.0 if op.conjugate else 1.0
    cos, sin = np.cos(theta / 2), np.sin(theta / 2)
    return np.exp(1j * s * gamma) * np.array(
        [
            [cos, -sin * np.exp(1j * s * lam)],
            [sin * np.exp(1j * s * phi), cos * np.exp(1j * s * (phi + lam))],
        ]
    )


def fold_one_wire_suffix(units: list[list[Op]], terms: Terms, table):
    """``(units, folded terms)``: the trailing constant one-wire gates (basis changes such as
    a phase stage's H before a Z readout) folded into a copy of ``terms`` (``Terms.fold_gate``)
    and removed; ``(units, None)`` when there are none or the folded readout would need a
    gather (a source that is not a bit flip)."""
    blocked: set[int] = set()
    folded: list[tuple[int, np.ndarray]] = []
    kept: list[list[Op]] = []
    for unit in reversed(units):
        wires = {w for op in unit for w in op.wires}
        if len(unit) == 1 and isinstance(unit[0], U1Q) and not wires & blocked:
            matrix = constant_matrix(unit[0], table)
            if matrix is not None:
                folded.append((unit[0].wires[0], matrix))
                continue
        blocked |= wires
        kept.append(unit)
    if not folded:
        return units, None
    folded_terms = terms.copy()
    for wire, matrix in folded:  # the last gate first: O -> U^+ O U
        folded_terms.fold_gate(matrix, wire)
    if folded_terms.flip_masks() is None:
        return units, None
    kept.reverse()
    return kept, folded_terms


def readout_cost(terms: Terms | None) -> float:
    """The readout's cost beyond the probabilities: ``_FLIP_COST`` per bit-flip mask of its
    terms."""
    if terms is None:
        return 0.0
    masks = terms.flip_masks()
    return _FLIP_COST * len(masks) if masks is not None else 0.0


@dataclass
class Stage:
    kind: str  # "block", "gather" or "phase"
    wires: set[int]
    ops: list[Op] = field(default_factory=list)
    dynamic: bool = False


@dataclass
class BlockKernel:
    ops: list[Op]
    local_wires: tuple[int, ...]  # local bit j of the block matrix is wire local_wires[j]
    start: int  # the block's wires are axes start .. start+m-1 (after ``permute``)
    permute: tuple[int, ...] | None  # axis permutation applied first (over wire axes)
    dynamic: bool


@dataclass
class GatherKernel:
    source: np.ndarray  # physical indices
    phase: np.ndarray | None
    permute: tuple[int, ...] | None = None


@dataclass
class PhaseKernel:
    """A ``PhaseRun``'s phase vector on the whole state: ``local_index``, per factor of the
    run (2**n_wires,): the factor's local index of every physical index."""

    op: PhaseRun
    local_index: list[np.ndarray]
    dynamic: bool
    permute: None = None  # any axis order will do


@dataclass
class Schedule:
    n_wires: int
    prefix: dict[int, list[U1Q]]  # wire -> its one-wire gates before any multi-wire gate
    initial_order: tuple[int, ...]  # axis order the prefix state is built in (MSB first)
    kernels: list  # BlockKernel | GatherKernel | PhaseKernel
    order: tuple[int, ...]  # final axis order (most significant first)


def schedule(
    ops: list[Op],
    n_wires: int,
    dynamic_op,
    max_fused: int,
    product_prefix: bool = True,
    initial_order=None,
    table=None,
    basis=None,
    terms: Terms | None = None,
) -> Schedule:
    """``product_prefix=False`` when the run does not start from |0...0> (a unitary);
    ``initial_order``: the starting axis order (default: Qiskit's, wire n-1 first);
    ``table`` and ``basis`` (``Lowered``'s): consider phase stages (``_phases``), each taken
    when the cost model says the whole schedule gets cheaper with it; ``terms``: a
    statevector readout into which trailing constant one-wire gates may fold (updated in
    place when that is cheaper, ``fold_one_wire_suffix``)."""
    units = [op if isinstance(op, list) else [op] for op in ops]
    axes = None if table is None else _axes_reader(table)
    if basis is not None:
        units = _choose_phase_runs(
            units, n_wires, dynamic_op, max_fused, product_prefix, table, basis, terms, axes
        )
    if terms is not None:
        units, folded = _fold_if_cheaper(
            units, n_wires, dynamic_op, max_fused, product_prefix, table, terms, axes
        )
        if folded is not None:
            terms.items = folded.items
    prefix, rest = _split_prefix(units, n_wires, product_prefix)
    stages = _fuse(rest, dynamic_op, max_fused, axes)
    order = list(initial_order or range(n_wires - 1, -1, -1))
    start_order = tuple(order)
    kernels = []
    for stage in stages:
        if stage.kind == "gather":
            kernels.append(_gather_kernel(stage.ops, order, n_wires))
        elif stage.kind == "phase":
            kernels.append(_phase_kernel(stage, order, n_wires))
        else:
            kernels.append(_block_kernel(stage, order))
    return Schedule(n_wires, prefix, start_order, kernels, tuple(order))


def _split_prefix(units: list[list[Op]], n_wires: int, product_prefix: bool):
    """``(prefix, rest)``: per wire its one-wire gates before any multi-wire gate, and the
    units that remain."""
    prefix: dict[int, list[U1Q]] = {w: [] for w in range(n_wires)}
    entangled: set[int] = set() if product_prefix else set(range(n_wires))
    rest: list[list[Op]] = []
    for unit in units:  # an op, or a group of ops that must fuse together
        remaining = []
        for op in unit:
            if isinstance(op, U1Q) and op.wires[0] not in entangled:
                prefix[op.wires[0]].append(op)
            else:
                entangled |= set(op.wires)
                remaining.append(op)
        if remaining:
            rest.append(remaining)
    return prefix, rest


def _units_cost(units, n_wires, dynamic_op, max_fused, product_prefix, axes=None) -> float:
    _prefix, rest = _split_prefix(units, n_wires, product_prefix)
    return sum(_stage_cost(stage) for stage in _fuse(rest, dynamic_op, max_fused, axes))


def _axes_reader(table):
    """``op -> {wire: "X" | "Y" | "Z"}`` for a gate diagonal in one Pauli basis per wire
    (``_phases``), else None; remembered per op. Two such gates whose axes agree on their
    shared wires commute."""
    known: dict[int, tuple] = {}

    def axes(op):
        if id(op) not in known:
            found = diagonal_terms(op, table)
            known[id(op)] = (op, None if found is None else found[0])  # (op keeps its id)
        return known[id(op)][1]

    return axes


def _fold_if_cheaper(
    units, n_wires, dynamic_op, max_fused, product_prefix, table, terms, axes=None
):
    """``(units, folded terms or None)``: ``fold_one_wire_suffix`` when its readout costs
    less than the gates it removes, with the cost of the whole schedule either way."""
    shorter, folded = fold_one_wire_suffix(units, terms, table)
    if folded is None:
        return units, None
    args = (n_wires, dynamic_op, max_fused, product_prefix, axes)
    kept = _units_cost(units, *args) + readout_cost(terms)
    if _units_cost(shorter, *args) + readout_cost(folded) < kept:
        return shorter, folded
    return units, None


def _choose_phase_runs(
    units, n_wires, dynamic_op, max_fused, product_prefix, table, basis, terms=None, axes=None
):
    """``units`` with the candidate phase runs that lower the schedule's cost rewritten as
    phase stages, taken greedily in circuit order; with ``terms``, the cost of each choice
    is that of its cheaper tail (its trailing basis changes folded into the readout or not)."""
    runs = phase_runs(units, table)
    if not runs:
        return units
    args = (n_wires, dynamic_op, max_fused, product_prefix, axes)

    def cost(chosen):
        rewritten = rewrite(units, chosen, basis)
        if terms is None:
            return _units_cost(rewritten, *args)
        shorter, folded = _fold_if_cheaper(rewritten, *args[:4], table, terms, axes)
        return _units_cost(shorter, *args) + readout_cost(folded or terms)

    chosen: list = []
    best = cost(chosen)
    for run in runs:
        trial = cost([*chosen, run])
        if trial < best:
            chosen.append(run)
            best = trial
    return rewrite(units, chosen, basis)


# Cost of a dense block per amplitude, in units of one pass over the state: one pass plus
# 2**m complex multiply-adds at 0.1 pass each. Measured on a 2-core CPU, batch 32 x 2**10
# amplitudes (complex64, in cache): a 4 x 4 block took about 3.5 passes and a 32 x 32 block
# about 9.5, forward; the fixed cost of a kernel (and of its backward) outweighs its
# arithmetic. Large, memory-bound states (density matrices) give about the same ratio.
_PASS_COST = 1.0
_MAC_COST = 0.1


# A phase stage is one elementwise multiply (one pass); a gather reads through an index
# table and writes (two).
_PHASE_COST = _PASS_COST
_GATHER_COST = 2 * _PASS_COST
# A bit-flip readout term (``_chain.FlipReadout``): a product of the state's two halves, its
# contraction and their adjoints, a few small kernels. Measured (ion-native ring, 10 qubits,
# batch 32): ten such terms cost more than the 4 + 4 + 2-wire blocks of the ten basis
# changes they would replace, so a full layer of basis changes stays; a few fold.
_FLIP_COST = _PASS_COST


def _block_cost(m: int) -> float:
    return _PASS_COST + _MAC_COST * 2**m


def _stage_cost(stage: Stage) -> float:
    if stage.kind == "phase":
        if not stage.dynamic:
            return _PHASE_COST
        # built on every run: a multiply-add per angle and amplitude, a polar and a gather
        (op,) = stage.ops
        return 3 * _PASS_COST + _PHASE_COST + _MAC_COST * len(op.rows)
    if stage.kind == "gather":
        return _GATHER_COST
    return _block_cost(len(stage.wires))


def _fuse(units: list[list[Op]], dynamic_op, max_fused: int, axes=None) -> list[Stage]:
    """Greedy fusion of units (lists of ops that go into one stage) in circuit order; with
    ``axes`` (``_axes_reader``) a unit may join a stage before later ones that it commutes
    with (an ion-trap ring's RXX couplings fill the blocks of their neighbours)."""
    stages: list[Stage] = []
    stages_of: dict[int, set[int]] = {}  # wire -> the stages that touch it
    for unit in units:
        wires = {w for op in unit for w in op.wires}
        earliest = _earliest(stages, stages_of, unit, wires, axes)
        if isinstance(unit[0], PhaseRun):  # a stage of its own
            kind = "phase"
        elif all(isinstance(op, Monomial) for op in unit):
            kind = "gather"
        else:
            kind = "block"
        dynamic = any(dynamic_op(op) for op in unit)
        chosen = None
        best_gain = 0.0
        alone = _block_cost(len(wires))
        for i in range(len(stages) - 1, max(earliest, 0) - 1, -1):
            if kind == "phase":
                break
            stage = stages[i]
            if stage.kind != kind:
                continue
            if kind == "gather":  # composing permutations is free
                chosen = i
                break
            size = len(stage.wires | wires)
            if size > max_fused:
                continue
            # input gates and weight-only gates stay apart (a weight-only block is built
            # once per bind), except in layers of one-wire gates: there a few 2 x 2 products
            # per run join what would be another layer of blocks (basis changes around an
            # input rotation)
            if stage.dynamic != dynamic and not (
                all(isinstance(op, U1Q) for op in unit)
                and all(isinstance(op, U1Q) for op in stage.ops)
            ):
                continue
            # merge when one bigger block is cheaper than the block plus a separate one
            gain = alone - (_block_cost(size) - _block_cost(len(stage.wires)))
            if gain >= best_gain:
                chosen, best_gain = i, gain
        if chosen is None:
            stages.append(Stage(kind, set(), dynamic=dynamic))
            chosen = len(stages) - 1
        stage = stages[chosen]
        stage.dynamic = stage.dynamic or dynamic
        stage.wires |= wires
        stage.ops.extend(unit)
        for w in wires:
            stages_of.setdefault(w, set()).add(chosen)
    return stages


def _earliest(stages, stages_of, unit, wires, axes) -> int:
    """The last stage that ``unit`` may not move before: the last stage touching its wires,
    or with ``axes`` the last one holding a gate on its wires that it does not commute with
    (both diagonal in one Pauli basis per wire, agreeing on their shared wires); -1: none."""
    touching = sorted({i for w in wires for i in stages_of.get(w, ())}, reverse=True)
    if not touching:
        return -1
    if axes is None or isinstance(unit[0], PhaseRun):
        return touching[0]
    own: dict[int, str] = {}
    for op in unit:
        op_axes = axes(op)
        if op_axes is None or any(own.setdefault(w, a) != a for w, a in op_axes.items()):
            return touching[0]
    for i in touching:
        if stages[i].kind == "phase":
            return i
        for op in stages[i].ops:
            if not wires & set(op.wires):
                continue
            op_axes = axes(op)
            if op_axes is None or any(own.get(w, a) != a for w, a in op_axes.items()):
                return i
    return -1


def physical_to_logical(order, n_wires) -> np.ndarray:
    """Logical index of each physical index for axis order ``order`` (MSB first)."""
    physical = np.arange(2**n_wires)
    logical = np.zeros_like(physical)
    for axis, wire in enumerate(order):
        bit = (physical >> (n_wires - 1 - axis)) & 1
        logical |= bit << wire
    return logical


def _gather_kernel(ops: list[Monomial], order, n_wires) -> GatherKernel:
    source = np.arange(2**n_wires)
    phase = np.ones(2**n_wires, complex)
    for op in ops:  # compose: (B A psi)[i] = b[i] a[sb[i]] psi[sa[sb[i]]]
        op_source, op_phase = expand_monomial(op, n_wires)
        phase = op_phase * phase[op_source]
        source = source[op_source]
    to_logical = physical_to_logical(order, n_wires)
    to_physical = np.empty_like(to_logical)
    to_physical[to_logical] = np.arange(len(to_logical))
    physical_source = to_physical[source[to_logical]]
    physical_phase = phase[to_logical]
    if np.allclose(physical_phase, 1.0):
        physical_phase = None
    return GatherKernel(physical_source, physical_phase)


def _phase_kernel(stage: Stage, order, n_wires) -> PhaseKernel:
    (op,) = stage.ops
    logical = physical_to_logical(order, n_wires)
    indices = []
    for factor in op.factors:
        local = np.zeros_like(logical)
        for j, wire in enumerate(factor.wires):
            local |= ((logical >> wire) & 1) << j
        indices.append(local)
    return PhaseKernel(op, indices, stage.dynamic)


def _block_kernel(stage: Stage, order: list[int]) -> BlockKernel:
    """Apply where the block's wires are adjacent axes; otherwise gather them first."""
    wires = stage.wires
    m = len(wires)
    positions = sorted(order.index(w) for w in wires)
    permute = None
    if positions[-1] - positions[0] + 1 == m:
        start = positions[0]
    else:  # gather the block's wires where its first wire is; the rest keep their order
        moved = [w for w in order if w in wires]
        others = [w for w in order if w not in wires]
        start = sum(1 for w in order[: positions[0]] if w not in wires)
        new_order = others[:start] + moved + others[start:]
        permute = tuple(order.index(w) for w in new_order)
        order[:] = new_order
    local = tuple(reversed(order[start : start + m]))
    return BlockKernel(stage.ops, local, start, permute, stage.dynamic)
