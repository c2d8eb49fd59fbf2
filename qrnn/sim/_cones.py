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
from qrnn.sim._gates import complex_dtype
from qrnn.sim._lowering import U1Q, AngleTable, Dense, Monomial, PauliRotation
from qrnn.sim._phases import diagonal_terms
from qrnn.sim._plan import CompiledPlan
from qrnn.sim._product import (
    _product_backward,
    _product_forward,
    product_groups,
    refuse_second_derivatives,
)
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

    def groups_of(self, k: int, like: torch.Tensor):
        """``product_groups`` of ``k`` wires on ``like``'s device, in its complex dtype."""
        dtype = like.dtype if like.is_complex() else complex_dtype(like.dtype)
        key = ("groups", k, like.device, dtype)
        if key not in self._tensors:
            self._tensors[key] = product_groups(k, like.device, dtype)
        return self._tensors[key]

    def tensors(self, device, real_dtype):
        """``(per group its observable, per run its wires' axes, the constants, the output's
        column order)`` on a device."""
        key = (device, real_dtype)
        if key not in self._tensors:
            state_dtype = complex_dtype(real_dtype)
            observables = [
                torch.as_tensor(group.observable, device=device, dtype=state_dtype)
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
        order, labels = _canonical(cone, rest, axes_of, support)
        wires = sorted(labels, key=labels.get)  # local qubit j is wires[j]
        ops, rows, signature = [], [], []
        for j in order:
            op = rest[j]
            op_rows = _rows(op)
            local_wires = tuple(labels[w] for w in op.wires)
            local_rows = tuple(range(len(rows), len(rows) + len(op_rows)))
            rows.extend(op_rows)
            ops.append(_relabelled(op, local_wires, local_rows))
            signature.append(_signature(op, local_wires, op_rows, table))
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


def _canonical(cone, rest, axes_of, support):
    """``(gates, labels)``: the cone's gates (positions in ``rest``) in a canonical order and
    its wires' local labels (wire -> 0 .. k-1), so that cones equal up to the order of
    commuting gates and a relabelling of wires compare equal (a ring's cones at its wrap
    and inside it). Gates are layered (a gate goes after every earlier gate it shares a wire
    with and does not commute with; within a layer gates commute or are disjoint, so any
    order is the same circuit); wires are labelled from the observable back through the
    layers, each layer's gates taken by the lowest label they touch and where it sits in
    the gate; a layer's gates are emitted sorted by their local wires."""
    layer: dict[int, int] = {}
    for index, j in enumerate(cone):
        before = [
            layer[h]
            for h in cone[:index]
            if set(rest[h].wires).intersection(rest[j].wires)
            and not _commute(axes_of[h], axes_of[j])
        ]
        layer[j] = 1 + max(before, default=-1)
    depth = 1 + max(layer.values(), default=-1)
    layers = [[j for j in cone if layer[j] == d] for d in range(depth)]
    labels = {w: i for i, w in enumerate(sorted(support))}

    def touch(j):  # the lowest label the gate touches, and where in the gate it sits
        known = [(labels[w], position) for position, w in enumerate(rest[j].wires) if w in labels]
        return min(known, default=(len(rest), 0))

    for gates in reversed(layers):
        for j in sorted(gates, key=touch):
            for w in rest[j].wires:
                labels.setdefault(w, len(labels))
    order = []
    for gates in layers:  # (a stable sort: gates on the same wires keep their order)
        order.extend(sorted(gates, key=lambda j: tuple(labels[w] for w in rest[j].wires)))
    return order, labels


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
    per run of one width the product states of its cones' wires and ``<psi| M |psi>``. One
    autograd node (``_ConeRun``) when gradients are needed."""
    coefficients, half_static, p, q = encoding
    tensors = (inputs, half_static, p, q, *operators)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return _ConeRun.apply(cones, inputs, coefficients, half_static, p, q, *operators)
    return _cone_forward(cones, inputs, coefficients, half_static, p, q, operators)[0]


def _cone_forward(cones, inputs, coefficients, half_static, p, q, operators):
    """``(values (b, n_obs), cos, sin (n, 1, b), per run (state, applied, tables,
    amplitudes))``; a run's ``state`` and ``applied = M state`` are ``(G, 2**k, b)``."""
    _observables, axes, constants, inverse = cones.tensors(inputs.device, inputs.dtype)
    half = torch.addmm(half_static, inputs, coefficients).T.unsqueeze(1)  # (n, 1, b)
    cos, sin = torch.cos(half), torch.sin(half)
    vectors = cos * p + sin * q  # (n, 2, b)
    batch = inputs.shape[0]
    values, saved = [], []
    for (k, _members), wires_axes, operator in zip(cones.runs, axes, operators, strict=True):
        n_cones = operator.shape[0]
        # the cones as a batch of product states: (k, 2, G * b) -> (2**k, G * b)
        wires = vectors.index_select(0, wires_axes).view(n_cones, k, 2, batch)
        wires = wires.permute(1, 2, 0, 3).reshape(k, 2, n_cones * batch)
        flat, tables, amplitudes = _product_forward(wires, cones.groups_of(k, inputs))
        state = flat.view(-1, n_cones, batch).transpose(0, 1).contiguous()  # (G, 2**k, b)
        applied = torch.bmm(operator, state)
        # Re(conj(psi) M psi) over (re, im) pairs: no complex product
        values.append((torch.view_as_real(state) * torch.view_as_real(applied)).sum((1, 3)))
        saved.append((state, applied, tables, amplitudes))
    if len(constants):
        values.append(constants[:, None].expand(-1, batch))
    return torch.cat(values).index_select(0, inverse).T, cos, sin, saved


class _ConeRun(torch.autograd.Function):
    """``cone_run`` as one function; the backward pass written out: for ``v = Re(psi^H M
    psi)`` (``M`` Hermitian) the state's gradient is ``2 g M psi`` and ``M``'s is ``sum_b g
    psi psi^H``, then the product states' adjoint (``_product``) and the encoding's."""

    @staticmethod
    def forward(ctx, cones, inputs, coefficients, half_static, p, q, *operators):
        values, cos, sin, saved = _cone_forward(
            cones, inputs, coefficients, half_static, p, q, operators
        )
        ctx.cones, ctx.static_rows = cones, half_static.shape[0]
        ctx.shapes = [(len(tables) if isinstance(tables, list) else -1, len(amplitudes))
                      for _s, _a, tables, amplitudes in saved]  # fmt: skip
        flat = []
        for state, applied, tables, amplitudes in saved:
            flat += [state, applied, *(tables if isinstance(tables, list) else [tables])]
            flat += amplitudes
        ctx.save_for_backward(coefficients, cos, sin, p, q, *operators, *flat)
        ctx.n_operators = len(operators)
        return values

    @staticmethod
    def backward(ctx, grad_output):
        refuse_second_derivatives()
        coefficients, cos, sin, p, q, *rest = ctx.saved_tensors
        operators, flat = rest[: ctx.n_operators], rest[ctx.n_operators :]
        cones, needs = ctx.cones, ctx.needs_input_grad
        _observables, axes, _constants, inverse = cones.tensors(grad_output.device, cos.dtype)
        # rows of the concatenated values: the output's columns in run order
        grad_rows = torch.empty_like(grad_output.T)
        grad_rows[inverse] = grad_output.T
        batch = grad_output.shape[0]
        grad_vectors = torch.zeros(cos.shape[0], 2, batch, dtype=p.dtype, device=grad_output.device)
        grad_operators, offset, position = [], 0, 0
        for (k, _members), wires_axes, operator, (n_tables, n_amplitudes) in zip(
            cones.runs, axes, operators, ctx.shapes, strict=True
        ):
            state, applied = flat[position], flat[position + 1]
            position += 2
            if n_tables < 0:
                tables = flat[position]
                position += 1
            else:
                tables = list(flat[position : position + n_tables])
                position += n_tables
            amplitudes = list(flat[position : position + n_amplitudes])
            position += n_amplitudes
            n_cones = operator.shape[0]
            weights = grad_rows[offset : offset + n_cones].to(state.dtype)[:, None]  # (G,1,b)
            offset += n_cones
            weighted = state * weights
            grad_operators.append(torch.bmm(weighted, state.mH))
            grad_state = 2 * applied * weights  # (G, 2**k, b)
            grad_flat = grad_state.transpose(0, 1).reshape(-1, n_cones * batch)
            grad_wires = _product_backward(
                grad_flat, cones.groups_of(k, grad_output), tables, amplitudes
            )  # (k, 2, G * b)
            grad_wires = grad_wires.view(k, 2, n_cones, batch).permute(2, 0, 1, 3)
            grad_vectors.index_add_(0, wires_axes, grad_wires.reshape(-1, 2, batch))
        grad_inputs = grad_half_static = grad_p = grad_q = None
        if needs[4]:  # v = cos p + sin q: p's gradient is cos g, summed over a broadcast
            grad_p = (grad_vectors * cos).sum(-1, keepdim=True) if p.shape[-1] == 1 else None
            if grad_p is None:
                grad_p = grad_vectors * cos
        if needs[5]:
            grad_q = (grad_vectors * sin).sum(-1, keepdim=True) if q.shape[-1] == 1 else None
            if grad_q is None:
                grad_q = grad_vectors * sin
        if needs[1] or needs[3]:
            # d/d half: -sin Re(conj(p) g) + cos Re(conj(q) g)
            along_p = (p.conj() * grad_vectors).real.sum(1, keepdim=True)
            along_q = (q.conj() * grad_vectors).real.sum(1, keepdim=True)
            grad_half = (cos * along_q - sin * along_p)[:, 0].T  # (b, n)
            if needs[1]:
                grad_inputs = grad_half @ coefficients.T
            if needs[3]:
                grad_half_static = grad_half
                if ctx.static_rows != batch:
                    grad_half_static = grad_half.sum(0, keepdim=True)
        return (None, grad_inputs, None, grad_half_static, grad_p, grad_q, *grad_operators)
