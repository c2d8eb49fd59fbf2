"""Compiled plans: one per program and mode, and what is derived from it once.

A ``CompiledPlan`` is a mode's schedule and readout tables together with the layouts of its
one-wire gates (``_layouts``), made when the program first runs that mode and kept as long as
the program. ``CompiledPlan.tensors(device, dtype)`` gives its ``PlanTensors``: the index
tables and constant matrices a run on that device and dtype reads, the chain plans and the
split plan; each is made the first time a run needs it and kept with the plan. Kernels are
named by their position in ``schedule.kernels``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from qrnn.sim._angles import AngleMap
from qrnn.sim._chain import ChainPlan, ChainStep
from qrnn.sim._gates import BlockTables, GateTable, complex_dtype, constant_tensor, run_index
from qrnn.sim._layouts import (
    GateLayout,
    KroneckerLayout,
    PrefixStructure,
    StaticGates,
    gate_layout,
    kronecker_layout,
    prefix_structure,
    static_gates,
)
from qrnn.sim._observables import Terms
from qrnn.sim._product import product_groups
from qrnn.sim._schedule import GatherKernel, PhaseKernel, Schedule, physical_to_logical
from qrnn.sim._split import SplitPlan


@dataclass
class Readout:
    """Observable tables in physical order: E = Re(state-products[:, index] @ coefficients).

    A statevector readout whose terms are all bit flips (Pauli strings, also after folded
    basis changes) is read in the chain instead: ``coefficients`` (2**n, n_obs) real over
    the probabilities, ``index`` the identity, and ``flips`` per flip mask ``m`` (over the
    physical index) its coefficients ``c`` (2**n, n_obs) complex:
    E += Re(sum_i conj(psi[i]) c[i] psi[i ^ m])."""

    index: np.ndarray  # (n_terms_total,)
    coefficients: np.ndarray  # (n_terms_total, n_obs) complex
    real: bool  # all coefficients real and index is the identity (statevector: probabilities)
    flips: list[tuple[int, np.ndarray]] = field(default_factory=list)

    @property
    def in_chain(self) -> bool:
        """Whether the chain reads it out (probabilities and bit flips)."""
        return self.real or bool(self.flips)


def readout_tables(terms: Terms, order, n_qubits, density) -> Readout:
    """The ``Readout`` of ``terms`` for a final state in axis ``order``."""
    indices, blocks = [], []
    if density:
        # E = sum_i c[i] rho[src[i], i]; rho[r, c] sits at virtual index r * 2**n + c, and
        # virtual wire q is the column copy of qubit q, wire q + n its row copy.
        to_logical = physical_to_logical(order, 2 * n_qubits)
        to_physical = np.empty_like(to_logical)
        to_physical[to_logical] = np.arange(len(to_logical))
        for source, coefficients in terms.grouped():
            virtual = source * 2**n_qubits + np.arange(2**n_qubits)
            indices.append(to_physical[virtual])
            blocks.append(coefficients)
        return Readout(np.concatenate(indices), np.concatenate(blocks), False)
    to_logical = physical_to_logical(order, n_qubits)
    to_physical = np.empty_like(to_logical)
    to_physical[to_logical] = np.arange(len(to_logical))
    identity = np.arange(2**n_qubits)
    groups = terms.grouped()
    if len(groups) == 1 and np.array_equal(groups[0][0], identity):
        coefficients = groups[0][1][to_logical]
        if np.allclose(coefficients.imag, 0):
            return Readout(identity, coefficients.real.astype(float), True)
    masks = terms.flip_masks()
    if masks:
        return _flip_readout(groups, to_logical, order, n_qubits)
    for source, coefficients in groups:
        indices.append(to_physical[source[to_logical]])
        blocks.append(coefficients[to_logical])
    return Readout(np.concatenate(indices), np.concatenate(blocks), False)


def _flip_readout(groups, to_logical, order, n_qubits) -> Readout:
    """A readout of bit-flip terms for the chain (``Readout.flips``), over physical indices."""
    identity = np.arange(2**n_qubits)
    n_obs = groups[0][1].shape[1]
    diagonal = np.zeros((2**n_qubits, n_obs))
    flips = []
    for source, coefficients in groups:
        mask = int(source[0])
        physical = coefficients[to_logical]
        if not mask:
            diagonal = physical.real.astype(float)  # Hermitian: real on the diagonal
            continue
        # logical bit q is physical bit n - 1 - (its axis in ``order``)
        physical_mask = sum(
            1 << (n_qubits - 1 - order.index(q)) for q in range(n_qubits) if mask >> q & 1
        )
        flips.append((physical_mask, physical))
    return Readout(identity, diagonal, False, flips)


class CompiledPlan:
    """One mode of a program: its ``schedule``, its ``readout`` (None without observables
    in the mode) and the layouts of its one-wire gates, each derived once when first asked.

    Args:
        mode: "expval", "statevector", "density", "unitary" or "split" (see
            ``Program.plan``).
        schedule: the scheduled kernels.
        readout: the observables' tables over the final state, or None.
        angles: the program's angle map (which gates depend on the inputs).
    """

    def __init__(self, mode: str, schedule: Schedule, readout: Readout | None, angles: AngleMap):
        self.mode = mode
        self.schedule = schedule
        self.readout = readout
        self.angles = angles
        self._tensors: dict[tuple[torch.device, torch.dtype], PlanTensors] = {}

    @property
    def n_wires(self) -> int:
        return self.schedule.n_wires

    @cached_property
    def n_blocks(self) -> int:
        """Dense block and phase kernels: a run with gradients keeps the state before each."""
        return sum(not isinstance(kernel, GatherKernel) for kernel in self.schedule.kernels)

    @cached_property
    def prefix(self) -> PrefixStructure:
        """How the prefix splits into static runs and input gates, and its angle-encoding
        form when it has one."""
        return prefix_structure(self.schedule, self.angles)

    @property
    def dynamic_prefix(self) -> bool:
        """Whether the product-state prefix depends on the inputs."""
        return bool(self.prefix.dynamic_ops)

    @cached_property
    def static_gates(self) -> StaticGates:
        return static_gates(self.schedule, self.angles)

    @cached_property
    def kronecker(self) -> KroneckerLayout | None:
        return kronecker_layout(self.schedule, self.static_gates)

    @cached_property
    def gate_layout(self) -> GateLayout:
        return gate_layout(self.static_gates, self.prefix, self.kronecker)

    def tensors(self, device, real_dtype) -> PlanTensors:
        """The plan's tensors for runs on ``device`` with angles in ``real_dtype``."""
        key = (device, real_dtype)
        if key not in self._tensors:
            self._tensors[key] = PlanTensors(self, device, real_dtype)
        return self._tensors[key]


class PlanTensors:
    """A plan's index tables and constants on one device and dtype, each made the first time
    a run asks for it: the tensors of the gate layout, the encoding and the prefix, per
    kernel its gather tables or block tables, the readout, the chains and the split plan."""

    def __init__(self, plan: CompiledPlan, device, real_dtype):
        self.plan = plan
        self.device = device
        self.real_dtype = real_dtype
        self.complex_dtype = complex_dtype(real_dtype)
        self._blocks: dict[int, BlockTables] = {}  # kernel position -> its tables
        self._gathers: dict[int, tuple] = {}  # kernel position -> (source, phase or None)
        self._phases: dict[int, tuple] = {}  # kernel position -> its phase tables
        self._chains: dict[int, tuple] = {}  # first kernel -> (steps, block positions)
        self._chain_plans: dict[tuple, ChainPlan] = {}  # (first kernel, shapes, ...) -> plan
        self._encoding_orders: dict[tuple, tuple] = {}  # start order -> encoding tables
        self._prefix_orders: dict[tuple, torch.Tensor] = {}  # axis order -> vector rows

    def _real(self, array):
        return constant_tensor(array, self.device, self.real_dtype)

    def _complex(self, array):
        return constant_tensor(array, self.device, self.complex_dtype)

    def _index(self, array):
        return constant_tensor(array, self.device, torch.int64)

    @cached_property
    def groups(self):
        """``product_groups`` of the plan's wires."""
        return product_groups(self.plan.n_wires, self.device, self.complex_dtype)

    # -- one-wire gates of a bind ---------------------------------------------------------

    @cached_property
    def layout_gates(self) -> GateTable | None:
        """The ``GateTable`` of the gate layout's gates (None when there are none)."""
        layout = self.plan.gate_layout
        if not layout.ops:
            return None
        return GateTable.build(layout.ops, self.device, self.real_dtype, layout.rows)

    @cached_property
    def zero_pi(self) -> torch.Tensor:
        """``(1, 2)``: the constant angles 0 and pi that the gate layout's rows point at."""
        return self._real(np.array([[0.0, math.pi]]))

    @cached_property
    def layout_runs(self) -> torch.Tensor:
        """The ``run_index`` of the gate layout's runs."""
        layout = self.plan.gate_layout
        return self._index(run_index(layout.runs, len(layout.ops)))

    @cached_property
    def kronecker_factors(self) -> list[torch.Tensor]:
        """Per group of the Kronecker layout, its factors' rows in the layout's runs."""
        offset = self.plan.gate_layout.kron_offset
        return [self._index(index + offset) for _kernels, index in self.plan.kronecker.groups]

    def block(self, k: int) -> BlockTables:
        """The tables of the block kernel at position ``k``."""
        if k not in self._blocks:
            self._blocks[k] = BlockTables(
                self.plan.schedule.kernels[k],
                self.device,
                self.real_dtype,
                self.plan.angles.dynamic_rows,
            )
        return self._blocks[k]

    def gather(self, k: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(source, phase (2**n, 1) or None)`` of the gather kernel at position ``k``."""
        if k not in self._gathers:
            kernel = self.plan.schedule.kernels[k]
            phase = None if kernel.phase is None else self._complex(kernel.phase[:, None])
            self._gathers[k] = (self._index(kernel.source), phase)
        return self._gathers[k]

    def phase(self, k: int) -> list[tuple[torch.Tensor, ...]]:
        """Per factor of the phase kernel at position ``k`` (``PhaseFactor``): ``(rows,
        coefficients (n_rows, d), offsets (d,), local index (2**n,))``, the local index over
        the canonical index."""
        if k not in self._phases:
            kernel = self.plan.schedule.kernels[k]
            self._phases[k] = [
                (
                    self._index(np.array(factor.rows, dtype=np.int64)),
                    self._real(factor.coefficients),
                    self._real(factor.offsets),
                    self._index(local),
                )
                for factor, local in zip(kernel.op.factors, kernel.local_index, strict=True)
            ]
        return self._phases[k]

    # -- the prefix and its encoding ------------------------------------------------------

    @cached_property
    def prefix_gates(self) -> GateTable:
        """The ``GateTable`` of the prefix's input gates."""
        return GateTable.build(self.plan.prefix.dynamic_ops, self.device, self.real_dtype)

    @cached_property
    def ground(self) -> torch.Tensor:
        """``(1, 2, 2)``: |0> and the zero vector, as rows of the encoding's vector table."""
        return self._complex(np.array([[[1.0, 0.0], [0.0, 0.0]]]))

    @cached_property
    def zero(self) -> torch.Tensor:
        """``(1, 2, 1)``: |0>."""
        return self._complex(np.array([[[1.0], [0.0]]]))

    @cached_property
    def encoding_index(self) -> tuple[torch.Tensor, ...]:
        """The encoding's (before runs, after runs, gates, static runs), into the bind's gate
        table and run products."""
        encoding = self.plan.prefix.encoding
        offset = self.plan.gate_layout.n_static
        return tuple(self._index(encoding.index[k] + (offset if k == 2 else 0)) for k in range(4))

    def encoding_order(self, start_order: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
        """``(pick, half index, coefficients)``: the encoding's tables with the wires in
        ``start_order`` (canonical axes, MSB first)."""
        if start_order not in self._encoding_orders:
            encoding = self.plan.prefix.encoding
            axes = list(start_order)
            self._encoding_orders[start_order] = (
                self._index(np.concatenate([encoding.p_rows[axes], encoding.q_rows[axes]])),
                self._index(encoding.half_rows[axes]),
                self._real(encoding.coefficients[:, axes]),
            )
        return self._encoding_orders[start_order]

    def prefix_order(self, axes: tuple[int, ...]) -> torch.Tensor:
        """Per axis of ``axes`` (MSB first), the row of its wire's prefix vector (wires with
        prefix gates first, then |0>)."""
        if axes not in self._prefix_orders:
            wires = self.plan.prefix.wires
            row_of = {w: k for k, w in enumerate(wires)}
            initial_order = self.plan.schedule.initial_order
            self._prefix_orders[axes] = self._index(
                np.array([row_of.get(initial_order[a], len(wires)) for a in axes])
            )
        return self._prefix_orders[axes]

    # -- readout --------------------------------------------------------------------------

    @cached_property
    def readout_real(self) -> torch.Tensor:
        """``(n_obs, 2**n)`` real readout coefficients (a probability readout)."""
        return self._real(self.plan.readout.coefficients.T)

    @cached_property
    def readout_flips(self) -> list[tuple[int, torch.Tensor]]:
        """Per bit-flip term of the readout, ``(physical mask, coefficients (n_obs, 2**n))``
        complex (``Readout.flips``)."""
        return [(mask, self._complex(table.T)) for mask, table in self.plan.readout.flips]

    @cached_property
    def readout_index(self) -> torch.Tensor:
        return self._index(self.plan.readout.index)

    @cached_property
    def readout_complex(self) -> torch.Tensor:
        """``(n_obs, n_terms_total)`` complex readout coefficients."""
        return self._complex(self.plan.readout.coefficients.T)

    # -- chains ---------------------------------------------------------------------------

    def chain_steps(self, start: int) -> tuple[list[ChainStep], list[int]]:
        """``(steps, block and phase kernel positions)`` of the kernels from position
        ``start`` on: the positions of the chain's matrices."""
        if start not in self._chains:
            steps, blocks = [], []
            for k, kernel in enumerate(self.plan.schedule.kernels[start:], start):
                if isinstance(kernel, GatherKernel):
                    source = torch.as_tensor(kernel.source, device=self.device)
                    phase = None
                    if kernel.phase is not None:
                        phase = torch.as_tensor(kernel.phase[:, None], device=self.device)
                        phase = phase.to(self.complex_dtype)
                    steps.append(ChainStep(kernel.permute, source, phase))
                elif isinstance(kernel, PhaseKernel):
                    steps.append(ChainStep(None, matrix=len(blocks), diagonal=True))
                    blocks.append(k)
                else:
                    steps.append(ChainStep(kernel.permute, start=kernel.start, matrix=len(blocks)))
                    blocks.append(k)
            self._chains[start] = (steps, blocks)
        return self._chains[start]

    def chain_plan(self, start: int, matrices, free_start: bool, coefficients) -> ChainPlan:
        """The ``ChainPlan`` of the chain from kernel ``start`` for block matrices (and phase
        vectors, ``(b, 2**n)``) of these shapes (per-sample or not), starting from a free
        product state or not, with the readout ``coefficients`` (``readout_real``, and the
        readout's ``readout_flips``) or None (the final state)."""
        shapes = tuple((m.shape[-1], m.shape[0] > 1) for m in matrices)
        key = (start, shapes, free_start, coefficients is not None)
        if key not in self._chain_plans:
            steps, _blocks = self.chain_steps(start)
            flips = self.readout_flips if coefficients is not None else ()
            self._chain_plans[key] = ChainPlan(
                steps, self.plan.n_wires, shapes, free_start, coefficients, flips
            )
        return self._chain_plans[key]

    @cached_property
    def split_plan(self) -> SplitPlan | None:
        """The cheapest ``SplitPlan`` of this (input-free, probability-readout) plan's chain,
        or None when the whole state is cheaper (``SplitPlan.choose``)."""
        steps, blocks = self.chain_steps(0)
        kernels = self.plan.schedule.kernels
        if any(step.diagonal for step in steps):  # a phase stage spans every cut
            return None
        shapes = tuple((2 ** len(kernels[k].local_wires), False) for k in blocks)
        return SplitPlan.choose(
            steps, self.plan.n_wires, shapes, self.readout_real, self.device, self.complex_dtype
        )
