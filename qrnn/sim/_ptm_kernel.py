"""The noisy engine's kernel: PTMs applied to batches of Pauli-basis states.

A state is ``(batch, 4**k)`` real Pauli coefficients (``_pauli``) of the qubits held so far,
with their axis ``order`` (most significant first) tracked rather than fixed, so that a
block's matrix product needs no copy of the state when its qubits are adjacent
(``apply_ptm``). A block leaves its qubits in the order the next block on them wants
(``_exit_order``): a star of two-qubit gates that share a qubit (a column of an all-to-all
ion-trap entangler, a CNOT ladder) walks that qubit along the axes with no copy. Qubits whose
blocks are apart are brought together by one permutation of the state, beside whichever of
them leaves the next block's qubits together (``_layout``).

``grow`` holds only the qubits the blocks have joined so far (the others are a product of
one-qubit vectors), tensors a qubit in when a block first needs it and takes it out again at
a reset; ``light_cone`` evolves an observable backwards on its support only.
"""

from __future__ import annotations

import torch

from qrnn.sim._pauli import pauli_index


def light_cone(terms, matrices, qubits, n, dtype, device) -> torch.Tensor:
    """``(1, 4**n)`` (standard order): the observable ``terms`` ``[(qubit -> digit, coeff)]``
    through the adjoint PTMs ``matrices`` on ``qubits``, held on its support only."""
    order = sorted({q for digits, _ in terms for q in digits}, reverse=True)
    state = torch.zeros(1, 4 ** len(order), dtype=dtype, device=device)
    for digits, coefficient in terms:
        state[0, pauli_index(digits, order)] += coefficient
    upcoming = _upcoming(qubits)
    for matrix, block, following in zip(matrices, qubits, upcoming, strict=True):
        if not set(block) & set(order):
            continue
        new = [q for q in block if q not in order]
        state = _widen(state, len(new))
        state, order = apply_ptm(state, matrix, block, order + new, following)
    rest = [q for q in range(n - 1, -1, -1) if q not in order]
    return reorder(_widen(state, len(rest)), order + rest, list(range(n - 1, -1, -1)))


def _widen(state, k: int) -> torch.Tensor:
    """``state`` tensored with the identity on ``k`` more qubits (least significant)."""
    if not k:
        return state
    wide = state.new_zeros(state.shape[0], state.shape[1], 4**k)
    wide[:, :, 0] = state
    return wide.reshape(state.shape[0], -1)


def _product_state(vectors, batch) -> torch.Tensor:
    """``(batch, 4**n)`` Kronecker product of per-qubit ``(b, 4)`` vectors (first: most
    significant)."""
    state = vectors[0].expand(batch, 4)
    for vector in vectors[1:]:
        state = (state[:, :, None] * vector.expand(batch, 4)[:, None, :]).reshape(batch, -1)
    return state


def partial_trace(state, order, keep):
    """``(reduced (b, 4**k), local order)``: the Pauli coefficients of ``state (b, 4**n)``
    (axis ``order``) with the identity on every qubit not in ``keep``; qubit ``keep[j]`` is
    local qubit j."""
    n = len(order)
    tensor = state.view(-1, *([4] * n))[
        (slice(None), *(slice(None) if q in keep else 0 for q in order))
    ]
    local = [keep.index(q) for q in order if q in keep]
    return tensor.reshape(state.shape[0], -1), local


def grow(vectors, matrices, qubits, batch, marks=(), read=None, releases=()):
    """``(state (batch, 4**n), order, reads)``: the product of the per-qubit ``vectors``
    (qubit n-1 first) through the blocks, with the state held on the qubits the blocks have
    joined so far only (the others are still a product): a qubit is tensored in when a block
    first needs it, so the first layer of entanglers costs about one pass over the full
    state. A one-qubit block on a qubit held apart acts on its vector; one that
    ``releases`` (a reset) takes its qubit out of the held state again. ``reads``:
    ``read(state, order)`` before block ``mark`` for each of ``marks`` (every qubit joined
    from the first)."""
    n = len(vectors)
    reads = []
    upcoming = _upcoming(qubits)
    state = vectors[0].new_ones(batch, 1)
    order: list[int] = []

    def join(state, order, new, block=()):
        # beside the block's qubits already held, so that the block's axes stay adjacent
        held = [order.index(q) for q in block if q in order]
        at = max(held) + 1 if held else len(order)
        for q in new:
            vector = vectors[n - 1 - q].expand(batch, 4)[:, None, :, None]
            state = state.view(batch, 4**at, 1, -1) * vector
            state = state.reshape(batch, -1)
            order = [*order[:at], q, *order[at:]]
            at += 1
        return state, order

    def read_at(i, state, order):
        while len(reads) < len(marks) and marks[len(reads)] == i:
            state, order = join(state, order, [q for q in range(n - 1, -1, -1) if q not in order])
            reads.append(read(state, order))
        return state, order

    for i, (matrix, block) in enumerate(zip(matrices, qubits, strict=True)):
        state, order = read_at(i, state, order)
        q = block[0]
        if len(block) == 1 and q not in order:  # a qubit held apart: its vector alone
            vectors[n - 1 - q] = (matrix @ vectors[n - 1 - q][..., None])[..., 0]
            continue
        if releases and releases[i]:  # a reset: the rest's state, times the block's output
            axis = order.index(q)
            state = state.view(batch, 4**axis, 4, -1)[:, :, 0].reshape(batch, -1).contiguous()
            order = [p for p in order if p != q]
            vectors[n - 1 - q] = matrix[:, :, 0]
            continue
        state, order = join(state, order, [q for q in block if q not in order], block)
        state, order = apply_ptm(state, matrix, block, order, upcoming[i])
    state, order = join(state, order, [q for q in range(n - 1, -1, -1) if q not in order])
    state, order = read_at(len(matrices), state, order)
    return state, order, reads


def _upcoming(qubits) -> list:
    """Per block (qubit lists), the qubits of the next block that shares one with it, or
    None."""
    out, last = [None] * len(qubits), {}
    for i in range(len(qubits) - 1, -1, -1):
        following = [last[q] for q in qubits[i] if q in last]
        out[i] = qubits[min(following)] if following else None
        for q in qubits[i]:
            last[q] = i
    return out


def _layout(order, block, upcoming=None):
    """``(new order, start, permutation or None)`` to bring ``block``'s qubits together.
    When they are apart, one copy moves them beside one of them or to the top, whichever
    leaves the ``upcoming`` block's qubits together afterwards (``_exit_order``) and the
    block off the axes next to the last (a product of many 4-column matrices there is
    slow: a block already there moves to the top, one copy then one product)."""
    m, n = len(block), len(order)
    positions = sorted(order.index(q) for q in block)
    if positions[-1] - positions[0] + 1 == m and positions[-1] != n - 2:
        return order, positions[0], None
    others = [q for q in order if q not in block]
    group = [q for q in order if q in block]
    best = None
    for rank, start in enumerate(dict.fromkeys([*(p - k for k, p in enumerate(positions)), 0])):
        new_order = others[:start] + group + others[start:]
        out = _exit_order(group, new_order, start, upcoming)
        after = others[:start] + out + others[start:]
        score = (start + m == n - 1, not _together(after, upcoming), rank)
        if best is None or score < best[0]:
            best = score, new_order, start
    _, new_order, start = best
    if new_order == order:  # together already, and best left there
        return order, start, None
    return new_order, start, [order.index(q) for q in new_order]


def _together(order, qubits) -> bool:
    """Whether the held ones of ``qubits`` are adjacent in ``order`` (True for None)."""
    if not qubits:
        return True
    positions = sorted(order.index(q) for q in qubits if q in order)
    return not positions or positions[-1] - positions[0] + 1 == len(positions)


def _exit_order(run, order, start, upcoming):
    """The order in which a block on ``run`` (its qubits at ``order[start:]``, most
    significant first) leaves its qubits: any (the PTM's rows are permuted to match), so the
    qubits it shares with the ``upcoming`` block go to the side where that block's other
    qubits are. A sequence of two-qubit gates that all share one qubit (a star, a column of
    all-to-all entanglers) then walks that qubit along the axes with no copy of the state."""
    if not upcoming:
        return run
    shared = [q for q in run if q in upcoming]
    # (a qubit not held yet joins beside the block's held ones: ``grow``)
    outside = [order.index(q) for q in upcoming if q not in run and q in order]
    if not shared or not outside or len(shared) == len(run):
        return run
    rest = [q for q in run if q not in upcoming]
    if min(outside) >= start + len(run):  # all below: the shared qubits last
        return rest + shared
    if max(outside) < start:
        return shared + rest
    return run


def apply_ptm(state, matrix, block, order, upcoming=None):
    """Apply PTMs ``matrix (b or 1, 4**m, 4**m)`` on ``block``'s qubits to ``state (c, 4**n)``
    in axis ``order``; returns the state and its new order (``_exit_order`` for the qubits
    of the ``upcoming`` block, if given)."""
    n = len(order)
    m = len(block)
    order, start, permutation = _layout(list(order), block, upcoming)
    if permutation is not None:
        state = state.view(-1, *([4] * n)).permute(0, *(p + 1 for p in permutation))
        state = state.reshape(-1, 4**n)
    run = order[start : start + m]  # most significant first
    out = _exit_order(run, order, start, upcoming)
    order[start : start + m] = out
    rows = [m - 1 - block.index(q) for q in out]  # the PTM's tensor axes, MSB first
    columns = [m - 1 - block.index(q) for q in run]
    if rows != list(range(m)) or columns != list(range(m)):
        axes = [*rows, *(m + a for a in columns)]
        matrix = matrix.view(-1, *([4] * 2 * m)).permute(0, *(a + 1 for a in axes))
        matrix = matrix.reshape(-1, 4**m, 4**m)
    batch = state.shape[0]
    left, right = 4**start, 4 ** (n - start - m)
    if right == 1:
        if matrix.shape[0] == 1:
            state = state.view(-1, 4**m) @ matrix[0].T
        else:
            state = state.view(batch, -1, 4**m) @ matrix.mT
    elif matrix.shape[0] == 1:
        state = matrix[0] @ state.view(batch * left, 4**m, right)
    else:
        state = matrix[:, None] @ state.view(batch, left, 4**m, right)
    return state.reshape(batch, 4**n), order


def reorder(observables, order, target):
    """``(k, 4**n)`` in axis ``order`` -> axis ``target``."""
    if list(order) == list(target):
        return observables
    n = len(order)
    tensor = observables.view(-1, *([4] * n)).permute(0, *(order.index(q) + 1 for q in target))
    return tensor.reshape(observables.shape[0], -1)


def contract_product(vectors, observables, batch) -> torch.Tensor:
    """``(batch, n_obs)``: observables ``(n_obs, 4**n)`` (standard order) against the product
    of per-qubit vectors ``(b, 4)`` (qubit n-1 first), as two halves of the register: the
    state itself is never built."""
    n = len(vectors)
    half = n // 2
    high = _product_state(vectors[:half], batch) if half else None  # (batch, 4**half)
    low = _product_state(vectors[half:], batch)  # (batch, 4**(n - half))
    n_obs = observables.shape[0]
    # (n_obs * 4**half, 4**low) @ (4**low, batch): one product with the batch as columns
    partial = observables.reshape(n_obs * 4**half, -1) @ low.T
    partial = partial.view(n_obs, 4**half, batch)
    if high is None:
        return partial[:, 0, :].T
    return torch.einsum("oab,ba->bo", partial, high)
