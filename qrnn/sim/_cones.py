"""Light cones: each observable read on the part of the circuit it sees.

For an angle encoding followed by input-free gates (the "split" plan's form), observable ``i``
depends only on the gates of its backward light cone and on the encoded wires that cone
reaches: walking the gates backwards, a gate joins the cone when it touches the observable or
a later gate of the cone and does not commute with it (gates diagonal in one Pauli basis per
wire that agree on their shared wires commute, ``_phases.diagonal_terms``: a ring of RXX
couplings adds two of its gates to a cone, not the whole ring). On ``k`` wires a cone's value
is ``<psi| M |psi>`` with ``psi`` the product state of its encoded wires and ``M = U^H O U``
(``2**k x 2**k``), so a run costs ``4**k`` multiply-adds per sample and cone instead of the
whole state's work.

Cones with the same gates once their wires are relabelled form a group: the group's canonical
cone is scheduled once (``_schedule``, blocks only), a bind builds ``M`` for all its cones at
once from each cone's own angles (``(G, 2**k, 2**k)``), and a run applies them to the stacked
product states of the group's cones as one batched product. Gradients flow by autograd.
Whether cones run at all is the cost model's choice (``ConePlan.multiply_adds`` against the
whole state's count, ``Program._multiply_adds``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from qiskit.quantum_info import SparsePauliOp

from qrnn.sim._angles import AngleMap
from qrnn.sim._bound_plan import BoundPlan
from qrnn.sim._chain import apply_block, permute_axes
from qrnn.sim._lowering import U1Q, AngleTable, Dense, Monomial, PauliRotation
from qrnn.sim._phases import diagonal_terms
from qrnn.sim._plan import CompiledPlan
from qrnn.sim._schedule import GatherKernel, PhaseKernel, schedule

# a cone wider than this is never cheaper than the state it is part of at the sizes the
# engine runs, and its 4**k matrix would be large
MAX_CONE_WIRES = 8
# fixed cost of stacking the cones of one width, in multiply-adds per sample: a handful of
# tensor operations, each worth a few thousand multiply-adds at the batches a recurrent
# model runs (tens of samples)
RUN_COST = 4096


@dataclass
class ConeGroup:
    """Cones of one structure: ``plan`` the canonical cone's gates on ``k`` wires (unitary
    mode), ``rows (G, n_local_rows)`` each cone's rows of the program's angle table, ``axes``
    ``(G * k,)`` the encoding's canonical axis of each cone's wires (local MSB first),
    ``observable (2**k, 2**k)`` complex (or its diagonal), ``columns`` each cone's
    observable."""

    plan: CompiledPlan | None
    k: int
    rows: np.ndarray
    axes: np.ndarray
    observable: np.ndarray
    diagonal: bool
    columns: list[int]


class ConePlan:
    """The light-cone form of a program's expectation values (module docstring): ``groups``
    of cones and ``constants`` (observable -> value for observables on no wire)."""

    def __init__(self, groups: list[ConeGroup], constants: dict[int, float], n_obs: int):
        self.groups = groups
        self.constants = constants
        self.n_obs = n_obs
        # a run stacks every cone of one width, whatever its group: (k, group positions)
        widths = sorted({group.k for group in groups})
        self.runs = [(k, [g for g, group in enumerate(groups) if group.k == k]) for k in widths]
        order = [c for _k, members in self.runs for g in members for c in groups[g].columns]
        self.inverse = np.argsort(np.array(order + list(constants), dtype=np.int64))
        self._tensors: dict = {}

    def multiply_adds(self, batch: int) -> int:
        """Complex multiply-adds of a run on ``batch`` samples: per cone ``4**k`` (the
        product with ``M``) and the product state and readout (``2**k`` each), per run of
        one width ``RUN_COST``."""
        per_sample = sum(
            len(group.columns) * (4**group.k + 2 * 2**group.k) for group in self.groups
        )
        return batch * (per_sample + RUN_COST * len(self.runs))

    def tensors(self, device, real_dtype):
        """``(per group its observable, per run its wires' axes, the constants, the output's
        column order)`` on a device."""
        key = (device, real_dtype)
        if key not in self._tensors:
            complex_dtype = torch.complex64 if real_dtype == torch.float32 else torch.complex128
            observables = [
                torch.as_tensor(group.observable, device=device, dtype=complex_dtype)
                for group in self.groups
            ]
            axes = [
                torch.as_tensor(
                    np.concatenate([self.groups[g].axes for g in members]), device=device
                )
                for _k, members in self.runs
            ]
            constants = torch.as_tensor(
                list(self.constants.values()), device=device, dtype=real_dtype
            )
            inverse = torch.as_tensor(self.inverse, device=device)
            self._tensors[key] = (observables, axes, constants, inverse)
        return self._tensors[key]


def cone_plan(lowered, observables, split_plan: CompiledPlan, max_fused: int):
    """The ``ConePlan`` of the program whose "split" plan is ``split_plan`` (an angle
    encoding, then input-free gates), or None when some cone is wider than
    ``MAX_CONE_WIRES`` or a gate is not a unitary the cones know."""
    n = lowered.n_qubits
    prefix = {id(op) for ops in split_plan.schedule.prefix.values() for op in ops}
    rest = [op for op in lowered.ops if id(op) not in prefix]
    if any(not isinstance(op, (U1Q, PauliRotation, Dense, Monomial)) for op in rest):
        return None
    table = lowered.table
    axes_of = []
    for op in rest:
        found = diagonal_terms(op, table)
        axes_of.append(None if found is None else found[0])
    initial = list(split_plan.schedule.initial_order)
    groups: dict[tuple, dict] = {}
    constants: dict[int, float] = {}
    for column, observable in enumerate(observables):
        terms = [
            {q: label[n - 1 - q] for q in range(n) if label[n - 1 - q] != "I"}
            for label in observable.paulis.to_labels()
        ]
        support = sorted({q for term in terms for q in term})
        cone = _light_cone(rest, axes_of, terms, support)
        if cone is None:
            return None
        wires = sorted(set(support).union(*(rest[j].wires for j in cone)))
        if len(wires) > MAX_CONE_WIRES:
            return None
        if not wires:
            constants[column] = float(np.real(observable.coeffs.sum()))
            continue
        local = {w: i for i, w in enumerate(wires)}
        ops, rows, signature = [], [], []
        for j in cone:
            op = rest[j]
            op_rows = _rows(op)
            local_rows = tuple(range(len(rows), len(rows) + len(op_rows)))
            rows.extend(op_rows)
            ops.append(_relabelled(op, tuple(local[w] for w in op.wires), local_rows))
            signature.append(_signature(op, tuple(local[w] for w in op.wires), op_rows, table))
        k = len(wires)
        local_labels = ["".join(label[n - 1 - q] for q in reversed(wires)) for label in
                        observable.paulis.to_labels()]  # fmt: skip
        local_observable = SparsePauliOp(local_labels, observable.coeffs)
        key = (k, tuple(signature), tuple(local_labels), tuple(np.round(observable.coeffs, 15)))
        entry = groups.setdefault(
            key, {"ops": ops, "rows": [], "axes": [], "columns": [], "observable": local_observable}
        )
        entry["rows"].append(rows)
        entry["axes"].append([initial.index(w) for w in reversed(wires)])
        entry["columns"].append(column)
    built = []
    for (k, _gates, _labels, _coeffs), entry in groups.items():
        matrix = entry["observable"].to_matrix()
        diagonal = bool(np.allclose(matrix, np.diag(np.diag(matrix))))
        plan = None
        if entry["ops"]:
            local_table = _local_table(entry["ops"], entry["rows"][0], table)
            angles = AngleMap(local_table, [], [0])
            scheduled = schedule(
                entry["ops"], k, angles.is_dynamic, max_fused, product_prefix=False
            )
            plan = CompiledPlan("unitary", scheduled, None, angles)
        built.append(
            ConeGroup(
                plan,
                k,
                np.array(entry["rows"], dtype=np.int64).reshape(len(entry["columns"]), -1),
                np.array(entry["axes"], dtype=np.int64).reshape(-1),
                np.diag(matrix).copy() if diagonal else matrix,
                diagonal,
                entry["columns"],
            )
        )
    return ConePlan(built, constants, len(observables))


def _light_cone(rest, axes_of, terms, support):
    """Positions in ``rest`` of the gates that observable ``terms`` sees, in circuit order;
    None when the cone grows past ``MAX_CONE_WIRES``."""
    support = set(support)
    included: dict[int, list[int]] = {}  # wire -> included gates on it
    wires: set[int] = set(support)
    cone = []
    for j in range(len(rest) - 1, -1, -1):
        op, axes = rest[j], axes_of[j]
        need = any(
            not _commutes_with_term(axes, op.wires, term) for term in terms
        ) if support.intersection(op.wires) else False  # fmt: skip
        if not need:
            need = any(
                not _commute(axes, axes_of[h])
                for w in op.wires
                for h in included.get(w, ())
            )  # fmt: skip
        if need:
            cone.append(j)
            for w in op.wires:
                included.setdefault(w, []).append(j)
            wires.update(op.wires)
            if len(wires) > MAX_CONE_WIRES:
                return None
    cone.reverse()
    return cone


def _commute(a, b) -> bool:
    """Whether two gates with per-wire Pauli axes ``a``, ``b`` (None: unknown) commute."""
    if a is None or b is None:
        return False
    return all(b.get(w, letter) == letter for w, letter in a.items())


def _commutes_with_term(axes, wires, term) -> bool:
    """Whether a gate on ``wires`` with per-wire axes ``axes`` commutes with the Pauli
    ``term`` (wire -> letter, identity elsewhere)."""
    if not any(w in term for w in wires):
        return True
    if axes is None:
        return False
    return all(term.get(w, letter) == letter for w, letter in axes.items())


def _rows(op) -> tuple[int, ...]:
    if isinstance(op, U1Q):
        return tuple(op.rows)
    if isinstance(op, PauliRotation):
        return (op.row,)
    return ()


def _relabelled(op, wires, rows):
    if isinstance(op, U1Q):
        return replace(op, wires=wires, rows=rows)
    if isinstance(op, PauliRotation):
        return replace(op, wires=wires, row=rows[0])
    return replace(op, wires=wires)


def _signature(op, wires, rows, table) -> tuple:
    """What the canonical cone keeps of ``op``: its kind, local wires, constant data and per
    angle row its constant value (or that it depends on a parameter)."""
    angles = tuple(("p",) if table.rows[r][1] else ("c", round(table.rows[r][0], 15)) for r in rows)
    data: tuple = ()
    if isinstance(op, U1Q):
        data = (op.conjugate,)
    elif isinstance(op, PauliRotation):
        data = (op.conjugate, op.pauli.tobytes())
    elif isinstance(op, Dense):
        data = (op.matrix.tobytes(),)
    elif isinstance(op, Monomial):
        data = (op.source.tobytes(), op.phase.tobytes())
    return (type(op).__name__, wires, data, angles)


def _local_table(ops, rows, table) -> AngleTable:
    """An angle table of the canonical cone's rows: constant rows as the program has them,
    every other row a stand-in parameter (the values come from the program's angles)."""
    local = AngleTable(["theta"])
    for r in rows:
        offset, terms = table.rows[r]
        local.rows.append((offset, ((0, 1.0),) if terms else ()))
    return local


def cone_operators(cones: ConePlan, static_angles: torch.Tensor, device, real_dtype):
    """Per run of one width, ``M = U^H O U`` of its cones ``(n_cones, 2**k, 2**k)``, from the
    bind's ``static_angles (1, n_rows)``; each group's cones built together."""
    observables, _axes, _constants, _inverse = cones.tensors(device, real_dtype)
    operators = []
    for group, observable in zip(cones.groups, observables, strict=True):
        if group.plan is None:  # no gate: M = O
            matrix = torch.diag(observable) if group.diagonal else observable
            operators.append(matrix.expand(len(group.columns), -1, -1))
            continue
        rows = torch.as_tensor(group.rows, device=device)
        angles = static_angles[0][rows]  # (G, n_local_rows)
        tensors = group.plan.tensors(device, real_dtype)
        unitary = _unitaries(BoundPlan(group.plan, tensors, angles), group.k, len(group.columns))
        if group.diagonal:
            operators.append(unitary.mH @ (observable[:, None] * unitary))
        else:
            operators.append(unitary.mH @ (observable @ unitary))
    return [
        operators[members[0]] if len(members) == 1 else torch.cat([operators[g] for g in members])
        for _k, members in cones.runs
    ]


def _unitaries(bound: BoundPlan, k: int, n_cones: int) -> torch.Tensor:
    """``(G, 2**k, 2**k)``: the canonical cone's unitary for each cone's angles, run as
    ``2k`` wires (the state's and, trailing, a copy register holding the identity's
    columns) with the cones as the batch."""
    plan, tensors = bound.plan, bound.tensors
    dim = 2**k
    eye = torch.eye(dim, dtype=tensors.complex_dtype, device=tensors.device)
    state = eye.reshape(dim * dim, 1).expand(-1, n_cones).contiguous()
    copies = tuple(range(k, 2 * k))
    for position, kernel in enumerate(plan.schedule.kernels):
        if kernel.permute is not None:
            state = permute_axes(state, (*kernel.permute, *copies), 2 * k)
        if isinstance(kernel, GatherKernel):
            source, phase = tensors.gather(position)
            state = state.view(dim, -1).index_select(0, source)
            if phase is not None:
                state = state * phase
            state = state.reshape(dim * dim, n_cones)
        elif isinstance(kernel, PhaseKernel):  # (G, 2**k) over the canonical index
            vector = bound.kernel_matrix(position, None)
            state = (state.view(dim, dim, -1) * vector.T[:, None, :]).reshape(dim * dim, -1)
        else:
            state = apply_block(bound.kernel_matrix(position, None), state, kernel.start)
    # rows: output in the final axis order -> Qiskit order; columns: the input, canonical
    order = plan.schedule.order
    standard = tuple(range(k - 1, -1, -1))
    axes = [order.index(w) for w in standard]
    tensor = state.reshape(*([2] * k), dim, n_cones).permute(k + 1, *axes, k)
    return tensor.reshape(n_cones, dim, dim)


def cone_run(cones: ConePlan, operators, encoding, inputs: torch.Tensor) -> torch.Tensor:
    """``(b, n_obs)`` expectation values of ``inputs (b, n_inputs)``: the encoding's wire
    vectors ``cos(half) p + sin(half) q`` (``BoundPlan.encoding`` over every canonical axis),
    per run of one width the product states of its cones' wires and ``<psi| M |psi>``."""
    coefficients, half_static, p, q = encoding
    _observables, axes, constants, inverse = cones.tensors(inputs.device, inputs.dtype)
    half = torch.addmm(half_static, inputs, coefficients).T.unsqueeze(1)  # (n, 1, b)
    vectors = torch.cos(half) * p + torch.sin(half) * q  # (n, 2, b)
    batch = inputs.shape[0]
    values = []
    for (k, _members), wires_axes, operator in zip(cones.runs, axes, operators, strict=True):
        n_cones = operator.shape[0]
        wires = vectors.index_select(0, wires_axes).view(n_cones, k, 2, batch)
        state = wires[:, 0]
        for j in range(1, k):
            state = (state.unsqueeze(2) * wires[:, j].unsqueeze(1)).reshape(n_cones, -1, batch)
        applied = torch.bmm(operator, state)
        values.append((state.conj() * applied).real.sum(1))  # (n_cones, b)
    if len(constants):
        values.append(constants[:, None].expand(-1, batch))
    return torch.cat(values).index_select(0, inverse).T
