"""The kernel chain: a schedule's kernels applied to a batch of states, and its adjoint.

A chain is a list of steps, each a gather (permutation with phases) or a block (a dense
matrix on adjacent wire axes), optionally after an axis permutation. States are batch-last,
``(2**n_wires, batch)``.

``run_chain`` applies the steps. When gradients are needed it runs them inside one
``autograd.Function`` whose backward is the adjoint pass written out: each block's input state
is kept from the forward pass, the gradient flows back through ``M^H`` and gives ``G S^H`` for
the block matrix, and a gather's gradient is the inverse permutation (a gather, not the
scatter-add that autograd would run). Every small view, permute and expand of the forward pass
would otherwise be a node of the autograd graph; per time step of a recurrent model those
nodes cost more than the arithmetic. The backward passes are not themselves differentiable:
a backward pass that builds a graph (``create_graph=True``, for second derivatives) raises
rather than returning derivatives that miss the terms of the saved states.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class ChainStep:
    """One kernel of a chain.

    ``source`` / ``phase``: a gather, ``out[i] = state[source[i]] * phase[i]`` (phase may be
    None); ``source`` must be a permutation. Otherwise a block: ``matrices[matrix]`` on the
    wire axes ``start .. start + m - 1``. ``permute``: axis permutation applied first;
    ``unpermute`` its inverse, for the backward pass.
    """

    permute: tuple[int, ...] | None
    source: torch.Tensor | None = None
    inverse: torch.Tensor | None = None  # inverse permutation of ``source``
    phase: torch.Tensor | None = None  # (2**n_wires, 1) complex
    start: int = 0
    matrix: int = -1
    unpermute: tuple[int, ...] | None = None

    def __post_init__(self):
        if self.permute is not None and self.unpermute is None:
            inverse = tuple(int(a) for a in np.argsort(self.permute))
            object.__setattr__(self, "unpermute", inverse)


def _refuse_second_derivatives():
    # autograd runs a backward with gradients enabled only when asked to build a graph
    if torch.is_grad_enabled():
        raise RuntimeError(
            "qrnn.sim's backward pass is not differentiable: second derivatives "
            "(create_graph=True) are not supported; use first derivatives, or finite "
            "differences of them"
        )


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


def _block_backward(matrix, state, grad, start, need_matrix):
    """Gradients of ``apply_block`` for the state and (if asked) the matrix."""
    batch, out_batch = state.shape[1], grad.shape[1]
    d = matrix.shape[-1]
    leading = 2**start
    grad_matrix = None
    if matrix.shape[0] == 1:
        if leading == 1:
            flat_state, flat_grad = state.reshape(d, -1), grad.reshape(d, -1)
            if need_matrix:
                grad_matrix = (flat_grad @ flat_state.mH)[None]
            return (matrix[0].mH @ flat_grad).view(-1, batch), grad_matrix
        blocks, grad_blocks = state.reshape(leading, d, -1), grad.reshape(leading, d, -1)
        if need_matrix:
            grad_matrix = torch.bmm(grad_blocks, blocks.mH).sum(0, keepdim=True)
        grad_state = torch.bmm(matrix.mH.expand(leading, d, d), grad_blocks)
        return grad_state.view(-1, batch), grad_matrix
    rest = state.shape[0] // (leading * d)

    def moved(tensor, width):  # (l, j, r, b) -> (b, j, l * r)
        view = tensor.reshape(leading, d, rest, -1).expand(-1, -1, -1, width)
        return view.permute(3, 1, 0, 2).reshape(width, d, -1)

    moved_grad = moved(grad, out_batch)
    if need_matrix:
        grad_matrix = torch.bmm(moved_grad, moved(state, out_batch).mH)
    grad_state = torch.bmm(matrix.mH.expand(out_batch, d, d), moved_grad)
    grad_state = grad_state.view(out_batch, d, leading, rest).permute(2, 1, 3, 0)
    if batch != out_batch:  # the state was broadcast over the matrices' batch
        grad_state = grad_state.sum(-1, keepdim=True)
    return grad_state.reshape(-1, batch), grad_matrix


def _forward(steps, n_wires, state, matrices, saved):
    for step in steps:
        if step.permute is not None:
            state = permute_axes(state, step.permute, n_wires)
        if step.source is not None:
            state = state.index_select(0, step.source)
            if step.phase is not None:
                state = state * step.phase
        else:
            if saved is not None:
                saved.append(state)
            state = apply_block(matrices[step.matrix], state, step.start)
    return state


def probability_readout(state: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
    """``(b, n_obs) = |state|^2 (2**n, b)`` contracted with real ``coefficients (n_obs, 2**n)``.

    Contract first, then add the (re, im) pairs, so the slow reduction over a size-2 axis runs
    on (n_obs, batch, 2), not on the state."""
    squares = torch.view_as_real(state).reshape(state.shape[0], -1).square()
    return (coefficients @ squares).view(-1, state.shape[1], 2).sum(-1).T


class _Chain(torch.autograd.Function):
    """``(state, *matrices) -> final state``, or its probability readout when coefficients
    are given; the backward pass is the adjoint described in the module docstring."""

    @staticmethod
    def forward(ctx, steps, n_wires, coefficients, state, *matrices):
        saved: list[torch.Tensor] = []
        final = _forward(steps, n_wires, state, matrices, saved)
        ctx.steps, ctx.n_wires, ctx.coefficients = steps, n_wires, coefficients
        ctx.save_for_backward(final, *saved, *matrices)
        ctx.n_saved = len(saved)
        if coefficients is None:
            return final
        return probability_readout(final, coefficients)

    @staticmethod
    def backward(ctx, grad_output):
        _refuse_second_derivatives()
        final, *rest = ctx.saved_tensors
        saved, matrices = rest[: ctx.n_saved], rest[ctx.n_saved :]
        n_wires = ctx.n_wires
        if ctx.coefficients is None:
            grad = grad_output
        else:  # d|psi_i|^2 = 2 Re(conj(psi_i) dpsi_i): the gradient is 2 (C^T g)_i psi_i
            weights = torch.mm(ctx.coefficients.T, grad_output.T).mul_(2)  # (2**n, b) real
            grad = torch.view_as_complex(torch.view_as_real(final) * weights.unsqueeze(-1))
        grad_matrices = [None] * len(matrices)
        need = ctx.needs_input_grad[4:]
        for step in reversed(ctx.steps):
            if step.source is not None:
                if step.phase is not None:
                    grad = grad * step.phase.conj()
                grad = grad.index_select(0, step.inverse)
            else:
                state = saved.pop()
                matrix = matrices[step.matrix]
                grad, grad_matrix = _block_backward(
                    matrix, state, grad, step.start, need[step.matrix]
                )
                if grad_matrix is not None:
                    previous = grad_matrices[step.matrix]
                    grad_matrices[step.matrix] = (
                        grad_matrix if previous is None else previous + grad_matrix
                    )
            if step.permute is not None:
                grad = permute_axes(grad, step.unpermute, n_wires)
        return (None, None, None, grad, *grad_matrices)


def _product_forward(vectors, groups):
    """``(state, factors, amplitudes)``: the Kronecker product and what its backward needs."""
    factors = []  # per group (g, 2**g, b): factor k of amplitude i is v_k[bit k of i]
    amplitudes = []
    batch = vectors.shape[-1]
    flat = vectors.reshape(-1, batch)
    for index, selector in groups:
        table = flat.index_select(0, index).view(-1, selector.shape[-1], batch)
        factors.append(table)
        amplitudes.append(table.prod(0))
    state = amplitudes[0]
    for group in amplitudes[1:]:
        state = (state[:, None, :] * group[None]).reshape(-1, batch)
    return state, factors, amplitudes


def _product_backward(grad, groups, factors, amplitudes):
    """Gradient of ``_product_forward``'s state for its vectors, ``(n_wires, 2, b)``."""
    n = len(groups)
    batch = grad.shape[-1]
    if n == 1:
        grads = [grad]
    elif n == 2:  # the common case (up to 10 wires), without the general loop
        first, second = amplitudes
        view = grad.view(first.shape[0], second.shape[0], batch)
        grads = [(view * second.conj()[None]).sum(1), (view * first.conj()[:, None]).sum(0)]
    else:  # contract the state's gradient with every other group
        sizes = [a.shape[0] for a in amplitudes]
        grads = []
        for k in range(n):
            view = grad.view(*sizes, batch)
            for other in range(n - 1, -1, -1):
                if other != k:
                    shape = [1] * n + [batch]
                    shape[other] = sizes[other]
                    view = (view * amplitudes[other].conj().view(shape)).sum(other, keepdim=True)
            grads.append(view.reshape(sizes[k], batch))
    if n > 1 and len({table.shape for table in factors}) == 1:  # equal groups: one pass
        tables, selectors = torch.stack(factors), torch.stack([sel for _, sel in groups])
        others = _leave_one_out(tables, 1)
        others = others * torch.stack(grads)[:, None]
        result = torch.matmul(selectors, others)  # (n_groups, g, 2, b)
        return result.flatten(0, 1)
    wire_grads = []
    for (_index, selector), table, group_grad in zip(groups, factors, grads, strict=True):
        others = _leave_one_out(table, 0) * group_grad
        # selector (g, 2, 2**g): which amplitudes have bit 0 / bit 1 of each wire
        wire_grads.append(torch.bmm(selector, others))  # (g, 2, b)
    return torch.cat(wire_grads)


def _leave_one_out(table, dim):
    """Conjugated products of all factors along ``dim`` but one, for each one: exclusive
    prefix times exclusive suffix products, so no division by factors that may be zero."""
    size = table.shape[dim]
    if size == 1:
        return torch.ones_like(table)
    table = table.movedim(dim, 0)
    prefix = table[:-1].cumprod(0)
    suffix = table[1:].flip(0).cumprod(0).flip(0)
    others = torch.empty_like(table)
    others[0] = suffix[0]
    others[-1] = prefix[-1]
    if size > 2:
        torch.mul(prefix[:-1], suffix[1:], out=others[1:-1])
    return others.conj_physical_().movedim(0, dim)


class _ProductState(torch.autograd.Function):
    """Kronecker product of one 2-vector per wire, ``(n_wires, 2, b) -> (2**n_wires, b)``,
    first wire most significant.

    Within groups of up to 5 wires one gather and one product build all ``2**g`` amplitudes
    of the group; the groups are multiplied out. Backward: the gradient of a group is the
    state's gradient contracted with the other groups, and a wire's gradient is the group's
    gradient times the product of the group's other factors (prefix and suffix products, so
    no division by amplitudes that may be zero), summed over the wire's bit with one batched
    product.
    """

    @staticmethod
    def forward(ctx, vectors, groups):
        state, factors, amplitudes = _product_forward(vectors, groups)
        ctx.groups = groups
        ctx.save_for_backward(*factors, *amplitudes)
        return state

    @staticmethod
    def backward(ctx, grad):
        _refuse_second_derivatives()
        n = len(ctx.groups)
        factors, amplitudes = ctx.saved_tensors[:n], ctx.saved_tensors[n:]
        return _product_backward(grad, ctx.groups, factors, amplitudes), None


class _EncodedProduct(torch.autograd.Function):
    """``(half (b, n), p, q (n, 2, 1 or b))`` -> the product state of the wire vectors
    ``cos(half) p + sin(half) q``, with the backward of both steps written out."""

    @staticmethod
    def forward(ctx, half, p, q, groups):
        cos, sin = torch.cos(half).T.unsqueeze(1), torch.sin(half).T.unsqueeze(1)  # (n, 1, b)
        state, factors, amplitudes = _product_forward(cos * p + sin * q, groups)
        ctx.groups = groups
        ctx.save_for_backward(cos, sin, p, q, *factors, *amplitudes)
        return state

    @staticmethod
    def backward(ctx, grad):
        _refuse_second_derivatives()
        cos, sin, p, q, *rest = ctx.saved_tensors
        n = len(ctx.groups)
        grad_vectors = _product_backward(grad, ctx.groups, rest[:n], rest[n:])  # (n, 2, b)
        grad_half = grad_p = grad_q = None
        if ctx.needs_input_grad[0]:  # d v / d half = -sin p + cos q
            slope = q * cos - p * sin
            grad_half = (grad_vectors.conj() * slope).real.sum(1).T
        if ctx.needs_input_grad[1]:
            grad_p = grad_vectors * cos
            if p.shape[-1] != grad_p.shape[-1]:
                grad_p = grad_p.sum(-1, keepdim=True)
        if ctx.needs_input_grad[2]:
            grad_q = grad_vectors * sin
            if q.shape[-1] != grad_q.shape[-1]:
                grad_q = grad_q.sum(-1, keepdim=True)
        return grad_half, grad_p, grad_q, None


_GROUP = 5  # wires per gather-product group: 2**5 rows, few and large operations


def product_groups(n_wires: int, device, dtype) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Gather indices and bit selectors of ``product_state``'s wire groups."""
    n_groups = max(1, -(-n_wires // _GROUP))
    sizes = [n_wires // n_groups + (1 if k < n_wires % n_groups else 0) for k in range(n_groups)]
    groups, first = [], 0
    for size in sizes:
        bits = np.array([[(j >> (size - 1 - k)) & 1 for j in range(2**size)] for k in range(size)])
        index = (2 * (first + np.arange(size))[:, None] + bits).reshape(-1)
        selector = np.stack((bits == 0, bits == 1), axis=1).astype(float)  # (g, 2, 2**g)
        groups.append(
            (
                torch.as_tensor(index, device=device),
                torch.as_tensor(selector, device=device, dtype=dtype),
            )
        )
        first += size
    return groups


def product_state(vectors: torch.Tensor, groups) -> torch.Tensor:
    """``vectors (n_wires, 2, b)`` complex -> their Kronecker product ``(2**n_wires, b)``,
    the first wire most significant; ``groups`` from ``product_groups``."""
    if torch.is_grad_enabled() and vectors.requires_grad:
        return _ProductState.apply(vectors, groups)
    return _product_forward(vectors, groups)[0]


def encoded_product_state(half, p, q, groups) -> torch.Tensor:
    """The product state of the wire vectors ``cos(half) p + sin(half) q``.

    Args:
        half: ``(b, n_wires)`` real, half of each wire's rotation angle.
        p, q: ``(n_wires, 2, 1 or b)`` complex, the wire vector at angle 0 and at angle pi.
        groups: from ``product_groups``.

    Returns:
        ``(2**n_wires, b)`` complex, the first wire most significant.
    """
    if torch.is_grad_enabled() and (half.requires_grad or p.requires_grad or q.requires_grad):
        return _EncodedProduct.apply(half, p, q, groups)
    cos, sin = torch.cos(half).T.unsqueeze(1), torch.sin(half).T.unsqueeze(1)
    return _product_forward(cos * p + sin * q, groups)[0]


def run_chain(steps, n_wires, state, matrices, coefficients=None):
    """Apply ``steps`` to ``state (2**n_wires, batch)`` with ``matrices`` (the block matrices,
    each ``(1 or batch, d, d)``). Returns the final state, or ``probability_readout`` of it
    when ``coefficients (n_obs, 2**n_wires)`` are given."""
    tensors = (state, *matrices)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return _Chain.apply(steps, n_wires, coefficients, state, *matrices)
    final = _forward(steps, n_wires, state, matrices, None)
    return final if coefficients is None else probability_readout(final, coefficients)
