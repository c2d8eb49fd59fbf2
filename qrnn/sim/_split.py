"""Split chains: the state kept as a short sum of products across one cut of the wires.

After an angle encoding the state is a product of one 2-vector per wire. Cut the wires into
two sides, L and R, so that no block of the chain spans the cut. A block then acts on one
side only, and a gather (a permutation with phases, e.g. a CNOT ring) is a sum of ``r``
products ``A_t (x) B_t`` across the cut (its operator Schmidt decomposition, computed once
per program; a ring of CNOTs has ``r = 4`` across a cut it crosses twice). So the chain as a
whole is ``sum_c K_L[c] (x) K_R[c]`` with ``chi`` = the product of the gathers' ranks, and
with an input-free chain the side operators ``K_L (chi, dL, dL)``, ``K_R (chi, dR, dR)`` are
built once per forward from the block matrices. A run then needs only the two sides'
product states ``a``, ``b``:

    u_c = K_L[c] a,  w_c = K_R[c] b,  psi = sum_c u_c (x) w_c,  <O_k> = sum_x |psi_x|^2 C_kx

which is ``chi (dL**2 + dR**2 + dL dR)`` multiply-adds per sample instead of a pass of every
block over all ``2**n`` amplitudes. For the speed benchmark's cell the forward and backward
pass of a time step are 31 computing tensor operations (75 with views) instead of 46 (113),
and only the readout touches ``2**n`` amplitudes. ``SplitPlan.choose`` picks the cut (and
whether to split at all) by counting multiply-adds both ways. The schedule it splits is the
"split" plan of a program: one-wire gates fused per wire only, so that any cut between wires
that no multi-wire gate joins is open.
"""

from __future__ import annotations

import numpy as np
import torch

from qrnn.sim._chain import index_map
from qrnn.sim._product import product_groups, refuse_second_derivatives

_MAX_SIDE = 7  # wires per side: side operators up to 128 x 128
_MAX_DENSE = 256  # a gather whose cut matrix is wider than this entangles too much to split
_MAX_CANDIDATES = 16  # cuts whose rank is computed, cheapest first


def _bits(index: np.ndarray, positions, n: int) -> np.ndarray:
    """The integer formed by the bits of canonical ``index`` (``n`` axes, MSB first) at
    ``positions`` (MSB first)."""
    value = np.zeros_like(index)
    for position in positions:
        value = (value << 1) | ((index >> (n - 1 - position)) & 1)
    return value


def _positions(order, wires):
    return [order.index(w) for w in wires]


def _dependencies(source: np.ndarray, n: int) -> np.ndarray:
    """``(n, n)`` bool: output axis k of the permutation ``out[i] = in[source[i]]`` depends on
    input axis m (axes MSB first)."""
    target = np.empty_like(source)
    target[source] = np.arange(len(source))  # input index -> output index
    depends = np.zeros((n, n), bool)
    for m in range(n):
        changed = np.bitwise_or.reduce(target ^ target[np.arange(len(source)) ^ (1 << (n - 1 - m))])
        depends[:, m] = [(changed >> (n - 1 - k)) & 1 for k in range(n)]
    return depends


def _gf2_rank(matrix: np.ndarray) -> int:
    """Rank over GF(2) of a 0/1 matrix."""
    rows = [int("".join("1" if v else "0" for v in row), 2) for row in matrix if row.any()]
    rank = 0
    while rows:
        pivot = max(rows)
        rows.remove(pivot)
        if pivot:
            rank += 1
            top = pivot.bit_length() - 1
            rows = [r ^ pivot if (r >> top) & 1 else r for r in rows]
            rows = [r for r in rows if r]
    return rank


def _gather_terms(step, canonical, sides):
    """Operator Schmidt decomposition of a gather across ``sides`` (two wire lists, MSB
    first): ``(A (r, dL, dL), B (r, dR, dR))`` complex128 with ``P = sum_t A_t (x) B_t``, or
    None when it is too wide to be worth it."""
    n = len(canonical)
    out = np.arange(2**n)
    source = step.source.cpu().numpy()
    phase = np.ones(2**n, complex)
    if step.phase is not None:
        phase = step.phase.cpu().numpy().reshape(-1).astype(complex)
    keys = []
    for wires in sides:  # (output bits, input bits) of the side: one row/column per pair
        positions = [canonical.index(w) for w in wires]
        keys.append(_bits(out, positions, n) * 2 ** len(wires) + _bits(source, positions, n))
    (rows, row_of), (cols, col_of) = (np.unique(k, return_inverse=True) for k in keys)
    if min(len(rows), len(cols)) > _MAX_DENSE:
        return None
    matrix = np.zeros((len(rows), len(cols)), complex)
    matrix[row_of, col_of] = phase  # (output, source) pairs are distinct: no collisions
    u, s, vh = np.linalg.svd(matrix, full_matrices=False)
    rank = int((s > 1e-9 * s[0]).sum())
    dims = [2 ** len(wires) for wires in sides]
    left = np.zeros((rank, dims[0] ** 2), complex)
    left[:, rows] = (u[:, :rank] * s[:rank]).T
    right = np.zeros((rank, dims[1] ** 2), complex)
    right[:, cols] = vh[:rank]
    return left.reshape(rank, dims[0], dims[0]), right.reshape(rank, dims[1], dims[1])


def _permutation(order, side):
    """Index table ``(d * d,)`` that reorders a matrix on the wires ``order`` (MSB first) into
    one on ``side`` (the same wires, MSB first); None when the orders agree."""
    if list(order) == list(side):
        return None
    index = np.arange(2 ** len(side))
    moved = _bits(index, [side.index(w) for w in order], len(side))
    return (moved[:, None] * len(index) + moved[None, :]).reshape(-1)


class SplitPlan:
    """An input-free chain on an angle-encoded product state, run split across a cut.

    Built by ``SplitPlan.choose``. ``start_order``: the wires of the product state, L then R
    (canonical axes at the chain's start, MSB first), as the encoding must deliver them.
    """

    def __init__(self, items, final, sides, terms, coefficients, device, dtype):
        self.sides = sides
        self.start_order = tuple(sides[0] + sides[1])
        self.dims = tuple(2 ** len(side) for side in sides)
        self.chi = int(np.prod([t[0].shape[0] for t in terms])) if terms else 1
        real = dtype.to_real()
        self.dtype = dtype
        # the chain as layers (blocks on disjoint wires of one side, whose product is their
        # Kronecker product: one operator per layer) and gathers: (A, B) terms
        self.steps = []  # ("layer", side, matrix indices, identity size, table) / ("gather", ...)
        layers = [None, None]  # per side, the open layer: (matrix indices, wires)

        def close(side):
            if layers[side] is not None:
                indices, wires = layers[side]
                rest = [w for w in sides[side] if w not in wires]
                table = _permutation(wires + rest, sides[side])
                if table is not None:
                    table = torch.as_tensor(table, device=device)
                self.steps.append(("layer", side, tuple(indices), 2 ** len(rest), table))
                layers[side] = None

        terms = iter(terms)
        for item in items:
            if item[0] == "block":
                side = 0 if item[1][0] in sides[0] else 1
                if layers[side] is not None and set(layers[side][1]) & set(item[1]):
                    close(side)
                if layers[side] is None:
                    layers[side] = ([], [])
                layers[side][0].append(item[2])
                layers[side][1].extend(item[1])
            else:
                close(0)
                close(1)
                pair = tuple(torch.as_tensor(t, device=device, dtype=dtype) for t in next(terms))
                self.steps.append(("gather", pair))
        close(0)
        close(1)
        # product state of each side: one group of product_groups per side
        groups = product_groups(len(self.start_order), device, dtype, [len(s) for s in sides])
        self.equal = groups.equal  # both sides' tables and gradients in single operations
        if self.equal:
            self.tables, self.selectors = [groups.index], [groups.stacked]
            self.others = [groups.others.reshape(-1)]
        else:
            self.tables = list(groups.index.split([g * 2**g for g in groups.sizes]))
            self.selectors = list(groups.selectors)
            self.others = [
                torch.as_tensor(
                    [j for k in range(g) for j in range(g) if j != k], device=device
                ).to(torch.int64)
                for g in groups.sizes
            ]
        # readout over (xL, xR), xL most significant; columns doubled for (re, im) pairs
        index = index_map(self.start_order, final)
        table = coefficients[:, torch.as_tensor(index, device=coefficients.device)]
        self.readout = table.repeat_interleave(2, dim=1).to(real).contiguous()  # (n_obs, 2 D)
        self.readout_grad = 2 * self.readout  # d|psi|^2 = 2 Re(conj(psi) dpsi)
        n_wires = len(self.start_order)
        offset = torch.tensor([torch.pi / 2, 0.0] * n_wires, device=device, dtype=real)
        self.encoding_offset = offset[:, None]

    @staticmethod
    def choose(steps, n_wires, shapes, coefficients, device, dtype):
        """The cheapest ``SplitPlan`` for a chain of ``ChainStep``s with unbatched block
        matrices of sizes ``shapes`` (``(d, per_sample)`` each) and real readout
        ``coefficients (n_obs, 2**n)`` over the final canonical index, or None when running
        the state through the chain costs less (or no cut keeps every block on one side)."""
        if not 2 <= n_wires <= 2 * _MAX_SIDE or any(per_sample for _d, per_sample in shapes):
            return None
        canonical = list(range(n_wires))
        items = []
        for step in steps:
            if step.permute is not None:
                canonical = [canonical[a] for a in step.permute]
            if step.source is None:
                m = shapes[step.matrix][0].bit_length() - 1
                items.append(("block", canonical[step.start : step.start + m], step.matrix))
            else:
                items.append(("gather", list(canonical), step))
        # wires that share a block stay on one side: the components of "shares a block"
        component = list(range(n_wires))

        def root(w):
            while component[w] != w:
                w = component[w]
            return w

        for item in items:
            if item[0] == "block":
                for wire in item[1][1:]:
                    component[root(wire)] = root(item[1][0])
        groups: dict[int, list[int]] = {}
        for wire in range(n_wires):
            groups.setdefault(root(wire), []).append(wire)
        parts = list(groups.values())
        if len(parts) > 16:
            return None
        # multiply-adds per sample: the whole state takes a pass per block plus d per
        # amplitude, two passes per gather and about four for the readout; a split run
        # chi (dL**2 + dR**2 + dL dR) and the same readout on dL dR amplitudes
        state_cost = 2**n_wires * (
            sum(2 + d for d, _ in shapes) + 2 * sum(item[0] == "gather" for item in items) + 4
        )
        # every cut that keeps the parts whole, ordered by an estimate of its cost: the rank
        # of a gather across a cut is 2**(GF(2) rank of the bits that cross it) when the
        # gather is linear (CNOTs, SWAPs); the best few are decomposed exactly
        dependencies = [
            (item[1], _dependencies(item[2].source.cpu().numpy(), n_wires))
            for item in items
            if item[0] == "gather"
        ]
        candidates = []
        for mask in range(1, 2 ** (len(parts) - 1)):  # the last part stays right: no mirrors
            left = sorted(w for k, part in enumerate(parts) if mask >> k & 1 for w in part)
            right = [w for w in range(n_wires) if w not in left]
            if max(len(left), len(right)) > _MAX_SIDE:
                continue
            dl, dr = 2 ** len(left), 2 ** len(right)
            crossing = sum(
                _gf2_rank(depends[np.ix_(_positions(order, a), _positions(order, b))])
                for order, depends in dependencies
                for a, b in ((left, right), (right, left))
            )
            unit_cost = dl * dl + dr * dr + dl * dr
            candidates.append((unit_cost * 2**crossing + 4 * dl * dr, unit_cost, left, right))
        candidates.sort(key=lambda c: c[0])
        best = None
        for estimate, unit_cost, left, right in candidates[:_MAX_CANDIDATES]:
            if best is not None and estimate >= 4 * best[0]:
                break
            sides = ([w for w in canonical if w in left], [w for w in canonical if w in right])
            terms, chi = [], 1
            for item in items:
                if item[0] == "gather":
                    pair = _gather_terms(item[2], item[1], sides)
                    if pair is None:
                        break
                    terms.append(pair)
                    chi *= pair[0].shape[0]
            else:
                dl, dr = 2 ** len(left), 2 ** len(right)
                cost = chi * unit_cost + 4 * dl * dr
                if cost < state_cost and (best is None or cost < best[0]):
                    best = (cost, sides, terms)
        if best is None:
            return None
        return SplitPlan(items, canonical, best[1], best[2], coefficients, device, dtype)

    def operators(self, matrices):
        """``(K_L^T (dL, dL chi), K_R^T (dR, chi dR))``: the chain's side operators for these
        block matrices (``(1, d, d)`` each), transposed for ``a^T K^T`` (columns ``(y, c)`` on
        the left, ``(c, y)`` on the right, so ``psi = (a^T K_L^T) (b^T K_R^T)`` is one
        batched product); once per forward."""
        sides = [None, None]
        for step in self.steps:
            if step[0] == "layer":
                _, side, indices, identity, table = step
                layer = matrices[indices[0]][0]
                for index in indices[1:]:
                    layer = torch.kron(layer, matrices[index][0])
                if identity > 1:
                    eye = torch.eye(identity, dtype=layer.dtype, device=layer.device)
                    layer = torch.kron(layer, eye)
                if table is not None:
                    layer = layer.reshape(-1)[table].view(layer.shape)
                sides[side] = layer[None] if sides[side] is None else layer @ sides[side]
            else:
                for side, terms in enumerate(step[1]):
                    if sides[side] is None:
                        sides[side] = terms
                    else:
                        sides[side] = (terms[:, None] @ sides[side][None]).flatten(0, 1)
        result = []
        for side, (operator, axes) in enumerate(zip(sides, ((2, 1, 0), (2, 0, 1)), strict=True)):
            d = self.dims[side]
            if operator is None:
                operator = torch.eye(d, dtype=self.dtype, device=self.readout.device)
                operator = operator[None]
            if operator.shape[0] != self.chi:  # a side that no gather reached
                operator = operator.expand(self.chi, d, d)
            result.append(operator.permute(axes).reshape(d, self.chi * d))
        return tuple(result)

    def encoding(self, coefficients, half, p, q):
        """The angle encoding ``cos(half) p + sin(half) q`` (from ``BoundPlan.encoding``, wires
        in ``start_order``, unbatched weights) as ``(coefficients (n_in, 2n), offsets (2n, 1),
        pq (n, 2, 2))``: row ``2k`` of ``inputs @ coefficients + offsets`` is half wire k's
        angle plus pi/2, row ``2k + 1`` half its angle, so one sine gives ``(cos, sin)`` of
        every wire and one batched product the wire vectors."""
        offsets = half.repeat_interleave(2, dim=1).T + self.encoding_offset
        return coefficients.repeat_interleave(2, dim=1), offsets, torch.cat((p, q), -1)


def _forward(plan: SplitPlan, inputs, coefficients, offsets, pq, klt, krt):
    """``(out (b, n_obs), what the backward pass needs)``: the encoding's wire vectors, the
    sides' product states ``a``, ``b``, ``u = a^T K_L^T (b, dL, chi)``, ``w^T = b^T K_R^T
    (b, chi, dR)``, ``psi = u w^T`` and the readout of ``|psi|^2``."""
    batch = inputs.shape[0]
    n = pq.shape[0]
    half = torch.addmm(offsets, coefficients.T, inputs.T)  # (2n, b)
    trig = torch.sin(half).to(pq.dtype).view(n, 2, batch)
    vectors = torch.bmm(pq, trig).view(2 * n, batch)  # (n, 2, b) wire vectors as rows
    if plan.equal:  # tables (2, g, d, b): factor of wire k in amplitude x of each side
        tables = [vectors.index_select(0, plan.tables[0]).view(2, -1, plan.dims[0], batch)]
        amplitudes = tables[0].prod(1)
    else:
        tables = [vectors.index_select(0, rows) for rows in plan.tables]
        tables = [t.view(-1, d, batch) for t, d in zip(tables, plan.dims, strict=True)]
        amplitudes = [t.prod(0) for t in tables]  # a (dL, b), b (dR, b)
    u = torch.mm(amplitudes[0].T, klt).view(batch, plan.dims[0], plan.chi)
    wT = torch.mm(amplitudes[1].T, krt).view(batch, plan.chi, plan.dims[1])
    psi = torch.bmm(u, wT)  # (b, dL, dR)
    squares = torch.view_as_real(psi).view(batch, -1).square()
    out = torch.mm(plan.readout, squares.T).T  # (b, n_obs): the fast orientation here
    return out, (half, trig, tables, amplitudes, u, wT, psi)


class _SplitChain(torch.autograd.Function):
    """``split_chain`` as one autograd node per run, its backward written out: the readout's
    gradient for ``psi``, then for ``u`` and ``w``, the side operators and the side states,
    the wire vectors (``_wire_gradients``) and the encoding's angles, ``pq`` and inputs."""

    @staticmethod
    def forward(ctx, plan, inputs, coefficients, offsets, pq, klt, krt):
        out, (half, trig, tables, amplitudes, u, wT, psi) = _forward(
            plan, inputs, coefficients, offsets, pq, klt, krt
        )
        ctx.plan = plan
        ctx.save_for_backward(coefficients, half, trig, pq, u, wT, psi, klt, krt)
        ctx.tables, ctx.amplitudes = tables, amplitudes  # intermediates, not inputs
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # conjugates appear only as conjugate transposes (which BLAS takes as they are) or on
        # small tensors: a lazily conjugated operand of a product is copied first
        refuse_second_derivatives()
        coefficients, half, trig, pq, u, wT, psi, klt, krt = ctx.saved_tensors
        plan, tables, amplitudes = ctx.plan, ctx.tables, ctx.amplitudes
        needs = ctx.needs_input_grad
        batch = grad_out.shape[0]
        weights = torch.mm(grad_out, plan.readout_grad)  # (b, 2 D)
        real = torch.view_as_real(psi)
        grad_psi = torch.view_as_complex((real.view(batch, -1) * weights).view(real.shape))
        grad_u = torch.bmm(grad_psi, wT.mH).view(batch, -1)  # (b, dL chi)
        grad_w = torch.bmm(u.mH, grad_psi).view(batch, -1)  # (b, chi dR)
        grad_klt = torch.mm(grad_u.T, amplitudes[0].mH).T if needs[5] else None
        grad_krt = torch.mm(grad_w.T, amplitudes[1].mH).T if needs[6] else None
        grad_inputs = grad_offsets = grad_pq = None
        if any(needs[1:5]):
            side_grads = (torch.mm(grad_u, klt.mH), torch.mm(grad_w, krt.mH))  # (b, d) each
            conj_vectors = _wire_gradients(plan, tables, side_grads)
            if needs[4]:
                grad_pq = torch.bmm(conj_vectors, trig.mT).conj_physical()
            if needs[1] or needs[3]:
                n = pq.shape[0]
                # Re(pq^H g) = Re(pq^T conj(g))
                grad_trig = torch.bmm(pq.mT, conj_vectors).real.view(2 * n, batch)
                grad_half = grad_trig * torch.cos(half)  # d sin = cos
                if needs[1]:
                    grad_inputs = torch.mm(coefficients, grad_half).T
                if needs[3]:
                    grad_offsets = grad_half.sum(1, keepdim=True)
        return None, grad_inputs, None, grad_offsets, grad_pq, grad_klt, grad_krt


def _wire_gradients(plan: SplitPlan, tables, side_grads):
    """Conjugated gradients ``(n, 2, b)`` of the wire vectors from the gradients of the two
    sides' product states (``(b, d)`` each): a wire's gradient is its side's gradient times
    the side's other factors, summed over the wire's bit (no division by amplitudes that may
    be zero). Conjugated so that only the small side gradients need a conjugate copy."""
    if plan.equal:
        conj_grads = torch.stack(side_grads).conj_physical().transpose(1, 2)  # (2, d, b)
        table = tables[0]  # (2, g, d, b)
        g = table.shape[1]
        if g == 1:
            weighted = conj_grads[:, None]
        else:
            rows = table.view(2 * g, *table.shape[2:]).index_select(0, plan.others[0])
            weighted = rows.view(2, g, g - 1, *table.shape[2:]).prod(2) * conj_grads[:, None]
        return torch.bmm(plan.selectors[0], weighted.view(2 * g, *table.shape[2:]))
    wire_grads = []
    for table, others, selector, side_grad in zip(
        tables, plan.others, plan.selectors, side_grads, strict=True
    ):
        conj_grad = side_grad.conj_physical().T  # (d, b)
        g = table.shape[0]
        if g > 1:
            factors = table.index_select(0, others).view(g, g - 1, *table.shape[1:])
            weighted = factors.prod(1) * conj_grad  # (g, 2**g, b)
        else:
            weighted = conj_grad[None]
        wire_grads.append(torch.bmm(selector, weighted))
    return torch.cat(wire_grads)


def split_chain(plan: SplitPlan, inputs, coefficients, offsets, pq, klt, krt):
    """Expectation values ``(b, n_obs)`` of the chain of ``plan`` on the angle-encoded
    product state of ``inputs (b, n_inputs)``; the other arguments come from
    ``plan.encoding`` and ``plan.operators`` (once per forward)."""
    tensors = (inputs, offsets, pq, klt, krt)
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return _SplitChain.apply(plan, inputs, coefficients, offsets, pq, klt, krt)
    return _forward(plan, inputs, coefficients, offsets, pq, klt, krt)[0]
