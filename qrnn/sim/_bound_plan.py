"""One plan's weight-only work for one bind.

A ``BoundPlan`` is made by a ``BoundProgram`` the first time it runs a mode and dropped with
the bind (or when the bind's autograd mode changes). It owns the matrices that depend on the
weights only, each built at most once per bind: the batch of one-wire gate matrices and their
runs (``GateLayout``), the matrices of static blocks, the prefix's weight-only factors, the
angle encoding's wire vectors, and the input-free head of the circuit.
"""

from __future__ import annotations

from functools import cached_property

import torch

from qrnn.sim._chain import apply_block, permute_axes
from qrnn.sim._gates import block_matrix, kron, run_products, u1q_matrices
from qrnn.sim._plan import CompiledPlan, PlanTensors
from qrnn.sim._product import product_state
from qrnn.sim._schedule import GatherKernel, PhaseKernel


class BoundPlan:
    """The weight-only matrices of ``plan`` for the angles ``static_angles (b_w, n_rows)``
    (the bind's weights through the angle map; the inputs' columns zero)."""

    def __init__(self, plan: CompiledPlan, tensors: PlanTensors, static_angles: torch.Tensor):
        self.plan = plan
        self.tensors = tensors
        self.static_angles = static_angles
        self._blocks: dict[int, torch.Tensor] = {}  # kernel position -> static block matrix
        self._placed: dict[tuple, torch.Tensor] = {}  # (position, chain) -> placed phase
        self._kronecker_built = False
        self._encodings: dict[tuple, tuple] = {}  # start order -> encoding tensors
        self._head: tuple | None = None

    # -- one-wire gates and static blocks -------------------------------------------------

    @cached_property
    def gate_table(self):
        """``(matrices (b_w, n_gates, 2, 2) or None, products (b_w, n_runs, 2, 2))`` of the
        plan's ``GateLayout``: one batch of gate matrices and one of run products."""
        tensors = self.tensors
        weight_batch = self.static_angles.shape[0]
        matrices = None
        if tensors.layout_gates is not None:
            constants = tensors.zero_pi
            angles = torch.cat((self.static_angles, constants.expand(weight_batch, 2)), 1)
            matrices = u1q_matrices(angles, tensors.layout_gates)
        products = run_products(
            matrices, tensors.layout_runs, weight_batch, tensors.complex_dtype, tensors.device
        )
        return matrices, products

    def kernel_matrix(self, k: int, angles) -> torch.Tensor:
        """``(1 or b, d, d)`` matrix of the block kernel at position ``k``, or the ``(1 or b,
        2**n_wires)`` phase vector of the phase kernel there (over the canonical index):
        built from ``angles (b, n_rows)`` when it depends on the inputs, else once per
        bind."""
        kernel = self.plan.schedule.kernels[k]
        if isinstance(kernel, PhaseKernel):
            if kernel.dynamic:
                return self._phase(k, angles)
            if k not in self._blocks:
                self._blocks[k] = self._phase(k, self.static_angles)
            return self._blocks[k]
        if kernel.dynamic:
            tables = self.tensors.block(k)
            if tables.encoded is None:
                return block_matrix(tables, angles)
            if k not in self._blocks:  # an encoded layer's P and Q, once per bind
                self._blocks[k] = tables.encoded.runs(tables, self.static_angles)
            return tables.encoded.matrix(tables, *self._blocks[k], angles)
        if k not in self._blocks:
            if not self._kronecker_built:  # all layers of one-wire gates at once
                self._kronecker_built = True
                self._blocks.update(self._kronecker_blocks())
            if k not in self._blocks:
                matrices = self.gate_table[0]
                start, stop = self.plan.static_gates.blocks[k]
                own = matrices[:, start:stop] if stop > start else None
                self._blocks[k] = block_matrix(self.tensors.block(k), self.static_angles, own)
        return self._blocks[k]

    def _phase(self, k: int, angles) -> torch.Tensor:
        """``(b, 2**n_wires)``: the phase vector of the phase kernel at ``k`` over the
        canonical index, the product of its factors ``exp(i (offsets + angles[:, rows] @
        coefficients))``."""
        result = None
        for rows, coefficients, offsets, local in self.tensors.phase(k):
            values = offsets[None]
            if len(rows):
                values = torch.addmm(offsets, angles[:, rows], coefficients)
            phase = torch.polar(torch.ones_like(values), values)[:, local]
            result = phase if result is None else result * phase
        return result

    def place(self, chain, positions, matrices) -> list[torch.Tensor]:
        """``matrices`` (from ``kernel_matrix`` for the kernels at ``positions``) as ``chain``
        takes them: phase vectors in its memory layout (``ChainPlan.place``), the weight-only
        ones placed once per bind and chain."""
        if not chain.phases:
            return matrices
        placed = list(matrices)
        kernels = self.plan.schedule.kernels
        for index in chain.phases:
            k = positions[index]
            if kernels[k].dynamic:
                placed[index] = chain.place(index, matrices[index])
                continue
            key = (k, id(chain))  # chains live as long as their plan's tensors
            if key not in self._placed:
                self._placed[key] = chain.place(index, matrices[index])
            placed[index] = self._placed[key]
        return placed

    def _kronecker_blocks(self) -> dict[int, torch.Tensor]:
        """The matrices of every static block made of one-wire gates only (a layer of
        rotations: a Kronecker product), all of one size built together; by position."""
        layout = self.plan.kronecker
        if not layout:
            return {}
        _matrices, products = self.gate_table
        blocks = {}
        for (kernels, _rows), index in zip(
            layout.groups, self.tensors.kronecker_factors, strict=True
        ):
            factors = products[:, index].unbind(2)  # each (b_w, n_blocks, 2, 2), MSB first
            result = factors[0]
            for factor in factors[1:]:
                result = kron(result, factor)
            blocks.update(zip(kernels, result.unbind(1), strict=True))
        return blocks

    # -- the input-free head --------------------------------------------------------------

    def head(self) -> tuple[torch.Tensor | None, int]:
        """``(state (2**n_wires, b_w), next kernel)`` after the leading input-free part;
        ``(None, 0)`` when the prefix itself depends on the inputs."""
        if self._head is None:
            if self.plan.dynamic_prefix:
                self._head = (None, 0)
            else:
                state = self.prefix_state(self.static_angles)
                start = 0
                for k, kernel in enumerate(self.plan.schedule.kernels):
                    if not isinstance(kernel, GatherKernel) and kernel.dynamic:
                        break
                    state = self._apply_kernel(k, state)
                    start += 1
                self._head = (state, start)
        return self._head

    def _apply_kernel(self, k: int, state) -> torch.Tensor:
        """The input-free kernel at position ``k`` on ``state (2**n_wires, b)``."""
        kernel = self.plan.schedule.kernels[k]
        if kernel.permute is not None:
            state = permute_axes(state, kernel.permute, self.plan.n_wires)
        if isinstance(kernel, GatherKernel):
            source, phase = self.tensors.gather(k)
            state = state.index_select(0, source)
            if phase is not None:
                state = state * phase
            return state
        if isinstance(kernel, PhaseKernel):
            return state * self.kernel_matrix(k, self.static_angles).T
        return apply_block(self.kernel_matrix(k, self.static_angles), state, kernel.start)

    # -- the prefix -----------------------------------------------------------------------

    @cached_property
    def _prefix_factors(self):
        """Per wire, its prefix gates as factors: weight-only runs pre-multiplied (once per
        bind), input-dependent gates left for each run. ``(wires, positions, dynamic ops)``
        where ``positions[j] = (kind, data)`` for every wire's j-th factor."""
        structure = self.plan.prefix
        device = self.tensors.device
        products = self.gate_table[1]  # the prefix runs, then the identity
        wires, segments = structure.wires, structure.segments
        depth = max((len(f) for f in segments.values()), default=0)
        positions = []
        for j in range(depth):
            entries = [
                segments[w][j] if j < len(segments[w]) else ("static", len(structure.runs))
                for w in wires
            ]
            if all(kind == "static" for kind, _ in entries):
                index = torch.as_tensor([k for _, k in entries], device=device)
                positions.append(("static", products[:, index]))
            elif all(kind == "dynamic" for kind, _ in entries):
                positions.append(("dynamic", torch.as_tensor([k for _, k in entries])))
            else:
                positions.append(
                    (
                        "mixed",
                        [(kind, k if kind == "dynamic" else products[:, k]) for kind, k in entries],
                    )
                )
        return wires, positions, structure.dynamic_ops

    def prefix_state(self, angles, start_order=None) -> torch.Tensor:
        """Product state of the prefix for ``angles (b, n_rows)``, ``(2**n_wires, b)``: one
        2-vector per wire, multiplied out, the axes in ``start_order`` (canonical axes, MSB
        first; default canonical)."""
        tensors = self.tensors
        wires, positions, dynamic_ops = self._prefix_factors
        column = None
        if wires:
            dynamic = u1q_matrices(angles, tensors.prefix_gates) if dynamic_ops else None
            column = None  # (b, n_wires_with_gates, 2)
            for kind, data in positions:
                if kind == "static":
                    step = data
                elif kind == "dynamic":
                    step = dynamic[:, data]
                else:
                    batch = dynamic.shape[0]
                    step = torch.stack(
                        [
                            dynamic[:, d] if kind_ == "dynamic" else d.expand(batch, 2, 2)
                            for kind_, d in data
                        ],
                        dim=1,
                    )
                if column is None:
                    column = step[..., 0]  # the first factor applied to |0>
                else:
                    column = (step @ column.unsqueeze(-1)).squeeze(-1)
            column = column.permute(1, 2, 0)  # (n_wires_with_gates, 2, b)
        zero = tensors.zero
        if not wires:
            column = zero[:0]
        batch = column.shape[2] if wires else 1
        # one (2, b) vector per wire in the initial axis order; wires without gates stay |0>
        axes = start_order or range(len(self.plan.schedule.initial_order))
        order_index = tensors.prefix_order(tuple(axes))
        vectors = torch.cat([column, zero.expand(1, 2, batch)]).index_select(0, order_index)
        return product_state(vectors, tensors.groups)

    def encoding(self, start_order: tuple[int, ...]):
        """The prefix as ``cos(theta_w / 2) p_w + sin(theta_w / 2) q_w`` per wire (the plan's
        ``prefix.encoding`` must exist): the static gates around each input gate and its
        static phases folded into the 2-vectors ``p_w`` and ``q_w`` once per bind, so a run
        costs a matrix product for the angles, a cosine, a sine and the Kronecker product.
        Returns ``(coefficients (n_inputs, n), half (b_w, n), p, q (n, 2, 1 or b_w))`` with
        the wires in ``start_order`` (canonical axes, MSB first)."""
        if start_order not in self._encodings:
            self._encodings[start_order] = self._build_encoding(start_order)
        return self._encodings[start_order]

    def _build_encoding(self, start_order):
        # U(theta) = cos(theta/2) P + sin(theta/2) Q with P = U(0), Q = U(pi): both from one
        # batch of gate matrices whose theta rows point at two constant columns (0 and pi)
        tensors = self.tensors
        encoding = self.plan.prefix.encoding
        weight_batch = self.static_angles.shape[0]
        gates, products = self.gate_table
        before, after, gate, static = tensors.encoding_index
        start = products[:, before][..., :, :1]  # (b_w, 2 n_dynamic, 2, 1): before, on |0>
        vectors = (products[:, after] @ (gates[:, gate] @ start))[..., 0]  # p's, then q's
        # all wires: a dynamic wire's p and q, a static wire's vector as p (q = 0, theta = 0),
        # |0> as p for a wire without gates; and a zero vector
        ground = tensors.ground.expand(weight_batch, 2, 2)
        table = torch.cat((vectors, products[:, static][..., :, 0], ground), dim=1)
        pick, half_index, coefficients = tensors.encoding_order(start_order)
        table = table[:, pick]  # (b_w, 2 n, 2): p then q of every wire, in start order
        n = len(start_order)
        p, q = table[:, :n], table[:, n:]
        thetas = self.static_angles[:, encoding.theta_rows]
        if encoding.constant_half:  # no weight in the encoding angles: no gradient path
            thetas = thetas.detach()
        half = torch.cat((thetas / 2, thetas.new_zeros(weight_batch, 1)), dim=1)[:, half_index]
        if weight_batch == 1:  # (n_wires, 2, 1): broadcast over the batch
            return coefficients, half, p[0].unsqueeze(-1), q[0].unsqueeze(-1)
        return coefficients, half, p.permute(1, 2, 0), q.permute(1, 2, 0)
