"""The noisy engine: density matrices as real Pauli-basis states, channels as fused PTM blocks.

A circuit with quantum errors or resets (``_lowering.lower`` puts each error after its
instruction, as Aer does) is compiled into

1. a **product prefix**: per qubit, the one-qubit gates and channels before the qubit's first
   multi-qubit block, applied to its 4-vector ``(1, 0, 0, 1)`` (angle encodings with their
   noise are here);
2. **blocks**: gates and channels fused greedily into Pauli-transfer matrices on at most
   ``max_qubits`` qubits (a k-qubit block is a real ``4**k x 4**k`` matrix; cost per entry
   of the state: a pass plus ``4**k`` multiply-adds, merged when one bigger block is
   cheaper), one-qubit blocks absorbed into the multi-qubit block that follows them.

Blocks whose operations read no inputs are built once per bind. A run applies the blocks to
the batch of states ``(batch, 4**n)`` as matrix products on the blocks' axes (the axis order
is tracked, so most blocks need no copy: ``_ptm_kernel``), in chunks of a few samples (a
chunk stays in the allocator's reused memory, and with gradients it is one checkpointed
segment, so memory does not grow with the number of blocks times the batch).

Expectation values are coefficients of the final state. When every input-dependent block
comes before a **cut**, the blocks after it run once per bind in the Heisenberg picture on
the observables (``R^T`` in reverse order: ``n_obs`` vectors instead of ``batch`` states)
and a run only meets them at the cut: one matrix product, or, when the state at the cut is a
product state, a contraction of the two halves of the register that never builds the state.
Which way runs is chosen by counting multiply-adds (``NoisyPlan.heisenberg_cost``).

With **stops** (instruction indices, e.g. a quantum-memory sequence's markers) each stretch
between stops is fused on its own and ``expval_at_stops`` reads the observables from the
states as they pass each stop: one pass for every readout of a sequence, where prefix
circuits would repeat each step once per later readout. Operations at the end of a stretch
that act outside the observables' qubits are deferred past the stop and the resets after it
(``_defer``), and a reset takes its qubit out of the held state (``grow``): a quantum-memory
step's last gates among hidden qubits then run on the hidden register alone. Without the final
state, the last stop's readout is taken like the cut's: the observables evolved back through
the weight-only blocks of the last stretch (once per bind) meet the states after its last
input-dependent block (``NoisyPlan.last_stop_backwards`` counts which way is cheaper).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint

from qrnn.sim._errors import UnboundParameterError
from qrnn.sim._footprint import check_memory
from qrnn.sim._lowering import Channel, Op
from qrnn.sim._pauli import (
    ZERO_STATE,
    BlockBuilder,
    kraus_ptm,
    observable_terms,
    pauli_index,
    to_density_matrix,
)
from qrnn.sim._ptm_kernel import contract_product, grow, light_cone, partial_trace, reorder
from qrnn.sim._values import check_values

DEFAULT_MAX_QUBITS = 3
_PASS = 8  # a pass over the state, in multiply-adds per entry (the cost model's unit)
# a chunk of samples' states, reused by the allocator; on a CPU small enough that the state
# and a product's output stay in a shared last-level cache (4 MiB: the default run's noisy
# evaluation, 10 qubits, runs 1.5x faster than with 16 MiB; a 10-qubit float32 state is 4 MiB)
_CHUNK_BYTES = 16 * 2**20
_CPU_CHUNK_BYTES = 4 * 2**20


@dataclass
class Block:
    qubits: list[int]  # local qubit j of the block's PTM
    ops: list[Op] = field(default_factory=list)
    dynamic: bool = False
    builder: BlockBuilder | None = None
    releases: bool = False  # a one-qubit block whose output does not depend on its input

    def cost(self) -> int:
        return _PASS + 4 ** len(self.qubits)


def _defer(before: list[Op], after: list[Op], support: set[int]):
    """Move the operations at the end of ``before`` that act outside the readout's
    ``support`` (and outside every later operation kept in ``before``) past the stop, into
    ``after``: after its resets that come before the moved operations' qubits are next used
    (with what those resets wait for), ahead of the rest. Exact: operations on disjoint qubits
    commute, and a channel outside the support does not change the readout. The run then
    applies them where the reset qubits are released (``grow``), on a smaller state (a
    quantum-memory step's last gates among hidden qubits: on the hidden register alone)."""
    kept, moved, blocked = [], [], set(support)
    for op in reversed(before):
        if blocked.intersection(op.wires):
            blocked.update(op.wires)
            kept.append(op)
        else:
            moved.append(op)
    if not moved:
        return before, after
    wires = {w for op in moved for w in op.wires}
    end = 0  # after[:end] acts on other qubits: the moved operations commute with it
    while end < len(after) and not wires.intersection(after[end].wires):
        end += 1
    # the resets in after[:end] and their ancestors there, in order: a down-set, so running
    # it first and the rest of after[:end] later keeps every qubit's order
    first, waited = [], set()
    for op in reversed(after[:end]):
        if waited.intersection(op.wires) or _forgets(op):
            waited.update(op.wires)
            first.append(op)
    first.reverse()
    rest = [op for op in after[:end] if not any(op is f for f in first)]
    return kept[::-1], [*first, *moved[::-1], *rest, *after[end:]]


def _forgets(op: Op) -> bool:
    """Whether ``op`` is a one-qubit channel whose output does not depend on its input (a
    reset)."""
    if len(op.wires) != 1 or not isinstance(op, Channel):
        return False
    ptm = kraus_ptm(op.kraus)
    return bool(np.all(np.abs(ptm[:, 1:]) < 1e-14))


def _releases(block: Block) -> bool:
    """Whether a one-qubit block starts with a channel that forgets its input (a reset):
    the state after it is a product with the block's qubit."""
    return len(block.qubits) == 1 and _forgets(block.ops[0])


def fuse(ops: list[Op], is_dynamic, max_qubits: int) -> list[Block]:
    """Greedy fusion in circuit order: an operation joins the last block on its qubits when
    the merged block is no dearer than two (and both read inputs or neither does); blocks
    that are the last on their qubits and lie within the operation's qubits are absorbed. A
    one-qubit block that starts with a reset stays one-qubit (``_releases``: the run takes
    its qubit out of the state there)."""
    blocks: list[Block | None] = []
    last: dict[int, int] = {}
    for op in ops:
        wires = set(op.wires)
        dynamic = is_dynamic(op)
        target = None
        earlier = [last[w] for w in wires if w in last]
        if earlier:
            i = max(earlier)
            block = blocks[i]
            union = set(block.qubits) | wires
            merged = _PASS + 4 ** len(union)
            if (
                block.dynamic == dynamic
                and len(union) <= max_qubits
                and merged <= block.cost() + _PASS + 4 ** len(wires)
                and (len(union) == 1 or not _releases(block))
            ):
                target = i
        if target is None:
            blocks.append(Block([], dynamic=dynamic))
            target = len(blocks) - 1
        block = blocks[target]
        moved = set(wires)
        for j in sorted({last[w] for w in wires if w in last} - {target}):
            other = blocks[j]
            if (
                other is not None
                and other.dynamic == dynamic
                and set(other.qubits) <= wires
                and all(last[q] == j for q in other.qubits)
                and not _releases(other)
            ):  # disjoint from the target and last on its qubits: it commutes up to here
                block.ops[:0] = other.ops
                block.qubits += [q for q in other.qubits if q not in block.qubits]
                moved |= set(other.qubits)
                blocks[j] = None
        block.ops.append(op)
        block.qubits += [w for w in op.wires if w not in block.qubits]
        block.dynamic = block.dynamic or dynamic
        for q in moved:  # (the block's other qubits may have later blocks)
            last[q] = target
    return [b for b in blocks if b is not None]


class NoisyPlan:
    """A circuit's noisy schedule: product prefix per qubit, blocks, the Heisenberg cut."""

    def __init__(
        self, lowered, angles, max_qubits: int = DEFAULT_MAX_QUBITS, stops=(), support=None
    ):
        self.n_qubits = n = lowered.n_qubits
        self.angles = angles
        # each stretch between stops is fused on its own, so that no block spans a readout
        ops = list(lowered.ops)
        bounds = [0, *(lowered.ends[s - 1] if s else 0 for s in stops), len(ops)]
        pieces = [ops[start:end] for start, end in itertools.pairwise(bounds)]
        support = set(range(n)) if support is None else set(support)
        for k in range(len(pieces) - 1):
            pieces[k], pieces[k + 1] = _defer(pieces[k], pieces[k + 1], support)
        stretches = [fuse(piece, angles.is_dynamic, max_qubits) for piece in pieces]
        for block in (b for stretch in stretches[1:] for b in stretch):
            block.releases = _releases(block)
        # the product prefix: per qubit its one-qubit blocks before any wider block (and
        # before the first stop)
        entangled: set[int] = set()
        self.prefix: dict[int, list[Block]] = {q: [] for q in range(n)}
        rest = []
        for block in stretches[0]:
            if len(block.qubits) == 1 and block.qubits[0] not in entangled:
                self.prefix[block.qubits[0]].append(block)
            else:
                entangled |= set(block.qubits)
                rest.append(block)
        self.marks = []  # per stop: the blocks before it
        for stretch in stretches[1:]:
            self.marks.append(len(rest))
            rest += stretch
        self.blocks = rest
        channels: dict = {}  # one PTM per distinct error
        for block in rest + [b for bs in self.prefix.values() for b in bs]:
            block.builder = BlockBuilder(block.ops, tuple(block.qubits), channels)
        self.prefix_dynamic = any(b.dynamic for bs in self.prefix.values() for b in bs)
        dynamic = [k for k, b in enumerate(rest) if b.dynamic]
        self.cut = dynamic[-1] + 1 if dynamic else 0  # blocks[cut:] read no inputs
        # blocks[last_cut:marks[-1]] read no inputs and lie after the stop before the last
        self.last_cut = None
        if self.marks:
            last = self.marks[-1]
            before = [k for k in dynamic if k < last]
            floor = self.marks[-2] if len(self.marks) > 1 else 0
            self.last_cut = max(floor, before[-1] + 1 if before else 0)
        self.terms = None
        self.n_obs = 0

    def set_observables(self, observables):
        """``SparsePauliOp``s with readout already rewritten."""
        self.terms = observable_terms(observables, self.n_qubits)
        self.n_obs = len(observables)

    def block_cost(self, blocks) -> int:
        """Multiply-adds of ``blocks`` on one state (4**n entries)."""
        return sum(b.cost() for b in blocks) * 4**self.n_qubits

    def schroedinger_cost(self, batch: int) -> int:
        return batch * self.block_cost(self.blocks)

    def heisenberg_cost(self, batch: int, hoisted: bool) -> int:
        """Multiply-adds of a run that meets the observables, evolved backwards through the
        blocks after the cut (done once per bind: 0 when already ``hoisted``), at the cut."""
        size = 4**self.n_qubits
        suffix = 0 if hoisted else self.n_obs * self.block_cost(self.blocks[self.cut :])
        return batch * self.block_cost(self.blocks[: self.cut]) + suffix + batch * self.n_obs * size

    def last_stop_backwards(self, batch: int, hoisted: bool) -> bool:
        """Whether the readout at the last stop is cheaper as the observables evolved back
        through ``blocks[last_cut:marks[-1]]`` (once per bind: free when ``hoisted``) and met
        at ``last_cut`` than as the states run through those blocks."""
        tail = self.block_cost(self.blocks[self.last_cut : self.marks[-1]])
        if not tail:
            return False
        backwards = (0 if hoisted else self.n_obs * tail) + batch * self.n_obs * 4**self.n_qubits
        return backwards < batch * tail

    def multiply_adds(self, batch: int) -> int:
        """Real multiply-adds of one expval forward on ``batch`` samples, as it runs."""
        if self.terms is None:
            return self.schroedinger_cost(batch)
        return min(self.schroedinger_cost(batch), self.heisenberg_cost(batch, False))


class NoisyBound:
    """A ``NoisyPlan`` with its weights bound (what ``Program.bind`` returns for a circuit
    with noise or resets): the weight-only blocks, and when chosen the observables evolved
    back to the cut, are made once (per autograd mode); runs take batches of inputs.

    Args:
        plan: the plan.
        weights: ``(b_w, n_weights)`` real, checked.
        angles: the program's ``AngleMap``.
    """

    def __init__(self, plan: NoisyPlan, weights: torch.Tensor, angles):
        self.plan = plan
        self.weights = weights
        self.dtype = weights.dtype
        self.device = weights.device
        self._angle_map = angles
        self._tensors = angles.tensors(self.device, self.dtype)
        self._grad_mode = None
        self._readouts: dict[tuple, tuple] = {}  # axis order -> readout index tables
        self._reordered: dict[tuple, torch.Tensor] = {}  # the last evolved observables reordered

    def _sync_grad_mode(self):
        """What was hoisted under ``torch.no_grad()`` has no graph: rebuild on a change."""
        grad_mode = torch.is_grad_enabled()
        if grad_mode == self._grad_mode:
            return
        self._grad_mode = grad_mode
        tensors = self._tensors
        if self.weights.shape[1]:
            self.static_angles = self.weights @ tensors.weight_coefficients + tensors.offsets
        else:
            self.static_angles = tensors.offsets.unsqueeze(0)
        self._static: dict[int, torch.Tensor] = {}
        self._evolved: dict[tuple, torch.Tensor] = {}  # (start, stop) -> observables at start
        self._reordered = {}

    def _inputs(self, inputs):
        """Checked ``inputs (batch, n_inputs)`` on the weights' device and dtype, or None."""
        self._sync_grad_mode()
        n_inputs = self._angle_map.n_inputs
        if inputs is None:
            if n_inputs:
                raise UnboundParameterError(
                    f"the program has {n_inputs} inputs besides the bound weights; pass "
                    f"inputs of shape (batch, {n_inputs})"
                )
            return None
        inputs = check_values(inputs, n_inputs, "inputs").to(device=self.device, dtype=self.dtype)
        if self.weights.shape[0] not in (1, inputs.shape[0]):
            raise UnboundParameterError(
                f"weights have batch {self.weights.shape[0]} but inputs have batch "
                f"{inputs.shape[0]}; expected equal batches or unbatched weights"
            )
        return inputs

    def statevector(self, inputs=None):
        raise ValueError(
            "the circuit has resets or noise, so its state is mixed; use density_matrix"
        )

    def unitary(self, inputs=None):
        raise ValueError("the circuit has resets or noise, so it has no unitary")

    # -- building blocks -------------------------------------------------------------------

    def _block(self, block: Block, angles) -> torch.Tensor:
        if block.dynamic:
            return block.builder.matrix(angles)
        key = id(block)
        if key not in self._static:
            self._static[key] = block.builder.matrix(self.static_angles)
        return self._static[key]

    def _angles(self, inputs):
        if inputs is None or inputs.shape[1] == 0:
            return self.static_angles
        return self.static_angles + inputs @ self._tensors.input_coefficients

    def _qubit_vectors(self, angles) -> list[torch.Tensor]:
        """Per qubit (n-1 first) its ``(b, 4)`` state after the product prefix."""
        zero = torch.tensor(ZERO_STATE, dtype=self.dtype, device=self.device)
        vectors = []
        for q in range(self.plan.n_qubits - 1, -1, -1):
            vector = zero[None]
            for block in self.plan.prefix[q]:
                vector = (self._block(block, angles) @ vector[..., None])[..., 0]
            vectors.append(vector)
        return vectors

    # -- runs ------------------------------------------------------------------------------

    def _check(self, batch: int, columns: int, grad: bool, density: bool = False) -> None:
        """Refuse a run whose states would not fit, before any is made: the batch's states
        (``4**n`` real each), ``columns`` evolved observables, a chunk's working copies; with
        gradients the graph's inputs and one chunk's states recomputed per block; and for
        ``density``, the complex matrices returned and the copies made on the way."""
        n = self.plan.n_qubits
        item = 4 if self.dtype == torch.float32 else 8
        chunk = self._chunk()
        blocks = len(self.plan.blocks)

        def need(b):
            states = (b + columns + 2 * min(b, chunk)) * 4**n * item
            if grad:
                states += (b + columns + blocks * min(b, chunk)) * 4**n * item
            if density:
                states += 3 * b * 4**n * 2 * item
            return states

        check_memory(
            f"a noisy run of {batch} samples on {n} qubits (density matrices of 4**{n} "
            "real Pauli coefficients each)" + (" with gradients" if grad else ""),
            need,
            batch,
            device=self.device,
            unit="samples",
        )

    def states(self, inputs, stop=None):
        """``(states (batch, 4**n), order)`` after ``blocks[:stop]``."""
        state, order, _ = self._run(inputs, stop)
        return state, order

    def _run(self, inputs, stop=None, marks=(), keep_state=True, meet=None):
        """``(state (batch, 4**n) after blocks[:stop] or None, its order, reads (batch,
        len(marks), n_obs) or None)``: the observables are read before ``blocks[mark]`` for
        each of ``marks`` (all <= stop), as the states pass; with ``meet`` (observables
        ``(n_obs, 4**n)`` in standard order, evolved back to ``stop``) one more read, of
        those at the end."""
        angles = self._angles(inputs)
        batch = angles.shape[0]
        vectors = self._qubit_vectors(angles)
        blocks = self.plan.blocks[:stop]
        matrices = [self._block(b, angles) for b in blocks]
        qubits = [b.qubits for b in blocks]
        releases = [b.releases for b in blocks]
        chunk = self._chunk()
        outputs = []
        final_order: list[int] = []
        for start in range(0, batch, chunk):
            rows = slice(start, start + chunk)
            pieces = [v if v.shape[0] == 1 else v[rows] for v in vectors]
            mats = [m if m.shape[0] == 1 else m[rows] for m in matrices]
            size = min(chunk, batch - start)

            def run(*tensors, size=size):
                k = len(vectors)
                met = tensors[-1] if meet is not None else None
                tensors = tensors[:-1] if meet is not None else tensors
                state, final_order[:], reads = grow(
                    list(tensors[:k]), tensors[k:], qubits, size, marks, self._read, releases
                )
                if met is not None:
                    reads.append(state @ self._in_order(met, final_order).T)
                return (state if keep_state else None), (torch.stack(reads, 1) if reads else None)

            extra = () if meet is None else (meet,)
            outputs.append(_checkpointed(run, (*pieces, *mats, *extra)))
        states, reads = ([o[j] for o in outputs] for j in (0, 1))
        return _cat(states), final_order, _cat(reads)

    def _in_order(self, observables, order) -> torch.Tensor:
        """``observables (k, 4**n)`` (standard order) in axis ``order``; kept per order when
        they record no graph (every chunk of a run ends in the same order)."""
        standard = list(range(self.plan.n_qubits - 1, -1, -1))
        if observables.requires_grad:
            return reorder(observables, standard, order)
        key = (id(observables), tuple(order))
        if key not in self._reordered:
            self._reordered = {key: reorder(observables, standard, order)}
        return self._reordered[key]

    def _read(self, state, order) -> torch.Tensor:
        """``(b, n_obs)`` expectation values of ``state (b, 4**n)`` in axis ``order``."""
        index, coefficients, columns = self._readout(order)
        values = state[:, index] * coefficients
        return values.new_zeros(state.shape[0], self.plan.n_obs).index_add(1, columns, values)

    def _chunk(self) -> int:
        item = 4 if self.dtype == torch.float32 else 8
        limit = _CPU_CHUNK_BYTES if self.device.type == "cpu" else _CHUNK_BYTES
        return max(1, limit // (item * 4**self.plan.n_qubits))

    def density_matrix(self, inputs=None) -> torch.Tensor:
        """(batch, 2**n, 2**n) complex final density matrices; ``inputs (batch, n_inputs)``."""
        inputs = self._inputs(inputs)
        self._check(self._batch(inputs), 0, _grad(self.static_angles, inputs), density=True)
        state, order = self.states(inputs)
        return to_density_matrix(state, order, self.plan.n_qubits)

    def _batch(self, inputs) -> int:
        return max(self.static_angles.shape[0], 0 if inputs is None else inputs.shape[0])

    def expval(self, inputs=None) -> torch.Tensor:
        """(batch, n_obs) real expectation values; ``inputs (batch, n_inputs)``."""
        inputs = self._inputs(inputs)
        plan = self.plan
        if plan.terms is None:
            raise ValueError("this program was compiled without observables")
        batch = self._batch(inputs)
        heisenberg = self.static_angles.shape[0] == 1 and plan.heisenberg_cost(
            batch, (plan.cut, len(plan.blocks)) in self._evolved
        ) < plan.schroedinger_cost(batch)
        grad = _grad(self.static_angles, inputs)
        self._check(batch, plan.n_obs if heisenberg else 0, grad)
        if not heisenberg:
            state, order = self.states(inputs)
            return self._read(state, order)
        observables = self._evolved_observables(plan.cut, len(plan.blocks))
        standard = list(range(plan.n_qubits - 1, -1, -1))
        if plan.cut == 0:  # a product state meets the observables
            return contract_product(self._qubit_vectors(self._angles(inputs)), observables, batch)
        state, state_order = self.states(inputs, plan.cut)
        return state @ reorder(observables, standard, state_order).T

    def expval_at_stops(self, inputs=None, final_qubits=None):
        """Expectation values at the program's stops (``sim.compile(..., stops=...)``), and
        with ``final_qubits`` the final state reduced to them, in one pass of the states.

        Args:
            inputs: ``(batch, n_inputs)``.
            final_qubits: qubits to keep of the state after the whole circuit (bit j of the
                result's indices is ``final_qubits[j]``), or None.

        Returns:
            ``(batch, n_stops, n_obs)`` real: the observables in the state after the
            instructions before each stop; with ``final_qubits`` a pair of that and the
            ``(batch, 2**k, 2**k)`` complex reduced final state. (Without it no state runs
            past the last stop's readout, which may be read backwards: module docstring.)
        """
        inputs = self._inputs(inputs)
        plan = self.plan
        if plan.terms is None:
            raise ValueError("this program was compiled without observables")
        if not plan.marks:
            raise ValueError("this program was compiled without stops")
        keep = final_qubits is not None
        grad = _grad(self.static_angles, inputs)
        batch = self._batch(inputs)
        window = (plan.last_cut, plan.marks[-1])
        backwards = (
            not keep
            and self.static_angles.shape[0] == 1
            and plan.last_stop_backwards(batch, window in self._evolved)
        )
        self._check(batch, plan.n_obs if backwards else 0, grad, density=keep)
        if backwards:  # the last readout: the observables evolved back to meet the states
            meet = self._evolved_observables(*window)
            return self._run(inputs, window[0], plan.marks[:-1], False, meet)[2]
        state, order, reads = self._run(inputs, None if keep else plan.marks[-1], plan.marks, keep)
        if not keep:
            return reads
        reduced, local = partial_trace(state, order, list(final_qubits))
        return reads, to_density_matrix(reduced, local, len(local))

    def _readout(self, order):
        key = tuple(order)
        if key not in self._readouts:
            self._readouts[key] = self._readout_tables(order)
        return self._readouts[key]

    def _readout_tables(self, order):
        index, coefficients, columns = [], [], []
        for digits, coefficient, column in self.plan.terms:
            index.append(pauli_index(digits, order))
            coefficients.append(coefficient)
            columns.append(column)
        return (
            torch.tensor(index, device=self.device),
            torch.tensor(coefficients, dtype=self.dtype, device=self.device),
            torch.tensor(columns, device=self.device),
        )

    def _evolved_observables(self, start: int, stop: int):
        """``(n_obs, 4**n)`` observables (standard order) evolved back through
        ``blocks[start:stop]`` (which read no inputs), made once per bind (per autograd
        mode). Each runs on its light cone: a block outside the qubits it acts on so far
        leaves it alone (the adjoint of a trace-preserving channel keeps the identity), so it
        is held on those qubits only until it covers them all."""
        if (start, stop) in self._evolved:
            return self._evolved[start, stop]
        plan = self.plan
        suffix = plan.blocks[start:stop][::-1]
        matrices = tuple(self._block(b, None).mT for b in suffix)  # the adjoint channels
        qubits = [b.qubits for b in suffix]
        columns = []
        for column in range(plan.n_obs):
            terms = [(d, c) for d, c, k in plan.terms if k == column]

            def run(*matrices, terms=terms):
                return light_cone(terms, matrices, qubits, plan.n_qubits, self.dtype, self.device)

            columns.append(_checkpointed(run, matrices))
        self._evolved[start, stop] = torch.cat(columns)
        return self._evolved[start, stop]


def _checkpointed(run, tensors):
    """``run(*tensors)``, as one checkpointed segment when it records a graph (its states
    are recomputed in the backward pass instead of kept)."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return checkpoint(run, *tensors, use_reentrant=False)
    return run(*tensors)


def _grad(static_angles, inputs) -> bool:
    return torch.is_grad_enabled() and (
        static_angles.requires_grad or (inputs is not None and inputs.requires_grad)
    )


def _cat(tensors):
    if tensors[0] is None:
        return None
    return torch.cat(tensors) if len(tensors) > 1 else tensors[0]


def noisy_program_bytes(n_qubits: int) -> int:
    """The least a noisy program needs to run one sample: its state, a product's output, and
    the complex density matrix it may return (float64)."""
    return 6 * 4**n_qubits * 8
