"""Compiled programs: the run-time half of the engine.

``Program`` holds what was derived from the circuit once (angle table, schedules, observable
tables); ``Program.bind(weights)`` computes everything that depends only on the weights (gate
matrices of weight-only blocks, the leading part of the circuit that has no inputs) and
returns a ``BoundProgram`` whose ``expval(inputs)`` runs only the input-dependent work. Every
kernel is batched; weight-only matrices have batch size 1 and broadcast. An angle encoding
followed by weight-only gates runs split across a cut of the wires when that is cheaper
(``_split``): the bind then builds the two sides' operators, and a run only the encoding.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch
from qiskit.circuit import QuantumCircuit

from qrnn.sim._chain import (
    ChainPlan,
    ChainStep,
    apply_block,
    encoded_chain,
    permute_axes,
    product_groups,
    product_state,
    run_chain,
)
from qrnn.sim._errors import SimulationMemoryError, UnboundParameterError
from qrnn.sim._lowering import (
    U1Q,
    Channel,
    Dense,
    Lowered,
    PauliRotation,
    lower,
    virtualize,
)
from qrnn.sim._observables import Terms, parse_observables
from qrnn.sim._schedule import (
    BlockKernel,
    GatherKernel,
    Schedule,
    fold_suffix,
    physical_to_logical,
    schedule,
)
from qrnn.sim._split import SplitPlan, split_chain

DEFAULT_MAX_FUSED = 5


@dataclass
class _Readout:
    """Observable tables in physical order: E = Re(state-products[:, index] @ coefficients)."""

    index: np.ndarray  # (n_terms_total,)
    coefficients: np.ndarray  # (n_terms_total, n_obs) complex
    real: bool  # all coefficients real and index is the identity (statevector: probabilities)


class Program:
    """A circuit compiled for repeated batched runs.

    Args:
        circuit: a ``QuantumCircuit`` on n qubits, possibly with ``Parameter``s.
        observables: Pauli labels or ``SparsePauliOp``s (n characters, little-endian), or None
            when only states are wanted.
        noise_model: a ``qiskit_aer.noise.NoiseModel``; its quantum errors run on the
            density-matrix path, its readout errors apply to Z-type observables.
        weight_params: parameters given once per forward through ``bind`` (trainable weights);
            the rest are per-sample inputs.
        max_fused_qubits: largest dense block the fuser builds.
    """

    def __init__(
        self,
        circuit: QuantumCircuit,
        observables=None,
        *,
        noise_model=None,
        weight_params=(),
        max_fused_qubits: int = DEFAULT_MAX_FUSED,
    ):
        if not isinstance(circuit, QuantumCircuit):
            raise TypeError(f"circuit must be a qiskit QuantumCircuit, got {type(circuit)}")
        self.circuit = circuit
        self.n_qubits = circuit.num_qubits
        self.parameters = list(circuit.parameters)
        index = {p: i for i, p in enumerate(self.parameters)}
        weight_params = list(weight_params)
        missing = [p for p in weight_params if p not in index]
        if missing:
            raise UnboundParameterError(
                f"weight parameter {missing[0]} is not a parameter of the circuit"
            )
        self.weight_index = [index[p] for p in weight_params]
        weight_set = set(self.weight_index)
        self.input_index = [i for i in range(len(self.parameters)) if i not in weight_set]
        if isinstance(max_fused_qubits, bool) or not isinstance(max_fused_qubits, int):
            raise TypeError(f"max_fused_qubits must be an int >= 1, got {max_fused_qubits!r}")
        if max_fused_qubits < 1:
            raise ValueError(f"max_fused_qubits must be >= 1, got {max_fused_qubits}")
        self.max_fused = max_fused_qubits
        self._lowered: Lowered = lower(circuit, noise_model)
        self.density = any(isinstance(op, Channel) for op in self._lowered.ops)
        self.observables = (
            None if observables is None else parse_observables(observables, self.n_qubits)
        )
        coefficients, offsets = self._lowered.table.matrices()
        self._input_coefficients = coefficients[:, self.input_index]
        self._weight_coefficients = coefficients[:, self.weight_index]
        self._offsets = offsets
        self._dynamic_rows = np.abs(self._input_coefficients).sum(axis=1) > 0
        self._plans: dict[str, tuple[Schedule, _Readout | None]] = {}
        self._plan_modes: dict[int, str] = {}
        self._tensor_cache: dict = {}

    # -- public runs ------------------------------------------------------------------------

    @property
    def num_parameters(self) -> int:
        return len(self.parameters)

    def bind(self, weights: torch.Tensor) -> BoundProgram:
        """Hoist weight-only work. ``weights``: (n_weight,) or (batch, n_weight)."""
        weights = _as_values(weights, len(self.weight_index), "weights")
        return BoundProgram(self, weights)

    def expval(self, values) -> torch.Tensor:
        """Expectation values, (batch, n_obs) real. ``values``: (batch, n_params) or (n_params,)."""
        return self._split(values).expval(self._inputs(values))

    def statevector(self, values=None) -> torch.Tensor:
        """Final states, (batch, 2**n) complex, index bit k = qubit k."""
        return self._split(values).statevector(self._inputs(values))

    def density_matrix(self, values=None) -> torch.Tensor:
        """Final density matrices, (batch, 2**n, 2**n) complex."""
        return self._split(values).density_matrix(self._inputs(values))

    def unitary(self, values=None) -> torch.Tensor:
        """The circuit's unitary, (2**n, 2**n) complex, for one set of ``values`` (n_params,)."""
        return self._split(values).unitary(self._inputs(values))

    def _split(self, values) -> BoundProgram:
        values = self._values(values)
        return BoundProgram(self, values[:, self.weight_index])

    def _inputs(self, values) -> torch.Tensor:
        return self._values(values)[:, self.input_index]

    def _values(self, values) -> torch.Tensor:
        if values is None:
            if self.parameters:
                names = ", ".join(str(p) for p in self.parameters[:5])
                raise UnboundParameterError(
                    f"the circuit has {len(self.parameters)} unbound parameters ({names}"
                    f"{', ...' if len(self.parameters) > 5 else ''}); pass values of shape "
                    f"(batch, {len(self.parameters)})"
                )
            values = torch.zeros(1, 0, dtype=torch.float64)
        return _as_values(values, len(self.parameters), "values")

    # -- plans ------------------------------------------------------------------------------

    def plan(self, mode: str) -> tuple[Schedule, _Readout | None]:
        """mode: "expval", "statevector", "density" or "unitary"; or "split": expval with
        every gate in a block of its own wires (one-wire gates fused per wire only), so that
        a split chain (``_split``) may cut between any wires that no gate joins."""
        if mode not in self._plans:
            self._plans[mode] = self._build_plan(mode)
            self._plan_modes[id(self._plans[mode][0])] = mode
        return self._plans[mode]

    def _build_plan(self, mode):
        lowered = self._lowered
        ops = list(lowered.ops)
        density = self.density or mode == "density"
        terms = None
        if mode in ("expval", "split"):
            if self.observables is None:
                raise ValueError("this program was compiled without observables")
            terms = Terms.from_paulis(self.observables, self.n_qubits, lowered.readout)
            ops = fold_suffix(ops, terms, lowered.table)
        n_wires = 2 * self.n_qubits if density else self.n_qubits
        if density:
            ops = virtualize(ops, self.n_qubits)
        if mode == "unitary" and self.density:
            raise ValueError("the circuit has resets or noise, so it has no unitary")
        # a density matrix's row and column copies of a qubit sit side by side, so the
        # superoperators of one-qubit gates and channels act on adjacent axes (no copies)
        interleaved = [w for q in range(self.n_qubits - 1, -1, -1) for w in (q + self.n_qubits, q)]
        plan = schedule(
            ops,
            n_wires,
            self._is_dynamic,
            1 if mode == "split" else self.max_fused,
            product_prefix=mode != "unitary",
            initial_order=interleaved if density else None,
        )
        readout = None
        if terms is not None:
            readout = _readout_tables(terms, plan.order, self.n_qubits, density)
        return plan, readout

    def _is_dynamic(self, op) -> bool:
        if isinstance(op, U1Q):
            return bool(self._dynamic_rows[list(op.rows)].any())
        if isinstance(op, PauliRotation):
            return bool(self._dynamic_rows[op.row])
        return False

    def prefix_structure(self, mode: str) -> _PrefixStructure:
        """How the prefix of ``plan(mode)`` splits into static runs and input gates, and its
        angle-encoding form when it has one; derived once per mode."""
        key = ("prefix-structure", mode)
        if key not in self._tensor_cache:
            self._tensor_cache[key] = _prefix_structure(self, self.plan(mode)[0])
        return self._tensor_cache[key]

    def kronecker_layout(self, plan: Schedule) -> _KroneckerLayout | None:
        """Which static blocks of ``plan`` are layers of one-wire gates, and the runs of
        their gates (indices into ``static_u1q_ops``) per wire, grouped by block size."""
        key = ("kronecker", id(plan))
        if key not in self._tensor_cache:
            _ops, slices = self.static_u1q_ops(plan)
            runs: list[list[int]] = []
            by_size: dict[int, tuple[list, list]] = {}
            for kernel in plan.kernels:
                if not isinstance(kernel, BlockKernel) or kernel.dynamic:
                    continue
                if not all(isinstance(op, U1Q) for op in kernel.ops):
                    continue
                start = slices[id(kernel)][0]
                per_wire = {w: [] for w in kernel.local_wires}
                for k, op in enumerate(kernel.ops):
                    per_wire[op.wires[0]].append(start + k)
                kernels, index = by_size.setdefault(len(kernel.local_wires), ([], []))
                kernels.append(kernel)
                index.append([len(runs) + j for j in range(len(per_wire))])
                runs.extend(per_wire[w] for w in reversed(kernel.local_wires))  # MSB first
            groups = [(tuple(k), np.array(i)) for k, i in by_size.values()]
            self._tensor_cache[key] = _KroneckerLayout(runs, groups) if groups else None
        return self._tensor_cache[key]

    def gate_layout(self, plan: Schedule) -> _GateLayout:
        """Every one-wire gate matrix a bind of ``plan`` builds (its static gates, then the
        encoding's gates at theta 0 and pi) and every run of them it multiplies out (the
        prefix's static runs, the identity, the factors of the Kronecker blocks): one batch
        each per bind."""
        key = ("gate-layout", id(plan))
        if key not in self._tensor_cache:
            ops, _slices = self.static_u1q_ops(plan)
            n_static = len(ops)
            rows = [op.rows for op in ops]
            structure = self.prefix_structure(self._plan_modes[id(plan)])
            # the prefix runs index structure.static_ops, which static_u1q_ops lists first and
            # in the same order; [] multiplies to the identity
            runs = [list(run) for run in structure.runs] + [[]]
            rotation = structure.rotation
            if rotation is not None:
                ops = ops + structure.dynamic_ops + structure.dynamic_ops
                rows.extend(rotation.gate_rows.tolist())
            kronecker = self.kronecker_layout(plan)
            kron_offset = len(runs)
            if kronecker is not None:
                runs.extend(kronecker.runs)
            self._tensor_cache[key] = _GateLayout(
                ops, np.array(rows, dtype=np.int64).reshape(-1, 4), runs, n_static, kron_offset
            )
        return self._tensor_cache[key]

    def static_u1q_ops(self, plan: Schedule):
        """``(ops, slices)``: every input-free one-wire gate of ``plan`` (prefix, then static
        blocks), with ``slices["prefix"]`` and ``slices[id(kernel)]`` their ranges."""
        key = ("static-u1q", id(plan))
        if key not in self._tensor_cache:
            ops = [op for run in plan.prefix.values() for op in run if not self._is_dynamic(op)]
            slices = {"prefix": (0, len(ops))}
            for kernel in plan.kernels:
                if isinstance(kernel, BlockKernel) and not kernel.dynamic:
                    start = len(ops)
                    ops.extend(op for op in kernel.ops if isinstance(op, U1Q))
                    slices[id(kernel)] = (start, len(ops))
            self._tensor_cache[key] = (ops, slices)
        return self._tensor_cache[key]

    # -- constants per (device, dtype) ------------------------------------------------------

    def constant(self, key, builder, device, dtype):
        cache_key = (key, device, dtype)
        if cache_key not in self._tensor_cache:
            self._tensor_cache[cache_key] = builder().to(device=device, dtype=dtype)
        return self._tensor_cache[cache_key]


@dataclass
class _Rotation:
    """The angle-encoding form of a prefix (see ``BoundProgram._rotation_prefix``), as index
    tables. Gate rows ``n_rows`` and ``n_rows + 1`` are constant angles 0 and pi. The vector
    table holds the dynamic wires' p's, then their q's, then the static wires' vectors, then
    |0> and the zero vector."""

    gate_rows: np.ndarray  # (2 n_ops, 4): the input gates at theta 0, then at theta pi
    index: tuple[np.ndarray, ...]  # before runs, after runs, gates, static runs (into tables)
    p_rows: np.ndarray  # per canonical axis, its p in the vector table
    q_rows: np.ndarray  # per canonical axis, its q in the vector table
    theta_rows: list[int]  # angle rows of the dynamic wires' thetas
    half_rows: np.ndarray  # per canonical axis, its column of [thetas / 2, 0]
    coefficients: np.ndarray  # (n_inputs, n_axes): half of each axis' theta per input
    constant_half: bool  # no weight enters the thetas


@dataclass
class _GateLayout:
    ops: list[U1Q]  # static one-wire gates, then the encoding's gates at 0, then at pi
    rows: np.ndarray  # (len(ops), 4) angle columns of each; n_rows, n_rows + 1 are 0 and pi
    runs: list[list[int]]  # prefix runs, the identity, then the Kronecker factors
    n_static: int  # where the encoding's gates start
    kron_offset: int  # where the Kronecker factors start


@dataclass
class _KroneckerLayout:
    runs: list[list[int]]  # per factor (wire of a block, MSB first): its gates, in order
    groups: list[tuple[tuple, np.ndarray]]  # per block size: kernels, (n_blocks, m) factors


@dataclass
class _PrefixStructure:
    wires: list[int]  # wires with prefix gates
    segments: dict[int, list[tuple[str, int]]]  # wire -> (kind, static run or dynamic op)
    dynamic_ops: list[U1Q]
    static_ops: list[U1Q]
    runs: list[list[int]]  # static runs, as indices into static_ops
    rotation: _Rotation | None


def _prefix_structure(program: Program, plan: Schedule) -> _PrefixStructure:
    wires = [w for w, ops in plan.prefix.items() if ops]
    dynamic_ops: list[U1Q] = []
    static_ops: list[U1Q] = []
    runs: list[list[int]] = []
    segments: dict[int, list[tuple[str, int]]] = {}
    for w in wires:
        segments[w] = []
        run = None
        for op in plan.prefix[w]:
            if program._is_dynamic(op):
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
    structure = _PrefixStructure(wires, segments, dynamic_ops, static_ops, runs, None)
    dynamic_rows = program._dynamic_rows
    eligible = bool(dynamic_ops) and all(
        not dynamic_rows[list(op.rows[1:])].any() for op in dynamic_ops
    )
    eligible = eligible and all(
        sum(kind == "dynamic" for kind, _ in segments[w]) <= 1 for w in wires
    )
    if eligible:
        structure.rotation = _rotation_structure(program, plan, structure)
    return structure


def _rotation_structure(program: Program, plan: Schedule, structure) -> _Rotation:
    identity_run = len(structure.runs)
    n_ops = len(structure.dynamic_ops)
    n_rows = program._offsets.shape[0]
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
    coefficients = np.zeros((len(program.input_index), len(plan.initial_order)))
    for axis, w in enumerate(plan.initial_order):
        if w in dynamic_wires:
            k = dynamic_wires.index(w)
            p_rows.append(k)
            q_rows.append(n_dynamic + k)
            half_rows.append(k)
            coefficients[:, axis] = program._input_coefficients[theta_rows[k]] / 2
        else:
            p_rows.append(2 * n_dynamic + static_wires.index(w) if w in static_wires else ground)
            q_rows.append(zero)
            half_rows.append(n_dynamic)
    return _Rotation(
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
        constant_half=not program._weight_coefficients[theta_rows].any(),
    )


def _readout_tables(terms: Terms, order, n_qubits, density) -> _Readout:
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
        return _Readout(np.concatenate(indices), np.concatenate(blocks), False)
    to_logical = physical_to_logical(order, n_qubits)
    to_physical = np.empty_like(to_logical)
    to_physical[to_logical] = np.arange(len(to_logical))
    identity = np.arange(2**n_qubits)
    groups = terms.grouped()
    if len(groups) == 1 and np.array_equal(groups[0][0], identity):
        coefficients = groups[0][1][to_logical]
        if np.allclose(coefficients.imag, 0):
            return _Readout(identity, coefficients.real.astype(float), True)
    for source, coefficients in groups:
        indices.append(to_physical[source[to_logical]])
        blocks.append(coefficients[to_logical])
    return _Readout(np.concatenate(indices), np.concatenate(blocks), False)


def _as_values(values, width: int, name: str) -> torch.Tensor:
    if not isinstance(values, torch.Tensor):
        values = torch.as_tensor(np.asarray(values, dtype=np.float64))
    if values.is_complex():
        raise UnboundParameterError(
            f"{name} are complex ({values.dtype}); expected real angles (float32 or float64)"
        )
    if not values.is_floating_point():
        values = values.to(torch.float64)
    if values.dim() == 1:
        values = values.unsqueeze(0)
    if values.dim() != 2 or values.shape[1] != width:
        raise UnboundParameterError(
            f"{name} has shape {tuple(values.shape)}; expected (batch, {width}) or ({width},)"
        )
    # the sum is finite when every entry is (NaN and inf propagate): one reduction on every
    # time step of a recurrent model; only a non-finite sum (or an overflow) looks closer
    if values.numel() and not math.isfinite(float(values.detach().sum())):
        bad = torch.nonzero(~torch.isfinite(values))
        if len(bad):
            raise UnboundParameterError(
                f"{name} contains NaN or inf (first at index {tuple(bad[0].tolist())}); "
                "expected finite angles"
            )
    return values


def _complex_dtype(dtype):
    return (
        torch.complex64
        if dtype in (torch.float32, torch.float16, torch.bfloat16)
        else (torch.complex128)
    )


_ALWAYS_FITS = 64 * 2**20  # bytes


def _check_memory(batch, n_wires, dtype, device):
    itemsize = 8 if dtype == torch.complex64 else 16
    need = 4 * batch * (2**n_wires) * itemsize  # state, a permuted copy, autograd saves
    if need <= _ALWAYS_FITS:  # asking the system costs more than a small run
        return
    if device.type == "cuda":
        available = torch.cuda.mem_get_info(device)[0]
    else:
        available = _available_host_memory()
    if need > available:
        raise SimulationMemoryError(
            f"simulating a batch of {batch} on {n_wires} wires (2**{n_wires} amplitudes each) "
            f"needs about {need / 2**30:.1f} GiB; {available / 2**30:.1f} GiB is available. "
            "Use fewer qubits or a smaller batch."
        )


def _available_host_memory() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


class BoundProgram:
    """A program with its weights bound; runs batches of inputs.

    Internally states are stored batch-last, (2**n_wires, batch), with the wire axes in the
    order the schedule tracked; public outputs are batch-first and in Qiskit's order.
    """

    def __init__(self, program: Program, weights: torch.Tensor):
        self.program = program
        self.weights = weights
        self.device = weights.device
        self.real_dtype = weights.dtype
        self.complex_dtype = _complex_dtype(weights.dtype)
        self._grad_mode = None
        self._sync_grad_mode()

    def _sync_grad_mode(self):
        """(Re)build the weight-only work for the current autograd mode: what was hoisted
        under ``torch.no_grad()`` has no graph, so a later run with gradients must not use it
        (and the reverse would keep a graph alive for nothing)."""
        grad_mode = torch.is_grad_enabled()
        if grad_mode == self._grad_mode:
            return
        self._grad_mode = grad_mode
        offsets = self._constant("offsets", lambda: self.program._offsets, self.real_dtype)
        if self.weights.shape[1]:
            coefficients = self._constant(
                "weight_coefficients",
                lambda: self.program._weight_coefficients.T,
                self.real_dtype,
            )
            self.static_angles = self.weights @ coefficients + offsets  # (b_w, n_rows)
        else:
            self.static_angles = offsets.unsqueeze(0)
        self._heads: dict[str, tuple] = {}
        self._prepared: dict[str, tuple] = {}  # mode -> what a run of inputs needs
        self._static_blocks: dict[int, torch.Tensor] = {}
        self._prefix_factors: dict = {}

    def _constant(self, key, builder, dtype):
        return self.program.constant(
            key, lambda: torch.as_tensor(np.array(builder())), self.device, dtype
        )

    def _constant_groups(self, n_wires: int):
        key = ("product-groups", n_wires, self.device, self.complex_dtype)
        cache = self.program._tensor_cache
        if key not in cache:
            cache[key] = product_groups(n_wires, self.device, self.complex_dtype)
        return cache[key]

    # -- gate matrices --------------------------------------------------------------------

    def _angles(self, inputs):
        if inputs is None or inputs.shape[1] == 0:
            return self.static_angles
        coefficients = self._constant(
            "input_coefficients", lambda: self.program._input_coefficients.T, self.real_dtype
        )
        return self.static_angles + inputs @ coefficients

    def _u1q(self, ops, angles, key, rows=None):
        """(b, len(ops), 2, 2) matrices of one-wire gates; ``key`` names the op list; ``rows``
        (len(ops), 4): the angle columns of each gate's (theta, phi, lam, gamma) when not the
        gates' own.

        exp(i g) U(t, f, l) = [[cos(t/2) e^{ig}, -sin(t/2) e^{i(l+g)}],
                               [sin(t/2) e^{i(f+g)}, cos(t/2) e^{i(f+l+g)}]]
        built with two small matrix products (magnitudes, phases) and one polar.
        """
        rows = self._constant(
            ("rows", key),
            lambda: np.array([op.rows for op in ops]) if rows is None else rows,
            torch.int64,
        )
        # phases of the four entries from (f, l, g); conjugate copies negate all three
        phase_map = self._constant(
            ("phase_map", key),
            lambda: np.array(
                [
                    (-1.0 if op.conjugate else 1.0)
                    * np.array([[0, 0, 1, 1], [0, 1, 0, 1], [1, 1, 1, 1]], dtype=float)
                    for op in ops
                ]
            ),
            self.real_dtype,
        )
        values = angles[:, rows]  # (b, n_ops, 4): theta, phi, lam, gamma
        half = values[..., :1] / 2
        trig = torch.cat((torch.cos(half), torch.sin(half)), -1)  # (b, n_ops, 2)
        magnitude = trig @ self._constant(
            "magnitude_map", lambda: np.array([[1.0, 0, 0, 1], [0, -1, 1, 0]]), self.real_dtype
        )
        phase = (values[..., 1:, None] * phase_map).sum(-2)  # (b, n_ops, 4)
        matrix = torch.polar(torch.ones_like(phase), phase) * magnitude
        return matrix.view(*values.shape[:2], 2, 2)

    def _op_matrix(self, op, angles):
        if isinstance(op, U1Q):
            return self._u1q([op], angles, ("op", id(op)))[:, 0]
        if isinstance(op, PauliRotation):
            theta = angles[:, op.row]
            c = torch.cos(theta / 2).to(self.complex_dtype)[:, None, None]
            s = torch.sin(theta / 2).to(self.complex_dtype)[:, None, None]
            pauli = self._constant(("pauli", id(op)), lambda: op.pauli, self.complex_dtype)
            identity = torch.eye(len(op.pauli), dtype=self.complex_dtype, device=self.device)
            sign = 1j if op.conjugate else -1j
            return c * identity + sign * s * pauli
        if isinstance(op, Dense):
            return self._constant(("dense", id(op)), lambda: op.matrix, self.complex_dtype)[None]
        raise TypeError(f"no matrix for {type(op).__name__}")

    def _block_matrix(self, kernel: BlockKernel, angles, u1q_matrices=None) -> torch.Tensor:
        """(b, d, d) matrix of a fused block, local bit j = kernel.local_wires[j];
        ``u1q_matrices``: its one-wire gates' matrices when already built."""
        local = {w: j for j, w in enumerate(kernel.local_wires)}
        m = len(local)
        # fuse runs of one-wire gates first: a layer of rotations becomes a Kronecker product
        pending: dict[int, torch.Tensor] = {}
        matrix = None

        def flush(wires):
            nonlocal matrix
            for wire in wires:
                if wire in pending:
                    matrix = _apply_local(matrix, pending.pop(wire), (local[wire],), m, self)

        u1q_ops = [op for op in kernel.ops if isinstance(op, U1Q)]
        if u1q_matrices is None and u1q_ops:
            u1q_matrices = self._u1q(u1q_ops, angles, ("block", id(kernel)))
        if len(u1q_ops) == len(kernel.ops):  # a layer of one-wire gates: a Kronecker product
            runs = {w: [] for w in kernel.local_wires}
            for k, op in enumerate(u1q_ops):
                runs[op.wires[0]].append(k)
            wires = [w for w in reversed(kernel.local_wires) if runs[w]]  # MSB first
            products = _run_products(u1q_matrices, [runs[w] for w in wires], self)
            identity = torch.eye(2, dtype=self.complex_dtype, device=self.device)[None]
            result = None
            for w in reversed(kernel.local_wires):
                gate = products[:, wires.index(w)] if runs[w] else identity
                result = gate if result is None else _kron(result, gate)
            return result
        position = 0
        for op in kernel.ops:
            if isinstance(op, U1Q):
                gate = u1q_matrices[:, position]
                position += 1
                wire = op.wires[0]
                pending[wire] = gate if wire not in pending else gate @ pending[wire]
            else:
                flush(op.wires)
                gate = self._op_matrix(op, angles)
                matrix = _apply_local(matrix, gate, tuple(local[w] for w in op.wires), m, self)
        if matrix is None:  # only one-wire gates: Kronecker product, wire order MSB first
            result = None
            for j in range(m - 1, -1, -1):
                gate = pending.get(kernel.local_wires[j])
                if gate is None:
                    gate = torch.eye(2, dtype=self.complex_dtype, device=self.device)[None]
                result = gate if result is None else _kron(result, gate)
            return result
        flush(list(pending))
        return matrix

    # -- runs -----------------------------------------------------------------------------

    def _run(self, mode: str, inputs):
        """``(result, plan, readout)``: the final internal state (2**n_wires, batch), except
        in "expval" mode with a probability readout, where ``result`` is already the
        expectation values (batch, n_obs)."""
        self._sync_grad_mode()
        program = self.program
        if inputs is None and program.input_index:
            raise UnboundParameterError(
                f"the program has {len(program.input_index)} inputs besides the bound weights; "
                f"pass inputs of shape (batch, {len(program.input_index)})"
            )
        if inputs is not None:
            inputs = _as_values(inputs, len(program.input_index), "inputs")
            inputs = inputs.to(device=self.device, dtype=self.real_dtype)
            if self.weights.shape[0] not in (1, inputs.shape[0]):
                raise UnboundParameterError(
                    f"weights have batch {self.weights.shape[0]} but inputs have batch "
                    f"{inputs.shape[0]}; expected equal batches or unbatched weights"
                )
        batch = max(self.weights.shape[0], inputs.shape[0] if inputs is not None else 1)
        n_wires = program.n_qubits * (2 if program.density or mode == "density" else 1)
        _check_memory(batch, n_wires, self.complex_dtype, self.device)  # before any 2**n work
        fast = self._prepared.get(mode)
        if fast is None and mode == "expval" and inputs is not None:
            fast = self._split_run()
            if fast is not None:
                self._prepared[mode] = fast
        if fast is not None and inputs is not None:  # everything but the inputs is ready
            result = fast[0](inputs)
            return (result if result.shape[0] == batch else result.expand(batch, -1)), *fast[1]
        plan, readout = program.plan(mode)
        coefficients = None
        if readout is not None and readout.real:
            coefficients = self._constant(
                "readout_real", lambda: readout.coefficients.T, self.real_dtype
            )
        state, start = self._head(mode, plan)
        _steps, blocks = self._chain_steps(mode, plan, start)
        angles = self._angles(inputs) if any(kernel.dynamic for kernel in blocks) else None
        matrices = [self._kernel_matrix(kernel, angles, plan) for kernel in blocks]
        chain = self._chain_plan(mode, plan, start, matrices, state is None, coefficients)
        if state is None and self._rotation_prefix(mode, plan) is not None:
            # an angle encoding: its product state and the chain run as one function
            prefix = self._rotation_prefix(mode, plan, chain.start_order)
            groups = self._constant_groups(plan.n_wires)

            def run(inputs):
                return encoded_chain(chain, groups, inputs, *prefix, matrices)

            result = run(inputs)
            if coefficients is not None and angles is None:  # no input-dependent block
                self._prepared[mode] = (run, (plan, readout))
        else:
            if state is None:  # a product state, built in the order the chain wants
                angles = self._angles(inputs) if angles is None else angles
                state = self._prefix_state(mode, plan, angles, chain.start_order)
            result = run_chain(chain, state, matrices)
        if coefficients is not None:
            return (result if result.shape[0] == batch else result.expand(batch, -1)), plan, readout
        if result.shape[1] != batch:  # nothing depended on the inputs
            result = result.expand(-1, batch)
        return result, plan, readout

    def _chain_steps(self, mode, plan: Schedule, start: int):
        """``(steps, block kernels)`` of ``plan.kernels[start:]`` as chain steps, built once
        per program, device and dtype."""

        def build():
            steps, blocks = [], []
            for kernel in plan.kernels[start:]:
                if isinstance(kernel, GatherKernel):
                    source = torch.as_tensor(kernel.source, device=self.device)
                    phase = None
                    if kernel.phase is not None:
                        phase = torch.as_tensor(kernel.phase[:, None], device=self.device)
                        phase = phase.to(self.complex_dtype)
                    steps.append(ChainStep(kernel.permute, source, phase))
                else:
                    steps.append(ChainStep(kernel.permute, start=kernel.start, matrix=len(blocks)))
                    blocks.append(kernel)
            return steps, blocks

        key = ("chain", mode, start, self.device, self.complex_dtype)
        cache = self.program._tensor_cache
        if key not in cache:
            cache[key] = build()
        return cache[key]

    def _chain_plan(self, mode, plan: Schedule, start, matrices, free_start, coefficients):
        """The ``ChainPlan`` of the chain from kernel ``start``, for these matrices' shapes
        (which are per-sample), made once per program, device and dtype."""
        shapes = tuple((m.shape[-1], m.shape[0] > 1) for m in matrices)
        key = ("chain-plan", mode, start, shapes, free_start, coefficients is not None)
        key = (*key, self.device, self.complex_dtype)
        cache = self.program._tensor_cache
        if key not in cache:
            steps, _blocks = self._chain_steps(mode, plan, start)
            cache[key] = ChainPlan(steps, plan.n_wires, shapes, free_start, coefficients)
        return cache[key]

    def _split_run(self):
        """``(inputs -> expectation values, (plan, readout))`` of the "split" plan run split
        across a cut (``_split``), its side operators built for this bind; None when the
        circuit has no such form (inputs past the encoding, batched weights, noise, complex
        readout) or its cost model keeps the state whole."""
        program = self.program
        if program.density or self.weights.shape[0] != 1:
            return None
        key = ("split-plan", self.device, self.complex_dtype)
        cache = program._tensor_cache
        if key not in cache:
            cache[key] = self._build_split_plan()
        split = cache[key]
        if split is None:
            return None
        plan, readout = program.plan("split")
        _steps, blocks = self._chain_steps("split", plan, 0)
        matrices = [self._kernel_matrix(kernel, None, plan) for kernel in blocks]
        prefix = self._rotation_prefix("split", plan, split.start_order)
        arguments = (*split.encoding(*prefix), *split.operators(matrices))

        def run(inputs):
            return split_chain(split, inputs, *arguments)

        return run, (plan, readout)

    def _build_split_plan(self):
        program = self.program
        # the expval plan has the same prefix, readout and input-dependent gates: ask it
        # first, so circuits without the shape never build a second schedule
        for mode in ("expval", "split"):
            plan, readout = program.plan(mode)
            if not readout.real or program.prefix_structure(mode).rotation is None:
                return None
            prefix_ops = [op for ops in plan.prefix.values() for op in ops]
            if not any(map(program._is_dynamic, prefix_ops)):
                return None  # no encoding: the input-free head is computed once per bind
            if any(isinstance(k, BlockKernel) and k.dynamic for k in plan.kernels):
                return None
        steps, blocks = self._chain_steps("split", plan, 0)
        coefficients = self._constant(
            "readout_real_split", lambda: readout.coefficients.T, self.real_dtype
        )
        shapes = tuple((2 ** len(kernel.local_wires), False) for kernel in blocks)
        return SplitPlan.choose(
            steps, plan.n_wires, shapes, coefficients, self.device, self.complex_dtype
        )

    def _head(self, mode, plan):
        """(state, next kernel) after the leading input-free part, computed once per bind;
        (None, 0) when the prefix itself depends on inputs."""
        if mode not in self._heads:
            prefix_ops = [op for ops in plan.prefix.values() for op in ops]
            if any(self.program._is_dynamic(op) for op in prefix_ops):
                self._heads[mode] = (None, 0)
            else:
                state = self._prefix_state(mode, plan, self.static_angles)
                start = 0
                for kernel in plan.kernels:
                    if isinstance(kernel, BlockKernel) and kernel.dynamic:
                        break
                    state = self._apply_kernel(kernel, state, self.static_angles, plan)
                    start += 1
                self._heads[mode] = (state, start)
        return self._heads[mode]

    def _prefix_plan(self, mode, plan: Schedule):
        """Per wire, its prefix gates as factors: weight-only runs pre-multiplied (once per
        bind), input-dependent gates left for each run. Returns (wires, positions, dynamic
        ops) where positions[j] = (kind, data) for every wire's j-th factor."""
        if mode in self._prefix_factors:
            return self._prefix_factors[mode]
        structure = self.program.prefix_structure(mode)
        products = self._gate_table(plan)[1]  # the prefix runs, then the identity
        wires, segments = structure.wires, structure.segments
        depth = max((len(f) for f in segments.values()), default=0)
        positions = []
        for j in range(depth):
            entries = [
                segments[w][j] if j < len(segments[w]) else ("static", len(structure.runs))
                for w in wires
            ]
            if all(kind == "static" for kind, _ in entries):
                index = torch.as_tensor([k for _, k in entries], device=self.device)
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
        result = (wires, positions, structure.dynamic_ops)
        self._prefix_factors[mode] = result
        return result

    def _rotation_prefix(self, mode, plan: Schedule, start_order=None):
        """The prefix as ``cos(theta_w / 2) p_w + sin(theta_w / 2) q_w`` per wire, when every
        wire's prefix holds at most one input-dependent gate and only that gate's theta depends
        on the inputs (angle encodings: RY(x), RX(x), R(x, phi), ...). The static gates around
        it and its static phases are folded into the 2-vectors ``p_w`` and ``q_w`` once per
        bind, so a run costs a matrix product for the angles, a cosine, a sine and the
        Kronecker product. Returns None when the prefix has another shape; else, given
        ``start_order`` (canonical axes, MSB first), ``(coefficients (n_inputs, n), half
        (b_w, n), p, q (n, 2, 1 or b_w))`` with the wires in that order."""
        rotation = self.program.prefix_structure(mode).rotation
        if rotation is None or start_order is None:
            return rotation
        key = ("rotation", mode, start_order)
        if key not in self._prefix_factors:
            self._prefix_factors[key] = self._build_rotation_prefix(mode, plan, start_order)
        return self._prefix_factors[key]

    def _build_rotation_prefix(self, mode, plan: Schedule, start_order):
        # U(theta) = cos(theta/2) P + sin(theta/2) Q with P = U(0), Q = U(pi): both from one
        # batch of gate matrices whose theta rows point at two constant columns (0 and pi)
        rotation = self.program.prefix_structure(mode).rotation
        weight_batch = self.static_angles.shape[0]
        gates, products = self._gate_table(plan)
        offset = self.program.gate_layout(plan).n_static
        before, after, gate, static = (
            self._constant(
                ("rotation-index", mode, k),
                lambda k=k: rotation.index[k] + (offset if k == 2 else 0),
                torch.int64,
            )
            for k in range(4)
        )
        start = products[:, before][..., :, :1]  # (b_w, 2 n_dynamic, 2, 1): before, on |0>
        vectors = (products[:, after] @ (gates[:, gate] @ start))[..., 0]  # p's, then q's
        # all wires: a dynamic wire's p and q, a static wire's vector as p (q = 0, theta = 0),
        # |0> as p for a wire without gates; and a zero vector
        ground = self._constant(
            "ground", lambda: np.array([[[1.0, 0.0], [0.0, 0.0]]]), self.complex_dtype
        ).expand(weight_batch, 2, 2)
        table = torch.cat((vectors, products[:, static][..., :, 0], ground), dim=1)
        pick = self._constant(
            ("rotation-order", mode, start_order),
            lambda: np.concatenate(
                [rotation.p_rows[list(start_order)], rotation.q_rows[list(start_order)]]
            ),
            torch.int64,
        )
        table = table[:, pick]  # (b_w, 2 n, 2): p then q of every wire, in start order
        n = len(start_order)
        p, q = table[:, :n], table[:, n:]
        thetas = self.static_angles[:, rotation.theta_rows]
        if rotation.constant_half:  # no weight in the encoding angles: no gradient path
            thetas = thetas.detach()
        half_index = self._constant(
            ("rotation-half", mode, start_order),
            lambda: rotation.half_rows[list(start_order)],
            torch.int64,
        )
        half = torch.cat((thetas / 2, thetas.new_zeros(weight_batch, 1)), dim=1)[:, half_index]
        coefficients = self._constant(
            ("rotation-coefficients", mode, start_order),
            lambda: rotation.coefficients[:, list(start_order)],
            self.real_dtype,
        )
        if weight_batch == 1:  # (n_wires, 2, 1): broadcast over the batch
            return coefficients, half, p[0].unsqueeze(-1), q[0].unsqueeze(-1)
        return coefficients, half, p.permute(1, 2, 0), q.permute(1, 2, 0)

    def _prefix_state(self, mode, plan: Schedule, angles, start_order=None) -> torch.Tensor:
        """Product state of the prefix, (2**n_wires, b): one 2-vector per wire, multiplied out,
        the axes in ``start_order`` (canonical axes, MSB first; default canonical)."""
        wires, positions, dynamic_ops = self._prefix_plan(mode, plan)
        column = None
        if wires:
            dynamic = (
                self._u1q(dynamic_ops, angles, ("prefix-dynamic", mode)) if dynamic_ops else None
            )
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
        zero = self._constant("zero", lambda: np.array([[[1.0], [0.0]]]), self.complex_dtype)
        if not wires:
            column = zero[:0]
        batch = column.shape[2] if wires else 1
        # one (2, b) vector per wire in the initial axis order; wires without gates stay |0>
        row_of = {w: k for k, w in enumerate(wires)}
        axes = start_order or range(len(plan.initial_order))
        order_index = self._constant(
            ("prefix-order", mode, tuple(axes)),
            lambda: np.array([row_of.get(plan.initial_order[a], len(wires)) for a in axes]),
            torch.int64,
        )
        vectors = torch.cat([column, zero.expand(1, 2, batch)]).index_select(0, order_index)
        return _product_state(vectors, self)

    def _apply_kernel(self, kernel, state, angles, plan: Schedule):
        n_wires = plan.n_wires
        if kernel.permute is not None:
            state = permute_axes(state, kernel.permute, n_wires)
        if isinstance(kernel, GatherKernel):
            source = self._constant(("gather", id(kernel)), lambda: kernel.source, torch.int64)
            state = state.index_select(0, source)
            if kernel.phase is not None:
                phase = self._constant(
                    ("phase", id(kernel)), lambda: kernel.phase[:, None], self.complex_dtype
                )
                state = state * phase
            return state
        return apply_block(self._kernel_matrix(kernel, angles, plan), state, kernel.start)

    def _kernel_matrix(self, kernel: BlockKernel, angles, plan: Schedule):
        if kernel.dynamic:
            return self._block_matrix(kernel, angles)
        key = id(kernel)
        if key not in self._static_blocks:
            built = ("kronecker", id(plan))
            if built not in self._prefix_factors:  # all layers of one-wire gates at once
                self._prefix_factors[built] = True
                self._static_blocks.update(self._kronecker_blocks(plan))
            if key not in self._static_blocks:
                matrices, slices = self._static_u1q(plan)
                start, stop = slices[key]
                own = matrices[:, start:stop] if stop > start else None
                self._static_blocks[key] = self._block_matrix(kernel, self.static_angles, own)
        return self._static_blocks[key]

    def _kronecker_blocks(self, plan: Schedule) -> dict[int, torch.Tensor]:
        """The matrices of every static block made of one-wire gates only (a layer of
        rotations: a Kronecker product), all of one size built together; by ``id(kernel)``."""
        layout = self.program.kronecker_layout(plan)
        if not layout:
            return {}
        _matrices, products = self._gate_table(plan)
        offset = self.program.gate_layout(plan).kron_offset
        blocks = {}
        for kernels, index in layout.groups:
            index = self._constant(("kron", id(kernels)), lambda i=index: i + offset, torch.int64)
            factors = products[:, index].unbind(2)  # each (b_w, n_blocks, 2, 2), MSB first
            result = factors[0]
            for factor in factors[1:]:
                result = _kron(result, factor)
            blocks.update(zip(map(id, kernels), result.unbind(1), strict=True))
        return blocks

    def _gate_table(self, plan: Schedule):
        """``(matrices (b_w, n_gates, 2, 2), products (b_w, n_runs, 2, 2))`` of
        ``Program.gate_layout(plan)``: one batch of gate matrices and one of run products per
        bind."""
        key = ("gate-table", id(plan))
        if key not in self._prefix_factors:
            layout = self.program.gate_layout(plan)
            matrices = products = None
            if layout.ops:
                constants = self._constant(
                    "zero-pi", lambda: np.array([[0.0, math.pi]]), self.real_dtype
                )
                weight_batch = self.static_angles.shape[0]
                angles = torch.cat((self.static_angles, constants.expand(weight_batch, 2)), 1)
                matrices = self._u1q(layout.ops, angles, key, layout.rows)
            products = _run_products(matrices, layout.runs, self, self.static_angles.shape[0])
            self._prefix_factors[key] = (matrices, products)
        return self._prefix_factors[key]

    def _static_u1q(self, plan: Schedule):
        """``(matrices (b_w, n, 2, 2), slices)``: the input-free one-wire gates of ``plan``
        (``Program.static_u1q_ops``) from the bind's gate table."""
        matrices, _products = self._gate_table(plan)
        return matrices, self.program.static_u1q_ops(plan)[1]

    # -- outputs --------------------------------------------------------------------------

    def expval(self, inputs=None) -> torch.Tensor:
        """(batch, n_obs) real expectation values. ``inputs``: (batch, n_inputs)."""
        state, _plan, readout = self._run("expval", inputs)
        if readout.real:
            return state  # the chain already read out the probabilities
        index = self._constant("readout_index", lambda: readout.index, torch.int64)
        coefficients = self._constant(
            "readout_complex", lambda: readout.coefficients.T, self.complex_dtype
        )
        if self.program.density:
            return (coefficients @ state.index_select(0, index)).real.T
        n_groups = len(readout.index) // state.shape[0]
        products = state.conj().repeat(n_groups, 1) * state.index_select(0, index)
        return (coefficients @ products).real.T

    def statevector(self, inputs=None) -> torch.Tensor:
        """(batch, 2**n) complex final states (index bit k = qubit k)."""
        if self.program.density:
            raise ValueError(
                "the circuit has resets or noise, so its state is mixed; use density_matrix"
            )
        state, plan, _ = self._run("statevector", inputs)
        state = _to_standard_order(state, plan.order, plan.n_wires)
        return state * self._global_phase(inputs)

    def unitary(self, inputs=None) -> torch.Tensor:
        """(2**n, 2**n) complex unitary of the circuit for unbatched weights and inputs."""
        self._sync_grad_mode()
        if inputs is not None:
            inputs = _as_values(inputs, len(self.program.input_index), "inputs")
        batches = {self.weights.shape[0], 1 if inputs is None else inputs.shape[0]}
        if batches != {1}:
            raise UnboundParameterError(
                "unitary() takes one set of parameter values, not a batch; got batch sizes "
                f"{sorted(batches)}"
            )
        n = self.program.n_qubits
        _check_memory(2**n, n, self.complex_dtype, self.device)  # 2**n columns of 2**n
        plan, _ = self.program.plan("unitary")
        angles = self._angles(
            None if inputs is None else inputs.to(device=self.device, dtype=self.real_dtype)
        )
        dim = 2**self.program.n_qubits
        state = torch.eye(dim, dtype=self.complex_dtype, device=self.device)  # columns: inputs
        _steps, blocks = self._chain_steps("unitary", plan, 0)
        matrices = [self._kernel_matrix(kernel, angles, plan) for kernel in blocks]
        chain = self._chain_plan("unitary", plan, 0, matrices, False, None)
        state = run_chain(chain, state, matrices)
        matrix = _to_standard_order(state, plan.order, plan.n_wires).T  # rows: outputs
        return matrix * self._global_phase(inputs)[0]

    def density_matrix(self, inputs=None) -> torch.Tensor:
        """(batch, 2**n, 2**n) complex final density matrices."""
        state, plan, _ = self._run("density", inputs)
        state = _to_standard_order(state, plan.order, plan.n_wires)
        dim = 2**self.program.n_qubits
        return state.reshape(-1, dim, dim)

    def _global_phase(self, inputs):
        rows = self.program._lowered.global_phase_rows
        if inputs is not None:
            inputs = _as_values(inputs, len(self.program.input_index), "inputs")
            inputs = inputs.to(device=self.device, dtype=self.real_dtype)
        phase = self._angles(inputs)[:, rows].sum(-1, keepdim=True)
        return torch.polar(torch.ones_like(phase), phase)


def _to_standard_order(state, order, n_wires):
    """Internal (2**n_wires, batch) in axis ``order`` -> (batch, 2**n_wires), Qiskit order."""
    batch = state.shape[1]
    standard = tuple(range(n_wires - 1, -1, -1))
    axes = [order.index(w) for w in standard]
    tensor = state.view(*([2] * n_wires), batch).permute(n_wires, *axes)
    return tensor.reshape(batch, -1)


def _product_state(vectors: torch.Tensor, bound: BoundProgram) -> torch.Tensor:
    """Kronecker product of ``vectors`` (n_wires, 2, b), first = most significant, as
    (2**n_wires, b)."""
    groups = bound._constant_groups(vectors.shape[0])
    return product_state(vectors, groups)


def _run_products(matrices, runs, bound: BoundProgram, batch=None) -> torch.Tensor:
    """``matrices (b, n, 2, 2)`` (or None: no gates), ``runs`` lists of indices (in circuit
    order) -> each run's product ``(b, len(runs), 2, 2)``, later gates on the left; all runs
    at once, the shorter ones (and empty runs) padded with the identity."""
    depth = max(1, max(len(run) for run in runs))
    identity = torch.eye(2, dtype=bound.complex_dtype, device=bound.device)
    batch = matrices.shape[0] if matrices is not None else batch
    table = identity.expand(batch, 1, 2, 2)
    if matrices is not None:
        table = torch.cat((matrices, table), dim=1)
    pad = table.shape[1] - 1
    index = bound._constant(
        ("run-index", pad, tuple(map(tuple, runs))),
        lambda: np.array([run + [pad] * (depth - len(run)) for run in runs]),
        torch.int64,
    )
    gathered = table[:, index].unbind(2)  # each (b, n_runs, 2, 2)
    product = gathered[0]
    for factor in gathered[1:]:
        product = factor @ product
    return product


def _kron(a, b):
    """Batched Kronecker product of (..., p, p) and (..., q, q)."""
    p, q = a.shape[-1], b.shape[-1]
    product = a[..., :, None, :, None] * b[..., None, :, None, :]
    return product.reshape(*product.shape[:-4], p * q, p * q)


def _apply_local(matrix, gate, positions, m, bound: BoundProgram):
    """gate (b, 2**g, 2**g) on local bits ``positions`` of matrix (b, 2**m, 2**m) (rows)."""
    d = 2**m
    if matrix is None:
        matrix = torch.eye(d, dtype=bound.complex_dtype, device=bound.device)[None]
    batch = max(matrix.shape[0], gate.shape[0])
    g = len(positions)
    # row index of the block as m binary axes, MSB (local bit m-1) first
    axes = [m - 1 - p for p in reversed(positions)]  # axes of local bits g-1..0
    others = [a for a in range(m) if a not in axes]
    tensor = matrix.reshape(matrix.shape[0], *([2] * m), d)
    permuted = tensor.permute(0, *(a + 1 for a in axes), *(a + 1 for a in others), m + 1)
    flat = permuted.reshape(matrix.shape[0], 2**g, -1)
    result = (gate @ flat).reshape(batch, *([2] * m), d)
    inverse = np.argsort([*axes, *others])
    return result.permute(0, *(int(a) + 1 for a in inverse), m + 1).reshape(batch, d, d)
