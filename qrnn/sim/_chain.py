"""The kernel chain: a schedule's kernels applied to a batch of states, and its adjoint.

A chain is a list of steps, each a gather (permutation with phases), a block (a dense
matrix on adjacent wire axes) or a phase stage (an elementwise phase vector, in any layout),
optionally after an axis permutation. States enter and leave
batch-last, ``(2**n_wires, batch)``; in between, ``ChainPlan`` keeps them in whatever axis
order makes each step one large operation without a copy (see "chains, planned on memory
layouts" below).

``run_chain`` applies a plan. When gradients are needed it runs it inside one
``autograd.Function`` whose backward is the adjoint pass written out: each block's input state
is kept from the forward pass, the gradient flows back through ``M^H`` and gives ``G S^H`` for
the block matrix (a phase stage: ``G conj(p)`` for the state and ``G conj(S)``, summed over a
broadcast batch, for its vector ``p``), and a gather's gradient is the inverse permutation (a
gather, not the scatter-add that autograd would run). Every small view, permute and expand of
the forward pass would otherwise be a node of the autograd graph; per time step of a recurrent
model those nodes cost more than the arithmetic. ``encoded_chain`` does the same with an angle
encoding's product state in front, so a recurrent cell's time step is one autograd node. A
plan with readout coefficients reads the final state inside the same function: probabilities
contracted with real coefficients, and for X- and Y-type Pauli terms products of the state's
two halves (``FlipReadout``). The backward passes are not themselves differentiable: a
backward pass that builds a graph (``create_graph=True``, for second derivatives) raises
rather than returning derivatives that miss the terms of the saved states.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from qrnn.sim._product import encoded_backward, encoded_forward, refuse_second_derivatives


@dataclass(frozen=True)
class ChainStep:
    """One kernel of a chain, as the schedule made it.

    ``source`` / ``phase``: a gather, ``out[i] = state[source[i]] * phase[i]`` over the
    canonical index (``phase`` (2**n_wires, 1) or None); ``source`` is a permutation.
    ``diagonal``: a phase stage, ``out[i] = state[i] * matrices[matrix][:, i]`` over the
    canonical index (the vector placed in the memory layout by ``ChainPlan.place``).
    Otherwise a block: ``matrices[matrix]`` on the canonical axes ``start .. start + m - 1``.
    ``permute``: the canonical axis order changes first (new axis k = old axis permute[k]).
    """

    permute: tuple[int, ...] | None
    source: torch.Tensor | None = None
    phase: torch.Tensor | None = None
    start: int = 0
    matrix: int = -1
    diagonal: bool = False


def permute_axes(state: torch.Tensor, permute, n_wires: int) -> torch.Tensor:
    """Reorder the wire axes of ``state (2**n_wires, batch)``."""
    batch = state.shape[1]
    return state.view(*([2] * n_wires), batch).permute(*permute, n_wires).reshape(-1, batch)


def apply_block(matrix: torch.Tensor, state: torch.Tensor, start: int) -> torch.Tensor:
    """``matrix (1 or b, d, d)`` on the axes ``start ..`` of ``state (2**n, batch)``."""
    batch = state.shape[1]
    d = matrix.shape[-1]
    leading = 2**start
    if matrix.shape[0] == 1:  # one matrix for the whole batch: plain matrix products
        if leading == 1:
            return (matrix[0] @ state.reshape(d, -1)).view(-1, batch)
        # bmm over an expanded matrix: matmul would fold the batch axes with a copy
        blocks = state.reshape(leading, d, -1)
        return torch.bmm(matrix.expand(leading, d, d), blocks).view(-1, batch)
    # per-sample matrices: out[l, i, r, b] = sum_j U[b, i, j] state[l, j, r, b]
    out_batch = max(batch, matrix.shape[0])
    view = state.reshape(leading, d, -1, batch)
    if d <= 4:  # a few broadcast multiply-adds beat moving the batch axis
        columns = matrix.permute(2, 1, 0)  # (j, i, b)
        out = view[:, 0, None] * columns[0][None, :, None, :]
        for j in range(1, d):
            out = out + view[:, j, None] * columns[j][None, :, None, :]
        return out.reshape(-1, out_batch)
    rest = view.shape[2]
    moved = view.expand(-1, -1, -1, out_batch).permute(3, 1, 0, 2).reshape(out_batch, d, -1)
    out = torch.bmm(matrix.expand(out_batch, d, d), moved)
    out = out.view(out_batch, d, leading, rest).permute(2, 1, 3, 0)
    return out.reshape(-1, out_batch)


# --- chains, planned on memory layouts --------------------------------------------------------
#
# The state is one contiguous tensor whose axes are the wires (size 2) and the batch, in an
# order the plan tracks: its layout, most significant first. A block whose wires lead the
# layout is one matrix product that leaves them trailing (S^T M^T); one whose wires trail is
# one product that brings them to the front (M S^T); so a layer of blocks rotates the layout
# instead of copying the state, and each block's weight gradient is one product as well. A
# gather needs the batch axis last but takes any wire order (its index table is composed
# with the layout once) and writes its output in the order the next blocks want. The last
# block runs in place (M S), and the readout coefficients are permuted to the final layout
# once. Only blocks whose wires are not adjacent in the layout, and per-sample blocks away
# from the batch axis, cost a copy.

_BATCH = -1  # the batch axis in a layout

# planned operations (tuples, kind first)
_ROTATE = 0  # (kind, matrix, d): leading wires; out (R, d) = S(d, R)^T M^T
_UNROTATE = 1  # (kind, matrix, d): trailing wires; out (d, R) = M S(R, d)^T
_MIDDLE = 2  # (kind, matrix, d, leading or -1, rest or -1): adjacent wires inside; bmm
_SAMPLE = 3  # (kind, matrix, d): per-sample matrices, layout (batch, wires, rest); bmm
_PERMUTE = 4  # (kind, view shape, axes, view shape after, inverse axes): a copy
_GATHER = 5  # (kind, source, inverse, phase or None, rows): rows of a batch-last layout
_LEFT = 6  # (kind, matrix, d): leading wires, left there; out (d, R) = M S(d, R)
_PHASE = 7  # (kind, matrix): elementwise, any layout; the phase placed (before, b, after)


def index_map(layout, canonical) -> np.ndarray:
    """The canonical index of every memory index; both list the same wires, MSB first."""
    n = len(layout)
    memory = np.arange(2**n, dtype=np.int64)
    result = np.zeros(2**n, dtype=np.int64)
    for k, wire in enumerate(layout):
        result |= ((memory >> (n - 1 - k)) & 1) << (n - 1 - canonical.index(wire))
    return result


class ChainPlan:
    """A chain of ``ChainStep``s compiled to operations on memory layouts.

    Args:
        steps: the chain; blocks act on canonical axes and gathers on canonical indices, where
            the canonical order is the schedule's (``permute`` steps reorder it).
        n_wires: wires of the state.
        blocks: per block matrix ``(d, per_sample)`` (for a phase stage's vector: ignored).
        free_start: the initial state may be built in any wire order (a product state); it
            must then be built in ``start_order`` (canonical axes at the start, MSB first).
            Otherwise it is canonical and batch-last, ``(2**n_wires, batch)``.
        coefficients: ``(n_obs, 2**n_wires)`` real readout coefficients over the final
            canonical index, or None: the chain then returns the canonical batch-last state.
        flips: with ``coefficients``, the readout's bit-flip terms: ``(mask, table)`` with
            ``table (n_obs, 2**n_wires)`` complex over the final canonical index, read as
            ``Re(sum_i conj(psi[i]) table[:, i] psi[i ^ mask])`` (``_plan.Readout.flips``).
    """

    def __init__(self, steps, n_wires, blocks, free_start=False, coefficients=None, flips=()):
        canonical = list(range(n_wires))  # wire labels: canonical axes at the start
        items = []
        for step in steps:
            if step.permute is not None:
                canonical = [canonical[a] for a in step.permute]
            if step.diagonal:
                items.append(("phase", list(canonical), step))
            elif step.source is None:
                d, per_sample = blocks[step.matrix]
                wires = canonical[step.start : step.start + d.bit_length() - 1]
                items.append(("block", wires, step.matrix, d, per_sample))
            else:
                items.append(("gather", list(canonical), step))
        start = list(range(n_wires))
        if free_start:
            start = _preferred(items, 0, start)
        self.start_order = tuple(start)
        self.ops: list[tuple] = []
        # phase stages: matrix -> (index of its vector per memory index, wires before batch)
        self.phases: dict[int, tuple[torch.Tensor, int]] = {}
        layout = [*start, _BATCH]
        for k, item in enumerate(items):
            if item[0] == "gather":
                layout = self._gather(item, layout, _preferred(items, k + 1, item[1]))
            elif item[0] == "phase":
                self._phase(item, layout)
            else:
                _at_an_end_first(items, k, layout)
                layout = self._block(items[k], layout, items, k)
        self.coefficients = self.coefficients_t = None
        self.readout_groups = 0  # readout: 0 batch last, else 2**(wires before the batch)
        self.flips: list[FlipReadout] = []
        if coefficients is None:
            self._permute(layout, [*canonical, _BATCH])
            return
        wires = [w for w in layout if w != _BATCH]
        index = torch.as_tensor(index_map(wires, canonical), device=coefficients.device)
        self.final_shape = tuple(-1 if w == _BATCH else 2 for w in layout)
        self.flips = [FlipReadout(mask, table, layout, canonical, index) for mask, table in flips]
        # without diagonal terms the probabilities are not read at all
        self.diagonal = bool(coefficients.any()) or not self.flips
        table = coefficients[:, index]  # (n_obs, 2**n) over the memory index
        if layout[-1] == _BATCH:
            self.coefficients_t = (2 * table).T.contiguous()  # the backward's, with its 2
            self.coefficients = table
            return
        # the batch first or inside: the state is (groups, batch, rest); the coefficients
        # (groups, n_obs, 2 rest) over the rest's (amplitude, re/im) pairs
        groups = 2 ** layout.index(_BATCH)
        table = table.view(table.shape[0], groups, -1).repeat_interleave(2, dim=2)
        self.readout_groups = groups
        self.coefficients = table.transpose(0, 1).contiguous()
        self.coefficients_t = 2 * self.coefficients

    def _permute(self, layout, target):
        if layout == target:
            return layout
        shape = tuple(-1 if w == _BATCH else 2 for w in layout)
        axes = tuple(layout.index(w) for w in target)
        after = tuple(-1 if w == _BATCH else 2 for w in target)
        self.ops.append((_PERMUTE, shape, axes, after, tuple(int(a) for a in np.argsort(axes))))
        return list(target)

    def _phase(self, item, layout):
        """A phase stage in any layout: its vector is gathered into the layout once
        (``place``), so the stage is one multiply with the batch axis where it is."""
        _, canonical, step = item
        wires = [w for w in layout if w != _BATCH]
        memory = torch.as_tensor(index_map(wires, canonical))  # moved to the device by place
        self.phases[step.matrix] = (memory, 2 ** layout.index(_BATCH))
        self.ops.append((_PHASE, step.matrix))

    def place(self, k: int, phase: torch.Tensor) -> torch.Tensor:
        """Phase stage ``k``'s vector ``(b, 2**n_wires)`` (over the canonical index) in the
        memory layout of its step: ``(before, b, after)``, the batch axis where the state
        has it."""
        index, before = self.phases[k]
        if index.device != phase.device:
            index = index.to(phase.device)
            self.phases[k] = (index, before)
        return phase[:, index].view(phase.shape[0], before, -1).transpose(0, 1)

    def batch(self, matrices) -> int:
        """The largest batch of the block matrices and placed phase vectors."""
        return max([1, *(m.shape[1 if k in self.phases else 0] for k, m in enumerate(matrices))])

    def _gather(self, item, layout, out_wires):
        _, canonical, step = item
        if layout[-1] != _BATCH:
            layout = self._permute(layout, [*(w for w in layout if w != _BATCH), _BATCH])
        in_wires = layout[:-1]
        to_canonical = index_map(out_wires, canonical)  # output memory index -> canonical
        from_canonical = np.empty_like(to_canonical)
        from_canonical[index_map(in_wires, canonical)] = np.arange(len(to_canonical))
        source_np = step.source.cpu().numpy()
        source = from_canonical[source_np[to_canonical]]
        inverse = np.empty_like(source)
        inverse[source] = np.arange(len(source))
        device = step.source.device
        phase = None
        if step.phase is not None:
            phase = step.phase[torch.as_tensor(to_canonical, device=device)]
        self.ops.append(
            (
                _GATHER,
                torch.as_tensor(source, device=device),
                torch.as_tensor(inverse, device=device),
                phase,
                len(source),
            )
        )
        return [*out_wires, _BATCH]

    def _block(self, item, layout, items, k):
        _, wires, matrix, d, per_sample = item
        m = len(wires)
        last = k == len(items) - 1
        if per_sample:
            target = [_BATCH, *wires]
            if layout[: m + 1] != target:
                layout = self._permute(layout, target + [w for w in layout if w not in target])
            self.ops.append((_SAMPLE, matrix, d))
            return layout
        if layout[:m] == wires:
            if last:  # no later block needs the layout turned: M S, measured the faster
                self.ops.append((_LEFT, matrix, d))
                return layout
            self.ops.append((_ROTATE, matrix, d))
            return layout[m:] + wires
        if layout[-m:] == wires:
            self.ops.append((_UNROTATE, matrix, d))
            return wires + layout[:-m]
        first = layout.index(wires[0])
        if layout[first : first + m] != wires:
            # one copy, into the order of this and the next blocks: they rotate through it;
            # a block that no next one follows that way stays in place (M S)
            order = _preferred(items, k, [w for w in layout if w != _BATCH])
            layout = self._permute(layout, [*order, _BATCH])
            follows = len(_preferred(items, k, [])) > m
            self.ops.append((_ROTATE if follows else _LEFT, matrix, d))
            return layout[m:] + wires if follows else layout
        before, after = layout[:first], layout[first + m :]
        leading = -1 if _BATCH in before else 2 ** len(before)
        rest = -1 if _BATCH in after else 2 ** len(after)
        self.ops.append((_MIDDLE, matrix, d, leading, rest))
        return layout


def _at_an_end_first(items, k, layout):
    """Among the blocks from ``items[k]`` on that act on disjoint wires (so commute), move
    one whose wires lead or trail ``layout`` to ``k``: it runs as one product (a phase stage
    leaves the batch axis where the blocks before it put it, often in front)."""
    if items[k][4]:  # per-sample: its own layout
        return
    group = [k]
    wires = set(items[k][1])
    for j in range(k + 1, len(items)):
        item = items[j]
        if item[0] != "block" or item[4] or wires & set(item[1]):
            break
        group.append(j)
        wires |= set(item[1])
    for j in group:
        m = len(items[j][1])
        if layout[:m] == items[j][1] or layout[-m:] == items[j][1]:
            items[k], items[j] = items[j], items[k]
            return


def _preferred(items, k, wires):
    """A wire order for a state about to run ``items[k:]``: the wires of the next blocks in
    the order they come (while they are shared and disjoint; phase stages take any order),
    then the rest."""
    chosen: list[int] = []
    for item in items[k:]:
        if item[0] == "phase":
            continue
        if item[0] != "block" or item[4] or set(item[1]) & set(chosen):
            break
        chosen.extend(item[1])
    return chosen + [w for w in wires if w not in chosen]


class FlipReadout:
    """One bit-flip term of a readout on the final memory layout: with the state split at
    the first flipped axis into halves ``s0`` (bit 0) and ``s1`` (bit 1, its other flipped
    axes reversed, so ``s1[j] = psi[j ^ mask]``), ``E[:, columns] = Re(sum_j conj(s0[j])
    T[:, j] s1[j])``, where ``T`` is twice the term's coefficients over the half index
    (the half with bit 1 is the conjugate of this one: the observable is Hermitian).

    Args:
        mask: the flipped bits over the final canonical index.
        table: ``(n_obs, 2**n)`` complex coefficients over the final canonical index.
        layout: the final memory layout (wires and the batch axis, most significant first).
        canonical: the wire of each final canonical axis (MSB first).
        index: the canonical index of every memory index.
    """

    def __init__(self, mask, table, layout, canonical, index):
        n = len(canonical)
        flipped = [canonical[k] for k in range(n) if mask >> (n - 1 - k) & 1]
        axes = sorted(layout.index(w) for w in flipped)
        self.axis = axes[0]  # split here; the other flipped axes are reversed in s1
        self.reversed = tuple(a - 1 for a in axes[1:])  # (axes of a half: one fewer)
        batch_axis = layout.index(_BATCH)
        self.batch_axis = batch_axis - (batch_axis > self.axis)  # in a half
        wires = [w for w in layout if w != _BATCH]
        half = table[:, index].view(-1, *([2] * n)).select(1 + wires.index(layout[self.axis]), 0)
        half = 2 * half.reshape(table.shape[0], -1)  # (n_obs, 2**(n-1))
        self.columns = torch.nonzero(half.abs().sum(1)).flatten()
        self.table = half[self.columns].contiguous()  # (n_columns, 2**(n-1)) complex
        # Re(p T) = p.re T.re - p.im T.im over the (re, im) pairs of p
        pairs = torch.stack((self.table.real, -self.table.imag), -1)
        self.pairs = pairs.reshape(len(self.columns), -1).T.contiguous()  # (2 half, n_columns)
        # a half with the batch first, then its wires in memory order (the table's order)
        self.half_shape = [2] * (n - 1)

    def halves(self, final, shape, reverse=True):
        """Views of ``final``'s halves (the second a reversed copy when other axes flip and
        ``reverse``)."""
        state = final.view(shape)
        first, second = state.select(self.axis, 0), state.select(self.axis, 1)
        if self.reversed and reverse:
            second = second.flip(self.reversed)
        return first, second

    def read(self, final, shape, batch):
        """``(batch, n_columns)``: this term's expectation values."""
        first, second = self.halves(final, shape)
        products = (first.conj() * second).movedim(self.batch_axis, 0)
        products = products.reshape(batch, -1).contiguous()
        return torch.view_as_real(products).view(batch, -1) @ self.pairs

    def backward(self, final, shape, grad_output, batch, grad):
        """Add the state's gradient from ``grad_output (batch, n_obs)`` to ``grad`` (in
        ``final``'s layout, viewed as ``shape``)."""
        first, second = self.halves(final, shape)
        weights = grad_output[:, self.columns].to(self.table.dtype) @ self.table  # (b, half)
        weights = weights.view(batch, *self.half_shape).movedim(0, self.batch_axis)
        grad_first, grad_second = self.halves(grad, shape, reverse=False)
        grad_first.addcmul_(weights, second)
        if self.reversed:
            grad_second.add_((weights.conj() * first).flip(self.reversed))
        else:
            grad_second.addcmul_(weights.conj(), first)


def _run_forward(ops, state, matrices, saved):
    """Apply the planned ``ops``; ``saved`` collects each block's input state."""
    for op in ops:
        kind = op[0]
        if kind == _GATHER:
            state = state.view(op[4], -1).index_select(0, op[1])
            if op[3] is not None:
                state = state * op[3]
            continue
        if kind == _PERMUTE:
            state = state.view(op[1]).permute(op[2]).contiguous()
            continue
        if saved is not None:
            saved.append(state)
        if kind == _PHASE:
            phase = matrices[op[1]]
            state = state.view(phase.shape[0], -1, phase.shape[2]) * phase
            continue
        matrix, d = matrices[op[1]], op[2]
        if kind == _ROTATE:
            state = torch.mm(state.view(d, -1).T, matrix[0].T)
        elif kind == _LEFT:
            state = torch.mm(matrix[0], state.view(d, -1))
        elif kind == _UNROTATE:
            state = torch.mm(matrix[0], state.view(-1, d).T)
        elif kind == _MIDDLE:
            blocks = state.view(op[3], d, op[4])
            state = torch.bmm(matrix.expand(blocks.shape[0], d, d), blocks)
        else:  # _SAMPLE
            state = torch.bmm(matrix, state.view(matrix.shape[0], d, -1))
    return state


def _run_backward(ops, grad, saved, matrices, need):
    """The adjoint of ``_run_forward``: (state gradient, block matrix gradients)."""
    grad_matrices = [None] * len(matrices)
    for op in reversed(ops):
        kind = op[0]
        if kind == _GATHER:
            grad = grad.view(op[4], -1)
            if op[3] is not None:
                grad = grad * op[3].conj()
            grad = grad.index_select(0, op[2])
            continue
        if kind == _PERMUTE:
            grad = grad.view(op[3]).permute(op[4]).contiguous()
            continue
        if kind == _PHASE:  # out = phase * state: the adjoint multiplies by conj(phase)
            state, index = saved.pop(), op[1]
            phase = matrices[index]
            grad = grad.view(phase.shape[0], -1, phase.shape[2])
            if need[index]:
                grad_phase = grad * state.view(grad.shape).conj()
                if phase.shape[1] != grad_phase.shape[1]:  # broadcast over the batch
                    grad_phase = grad_phase.sum(1, keepdim=True)
                previous = grad_matrices[index]
                grad_matrices[index] = grad_phase if previous is None else previous + grad_phase
            grad = grad * phase.conj()
            continue
        state, index, d = saved.pop(), op[1], op[2]
        matrix = matrices[index]
        grad_matrix = None
        if kind == _ROTATE:
            flat_grad, flat_state = grad.view(-1, d).T, state.view(d, -1)
            if need[index]:
                grad_matrix = torch.mm(flat_grad, flat_state.mH)[None]
            grad = torch.mm(matrix[0].mH, flat_grad)
        elif kind == _LEFT:
            flat_grad, flat_state = grad.view(d, -1), state.view(d, -1)
            if need[index]:
                grad_matrix = torch.mm(flat_grad, flat_state.mH)[None]
            grad = torch.mm(matrix[0].mH, flat_grad)
        elif kind == _UNROTATE:
            flat_grad, flat_state = grad.view(d, -1), state.view(-1, d)
            if need[index]:
                grad_matrix = torch.mm(flat_state.mH, flat_grad.T).T[None]
            grad = torch.mm(flat_grad.T, matrix[0].conj())
        elif kind == _MIDDLE:
            blocks, grad_blocks = state.view(op[3], d, op[4]), grad.view(op[3], d, op[4])
            if need[index]:
                grad_matrix = torch.bmm(grad_blocks, blocks.mH).sum(0, keepdim=True)
            grad = torch.bmm(matrix.mH.expand(blocks.shape[0], d, d), grad_blocks)
        else:  # _SAMPLE
            batch = matrix.shape[0]
            blocks, grad_blocks = state.view(batch, d, -1), grad.view(batch, d, -1)
            if need[index]:
                grad_matrix = torch.bmm(grad_blocks, blocks.mH)
            grad = torch.bmm(matrix.mH, grad_blocks)
        if grad_matrix is not None:
            previous = grad_matrices[index]
            grad_matrices[index] = grad_matrix if previous is None else previous + grad_matrix
    return grad, grad_matrices


def _output(plan, final, batch):
    """What a run of ``plan`` returns: its readout, or the final state ``(2**n, batch)``."""
    if plan.coefficients is None:
        return final.view(-1, batch)
    if not plan.flips:
        return _readout(plan, final, batch)
    shape = _final_shape(plan, batch)
    out = _readout(plan, final, batch) if plan.diagonal else None
    if out is None:
        out = final.new_zeros(batch, plan.coefficients.shape[-2], dtype=final.real.dtype)
    for flip in plan.flips:
        out = out.index_add(1, flip.columns, flip.read(final, shape, batch))
    return out


def _output_backward(plan, final, grad_output, batch):
    """The gradient for the final state from the gradient of ``_output``."""
    if plan.coefficients is None:  # the caller may hand back a transposed gradient
        return grad_output.contiguous()
    if not plan.flips:
        return _readout_backward(plan, final, grad_output, batch)
    shape = _final_shape(plan, batch)
    if plan.diagonal:
        grad = _readout_backward(plan, final, grad_output, batch).view(final.shape)
    else:
        grad = torch.zeros_like(final)
    for flip in plan.flips:
        flip.backward(final, shape, grad_output, batch, grad)
    return grad


def _final_shape(plan, batch):
    return tuple(batch if size == -1 else size for size in plan.final_shape)


def _readout(plan, final, batch):
    """(batch, n_obs) probabilities of ``final`` contracted with the plan's coefficients."""
    squares = torch.view_as_real(final).square()
    groups = plan.readout_groups
    if groups == 1:  # (n_obs, rows) @ (rows, batch): the fast orientation for MKL here
        return torch.mm(plan.coefficients[0], squares.view(batch, -1).T).T
    if groups:
        return torch.bmm(squares.view(groups, batch, -1), plan.coefficients.mT).sum(0)
    # batch-last: contract first, then add the (re, im) pairs, so the slow reduction over a
    # size-2 axis runs on (n_obs, batch, 2), not on the state
    return (plan.coefficients @ squares.view(-1, 2 * batch)).view(-1, batch, 2).sum(-1).T


def _readout_backward(plan, final, grad_output, batch):
    # d|psi_i|^2 = 2 Re(conj(psi_i) dpsi_i): the state's gradient is 2 (C^T g)_i psi_i
    real = torch.view_as_real(final)
    groups = plan.readout_groups
    if groups:
        weights = torch.matmul(grad_output, plan.coefficients_t)  # (groups, batch, 2 rest)
        return torch.view_as_complex((real.view(groups, batch, -1) * weights).view(real.shape))
    weights = torch.mm(plan.coefficients_t, grad_output.T)  # (2**n, batch)
    return torch.view_as_complex((real.view(-1, batch, 2) * weights[..., None]).view(real.shape))


class _Chain(torch.autograd.Function):
    """``(state, *matrices) -> final state``, or its readout when the plan has coefficients;
    the backward pass is the adjoint pass written out (module docstring)."""

    @staticmethod
    def forward(ctx, plan, state, *matrices):
        batch = state.shape[-1]
        saved: list[torch.Tensor] = []
        final = _run_forward(plan.ops, state, matrices, saved)
        ctx.plan, ctx.batch, ctx.shape = plan, batch, state.shape
        ctx.save_for_backward(final, *saved, *matrices)
        ctx.n_saved = len(saved)
        return _output(plan, final, batch)

    @staticmethod
    def backward(ctx, grad_output):
        refuse_second_derivatives()
        final, *rest = ctx.saved_tensors
        saved, matrices = rest[: ctx.n_saved], rest[ctx.n_saved :]
        grad = _output_backward(ctx.plan, final, grad_output, ctx.batch)
        grad, grad_matrices = _run_backward(
            ctx.plan.ops, grad, saved, matrices, ctx.needs_input_grad[2:]
        )
        return (None, grad.reshape(ctx.shape), *grad_matrices)


def run_chain(plan: ChainPlan, state, matrices):
    """Run ``plan`` on ``state (2**n_wires, batch)`` (in the plan's start order) with
    ``matrices`` (each ``(1 or batch, d, d)``, per-sample ones as the plan was made for; a
    phase stage's vector as ``place`` gives it).
    Returns the final canonical state ``(2**n_wires, batch)``, or the readout
    ``(batch, n_obs)`` when the plan has coefficients."""
    batch = max(state.shape[1], plan.batch(matrices))
    if state.shape[1] != batch:  # per-sample matrices on a shared state
        state = state.expand(-1, batch)
    state = state.contiguous()  # the plan's views assume it (a head state may be strided)
    if torch.is_grad_enabled() and any(t.requires_grad for t in (state, *matrices)):
        return _Chain.apply(plan, state, *matrices)
    return _output(plan, _run_forward(plan.ops, state, matrices, None), batch)


class _EncodedChain(torch.autograd.Function):
    """An angle encoding's product state run through a chain, as one function:
    ``half = inputs @ coefficients + half_static``, wire vectors ``cos(half) p + sin(half) q``,
    their product state, the chain and its readout. One autograd node per run; the backward
    is the chain's adjoint followed by the product state's."""

    @staticmethod
    def forward(ctx, plan, groups, inputs, coefficients, half_static, p, q, *matrices):
        state, cos, sin, tables, amplitudes = encoded_forward(
            inputs, coefficients, half_static, p, q, groups
        )
        batch = state.shape[-1]
        saved: list[torch.Tensor] = []
        final = _run_forward(plan.ops, state, matrices, saved)
        tables = [tables] if groups.equal else list(tables)
        ctx.plan, ctx.groups, ctx.batch = plan, groups, batch
        ctx.static_rows = half_static.shape[0]
        ctx.counts = (len(saved), len(tables), len(amplitudes))
        ctx.save_for_backward(
            coefficients, cos, sin, p, q, final, *saved, *tables, *amplitudes, *matrices
        )
        return _output(plan, final, batch)

    @staticmethod
    def backward(ctx, grad_output):
        refuse_second_derivatives()
        coefficients, cos, sin, p, q, final, *rest = ctx.saved_tensors
        n_saved, n_tables, n_amplitudes = ctx.counts
        saved = rest[:n_saved]
        tables = rest[n_saved : n_saved + n_tables]
        amplitudes = rest[n_saved + n_tables : n_saved + n_tables + n_amplitudes]
        matrices = rest[n_saved + n_tables + n_amplitudes :]
        plan, needs = ctx.plan, ctx.needs_input_grad
        grad = _output_backward(plan, final, grad_output, ctx.batch)
        grad, grad_matrices = _run_backward(plan.ops, grad, list(saved), matrices, needs[7:])
        grad_inputs = grad_half_static = None
        if any(needs[2:7]):
            grad_half, grad_p, grad_q = encoded_backward(
                grad.view(-1, ctx.batch),
                ctx.groups,
                (needs[2] or needs[4], needs[5], needs[6]),
                cos,
                sin,
                p,
                q,
                tables[0] if ctx.groups.equal else list(tables),
                amplitudes,
            )
            if needs[2]:  # the inputs have the batch (BoundProgram checks)
                grad_inputs = grad_half @ coefficients.T
            if needs[4]:  # unbatched weights were broadcast over the batch
                grad_half_static = grad_half
                if ctx.static_rows != grad_half.shape[0]:
                    grad_half_static = grad_half.sum(0, keepdim=True)
        return (None, None, grad_inputs, None, grad_half_static, grad_p, grad_q, *grad_matrices)


def encoded_chain(plan, groups, inputs, coefficients, half_static, p, q, matrices):
    """Run ``plan`` on the product state of the wire vectors ``cos(half) p + sin(half) q``,
    ``half = inputs @ coefficients + half_static``.

    Args:
        plan: a ``ChainPlan`` with a free start; the wires below are in its ``start_order``.
        groups: ``product_groups`` of the wires.
        inputs: ``(b, n_inputs)`` real.
        coefficients: ``(n_inputs, n_wires)`` real: half of each wire's angle per input.
        half_static: ``(1 or b, n_wires)`` real: the rest of half each wire's angle.
        p, q: ``(n_wires, 2, 1 or b)`` complex: each wire's vector at angle 0 and at pi.
        matrices: the block matrices, ``(1 or b, d, d)`` each.

    Returns:
        ``(b, n_obs)`` readout when the plan has coefficients, else the final canonical state
        ``(2**n_wires, b)``.
    """
    tensors = (inputs, half_static, p, q, *matrices)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return _EncodedChain.apply(plan, groups, inputs, coefficients, half_static, p, q, *matrices)
    state = encoded_forward(inputs, coefficients, half_static, p, q, groups)[0]
    batch = state.shape[-1]
    return _output(plan, _run_forward(plan.ops, state, matrices, None), batch)
