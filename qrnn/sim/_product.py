"""Product states: Kronecker products of one 2-vector per wire, and their adjoint.

An angle encoding leaves every wire in its own state, so the state of the register is the
Kronecker product of ``n_wires`` 2-vectors. ``product_state`` builds it in groups of up to five
wires (one gather-product per group, then one outer product per group), and its backward pass
is written out: the gradient for each wire's vector is the state's gradient contracted with
the product of all the other wires' vectors (``_leave_one_out``). ``encoded_forward`` and
``encoded_backward`` do the same for vectors ``cos(half) p + sin(half) q`` of an angle encoding,
for ``_chain.encoded_chain``. Hand-written backward passes here and in ``_chain`` refuse to build
a graph (``refuse_second_derivatives``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def refuse_second_derivatives():
    """Raise in a hand-written backward pass asked to build a graph (second derivatives)."""
    # autograd runs a backward with gradients enabled only when asked to build a graph
    if torch.is_grad_enabled():
        raise RuntimeError(
            "qrnn.sim's backward pass is not differentiable: second derivatives "
            "(create_graph=True) are not supported; use first derivatives, or finite "
            "differences of them"
        )


_GROUP = 5  # wires per gather-product group: 2**5 rows, few and large operations


@dataclass(frozen=True)
class ProductGroups:
    """How ``product_state`` splits its wires: groups of up to 5 wires, each group's
    ``2**g`` amplitudes built with one gather and one product, then the groups multiplied
    out. With groups of equal size (10 wires: 5 + 5) the forward and backward passes treat
    all groups in single operations."""

    sizes: tuple[int, ...]
    index: torch.Tensor  # rows of vectors (n_wires * 2, b) for every group's table
    selectors: tuple[torch.Tensor, ...]  # per group (g, 2, 2**g): amplitudes with bit 0 / 1
    others: torch.Tensor | None  # equal groups: (n_wires, g - 1) table rows of the other wires
    stacked: torch.Tensor | None  # equal groups: the selectors as one (n_wires, 2, 2**g)

    @property
    def equal(self) -> bool:
        return self.others is not None


def product_groups(n_wires: int, device, dtype, sizes=None) -> ProductGroups:
    """The ``ProductGroups`` of ``n_wires`` wires, selectors in ``dtype``; ``sizes``: the
    groups' sizes in wire order (default: as even as possible, at most 5 wires each)."""
    if sizes is None:
        n_groups = max(1, -(-n_wires // _GROUP))
        sizes = [n_wires // n_groups + (k < n_wires % n_groups) for k in range(n_groups)]
    indices, selectors, others, first = [], [], [], 0
    for size in sizes:
        bits = np.array([[(j >> (size - 1 - k)) & 1 for j in range(2**size)] for k in range(size)])
        indices.append((2 * (first + np.arange(size))[:, None] + bits).reshape(-1))
        selector = np.stack((bits == 0, bits == 1), axis=1).astype(float)  # (g, 2, 2**g)
        selectors.append(torch.as_tensor(selector, device=device, dtype=dtype))
        others.extend([first + j for j in range(size) if j != k] for k in range(size))
        first += size
    equal = len(set(sizes)) == 1
    return ProductGroups(
        tuple(sizes),
        torch.as_tensor(np.concatenate(indices), device=device),
        tuple(selectors),
        torch.as_tensor(np.array(others, dtype=np.int64), device=device) if equal else None,
        torch.cat(selectors) if equal else None,
    )


def _product_forward(vectors, groups: ProductGroups):
    """``(state, tables, amplitudes)``: the Kronecker product of ``vectors (n, 2, b)`` and
    what its backward needs (``tables``: factor k of amplitude i of a group is
    ``v_k[bit k of i]``; ``amplitudes``: each group's products)."""
    batch = vectors.shape[-1]
    tables = vectors.reshape(-1, batch).index_select(0, groups.index)
    if groups.equal:
        g = groups.sizes[0]
        tables = tables.view(len(groups.sizes), g, 2**g, batch)
        amplitudes = list(tables.prod(1).unbind(0))
    else:
        parts = tables.split([g * 2**g for g in groups.sizes])
        tables = [part.view(g, 2**g, batch) for part, g in zip(parts, groups.sizes, strict=True)]
        amplitudes = [table.prod(0) for table in tables]
    state = amplitudes[0]
    for group in amplitudes[1:]:
        state = (state[:, None, :] * group[None]).reshape(-1, batch)
    return state, tables, amplitudes


def _product_backward(grad, groups: ProductGroups, tables, amplitudes):
    """Gradient of ``_product_forward``'s state for its vectors, ``(n_wires, 2, b)``."""
    n = len(amplitudes)
    batch = grad.shape[-1]
    if n == 1:
        grads = [grad]
    elif n == 2:  # the common case (up to 10 wires), without the general loop
        first, second = amplitudes
        view = grad.view(first.shape[0], second.shape[0], batch)
        # conj_physical: a product with a lazily conjugated operand is slower than the copy
        grads = [
            (view * second.conj_physical()[None]).sum(1),
            (view * first.conj_physical()[:, None]).sum(0),
        ]
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
    if groups.equal:
        # each wire's factor times the product of its group's other factors, summed by bit
        g = groups.sizes[0]
        rows = tables.view(-1, 2**g, batch)
        others = rows[groups.others].prod(1).conj()  # (n_wires, 2**g, b)
        weighted = others.view(n, g, 2**g, batch) * torch.stack(grads)[:, None]
        return torch.bmm(groups.stacked, weighted.view(-1, 2**g, batch))
    wire_grads = []
    for selector, table, group_grad in zip(groups.selectors, tables, grads, strict=True):
        others = _leave_one_out(table, 0) * group_grad
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

    Backward: the gradient of a group is the state's gradient contracted with the other
    groups, and a wire's gradient is the group's gradient times the product of the group's
    other factors (gathered and multiplied, or prefix and suffix products: no division by
    amplitudes that may be zero), summed over the wire's bit with one batched product.
    """

    @staticmethod
    def forward(ctx, vectors, groups):
        state, tables, amplitudes = _product_forward(vectors, groups)
        ctx.groups = groups
        ctx.n_tables = 1 if groups.equal else len(tables)
        ctx.save_for_backward(*([tables] if groups.equal else tables), *amplitudes)
        return state

    @staticmethod
    def backward(ctx, grad):
        refuse_second_derivatives()
        saved = ctx.saved_tensors
        tables = saved[0] if ctx.groups.equal else list(saved[: ctx.n_tables])
        amplitudes = saved[ctx.n_tables :]
        return _product_backward(grad, ctx.groups, tables, amplitudes), None


def encoded_backward(grad, groups, needs, cos, sin, p, q, tables, amplitudes):
    """Gradients ``(half (b, n), p, q)`` of the product state of ``cos(half) p + sin(half) q``
    for the state's gradient ``grad``; ``needs``: which of the three are wanted."""
    grad_vectors = _product_backward(grad, groups, tables, amplitudes)  # (n, 2, b)
    grad_half = grad_p = grad_q = None
    if needs[0]:  # d v / d half = cos q - sin p
        if p.shape[-1] == 1 and q.shape[-1] == 1:  # Re <p|r>, Re <q|r> in one product
            overlaps = torch.bmm(torch.cat((p, q), -1).mH, grad_vectors).real
            grad_half = (overlaps[:, 1] * cos[:, 0] - overlaps[:, 0] * sin[:, 0]).T
        else:
            slope = q * cos - p * sin
            grad_half = (grad_vectors.conj() * slope).real.sum(1).T
    if needs[1]:
        grad_p = grad_vectors * cos
        if p.shape[-1] != grad_p.shape[-1]:
            grad_p = grad_p.sum(-1, keepdim=True)
    if needs[2]:
        grad_q = grad_vectors * sin
        if q.shape[-1] != grad_q.shape[-1]:
            grad_q = grad_q.sum(-1, keepdim=True)
    return grad_half, grad_p, grad_q


def encoded_forward(inputs, coefficients, half_static, p, q, groups):
    """``(state, cos, sin, tables, amplitudes)`` of the encoded product state."""
    half = torch.addmm(half_static, inputs, coefficients)  # (b, n)
    cos, sin = torch.cos(half).T.unsqueeze(1), torch.sin(half).T.unsqueeze(1)  # (n, 1, b)
    state, tables, amplitudes = _product_forward(cos * p + sin * q, groups)
    return state, cos, sin, tables, amplitudes


def product_state(vectors: torch.Tensor, groups) -> torch.Tensor:
    """``vectors (n_wires, 2, b)`` complex -> their Kronecker product ``(2**n_wires, b)``,
    the first wire most significant; ``groups`` from ``product_groups``."""
    if torch.is_grad_enabled() and vectors.requires_grad:
        return _ProductState.apply(vectors, groups)
    return _product_forward(vectors, groups)[0]
