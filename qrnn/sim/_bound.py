"""Bound programs: a program with its weights bound, running batches of inputs.

``Program.bind(weights)`` makes a ``BoundProgram``. Per mode it keeps a ``BoundPlan`` (the
weight-only matrices of that mode's plan, built once per bind) and, once a mode's run has
nothing left to build but the inputs' work, the prepared run itself; a run then costs the
input-dependent work only. Angle encodings followed by input-free gates run as one
autograd function per call (``encoded_chain``), or split across a cut of the wires
(``split_chain``) when that is cheaper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from qrnn.sim._bound_plan import BoundPlan
from qrnn.sim._chain import encoded_chain, run_chain
from qrnn.sim._cones import cone_operators, cone_run
from qrnn.sim._errors import UnboundParameterError
from qrnn.sim._footprint import check_memory, gradient_states, run_bytes
from qrnn.sim._gates import complex_dtype
from qrnn.sim._plan import CompiledPlan
from qrnn.sim._split import split_chain
from qrnn.sim._values import check_values

if TYPE_CHECKING:
    from qrnn.sim._program import Program


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
        self.complex_dtype = complex_dtype(weights.dtype)
        self._angle_tensors = program.angles.tensors(self.device, self.real_dtype)
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
        tensors = self._angle_tensors
        if self.weights.shape[1]:
            # (b_w, n_rows)
            self.static_angles = self.weights @ tensors.weight_coefficients + tensors.offsets
        else:
            self.static_angles = tensors.offsets.unsqueeze(0)
        self._plans: dict[str, BoundPlan] = {}  # mode -> its plan's weight-only matrices
        self._runs: dict[str, tuple] = {}  # mode -> (inputs -> result, plan): all but inputs

    def _bound_plan(self, plan: CompiledPlan) -> BoundPlan:
        bound = self._plans.get(plan.mode)
        if bound is None:
            tensors = plan.tensors(self.device, self.real_dtype)
            bound = self._plans[plan.mode] = BoundPlan(plan, tensors, self.static_angles)
        return bound

    def _angles(self, inputs):
        """``(b, n_rows)`` gate angles for ``inputs (b, n_inputs)`` (None: the weights')."""
        if inputs is None or inputs.shape[1] == 0:
            return self.static_angles
        return self.static_angles + inputs @ self._angle_tensors.input_coefficients

    # -- runs -----------------------------------------------------------------------------

    def _run(self, mode: str, inputs):
        """``(result, plan)``: the final internal state (2**n_wires, batch), except in
        "expval" mode with a readout in the chain, where ``result`` is already the
        expectation values (batch, n_obs)."""
        self._sync_grad_mode()
        program = self.program
        if inputs is None and program.input_index:
            raise UnboundParameterError(
                f"the program has {len(program.input_index)} inputs besides the bound weights; "
                f"pass inputs of shape (batch, {len(program.input_index)})"
            )
        if inputs is not None:
            inputs = check_values(inputs, len(program.input_index), "inputs")
            inputs = inputs.to(device=self.device, dtype=self.real_dtype)
            if self.weights.shape[0] not in (1, inputs.shape[0]):
                raise UnboundParameterError(
                    f"weights have batch {self.weights.shape[0]} but inputs have batch "
                    f"{inputs.shape[0]}; expected equal batches or unbatched weights"
                )
        batch = max(self.weights.shape[0], inputs.shape[0] if inputs is not None else 1)
        plan = program.plan(mode)  # (its compile checks the memory it needs first)
        self._check_run(plan, batch, self._keeps_graph(inputs))  # before any state exists
        prepared = self._runs.get(mode)
        if prepared is None and mode == "expval" and inputs is not None:
            prepared = self._cone_run() or self._split_run()
            if prepared is not None:
                self._runs[mode] = prepared
        if prepared is not None and inputs is not None:  # everything but the inputs is ready
            run, plan = prepared
            result = run(inputs)
            return (result if result.shape[0] == batch else result.expand(batch, -1)), plan
        bound = self._bound_plan(plan)
        tensors = bound.tensors
        coefficients = None
        if plan.readout is not None and plan.readout.in_chain:
            coefficients = tensors.readout_real
        state, start = bound.head()
        _steps, blocks = tensors.chain_steps(start)
        kernels = plan.schedule.kernels
        dynamic = any(kernels[k].dynamic for k in blocks)
        angles = self._angles(inputs) if dynamic else None
        matrices = [bound.kernel_matrix(k, angles) for k in blocks]
        chain = tensors.chain_plan(start, matrices, state is None, coefficients)
        matrices = bound.place(chain, blocks, matrices)
        if state is None and plan.prefix.encoding is not None:
            # an angle encoding: its product state and the chain run as one function
            prefix = bound.encoding(chain.start_order)
            groups = tensors.groups

            def run(inputs):
                return encoded_chain(chain, groups, inputs, *prefix, matrices)

            result = run(inputs)
            if coefficients is not None and angles is None:  # no input-dependent block
                self._runs[mode] = (run, plan)
        else:
            if state is None:  # a product state, built in the order the chain wants
                angles = self._angles(inputs) if angles is None else angles
                state = bound.prefix_state(angles, chain.start_order)
            result = run_chain(chain, state, matrices)
        if coefficients is not None:
            return (result if result.shape[0] == batch else result.expand(batch, -1)), plan
        if result.shape[1] != batch:  # nothing depended on the inputs
            result = result.expand(-1, batch)
        return result, plan

    def _keeps_graph(self, inputs) -> bool:
        """Whether a run records a graph for gradients (and so keeps states for it)."""
        if not torch.is_grad_enabled():
            return False
        return self.weights.requires_grad or (inputs is not None and inputs.requires_grad)

    def _check_run(self, plan: CompiledPlan, batch: int, grad: bool) -> None:
        """Refuse a run of ``batch`` samples whose states would not fit."""
        extra = gradient_states(plan.n_blocks) if grad else 0
        n_wires, dtype = plan.n_wires, self.complex_dtype
        what = f"a batch of {batch} on {n_wires} wires (2**{n_wires} amplitudes each)"
        check_memory(
            what + (" with gradients" if grad else ""),
            lambda b: run_bytes(n_wires, b, dtype, extra),
            batch,
            device=self.device,
            unit="samples",
        )

    def _cone_run(self):
        """``(inputs -> expectation values, None)`` on the observables' light cones
        (``_cones``), their operators built for this bind; None when the program does not run
        on cones or the weights are batched."""
        cones = self.program.cones
        if cones is None or self.weights.shape[0] != 1:
            return None
        plan = self.program.plan("split")
        encoding = self._bound_plan(plan).encoding(tuple(range(plan.n_wires)))
        operators = cone_operators(cones, self.static_angles, self.device, self.real_dtype)

        def run(inputs):
            return cone_run(cones, operators, encoding, inputs)

        return run, None

    def _split_run(self):
        """``(inputs -> expectation values, plan)`` of the "split" plan run split across a
        cut (``_split``), its side operators built for this bind; None when the circuit has
        no such form (inputs past the encoding, batched weights, noise, complex readout) or
        its cost model keeps the state whole."""
        program = self.program
        if program.density or self.weights.shape[0] != 1 or not program.may_run_split:
            return None
        plan = program.plan("split")
        bound = self._bound_plan(plan)
        split = bound.tensors.split_plan
        if split is None:
            return None
        _steps, blocks = bound.tensors.chain_steps(0)
        matrices = [bound.kernel_matrix(k, None) for k in blocks]
        prefix = bound.encoding(split.start_order)
        arguments = (*split.encoding(*prefix), *split.operators(matrices))

        def run(inputs):
            return split_chain(split, inputs, *arguments)

        return run, plan

    # -- outputs --------------------------------------------------------------------------

    def expval(self, inputs=None) -> torch.Tensor:
        """(batch, n_obs) real expectation values. ``inputs``: (batch, n_inputs)."""
        state, plan = self._run("expval", inputs)
        if plan is None or plan.readout.in_chain:  # (None: read on light cones)
            return state  # the chain already read out the probabilities (and bit flips)
        tensors = plan.tensors(self.device, self.real_dtype)
        index, coefficients = tensors.readout_index, tensors.readout_complex
        if self.program.density:
            return (coefficients @ state.index_select(0, index)).real.T
        n_groups = len(plan.readout.index) // state.shape[0]
        products = state.conj().repeat(n_groups, 1) * state.index_select(0, index)
        return (coefficients @ products).real.T

    def statevector(self, inputs=None) -> torch.Tensor:
        """(batch, 2**n) complex final states (index bit k = qubit k)."""
        if self.program.density:
            raise ValueError(
                "the circuit has resets or noise, so its state is mixed; use density_matrix"
            )
        state, plan = self._run("statevector", inputs)
        state = _to_standard_order(state, plan.schedule.order, plan.n_wires)
        return state * self._global_phase(inputs)

    def unitary(self, inputs=None) -> torch.Tensor:
        """(2**n, 2**n) complex unitary of the circuit for unbatched weights and inputs."""
        size = 2**self.program.n_qubits
        return self.unitary_axes(inputs).reshape(size, size)

    def unitary_axes(self, inputs=None) -> torch.Tensor:
        """The unitary as a ``(2,) * n + (2**n,)`` view, no copy made: output qubits
        ``n-1 .. 0`` (one axis each), then the input index (:meth:`unitary` reshaped)."""
        self._sync_grad_mode()
        if inputs is not None:
            inputs = check_values(inputs, len(self.program.input_index), "inputs")
        batches = {self.weights.shape[0], 1 if inputs is None else inputs.shape[0]}
        if batches != {1}:
            raise UnboundParameterError(
                "unitary() takes one set of parameter values, not a batch; got batch sizes "
                f"{sorted(batches)}"
            )
        n = self.program.n_qubits
        plan = self.program.plan("unitary")
        # 2**n columns of 2**n, run as a batch: checked before any is made
        grad = self._keeps_graph(inputs)
        extra = gradient_states(plan.n_blocks, unitary=True) if grad else 0
        dtype = self.complex_dtype
        check_memory(
            f"the unitary of this {n}-qubit circuit (2**{n} columns of 2**{n})"
            + (" with gradients" if grad else ""),
            lambda k: run_bytes(k, 2**k, dtype, extra),
            n,
            device=self.device,
        )
        bound = self._bound_plan(plan)
        angles = self._angles(
            None if inputs is None else inputs.to(device=self.device, dtype=self.real_dtype)
        )
        state = torch.eye(2**n, dtype=self.complex_dtype, device=self.device)  # columns: inputs
        _steps, blocks = bound.tensors.chain_steps(0)
        matrices = [bound.kernel_matrix(k, angles) for k in blocks]
        phase = self._global_phase(inputs)[0]
        if matrices:  # on the first block's matrix rather than on all 4**n entries
            matrices[0] = matrices[0] * phase
        chain = bound.tensors.chain_plan(0, matrices, False, None)
        matrices = bound.place(chain, blocks, matrices)
        state = run_chain(chain, state, matrices)
        if not matrices:
            state = state * phase
        return _standard_axes(state, plan.schedule.order, plan.n_wires)

    def density_matrix(self, inputs=None) -> torch.Tensor:
        """(batch, 2**n, 2**n) complex final density matrices."""
        state, plan = self._run("density", inputs)
        state = _to_standard_order(state, plan.schedule.order, plan.n_wires)
        dim = 2**self.program.n_qubits
        return state.reshape(-1, dim, dim)

    def _global_phase(self, inputs):
        rows = self.program.global_phase_rows
        if inputs is not None:
            inputs = check_values(inputs, len(self.program.input_index), "inputs")
            inputs = inputs.to(device=self.device, dtype=self.real_dtype)
        phase = self._angles(inputs)[:, rows].sum(-1, keepdim=True)
        return torch.polar(torch.ones_like(phase), phase)


def _standard_axes(state, order, n_wires):
    """Internal (2**n_wires, batch) in axis ``order`` -> a ``(2,) * n_wires + (batch,)`` view,
    wire axes in Qiskit order (most significant first)."""
    axes = [order.index(w) for w in range(n_wires - 1, -1, -1)]
    return state.view(*([2] * n_wires), state.shape[1]).permute(*axes, n_wires)


def _to_standard_order(state, order, n_wires):
    """Internal (2**n_wires, batch) in axis ``order`` -> (batch, 2**n_wires), Qiskit order."""
    return _standard_axes(state, order, n_wires).movedim(-1, 0).reshape(state.shape[1], -1)
