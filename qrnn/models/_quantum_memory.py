"""What the quantum-memory models (QRNN, QReservoir) share: a cell whose state is the hidden
register's density matrix, and the sequence module around such cells.

The physics and the exact simulation are ``qrnn.sim``'s (:class:`~qrnn.sim.MemoryProgram`:
data register reset and re-encoded every step, hidden register carried coherently). A cell
here only says which step circuit it runs, how a step's features become the data register's
inputs (:meth:`MemoryCell.angles`) and which weights the circuit takes. On another executor
(``to_backend``) a whole sequence runs as one circuit with resets
(``circuits.cells.unroll``), read at markers, and the hidden register's final state is the
executor's own (``Backend.density_matrix``); where the caller reads the outputs only (a
``Forecaster``: ``_recurrent.outputs_only``) it is not made, and ``h_n`` is None.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from qiskit.circuit import QuantumCircuit
from torch import nn

from circuits import cells
from qrnn import backends, sim
from qrnn._checks import integer
from qrnn.models._recurrent import RecurrentBase, State, StepCell, final_state_wanted

__all__ = ["MemoryCell", "MemoryRecurrent", "check_registers", "registers_repr"]


def check_registers(n_qubits: int, hidden_size: int) -> int:
    """The hidden register's qubits, ``n_qubits - hidden_size``, at least one."""
    integer("n_qubits", n_qubits)
    integer("hidden_size", hidden_size)
    if hidden_size >= n_qubits:
        raise ValueError(
            f"hidden_size={hidden_size} (the data register) must leave at least one qubit of "
            f"the n_qubits={n_qubits} for the hidden register"
        )
    return n_qubits - hidden_size


def check_memory_fits(
    family: str,
    n_qubits: int,
    hidden_size: int,
    n_observables: Callable[[int], int],
    device: torch.device | str | None,
    dtype: torch.dtype,
    cells: int = 1,
    grad_blocks: int = 0,
) -> None:
    """Refuse ``cells`` step circuits of ``n_qubits`` whose hidden-register channel could not
    run even one sample (on any backend: the state is the hidden register's density matrix).
    ``n_observables(n)``: the readout's width. ``grad_blocks``: the step unitary's dense blocks
    when its weights are trained (``MemoryProgram.unitary_blocks``), 0 before the circuit is
    built or without gradients."""
    gradients = " with gradients" if grad_blocks else ""
    sim.check_memory(
        f"{family} with n_qubits={n_qubits} ({hidden_size} data + {n_qubits - hidden_size} "
        f"hidden qubits; a step unitary of 4**{n_qubits} entries{gradients})",
        lambda n: sim.memory_program_bytes(
            n, n_observables(n), dtype, programs=cells, grad_blocks=grad_blocks
        ),
        n_qubits,
        device=device,
        smallest=hidden_size + 1,
    )


def registers_repr(module: nn.Module) -> str:
    """``n_qubits=10 (4 data + 6 hidden)``, as the memory models' ``extra_repr`` shows it."""
    return f"n_qubits={module.n_qubits} ({module.n_data} data + {module.n_hidden} hidden)"


class MemoryCell(StepCell):
    """A one-step cell with quantum memory: the state is the hidden register's density matrix.

    Subclasses pass the step circuit (a ``circuits.cells.Cell``) and implement :meth:`angles`,
    :meth:`weight_values` and :meth:`bind` (the :class:`~qrnn.sim.MemoryStep` of the current
    weights, built once per call of :meth:`run`).
    """

    _family = "quantum-memory cell"  # the model's name in error messages

    def __init__(
        self, input_size: int, step: cells.Cell, backend: object, dtype: torch.dtype
    ) -> None:
        super().__init__(input_size, dtype)
        self.step_cell = step
        self.memory = sim.MemoryProgram(
            step.circuit, step.inputs, step.observables, weight_params=step.weights
        )
        self.n_qubits = step.n_qubits
        self.n_data, self.n_hidden = self.memory.n_data, self.memory.n_hidden
        self.observables = list(step.observables)
        self._set_backend(backend)
        self.state_shapes = ((2**self.n_hidden, 2**self.n_hidden),)
        self.state_complex = (True,)
        self.output_size = len(self.observables)
        self._unrolled: dict[int, tuple[QuantumCircuit, list[int], np.ndarray]] = {}

    # subclass hooks
    def angles(self, x: torch.Tensor) -> torch.Tensor:
        """Inputs of the data register: ``(B, input_size)`` -> ``(B, n_data)``."""
        raise NotImplementedError

    def weight_values(self) -> torch.Tensor:
        """``(len(step_cell.weights),)`` values of the step circuit's weights."""
        raise NotImplementedError

    def bind(self) -> sim.MemoryStep:
        """The exact engine's step for the current weights (``U`` built now)."""
        raise NotImplementedError

    # engine
    def initial_state(self, batch: int, reference: torch.Tensor) -> State:
        dtype = self._state_dtype(0, reference.dtype)
        return (self.memory.ground_state(batch, dtype=dtype, device=reference.device),)

    def run(self, sequence, state, valid):
        """``sequence (L, N, input_size)`` from ``(rho,)`` -> ``((L, N, n_obs), (rho_L,))``,
        ``rho`` ``(N, 2**n_hidden, 2**n_hidden)`` complex; ``valid (L, N)`` bool or None."""
        if not backends.is_engine(self._backend):
            return self._run_backend(sequence, state, valid)
        length, batch, _ = sequence.shape
        angles = self.angles(sequence.reshape(length * batch, -1)).view(length, batch, -1)
        out, rho = self.bind().run(angles, state[0], valid)
        return out, (rho,)

    def forward(
        self, input: torch.Tensor, hx: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One step, ``(output, h')``; see the class docstring for shapes."""
        output, (rho,) = self.step_once(input, hx)
        return output, rho

    def set_backend(self, backend: str | backends.Backend) -> MemoryCell:
        """Run this cell on another executor from now on; the weights are unchanged.

        Args:
            backend: ``"torch"`` (the exact engine, ``qrnn.sim.MemoryProgram``), another
                ``qrnn.backends`` name, or a ``qrnn.backends.Backend``: each sequence then runs
                as one circuit whose data register is reset after every step
                (``circuits.cells.unroll``).

        Returns:
            ``self`` (switched in place).

        Raises:
            ValueError: the backend's device cannot reset a qubit mid-circuit (nothing is
                changed then).
        """
        self._set_backend(backend)
        return self

    def _set_backend(self, backend) -> None:
        resolved = backends.resolve(backend)
        self.check_backend(resolved)  # a device without mid-circuit reset: say so now
        self._backend = resolved
        self.backend = backend if isinstance(backend, str) else resolved.name

    def check_backend(self, backend: backends.Backend) -> None:
        """Raise ``ValueError`` if ``backend`` runs circuits on a device without mid-circuit
        reset, which every step of this cell needs."""
        if not getattr(backend, "mid_circuit_reset", True):  # a cloud machine that cannot
            raise ValueError(
                f"{self._family} resets its data register after every time step, which "
                f"needs mid-circuit reset; backend {backend.name!r} does not support it "
                "(IBM's backends do: cloud:ibm:<backend>)"
            )
        device = backend.device
        if device is None or device.mid_circuit_reset:
            return
        from qrnn import devices

        able = [name for name in devices.names() if devices.get(name).mid_circuit_reset]
        last = self.n_data - 1
        qubits = "qubit 0" if last == 0 else f"qubits 0-{last}"
        raise ValueError(
            f"{self._family} resets its data register ({qubits}) after every time step, which "
            f"needs mid-circuit reset; device {device.name!r} does not support it. Devices "
            f"with mid-circuit reset: {', '.join(able)} (or a device file with "
            "mid_circuit_reset = true)"
        )

    # other backends: the whole sequence as one circuit with resets, read at markers
    def _run_backend(self, sequence, state, valid):
        (rho,) = state
        if rho.requires_grad or not self.memory.is_ground_state(rho):
            raise ValueError(
                f"backend {self.backend!r} starts every sequence in |0...0>; an initial state "
                "is only supported with backend='torch'"
            )
        length, batch, _ = sequence.shape
        angles = self.angles(sequence.reshape(length * batch, -1)).view(length, batch, -1)
        lengths = torch.full((batch,), length) if valid is None else valid.sum(0).cpu()
        hidden = list(range(self.n_data, self.n_qubits))
        wanted = final_state_wanted()  # (not within ``outputs_only``: then final is None)
        joint = wanted and bool((lengths == length).all())  # with the outputs, in one run
        circuit, weight_columns, input_columns = self._unrolled_circuit(length)
        parameters = list(circuit.parameters)
        bound = self._backend.bind(  # a backend that binds the weights once (torch, noisy)
            circuit,
            self.observables,
            [parameters[c] for c in weight_columns],
            [parameters[c] for c in input_columns.reshape(-1)],
            self.weight_values().to(angles.dtype),
            at_markers=True,
            state_qubits=hidden if joint else None,
        )
        inputs = angles.permute(1, 0, 2).reshape(batch, -1)
        circuit, values = self._unrolled_values(angles)
        if bound is not None and joint:
            out, final = bound(inputs)
        elif bound is not None:
            out, final = bound(inputs), None
        elif joint:  # outputs and final states from one simulation
            out, final = self._backend.expval_at_markers(
                circuit, values, self.observables, state_qubits=hidden
            )
        else:
            out, final = self._backend.expval_at_markers(circuit, values, self.observables), None
        if wanted and final is None:
            final = self._final_states(angles, lengths, hidden)
        out = out.transpose(0, 1)  # (L, N, obs)
        if valid is not None:
            out = out * valid.unsqueeze(-1).to(out.dtype)
        return out, (final,)

    def _final_states(self, angles, lengths, hidden) -> torch.Tensor:
        """The hidden register's state after each sequence's own last step, ``(N, R, R)``."""
        final = None
        for steps in sorted(set(lengths.tolist())):
            rows = torch.nonzero(lengths == steps).flatten().to(angles.device)
            prefix, prefix_values = self._unrolled_values(angles[:steps, rows])
            states = self._backend.density_matrix(prefix, prefix_values, hidden)
            if final is None:
                final = states.new_zeros(angles.shape[1], *states.shape[1:])
            final = final.index_copy(0, rows, states)
        return final

    def _unrolled_values(self, angles: torch.Tensor) -> tuple[QuantumCircuit, torch.Tensor]:
        """The unrolled circuit of ``angles (L, N, n_data)``'s length and its values
        ``(N, n_params)``: every step's inputs and the cell's weights, in circuit order."""
        length, batch, _ = angles.shape
        circuit, weight_columns, input_columns = self._unrolled_circuit(length)
        values = angles.new_zeros(batch, circuit.num_parameters)
        values = values.index_copy(
            1,
            torch.as_tensor(input_columns.reshape(-1), device=values.device),
            angles.permute(1, 0, 2).reshape(batch, -1),
        )
        weights = self.weight_values().to(values.dtype)
        if weights.numel():
            values = values.index_copy(
                1,
                torch.as_tensor(weight_columns, device=values.device),
                weights.expand(batch, -1),
            )
        return circuit, values

    def _unrolled_circuit(self, length: int):
        if length not in self._unrolled:
            circuit, step_inputs = cells.unroll(self.step_cell, length)
            column = {p: i for i, p in enumerate(circuit.parameters)}
            weight_columns = [column[p] for p in self.step_cell.weights]
            input_columns = np.array([[column[p] for p in inputs] for inputs in step_inputs])
            self._unrolled[length] = (circuit, weight_columns, input_columns)
        return self._unrolled[length]


class MemoryRecurrent(RecurrentBase):
    """The ``nn.RNN``-style sequence module over :class:`MemoryCell`\\ s; subclasses call
    :meth:`_set_registers` after ``RecurrentBase.__init__``."""

    def _set_registers(self, n_qubits: int, backend: object) -> None:
        self.n_hidden = check_registers(n_qubits, self.hidden_size)
        self.n_qubits, self.n_data, self.backend = n_qubits, self.hidden_size, backend

    def forward(self, input, hx=None):
        """``(output, h_n)``; see the class docstring for shapes."""
        return super().forward(input, hx)
