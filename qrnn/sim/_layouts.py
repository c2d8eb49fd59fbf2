"""Layouts of a plan's one-wire gates, analysed once per plan (numpy only, no tensors).

- ``PrefixStructure``: how the product-state prefix splits per wire into weight-only runs and
  input gates, and its ``AngleEncoding`` form when every wire has at most one input gate whose
  theta alone depends on the inputs (RY(x), RX(x), R(x, phi), ...);
- ``StaticGates``: every input-free one-wire gate of the plan (prefix, then static blocks);
- ``KroneckerLayout``: the static blocks that are layers of one-wire gates, per wire;
- ``GateLayout``: all the one-wire gate matrices and runs of them that a bind builds, so that
  it builds them in one batch each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qrnn.sim._angles import AngleMap
from qrnn.sim._lowering import U1Q
from qrnn.sim._schedule import BlockKernel, Schedule


@dataclass
class AngleEncoding:
    """The angle-encoding form of a prefix (see ``BoundPlan.encoding``), as index tables.
    Gate rows ``n_rows`` and ``n_rows + 1`` are constant angles 0 and pi. The vector table
    holds the dynamic wires' p's, then their q's, then the static wires' vectors, then |0>
    and the zero vector."""

    gate_rows: np.ndarray  # (2 n_ops, 4): the input gates at theta 0, then at theta pi
    index: tuple[np.ndarray, ...]  # before runs, after runs, gates, static runs (into tables)
    p_rows: np.ndarray  # per canonical axis, its p in the vector table
    q_rows: np.ndarray  # per canonical axis, its q in the vector table
    theta_rows: list[int]  # angle rows of the dynamic wires' thetas
    half_rows: np.ndarray  # per canonical axis, its column of [thetas / 2, 0]
    coefficients: np.ndarray  # (n_inputs, n_axes): half of each axis' theta per input
    constant_half: bool  # no weight enters the thetas


@dataclass
class PrefixStructure:
    """The product-state prefix, wire by wire."""

    wires: list[int]  # wires with prefix gates
    segments: dict[int, list[tuple[str, int]]]  # wire -> (kind, static run or dynamic op)
    dynamic_ops: list[U1Q]
    static_ops: list[U1Q]
    runs: list[list[int]]  # static runs, as indices into static_ops
    encoding: AngleEncoding | None


@dataclass
class StaticGates:
    """The input-free one-wire gates a bind builds in one batch."""

    ops: list[U1Q]  # the prefix's input-free gates, then each static block's one-wire gates
    blocks: dict[int, tuple[int, int]]  # kernel position -> its gates' range in ops


@dataclass
class KroneckerLayout:
    """The static blocks that are layers of one-wire gates: Kronecker products of runs."""

    runs: list[list[int]]  # per factor (wire of a block, MSB first): its gates, in order
    # per block size: the blocks' kernel positions and (n_blocks, m) rows into runs
    groups: list[tuple[tuple[int, ...], np.ndarray]]


@dataclass
class GateLayout:
    """Every one-wire gate matrix and run product a bind builds, one batch each."""

    ops: list[U1Q]  # static one-wire gates, then the encoding's gates at 0, then at pi
    rows: np.ndarray  # (len(ops), 4) angle columns of each; n_rows, n_rows + 1 are 0 and pi
    runs: list[list[int]]  # prefix runs, the identity, then the Kronecker factors
    n_static: int  # where the encoding's gates start
    kron_offset: int  # where the Kronecker factors start


def prefix_structure(plan: Schedule, angles: AngleMap) -> PrefixStructure:
    """Each prefix wire's gates as segments: runs of input-free gates and single input
    gates; with the ``AngleEncoding`` when the prefix is an angle encoding."""
    wires = [w for w, ops in plan.prefix.items() if ops]
    dynamic_ops: list[U1Q] = []
    static_ops: list[U1Q] = []
    runs: list[list[int]] = []
    segments: dict[int, list[tuple[str, int]]] = {}
    for w in wires:
        segments[w] = []
        run = None
        for op in plan.prefix[w]:
            if angles.is_dynamic(op):
                run = None
                segments[w].append(("dynamic", len(dynamic_ops)))
                dynamic_ops.append(op)
            else:
                if run is None:
                    run = []
                    segments[w].append(("static", len(runs)))
                    runs.append(run)
                run.append(len(static_ops))
                static_ops.append(op)
    structure = PrefixStructure(wires, segments, dynamic_ops, static_ops, runs, None)
    eligible = bool(dynamic_ops) and all(
        not angles.dynamic_rows[list(op.rows[1:])].any() for op in dynamic_ops
    )
    eligible = eligible and all(
        sum(kind == "dynamic" for kind, _ in segments[w]) <= 1 for w in wires
    )
    if eligible:
        structure.encoding = _angle_encoding(plan, structure, angles)
    return structure


def _angle_encoding(plan: Schedule, structure: PrefixStructure, angles: AngleMap):
    identity_run = len(structure.runs)
    n_ops = len(structure.dynamic_ops)
    n_rows = angles.n_rows
    dynamic_wires, static_wires = [], []
    before, gate, after, static_runs = [], [], [], []
    for w in structure.wires:
        segments = structure.segments[w]
        kinds = [kind for kind, _ in segments]
        if "dynamic" not in kinds:
            static_wires.append(w)
            static_runs.append(segments[0][1])  # one static run
            continue
        position = kinds.index("dynamic")
        dynamic_wires.append(w)
        gate.append(segments[position][1])
        before.append(segments[0][1] if position == 1 else identity_run)
        after.append(segments[-1][1] if position + 1 < len(kinds) else identity_run)
    rows = np.array([op.rows for op in structure.dynamic_ops])
    gate_rows = np.concatenate([rows, rows])
    gate_rows[:n_ops, 0], gate_rows[n_ops:, 0] = n_rows, n_rows + 1
    n_dynamic, n_static = len(dynamic_wires), len(static_wires)
    ground, zero = 2 * n_dynamic + n_static, 2 * n_dynamic + n_static + 1
    p_rows, q_rows, half_rows = [], [], []
    theta_rows = [structure.dynamic_ops[k].rows[0] for k in gate]
    coefficients = np.zeros((angles.n_inputs, len(plan.initial_order)))
    for axis, w in enumerate(plan.initial_order):
        if w in dynamic_wires:
            k = dynamic_wires.index(w)
            p_rows.append(k)
            q_rows.append(n_dynamic + k)
            half_rows.append(k)
            coefficients[:, axis] = angles.input_coefficients[theta_rows[k]] / 2
        else:
            p_rows.append(2 * n_dynamic + static_wires.index(w) if w in static_wires else ground)
            q_rows.append(zero)
            half_rows.append(n_dynamic)
    return AngleEncoding(
        gate_rows=gate_rows,
        index=(
            np.array(before + before, dtype=np.int64),
            np.array(after + after, dtype=np.int64),
            np.array(gate + [k + n_ops for k in gate], dtype=np.int64),
            np.array(static_runs, dtype=np.int64),
        ),
        p_rows=np.array(p_rows),
        q_rows=np.array(q_rows),
        theta_rows=theta_rows,
        half_rows=np.array(half_rows),
        coefficients=coefficients,
        constant_half=not angles.weight_coefficients[theta_rows].any(),
    )


def static_gates(plan: Schedule, angles: AngleMap) -> StaticGates:
    """Every input-free one-wire gate of ``plan``: the prefix's, then each static block's."""
    ops = [op for run in plan.prefix.values() for op in run if not angles.is_dynamic(op)]
    blocks = {}
    for k, kernel in enumerate(plan.kernels):
        if isinstance(kernel, BlockKernel) and not kernel.dynamic:
            start = len(ops)
            ops.extend(op for op in kernel.ops if isinstance(op, U1Q))
            blocks[k] = (start, len(ops))
    return StaticGates(ops, blocks)


def kronecker_layout(plan: Schedule, static: StaticGates) -> KroneckerLayout | None:
    """Which static blocks of ``plan`` are layers of one-wire gates, and the runs of their
    gates (indices into ``static.ops``) per wire, grouped by block size; None when none is."""
    runs: list[list[int]] = []
    by_size: dict[int, tuple[list, list]] = {}
    for k, kernel in enumerate(plan.kernels):
        if k not in static.blocks or not all(isinstance(op, U1Q) for op in kernel.ops):
            continue
        start = static.blocks[k][0]
        per_wire = {w: [] for w in kernel.local_wires}
        for j, op in enumerate(kernel.ops):
            per_wire[op.wires[0]].append(start + j)
        kernels, index = by_size.setdefault(len(kernel.local_wires), ([], []))
        kernels.append(k)
        index.append([len(runs) + j for j in range(len(per_wire))])
        runs.extend(per_wire[w] for w in reversed(kernel.local_wires))  # MSB first
    groups = [(tuple(k), np.array(i)) for k, i in by_size.values()]
    return KroneckerLayout(runs, groups) if groups else None


def gate_layout(
    static: StaticGates, structure: PrefixStructure, kronecker: KroneckerLayout | None
) -> GateLayout:
    """Every one-wire gate matrix a bind builds (the static gates, then the encoding's gates
    at theta 0 and pi) and every run of them it multiplies out (the prefix's static runs, the
    identity, the factors of the Kronecker blocks): one batch each per bind."""
    ops = static.ops
    n_static = len(ops)
    rows = [op.rows for op in ops]
    # the prefix runs index structure.static_ops, which static.ops lists first and in the
    # same order; [] multiplies to the identity
    runs = [list(run) for run in structure.runs] + [[]]
    encoding = structure.encoding
    if encoding is not None:
        ops = ops + structure.dynamic_ops + structure.dynamic_ops
        rows.extend(encoding.gate_rows.tolist())
    kron_offset = len(runs)
    if kronecker is not None:
        runs.extend(kronecker.runs)
    return GateLayout(
        ops, np.array(rows, dtype=np.int64).reshape(-1, 4), runs, n_static, kron_offset
    )
