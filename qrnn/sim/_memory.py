"""The hidden-register channel of quantum-memory recurrent cells (QRNN, quantum reservoir).

A quantum-memory cell splits its ``n`` qubits into a data register (qubits ``0 .. n_data-1``)
and a hidden register (the rest). Each time step (Takaki et al., PRA 103, 052414 (2021); Li et
al., arXiv 2302.03244):

1. the data register, freshly reset to ``|0...0>``, receives ``RY(pi * x_k)`` on data qubit
   ``k``, where ``x`` are the step's inputs;
2. the rest of the step circuit, a unitary ``U`` without inputs, acts on all qubits;
3. diagonal observables are read out;
4. the data register is reset; the hidden register carries on, coherently.

Exact batched simulation without a full ``n``-qubit density matrix: with ``U`` built once
for the current weights and the data product state ``|psi(x)>``, one step is the channel on
the hidden register with Kraus operators ``K_j = (I_h ⊗ <j|) U (I_h ⊗ |psi(x)>)``, ``j``
running over the data register's basis::

    rho' = sum_j K_j rho K_j^+         P(h, j) = (K_j rho K_j^+)[h, h]

``P`` is the joint computational-basis distribution after ``U``, so every diagonal observable
is a linear function of it. In tensors: ``K = psi @ table`` (one real matrix product for the
whole batch, ``table`` a real rearrangement of ``U``), ``M = K rho`` and ``rho' = M K^+`` (two
batched complex matrix products): about ``2 * 2**n_data * 8**n_hidden`` complex multiply-adds
per sample and step, and three such products in the backward pass, written out by hand for a
whole sequence in ``qrnn/sim/_memory_channel.py`` (with how the work around the products is
arranged). Gradients reach the weights (through ``U``), the inputs and ``rho``.

Public surface: :class:`MemoryProgram` compiles a step circuit once; its ``bind(weights)``
builds ``U`` and gives a :class:`MemoryStep`, which runs one step
(``(inputs (B, n_data), rho (B, H, H)) -> (readout (B, n_obs), rho')``) or a whole sequence;
:func:`memory_channel` is the primitive Kraus step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from qiskit.circuit import Parameter, QuantumCircuit

from qrnn.sim._errors import SimulationError, UnboundParameterError
from qrnn.sim._footprint import check_memory, memory_program_bytes, memory_run_bytes
from qrnn.sim._memory_channel import channel_sequence, is_ground_state, memory_channel
from qrnn.sim._program import Program

__all__ = ["MemoryProgram", "MemoryStep", "memory_channel"]


class MemoryProgram:
    """A quantum-memory step circuit compiled for the hidden-register channel.

    Args:
        circuit: the step circuit on ``n`` qubits. Its first ``n_data`` instructions must be
            ``RY(pi * inputs[k])`` on qubit ``k`` (the data register is qubits
            ``0 .. n_data-1``); the instructions after them must not use the inputs.
            ``circuits.cells.qrnn_step`` and ``circuits.cells.reservoir`` build such circuits.
        inputs: the ``n_data`` input parameters, data qubit ``k`` reading ``inputs[k]``.
        observables: diagonal Pauli labels (``I`` and ``Z`` only, ``n`` characters,
            little-endian), read after ``U`` and before the reset.
        weight_params: the parameters given to :meth:`bind` (trainable weights), in the order
            of its ``weights``; every parameter of the circuit is an input or a weight.

    Attributes:
        n_qubits, n_data, n_hidden: register sizes; the hidden state is a
            ``(batch, 2**n_hidden, 2**n_hidden)`` complex density matrix.
        observables: the labels, one output column each.

    Raises:
        SimulationError: the circuit does not start with the encoding above, uses an input
            after it, leaves no hidden qubit, or an observable is not diagonal.
        UnboundParameterError: a parameter is neither an input nor a weight.
    """

    def __init__(
        self,
        circuit: QuantumCircuit,
        inputs: Sequence[Parameter],
        observables: Sequence[str],
        *,
        weight_params: Sequence[Parameter] = (),
    ) -> None:
        if not isinstance(circuit, QuantumCircuit):
            raise TypeError(f"circuit must be a qiskit QuantumCircuit, got {type(circuit)}")
        inputs, weight_params = list(inputs), list(weight_params)
        unknown = set(circuit.parameters) - set(inputs) - set(weight_params)
        if unknown:
            raise UnboundParameterError(
                f"parameter {sorted(p.name for p in unknown)[0]} of the step circuit is neither "
                "an input nor a weight"
            )
        _check_encoding(circuit, inputs)
        self.n_qubits = circuit.num_qubits
        self.n_data = len(inputs)
        self.n_hidden = self.n_qubits - self.n_data
        if self.n_hidden < 1:
            raise SimulationError(
                f"the step circuit has {self.n_qubits} qubits and {self.n_data} inputs; the "
                "hidden register needs at least one qubit without input"
            )
        self.observables = list(observables)
        n_observables = len(self.observables)
        check_memory(  # before the sign table and the unitary, both over 2**n basis states
            f"the quantum-memory channel of this {self.n_qubits}-qubit step circuit (a unitary "
            f"of 4**{self.n_qubits} entries)",
            lambda n: memory_program_bytes(n, n_observables),
            self.n_qubits,
            smallest=self.n_data + 1,
        )
        signs = _diagonal_signs(self.observables, self.n_qubits)
        # With data-only observables P (B, H, D) is summed over h first: a smaller product.
        self._data_only = all(set(o[: self.n_hidden]) <= {"I"} for o in self.observables)
        self._signs = signs[: 2**self.n_data] if self._data_only else signs
        self._program = Program(circuit, weight_params=weight_params)
        self._n_weights = len(weight_params)

    def _multiply_adds(self, batch: int) -> int:
        """Complex multiply-adds of one forward step on ``batch`` samples: the two batched
        products ``K rho`` and ``(K rho) K^+``, ``2 * 2**n_data * 8**n_hidden`` per sample (the
        backward pass costs three such products). For a speed bound: this count at the
        machine's complex GEMM rate."""
        return batch * 2 * 2**self.n_data * 8**self.n_hidden

    @property
    def unitary_blocks(self) -> int:
        """Dense blocks of the step unitary's plan (compiled now if it was not): a bind with
        gradients keeps ``2**n`` columns before each (``qrnn.sim.memory_program_bytes``)."""
        return self._program.plan("unitary").n_blocks

    def bind(
        self,
        weights: torch.Tensor | None = None,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> MemoryStep:
        """Build ``U`` for ``weights`` (once; autograd keeps it connected to them).

        Args:
            weights: ``(n_weights,)`` real tensor in ``weight_params`` order; ``None`` for a
                circuit without weights. Its dtype sets the precision: float32 -> complex64,
                float64 -> complex128.
            dtype, device: convert ``weights`` to them (for ``None``: the zero-length weights'
                dtype, default ``torch.get_default_dtype()``, and device).

        Returns:
            the :class:`MemoryStep` of these weights.
        """
        if weights is None:
            weights = torch.zeros(0, dtype=dtype or torch.get_default_dtype(), device=device)
        elif dtype is not None or device is not None:
            weights = weights.to(dtype=dtype, device=device)
        if weights.dim() != 1 or weights.shape[0] != self._n_weights:
            raise UnboundParameterError(
                f"weights has shape {tuple(weights.shape)}; expected ({self._n_weights},)"
            )
        bound = self._program.bind(weights)
        # RY(pi * 0) = I: the step circuit at zero input is U alone.
        unitary = bound.unitary_axes(weights.new_zeros(self.n_data))
        return MemoryStep(self, unitary)

    def ground_state(
        self,
        batch: int,
        *,
        dtype: torch.dtype = torch.complex64,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """``|0><0|`` of the hidden register, ``(batch, 2**n_hidden, 2**n_hidden)`` complex."""
        dim = 2**self.n_hidden
        rho = torch.zeros(batch, dim, dim, dtype=dtype, device=device)
        rho[:, 0, 0] = 1
        return rho

    @staticmethod
    def is_ground_state(rho: torch.Tensor) -> bool:
        """Whether every matrix of ``rho (B, H, H)`` is ``|0><0|`` (one device sync)."""
        return is_ground_state(rho)


class MemoryStep:
    """The hidden-register channel of a :class:`MemoryProgram` for bound weights.

    ``H = 2**n_hidden``, ``D = 2**n_data``; inputs are converted to the weights' real dtype,
    ``rho`` must be complex of the matching precision.

    Attributes:
        program: the :class:`MemoryProgram`.
        table: ``(D, H*D*H*2)`` real, ``U`` rearranged so that ``psi @ table`` gives every
            sample's Kraus operators.
    """

    def __init__(self, program: MemoryProgram, unitary: torch.Tensor) -> None:
        """``unitary``: ``(2**n, 2**n)``, or a view of it whose axes split each index into
        its qubits (``BoundProgram.unitary_axes``)."""
        self.program = program
        d, h = 2**program.n_data, 2**program.n_hidden
        # table[d, (h', j, h, re/im)] = U[h' D + j, h D + d], in one copy
        unitary = unitary.unflatten(-1, (h, d)).movedim(-1, 0)  # (d, *rows, h)
        self.table = torch.view_as_real(unitary).reshape(d, -1)
        self._signs = torch.as_tensor(
            program._signs, dtype=self.table.dtype, device=self.table.device
        )

    def kraus_operators(self, inputs: torch.Tensor) -> torch.Tensor:
        """Every sample's Kraus operators: ``inputs (B, n_data)`` -> ``(B, H, D, H)`` complex
        with ``[b, h', j, h] = K_j[h', h]``."""
        return self._kraus(_data_state(self._check_inputs(inputs, 2)))

    def __call__(
        self, inputs: torch.Tensor, rho: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step.

        Args:
            inputs: ``(B, n_data)`` real, the values of the input parameters.
            rho: ``(B, H, H)`` complex hidden-register density matrices (Hermitian).

        Returns:
            ``(out, rho')``: ``out (B, n_obs)`` real expectation values of the observables
            after ``U``; ``rho' (B, H, H)`` after the data register is traced out.
        """
        inputs = self._check_inputs(inputs, 2)
        rho = self._check_state(rho, inputs.shape[0])
        self._check_memory(inputs, rho, 1)
        probabilities, rho = channel_sequence(_data_state(inputs)[None], self.table, rho)
        return self._readout(probabilities[0]), rho

    def run(
        self, inputs: torch.Tensor, rho: torch.Tensor, valid: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A whole sequence, step after step (the inputs of every step encoded at once).

        Args:
            inputs: ``(L, B, n_data)`` real, step ``t``'s input values at ``[t]``.
            rho: ``(B, H, H)`` complex initial hidden state.
            valid: ``(L, B)`` bool or None; where ``valid[t, b]`` is False sequence ``b`` has
                ended: its state is kept and its output is zero (variable lengths).

        Returns:
            ``(out, rho_L)``: ``out (L, B, n_obs)`` real, ``rho_L (B, H, H)`` the final state
            (each sequence's at its own length).
        """
        inputs = self._check_inputs(inputs, 3)
        length, batch, _ = inputs.shape
        rho = self._check_state(rho, batch)
        self._check_memory(inputs, rho, length)
        # Inputs do not depend on the state: encode every step at once; the channel builds
        # each step's Kraus operators when it needs them.
        psi = _data_state(inputs.reshape(length * batch, -1)).view(length, batch, -1)
        probabilities, rho = channel_sequence(psi, self.table, rho, valid)
        out = self._readout(probabilities)
        if valid is not None:
            out = out * valid.unsqueeze(-1).to(out.dtype)
        return out, rho

    def _kraus(self, psi: torch.Tensor) -> torch.Tensor:
        h = 2**self.program.n_hidden
        return torch.view_as_complex((psi @ self.table).view(psi.shape[0], h, psi.shape[1], h, 2))

    def _readout(self, probabilities: torch.Tensor) -> torch.Tensor:
        """``P (..., H, D)`` -> ``(..., n_obs)``."""
        if self.program._data_only:
            return probabilities.sum(-2) @ self._signs
        return probabilities.flatten(-2) @ self._signs

    def _check_inputs(self, inputs: torch.Tensor, dims: int) -> torch.Tensor:
        n_data = self.program.n_data
        if not isinstance(inputs, torch.Tensor) or inputs.dim() != dims:
            got = tuple(inputs.shape) if isinstance(inputs, torch.Tensor) else type(inputs)
            expected = "(B, n_data)" if dims == 2 else "(L, B, n_data)"
            raise UnboundParameterError(f"inputs has shape {got}; expected {expected}")
        if inputs.shape[-1] != n_data or inputs.is_complex():
            raise UnboundParameterError(
                f"inputs has shape {tuple(inputs.shape)} ({inputs.dtype}); expected real values "
                f"with n_data={n_data} in the last axis"
            )
        return inputs.to(self.table.dtype)

    def _check_memory(self, inputs: torch.Tensor, rho: torch.Tensor, steps: int) -> None:
        """Refuse a batch whose Kraus operators (and, with gradients, every step's kept for
        the backward pass) would not fit."""
        tensors = (inputs, rho, self.table)
        grad = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
        n_data, n_hidden = self.program.n_data, self.program.n_hidden
        dtype = rho.dtype
        check_memory(
            f"{steps} step{'s' if steps > 1 else ''} of a batch of {rho.shape[0]} through the "
            f"channel of {n_hidden} hidden qubits" + (" with gradients" if grad else ""),
            lambda b: memory_run_bytes(n_data, n_hidden, b, steps, dtype, grad),
            rho.shape[0],
            device=rho.device,
            unit="samples",
        )

    def _check_state(self, rho: torch.Tensor, batch: int) -> torch.Tensor:
        dim = 2**self.program.n_hidden
        if not isinstance(rho, torch.Tensor) or tuple(rho.shape) != (batch, dim, dim):
            got = tuple(rho.shape) if isinstance(rho, torch.Tensor) else type(rho)
            raise SimulationError(f"rho has shape {got}; expected ({batch}, {dim}, {dim})")
        if not rho.is_complex():
            raise SimulationError(
                f"rho is the hidden register's density matrix and must be complex, got {rho.dtype}"
            )
        return rho


def _data_state(inputs: torch.Tensor) -> torch.Tensor:
    """Amplitudes of ``prod_k RY(pi * x_k)|0>``: ``inputs (B, n)`` -> ``(B, 2**n)`` real,
    index bit ``k`` = qubit ``k`` (``cos(pi x_k / 2)`` for bit 0, ``sin`` for bit 1)."""
    half = inputs * (math.pi / 2)
    factors = torch.stack((torch.cos(half), torch.sin(half)), dim=-1)  # (B, n, 2)
    state = factors[:, -1]
    for k in range(inputs.shape[1] - 2, -1, -1):  # most significant qubit first
        state = (state[:, :, None] * factors[:, k, None, :]).reshape(inputs.shape[0], -1)
    return state


def _diagonal_signs(observables: list[str], n_qubits: int) -> np.ndarray:
    """``(2**n, n_obs)`` eigenvalues of diagonal Pauli labels (I/Z only) on each basis state."""
    index = np.arange(2**n_qubits)
    signs = np.ones((2**n_qubits, len(observables)))
    for column, label in enumerate(observables):
        if not isinstance(label, str) or len(label) != n_qubits or set(label) - {"I", "Z"}:
            raise SimulationError(
                f"observable {label!r}: the memory channel reads diagonal Pauli labels of "
                f"{n_qubits} characters (I and Z only)"
            )
        for qubit, char in enumerate(reversed(label)):
            if char == "Z":
                signs[:, column] *= 1 - 2 * ((index >> qubit) & 1)
    return signs


def _check_encoding(circuit: QuantumCircuit, inputs: list[Parameter]) -> None:
    """The channel needs ``RY(pi * inputs[k])`` on qubit ``k`` as the first instructions and
    input-free gates after them."""
    input_set = set(inputs)
    if not inputs:
        raise SimulationError("the step circuit needs at least one input (data qubit)")
    for position, instruction in enumerate(circuit.data):
        operation = instruction.operation
        parameters = {p for value in operation.params for p in getattr(value, "parameters", ())}
        if position < len(inputs):
            qubit = circuit.find_bit(instruction.qubits[0]).index
            value = operation.params[0] if operation.params else None
            ok = (
                operation.name == "ry"
                and qubit == position
                and parameters == {inputs[position]}
                and math.isclose(float(value.bind({inputs[position]: 1.0})), math.pi)
                and math.isclose(float(value.bind({inputs[position]: 0.0})), 0.0, abs_tol=1e-12)
            )
            if not ok:
                raise SimulationError(
                    f"instruction {position} of the step circuit must be RY(pi * "
                    f"{inputs[position]}) on qubit {position}, got {operation.name}"
                )
        elif parameters & input_set:
            raise SimulationError(
                f"instruction {position} ({operation.name}) uses an input parameter; the "
                "memory channel needs input-free gates after the encoding"
            )
    if len(circuit.data) < len(inputs):
        raise SimulationError(
            f"the step circuit has {len(circuit.data)} instructions; it must start with "
            f"{len(inputs)} RY encodings"
        )
