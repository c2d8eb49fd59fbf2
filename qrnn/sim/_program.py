"""Programs: a circuit compiled once for repeated batched runs.

``Program`` holds what was derived from the circuit once: its lowering, the angle map
(``_angles``) and, per mode, a ``CompiledPlan`` (``_plan``: schedule, readout tables and the
layouts of its gates). ``Program.bind(weights)`` returns a ``BoundProgram`` (``_bound``) that
computes everything depending only on the weights (gate matrices of weight-only blocks, the
leading part of the circuit that has no inputs) once, so that its ``expval(inputs)`` runs only
the input-dependent work. Every kernel is batched; weight-only matrices have batch size 1 and
broadcast. An angle encoding followed by weight-only gates runs split across a cut of the
wires when that is cheaper (``_split``): the bind then builds the two sides' operators, and a
run only the encoding.
"""

from __future__ import annotations

from functools import cached_property

import torch
from qiskit.circuit import QuantumCircuit

from qrnn.sim._angles import AngleMap
from qrnn.sim._bound import BoundProgram
from qrnn.sim._cones import ConePlan, cone_plan
from qrnn.sim._errors import UnboundParameterError
from qrnn.sim._footprint import check_memory, compile_bytes, program_bytes
from qrnn.sim._lowering import Channel, lower, virtualize
from qrnn.sim._noise import apply_readout
from qrnn.sim._noisy import NoisyBound, NoisyPlan, noisy_program_bytes
from qrnn.sim._observables import Terms, parse_observables
from qrnn.sim._plan import CompiledPlan, readout_tables
from qrnn.sim._schedule import BlockKernel, GatherKernel, fold_suffix, schedule
from qrnn.sim._values import check_values

DEFAULT_MAX_FUSED = 5


class Program:
    """A circuit compiled for repeated batched runs.

    Args:
        circuit: a ``QuantumCircuit`` on n qubits, possibly with ``Parameter``s.
        observables: Pauli labels or ``SparsePauliOp``s (n characters, little-endian), or None
            when only states are wanted.
        noise_model: a ``qiskit_aer.noise.NoiseModel``; its quantum errors (and any reset)
            run on the noisy engine (``_noisy``: density matrices in the Pauli basis; ``bind``
            then returns a ``NoisyBound``), its readout errors rewrite the observables.
        weight_params: parameters given once per forward through ``bind`` (trainable weights).
        input_params: the per-sample inputs, in the column order ``BoundProgram`` takes them
            (default: every other parameter, in ``circuit.parameters`` order).
        max_fused_qubits: largest dense block the fuser builds.
        stops: instruction indices (non-decreasing, 0 to ``len(circuit.data)``) at which
            ``expval_at_stops`` reads the observables: in the state after
            ``circuit.data[:stop]``, as one pass of the states through the whole circuit.
            With stops the circuit runs on the noisy (density-matrix) engine.
    """

    def __init__(
        self,
        circuit: QuantumCircuit,
        observables=None,
        *,
        noise_model=None,
        weight_params=(),
        input_params=None,
        max_fused_qubits: int = DEFAULT_MAX_FUSED,
        stops=(),
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
        if input_params is not None:
            given = [index.get(p) for p in input_params]
            if sorted(i for i in given if i is not None) != self.input_index or None in given:
                raise UnboundParameterError(
                    "input_params must list every parameter that is not a weight, once; got "
                    f"{[str(p) for p in input_params]}, expected an order of "
                    f"{[str(self.parameters[i]) for i in self.input_index]}"
                )
            self.input_index = given
        if isinstance(max_fused_qubits, bool) or not isinstance(max_fused_qubits, int):
            raise TypeError(f"max_fused_qubits must be an int >= 1, got {max_fused_qubits!r}")
        if max_fused_qubits < 1:
            raise ValueError(f"max_fused_qubits must be >= 1, got {max_fused_qubits}")
        self.max_fused = max_fused_qubits
        self.observables = (
            None if observables is None else parse_observables(observables, self.n_qubits)
        )
        self.stops = _check_stops(stops, len(circuit.data))
        self._lowered = lower(circuit, noise_model)
        self.density = bool(self.stops) or any(isinstance(op, Channel) for op in self._lowered.ops)
        # before any 2**n table: the first plan's compile and one sample's run must fit
        n_terms, density = self._n_terms, self.density
        check_memory(
            self._describe(density),
            (lambda n: noisy_program_bytes(n))
            if density
            else (lambda n: program_bytes(n, n_terms, density=density)),
            self.n_qubits,
        )
        self.angles = AngleMap(self._lowered.table, self.input_index, self.weight_index)
        self._noisy = None
        if density:  # mixed states run on the Pauli-basis engine (``_noisy``)
            read = None
            if self.observables is not None:
                read = apply_readout(self.observables, self._lowered.readout)
            support = None if read is None else _support(read)
            self._noisy = NoisyPlan(self._lowered, self.angles, stops=self.stops, support=support)
            if read is not None:
                self._noisy.set_observables(read)
        self.global_phase_rows = list(self._lowered.global_phase_rows)  # angle rows, summed
        self._plans: dict[str, CompiledPlan] = {}

    # -- public runs ------------------------------------------------------------------------

    @property
    def num_parameters(self) -> int:
        return len(self.parameters)

    @property
    def _n_terms(self) -> int:
        return sum(len(o) for o in self.observables) if self.observables else 0

    def _describe(self, density: bool) -> str:
        """The simulation in words, for memory errors."""
        n = self.n_qubits
        if density:
            return f"simulating this {n}-qubit circuit as a density matrix (2**{2 * n} entries)"
        return f"simulating this {n}-qubit circuit (2**{n} amplitudes)"

    def bind(self, weights: torch.Tensor) -> BoundProgram | NoisyBound:
        """Hoist weight-only work. ``weights``: (n_weight,) or (batch, n_weight)."""
        weights = check_values(weights, len(self.weight_index), "weights")
        if self._noisy is not None:
            return NoisyBound(self._noisy, weights, self.angles)
        return BoundProgram(self, weights)

    def expval(self, values) -> torch.Tensor:
        """Expectation values, (batch, n_obs) real. ``values``: (batch, n_params) or (n_params,)."""
        return self._split(values).expval(self._inputs(values))

    def expval_at_stops(self, values, final_qubits=None):
        """Expectation values at the ``stops``, (batch, n_stops, n_obs) real: each in the state
        after the instructions before its stop. ``values``: (batch, n_params) or (n_params,).
        With ``final_qubits``: the pair of that and the final state reduced to those qubits,
        ``(batch, 2**k, 2**k)`` complex (``NoisyBound.expval_at_stops``)."""
        return self._split(values).expval_at_stops(self._inputs(values), final_qubits)

    def statevector(self, values=None) -> torch.Tensor:
        """Final states, (batch, 2**n) complex, index bit k = qubit k."""
        return self._split(values).statevector(self._inputs(values))

    def density_matrix(self, values=None) -> torch.Tensor:
        """Final density matrices, (batch, 2**n, 2**n) complex."""
        return self._split(values).density_matrix(self._inputs(values))

    def unitary(self, values=None) -> torch.Tensor:
        """The circuit's unitary, (2**n, 2**n) complex, for one set of ``values`` (n_params,)."""
        return self._split(values).unitary(self._inputs(values))

    def _split(self, values) -> BoundProgram | NoisyBound:
        values = self._values(values)
        if self._noisy is not None:
            return NoisyBound(self._noisy, values[:, self.weight_index], self.angles)
        return BoundProgram(self, values[:, self.weight_index])

    def _inputs(self, values) -> torch.Tensor:
        return self._values(values)[:, self.input_index]

    def _values(self, values) -> torch.Tensor:
        return check_values(values, len(self.parameters), "values", self.parameters)

    def _multiply_adds(self, batch: int, dtype=torch.float64) -> int:
        """Complex multiply-adds of one ``bind(...).expval`` forward on ``batch`` input samples
        as the engine runs it (the work that grows with the batch; a backward pass costs about
        twice as much): per dense block of ``d`` amplitudes a pass of ``d`` per amplitude, per
        phase stage one per amplitude, or for a split run ``chi (dL**2 + dR**2 + dL dR)`` per
        sample, and the readout (a bit-flip term: one per amplitude pair). The weight-only
        work of a bind is not counted. For a speed bound: this count at the machine's complex
        GEMM rate. When the observables run on their light cones (``cones``), their count."""
        if self._noisy is not None:  # real multiply-adds: a quarter of complex ones
            return self._noisy.multiply_adds(batch) // 4
        if self.cones is not None:
            return self.cones.multiply_adds(batch)
        return self._state_multiply_adds(batch, dtype)

    def _state_multiply_adds(self, batch: int, dtype=torch.float64) -> int:
        """``_multiply_adds`` of a run on the whole state (split across a cut or not)."""
        plan = self.plan("expval")
        n_obs = len(self.observables)
        split = None
        if not self.density and self.may_run_split and self.input_index:
            split = self.plan("split").tensors(torch.device("cpu"), dtype).split_plan
        if split is not None:
            left, right = split.dims
            return batch * (split.chi * (left * left + right * right + left * right)
                            + left * right * (1 + n_obs // 4))  # fmt: skip
        # the input-free head runs once per bind; everything after it per batch
        first_dynamic = next(
            (
                k
                for k, kernel in enumerate(plan.schedule.kernels)
                if not isinstance(kernel, GatherKernel) and kernel.dynamic
            ),
            len(plan.schedule.kernels),
        )
        start = 0 if plan.dynamic_prefix else first_dynamic
        size = 2**plan.n_wires
        per_sample = sum(
            size * (2 ** len(kernel.local_wires) if isinstance(kernel, BlockKernel) else 1)
            for kernel in plan.schedule.kernels[start:]
            if not isinstance(kernel, GatherKernel)
        )
        readout = size * (1 + n_obs // 4) + size // 2 * len(plan.readout.flips or ())
        return batch * (per_sample + readout)

    # -- plans ------------------------------------------------------------------------------

    def plan(self, mode: str) -> CompiledPlan:
        """The plan of ``mode``, compiled the first time it is asked for: "expval",
        "statevector", "density" or "unitary"; or "split": expval with every gate in a block
        of its own wires (one-wire gates fused per wire only), so that a split chain
        (``_split``) may cut between any wires that no gate joins."""
        if mode not in self._plans:
            density = self.density or mode == "density"
            n_terms = self._n_terms if mode in ("expval", "split") else 0
            check_memory(
                self._describe(density),
                lambda n: compile_bytes(n, n_terms, density),
                self.n_qubits,
            )
            self._plans[mode] = self._build_plan(mode)
        return self._plans[mode]

    def _build_plan(self, mode) -> CompiledPlan:
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
        scheduled = schedule(
            ops,
            n_wires,
            self.angles.is_dynamic,
            1 if mode == "split" else self.max_fused,
            product_prefix=mode != "unitary",
            initial_order=interleaved if density else None,
            table=lowered.table,
            # the split plan keeps every gate in a block of its own wires (a phase stage
            # would span any cut)
            basis=None if mode == "split" else lowered.basis,
            # a statevector's readout takes trailing basis changes as bit-flip terms (the
            # split plan keeps its probability readout)
            terms=terms if mode == "expval" and not density else None,
        )
        readout = None
        if terms is not None:
            readout = readout_tables(terms, scheduled.order, self.n_qubits, density)
        return CompiledPlan(mode, scheduled, readout, self.angles)

    @cached_property
    def cones(self) -> ConePlan | None:
        """The light-cone form of ``expval`` (``_cones``) when the circuit has it (an angle
        encoding, then input-free gates; no readout error) and it costs fewer multiply-adds
        than the whole state; else None."""
        if self.density or self._lowered.readout or not self.input_index:
            return None
        if self.observables is None:
            return None
        # the expval plan (built already) first: a circuit without the form never builds
        # the split plan
        for mode in ("expval", "split"):
            plan = self.plan(mode)
            if plan.prefix.encoding is None or any(
                not isinstance(k, GatherKernel) and k.dynamic for k in plan.schedule.kernels
            ):
                return None
        cones = cone_plan(self._lowered, self.observables, plan, self.max_fused)
        if cones is None or cones.multiply_adds(1) >= self._state_multiply_adds(1):
            return None
        return cones

    @cached_property
    def may_run_split(self) -> bool:
        """Whether ``expval`` may run split across a cut (``_split``): an angle encoding with
        a probability readout, followed by input-free gates only. (Whether a cut is cheaper
        is decided per device and dtype: ``PlanTensors.split_plan``.)"""
        # the expval plan has the same prefix, readout and input-dependent gates: ask it
        # first, so circuits without the shape never build a second schedule
        for mode in ("expval", "split"):
            plan = self.plan(mode)
            # (without an encoding the input-free head is made per bind; the expval plan's
            # readout may have bit-flip terms that the split plan keeps as gates)
            readout = plan.readout
            flips_here = mode == "expval" and bool(readout.flips)
            if plan.prefix.encoding is None or not (readout.real or flips_here):
                return False
            kernels = plan.schedule.kernels
            if any(not isinstance(k, GatherKernel) and k.dynamic for k in kernels):
                return False
        return True


def _check_stops(stops, n_instructions: int) -> tuple[int, ...]:
    """``stops`` as a tuple of non-decreasing instruction indices in ``0..n_instructions``."""
    stops = tuple(stops)
    valid = all(
        isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= n_instructions for s in stops
    )
    if not valid or list(stops) != sorted(stops):
        raise ValueError(
            f"stops must be non-decreasing instruction indices from 0 to {n_instructions}, "
            f"got {list(stops)}"
        )
    return stops


def _support(observables) -> set[int]:
    """The qubits on which some term of ``observables`` (``SparsePauliOp``s) acts."""
    return {
        q
        for observable in observables
        for z, x in zip(observable.paulis.z, observable.paulis.x, strict=True)
        for q in range(observable.num_qubits)
        if z[q] or x[q]
    }
