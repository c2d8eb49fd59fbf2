"""Quantum-memory recurrent models: ``QRNN`` (trainable) and ``QReservoir`` (fixed dynamics).

The ``n_qubits`` qubits are split into a data register (qubits ``0 .. n_data-1``) and a hidden
register (the rest). Each time step (Takaki et al., PRA 103, 052414 (2021); Li et al., arXiv
2302.03244, the plain "pQRNN" variant):

1. the data register, freshly reset to ``|0...0>``, receives ``RY(pi * a_k)`` on data qubit
   ``k``, where ``a`` are the step's input angles;
2. the cell unitary ``U`` acts on all qubits;
3. diagonal observables (``<Z>`` of each data qubit for the QRNN) are the step's output;
4. the data register is reset; the hidden register carries on, coherently.

Exact batched simulation without a full ``n_qubits`` density matrix: with ``U`` built once per
forward (``qrnn.sim`` ``unitary()``) and the data product state ``|psi(a)>``, one step is the
channel on the hidden register with Kraus operators
``K_j = (I_h ⊗ <j|) U (I_h ⊗ |psi(a)>)``, ``j`` running over the data register's basis::

    rho' = sum_j K_j rho K_j^+         P(h, j) = (K_j rho K_j^+)[h, h]

``P`` is the joint computational-basis distribution after ``U``, so every diagonal observable
is a linear function of it. In tensors: ``K = psi @ U`` (one real matrix product for the whole
batch), ``M = K rho`` and ``rho' = M K^+`` (two batched complex matrix products): about
``2 * 2**n_data * 8**n_hidden`` complex multiply-adds per sample and step, and three such
products in the backward pass (``_ChannelStep``). Gradients are exact (autograd through
``qrnn.sim``'s unitary and the channel).

The hidden state ``rho`` is a ``(batch, 2**n_hidden, 2**n_hidden)`` complex density matrix; the
models return it as ``h_n`` and accept it back as the initial state.

The staggered variant of Li et al. (sQRNN, rotating which qubits hold data) is not provided.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from qiskit.circuit import ParameterVector, QuantumCircuit
from torch import nn

from circuits import cells
from qrnn import sim
from qrnn.models._recurrent import RecurrentBase, State, Step, StepCell, positive_int, real_dtype

__all__ = ["QRNN", "QReservoir", "channel_step", "kraus_operators", "kraus_table", "product_state"]

TORCH_BACKEND = "torch"


# -- the Kraus engine -------------------------------------------------------------------------


def product_state(angles: torch.Tensor) -> torch.Tensor:
    """Amplitudes of ``prod_k RY(pi * a_k)|0>``: ``angles (B, n)`` -> ``(B, 2**n)`` real,
    index bit ``k`` = qubit ``k`` (``cos(pi a_k / 2)`` for bit 0, ``sin`` for bit 1)."""
    half = angles * (math.pi / 2)
    factors = torch.stack((torch.cos(half), torch.sin(half)), dim=-1)  # (B, n, 2)
    state = factors[:, -1]
    for k in range(angles.shape[1] - 2, -1, -1):  # most significant qubit first
        state = (state[:, :, None] * factors[:, k, None, :]).reshape(angles.shape[0], -1)
    return state


def kraus_table(unitary: torch.Tensor, n_data: int) -> torch.Tensor:
    """``U (2**n, 2**n)`` -> real ``(D, H*D*H*2)`` with ``[d, (h', j, h, re/im)] = U[h'D+j, hD+d]``
    (``D = 2**n_data``), so that ``psi @ table`` gives every sample's Kraus operators."""
    dim = unitary.shape[0]
    d = 2**n_data
    h = dim // d
    table = torch.view_as_real(unitary.reshape(h, d, h, d))  # (h', j, h, d, 2)
    return table.permute(3, 0, 1, 2, 4).reshape(d, -1)


def kraus_operators(table: torch.Tensor, psi: torch.Tensor, n_hidden: int) -> torch.Tensor:
    """Every sample's Kraus operators: ``psi (B, D)`` real -> ``(B, H, D, H)`` complex with
    ``[b, h', j, h] = K_j[h', h]`` (one real matrix product with ``kraus_table``)."""
    h = 2**n_hidden
    return torch.view_as_complex((psi @ table).view(psi.shape[0], h, psi.shape[1], h, 2))


def channel_step(kraus: torch.Tensor, rho: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the memory channel.

    Args:
        kraus: ``(B, H, D, H)`` complex, ``kraus[b, :, j, :] = K_j`` of sample ``b``.
        rho: hidden-register density matrices, ``(B, H, H)`` complex, Hermitian.

    Returns:
        ``(P, rho')``: ``P (B, H, D)`` real, the joint distribution over (hidden, data) basis
        states after ``U`` (full index ``h * D + j``); ``rho' (B, H, H)`` after the data
        register is traced out.
    """
    if not rho.requires_grad and _is_ground(rho):
        # rho = |0><0|: K_j rho K_j^+ = k_j k_j^+ with k_j = K_j[:, 0] (first step, default state)
        column = kraus[..., 0]  # (B, h', j)
        probabilities = torch.view_as_real(column).square().sum(-1)
        return probabilities, torch.bmm(column, column.mH)
    return _ChannelStep.apply(kraus, rho)


class _ChannelStep(torch.autograd.Function):
    """``(K, rho) -> (P, sum_j K_j rho K_j^+)`` with a backward that uses ``rho = rho^+``.

    Forward: ``M = K rho`` and ``rho' = M K^+``, two batched products. Backward, with ``G`` the
    Hermitian part of ``rho'``'s gradient (only that part reaches anything upstream, since
    ``rho'`` is Hermitian) and ``G_j = G + diag(dL/dP[:, j])``:
    ``dL/dK_j = 2 G_j M_j`` and ``dL/drho = sum_j K_j^+ G_j K_j``: three products instead of the
    four autograd would run, and ``rho`` is not saved.
    """

    @staticmethod
    def forward(ctx, kraus: torch.Tensor, rho: torch.Tensor):
        batch, h, d, _ = kraus.shape
        rows = kraus.view(batch, h * d, h)
        moved = torch.bmm(rows, rho)  # rows (h', j): K_j rho
        probabilities = (
            (torch.view_as_real(moved) * torch.view_as_real(rows)).sum((-1, -2)).view(batch, h, d)
        )
        new_rho = torch.bmm(moved.view(batch, h, d * h), kraus.view(batch, h, d * h).mH)
        ctx.save_for_backward(kraus, moved)
        return probabilities, new_rho

    @staticmethod
    def backward(ctx, grad_probabilities, grad_rho):
        if torch.is_grad_enabled():  # create_graph=True: this backward has no graph of its own
            raise RuntimeError(
                "the QRNN channel's backward pass is not differentiable: second derivatives "
                "(create_graph=True) are not supported"
            )
        kraus, moved = ctx.saved_tensors
        batch, h, d, _ = kraus.shape
        scale = None  # dL/dP as a (B, h', j, 1) row scale
        if grad_probabilities is not None:
            scale = grad_probabilities.to(kraus.dtype).unsqueeze(-1)
        # twice the Hermitian part of rho's gradient: the factor 2 of dL/dK comes for free
        herm2 = None if grad_rho is None else grad_rho + grad_rho.mH
        grad_kraus = grad_in = None
        if ctx.needs_input_grad[0]:
            if herm2 is None:
                grad_kraus = torch.zeros_like(kraus)
            else:
                grad_kraus = torch.bmm(herm2, moved.view(batch, h, d * h)).view_as(kraus)
            if scale is not None:
                grad_kraus.addcmul_(scale, moved.view_as(kraus), value=2)
        if ctx.needs_input_grad[1]:
            if herm2 is None:
                grad_moved = torch.zeros_like(kraus)
            else:
                grad_moved = torch.bmm(herm2, kraus.view(batch, h, d * h)).view_as(kraus)
                grad_moved.mul_(0.5)
            if scale is not None:
                grad_moved.addcmul_(scale, kraus)
            rows = kraus.view(batch, h * d, h)
            grad_in = torch.bmm(rows.mH, grad_moved.view(batch, h * d, h))
        return grad_kraus, grad_in


def _is_ground(rho: torch.Tensor) -> bool:
    corner = rho[:, 0, 0]
    return bool((corner == 1).all()) and int(torch.count_nonzero(rho)) == rho.shape[0]


def ground_state(batch: int, n_hidden: int, dtype: torch.dtype, device) -> torch.Tensor:
    """``|0><0|`` of the hidden register, ``(batch, 2**n_hidden, 2**n_hidden)`` complex."""
    dim = 2**n_hidden
    rho = torch.zeros(batch, dim, dim, dtype=dtype, device=device)
    rho[:, 0, 0] = 1
    return rho


def _diagonal_signs(observables: list[str], n_qubits: int) -> np.ndarray:
    """``(2**n, n_obs)`` eigenvalues of diagonal Pauli labels (I/Z only) on each basis state."""
    index = np.arange(2**n_qubits)
    signs = np.ones((2**n_qubits, len(observables)))
    for column, label in enumerate(observables):
        if len(label) != n_qubits or set(label) - {"I", "Z"}:
            raise ValueError(
                f"observable {label!r}: the memory engine reads diagonal Pauli labels of "
                f"{n_qubits} characters (I and Z only)"
            )
        for qubit, char in enumerate(reversed(label)):
            if char == "Z":
                signs[:, column] *= 1 - 2 * ((index >> qubit) & 1)
    return signs


def _check_encoding(step: cells.Cell) -> None:
    """The engine needs the step circuit to be ``RY(pi * x_k)`` on data qubit ``k`` (first
    instructions) followed by input-free gates; fail loudly if a cell builder changes that."""
    circuit, inputs = step.circuit, list(step.inputs)
    if step.data_qubits != tuple(range(len(inputs))):
        raise ValueError(f"data qubits must be 0..{len(inputs) - 1}, got {step.data_qubits}")
    input_set = set(inputs)
    for position, instruction in enumerate(circuit.data):
        parameters = {
            p for value in instruction.operation.params for p in getattr(value, "parameters", ())
        }
        if position < len(inputs):
            qubit = circuit.find_bit(instruction.qubits[0]).index
            value = instruction.operation.params[0] if instruction.operation.params else None
            ok = (
                instruction.operation.name == "ry"
                and qubit == position
                and parameters == {inputs[position]}
                and math.isclose(float(value.bind({inputs[position]: 1.0})), math.pi)
            )
            if not ok:
                raise ValueError(
                    f"instruction {position} of the step circuit must be RY(pi * "
                    f"{inputs[position]}) on qubit {position}, got {instruction.operation.name}"
                )
        elif parameters & input_set:
            raise ValueError(
                f"instruction {position} ({instruction.operation.name}) uses an input "
                "parameter; the memory engine needs input-free gates after the encoding"
            )


# -- the cell ---------------------------------------------------------------------------------


class _MemoryCell(StepCell):
    """Shared engine of the QRNN and reservoir cells; subclasses give the unitary and the
    input angles."""

    _family = "quantum-memory cell"  # the model's name in error messages

    def __init__(
        self,
        step: cells.Cell,
        backend: object,
        dtype: torch.dtype,
    ) -> None:
        super().__init__(dtype)
        _check_encoding(step)
        self.step_cell = step
        self.n_data = len(step.data_qubits)
        self.n_hidden = step.circuit.num_qubits - self.n_data
        self.backend = backend if isinstance(backend, str) else getattr(backend, "name", backend)
        self._backend = None if backend == TORCH_BACKEND else _resolve_backend(backend)
        self.check_backend(self._backend)  # a device without mid-circuit reset: say so now
        self.observables = list(step.observables)
        signs = _diagonal_signs(self.observables, step.circuit.num_qubits)
        data_only = all(set(label[: self.n_hidden]) <= {"I"} for label in self.observables)
        # Readout from P (B, H, D): with data-only observables sum P over h first.
        self._signs = signs[: 2**self.n_data] if data_only else signs
        self._data_only = data_only
        self.state_shapes = ((2**self.n_hidden, 2**self.n_hidden),)
        self.state_complex = (True,)
        self.output_size = len(self.observables)
        self._unrolled: dict[int, tuple[QuantumCircuit, list[int], np.ndarray]] = {}

    # subclass hooks
    def unitary(self) -> torch.Tensor:
        """``(2**n, 2**n)`` complex cell unitary (without the encoding) for the current weights."""
        raise NotImplementedError

    def angles(self, x: torch.Tensor) -> torch.Tensor:
        """Input angles of the data register: ``(B, in_features)`` -> ``(B, n_data)``."""
        raise NotImplementedError

    def weight_values(self) -> torch.Tensor:
        """``(len(step_cell.weights),)`` values of the step circuit's weights."""
        raise NotImplementedError

    # engine
    def initial_state(self, batch: int, reference: torch.Tensor) -> State:
        complex_dtype = self._state_dtype(0, reference.dtype)
        return (ground_state(batch, self.n_hidden, complex_dtype, reference.device),)

    def prepare(self) -> Step:
        """The per-step map (the cell unitary built now, once): ``step(x (B, in_features),
        (rho,)) -> (out (B, n_obs), (rho',))``. Sequence modules call :meth:`run`, which also
        encodes every step's input in one pass."""
        if self._backend is not None:
            raise ValueError(
                f"backend {self.backend!r} runs whole sequences; use the sequence module "
                "(QRNN / QReservoir), which calls run()"
            )
        table = kraus_table(self.unitary(), self.n_data)
        readout = self._readout(table)

        def step(x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
            (rho,) = state
            kraus = kraus_operators(table, product_state(self.angles(x)), self.n_hidden)
            probabilities, rho = channel_step(kraus, rho)
            return readout(probabilities), (rho,)

        return step

    def _readout(self, table: torch.Tensor):
        signs = torch.as_tensor(self._signs, dtype=table.dtype, device=table.device)
        if self._data_only:
            return lambda probabilities: probabilities.sum(1) @ signs
        return lambda probabilities: probabilities.flatten(1) @ signs

    def run(self, sequence, state, valid):
        if self._backend is not None:
            return self._run_backend(sequence, state, valid)
        length, batch, _ = sequence.shape
        table = kraus_table(self.unitary(), self.n_data)
        readout = self._readout(table)
        # The inputs do not depend on the state: encode every step at once. Each step's Kraus
        # operators are built just before its channel, so they are still in cache when used.
        angles = self.angles(sequence.reshape(length * batch, -1))
        psi = product_state(angles).view(length, batch, -1)
        (rho,) = state
        outputs = []
        # unbind, not indexing: its backward stacks the step gradients once, where each index
        # would scatter into a zero tensor of the whole sequence
        for t, step_psi in enumerate(psi.unbind(0)):
            kraus = kraus_operators(table, step_psi, self.n_hidden)
            probabilities, new_rho = channel_step(kraus, rho)
            out = readout(probabilities)
            if valid is not None and not bool(valid[t].all()):
                keep = valid[t]
                new_rho = torch.where(keep.view(-1, 1, 1), new_rho, rho)
                out = out * keep.unsqueeze(-1).to(out.dtype)
            rho = new_rho
            outputs.append(out)
        return torch.stack(outputs), (rho,)

    def set_backend(self, backend: object) -> _MemoryCell:
        """Run this cell on another executor from now on; the weights are unchanged.

        Args:
            backend: ``"torch"`` (the exact Kraus engine above) or a ``qrnn.backends`` name or
                backend object with ``expval_at_markers``: each sequence then runs as one
                circuit whose data register is reset after every step (:meth:`run`).

        Returns:
            ``self`` (switched in place).

        Raises:
            ValueError: the backend's device cannot reset a qubit mid-circuit (nothing is
                changed then).
        """
        resolved = None if _is_torch_name(backend) else _resolve_backend(backend)
        self.check_backend(resolved)
        self._backend = resolved
        self.backend = backend if isinstance(backend, str) else getattr(backend, "name", backend)
        return self

    def check_backend(self, backend: object) -> None:
        """Raise ``ValueError`` if ``backend`` (a backend object, or None for the exact engine)
        runs circuits on a device without mid-circuit reset, which every step of this cell
        needs."""
        device = getattr(backend, "device", None)
        if device is None or getattr(device, "mid_circuit_reset", True):
            return
        from qrnn import devices

        able = [name for name in devices.names() if devices.get(name).mid_circuit_reset]
        name = getattr(device, "name", device)
        last = self.n_data - 1
        qubits = "qubit 0" if last == 0 else f"qubits 0-{last}"
        raise ValueError(
            f"{self._family} resets its data register ({qubits}) after every time step, which "
            f"needs mid-circuit reset; device {name!r} does not support it. Devices with "
            f"mid-circuit reset: {', '.join(able)} (or a device file with "
            "mid_circuit_reset = true)"
        )

    # other backends: the whole sequence as one circuit with resets, read at markers
    def _run_backend(self, sequence, state, valid):
        (rho,) = state
        if rho.requires_grad or not _is_ground(rho):
            raise ValueError(
                f"backend {self.backend!r} starts every sequence in |0...0>; an initial state "
                "is only supported with backend='torch'"
            )
        length, batch, _ = sequence.shape
        circuit, weight_columns, input_columns = self._unrolled_circuit(length)
        angles = self.angles(sequence.reshape(length * batch, -1)).view(length, batch, -1)
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
        out = self._backend.expval_at_markers(circuit, values, self.observables)  # (N, L, obs)
        out = out.transpose(0, 1)
        if valid is not None:
            out = out * valid.unsqueeze(-1).to(out.dtype)
        return out, (None,)

    def _unrolled_circuit(self, length: int):
        if length not in self._unrolled:
            from qrnn.backends import add_marker

            step = self.step_cell
            circuit = QuantumCircuit(step.circuit.num_qubits, name=f"{step.circuit.name}_x{length}")
            step_inputs = []
            for t in range(length):
                inputs = ParameterVector(f"x{t:06d}", self.n_data)
                step_inputs.append(inputs)
                bound = step.circuit.assign_parameters(dict(zip(step.inputs, inputs, strict=True)))
                circuit.compose(bound, inplace=True)
                add_marker(circuit)
                for qubit in step.data_qubits:
                    circuit.reset(qubit)
            column = {p: i for i, p in enumerate(circuit.parameters)}
            weight_columns = [column[p] for p in step.weights]
            input_columns = np.array([[column[p] for p in inputs] for inputs in step_inputs])
            self._unrolled[length] = (circuit, weight_columns, input_columns)
        return self._unrolled[length]


def _is_torch_name(backend: object) -> bool:
    return isinstance(backend, str) and backend == TORCH_BACKEND


def _resolve_backend(backend: object):
    if isinstance(backend, str):
        from qrnn import backends

        return backends.get(backend)
    if callable(getattr(backend, "expval_at_markers", None)):
        return backend
    raise TypeError(
        "backend must be 'torch', another qrnn.backends name, or a backend object with "
        f"expval_at_markers(circuit, values, observables); got {backend!r}"
    )


def _qrnn_step_cell(n_data: int, n_hidden: int, n_layers: int, ansatz) -> cells.Cell:
    if isinstance(ansatz, str):
        return cells.qrnn_step(n_data=n_data, n_hidden=n_hidden, n_layers=n_layers, ansatz=ansatz)
    if not isinstance(ansatz, QuantumCircuit):
        raise TypeError(
            f"ansatz must be a name from circuits.ansatz.names() or a QuantumCircuit, "
            f"got {type(ansatz).__name__}"
        )
    n_qubits = n_data + n_hidden
    if ansatz.num_qubits != n_qubits:
        raise ValueError(
            f"the ansatz circuit has {ansatz.num_qubits} qubits; expected n_qubits={n_qubits}"
        )
    names = {p.name for p in ansatz.parameters}
    prefix = "x"
    while any(name.startswith(prefix) for name in names):
        prefix = "_" + prefix
    inputs = ParameterVector(prefix, n_data)
    circuit = QuantumCircuit(n_qubits, name="qrnn_step")
    for qubit in range(n_data):
        circuit.ry(math.pi * inputs[qubit], qubit)
    circuit.compose(ansatz, inplace=True)
    return cells.Cell(
        circuit=circuit,
        inputs=inputs,
        weights=list(ansatz.parameters),
        observables=[cells.pauli_label(n_qubits, {q: "Z"}) for q in range(n_data)],
        data_qubits=tuple(range(n_data)),
        hidden_qubits=tuple(range(n_data, n_qubits)),
    )


class _QRNNCell(_MemoryCell):
    """Trainable memory cell: ``weight`` are the ansatz angles; ``encoder`` (a ``Linear``, only
    when ``in_features != n_data``) maps the step's features to the data angles."""

    _family = "QRNN"

    def __init__(self, in_features, n_data, n_hidden, n_layers, ansatz, backend, device, dtype):
        step = _qrnn_step_cell(n_data, n_hidden, n_layers, ansatz)
        super().__init__(step, backend, dtype)
        self.in_features = in_features
        self.encoder = (
            nn.Linear(in_features, n_data, device=device, dtype=dtype)
            if in_features != n_data
            else None
        )
        self.weight = nn.Parameter(torch.empty(len(step.weights), device=device, dtype=dtype))
        self._program = sim.compile(step.circuit, weight_params=step.weights)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Circuit angles uniform in ``[0, 2 pi)`` (torch's global generator); ``encoder`` as
        ``nn.Linear``."""
        with torch.no_grad():
            self.weight.copy_(torch.rand(self.weight.shape, dtype=torch.float64) * 2 * math.pi)
        if self.encoder is not None:
            self.encoder.reset_parameters()

    def unitary(self) -> torch.Tensor:
        # RY(pi * 0) = I: the step circuit at zero input is the ansatz alone.
        inputs = self.weight.new_zeros(self.n_data).detach()
        return self._program.bind(self.weight).unitary(inputs)

    def angles(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.encoder is None else self.encoder(x)

    def weight_values(self) -> torch.Tensor:
        return self.weight


class _ReservoirCell(_MemoryCell):
    """Fixed memory cell: ``circuits.cells.reservoir`` dynamics; the input angles are
    ``input_weight @ x`` with a fixed buffer (identity when ``in_features == n_data``)."""

    _family = "QReservoir"

    def __init__(self, in_features, n_data, n_qubits, depth, seed, backend, device, dtype):
        step = cells.reservoir(n_qubits=n_qubits, n_inputs=n_data, seed=seed, depth=depth)
        super().__init__(step, backend, dtype)
        self.in_features = in_features
        if in_features == n_data:
            matrix = torch.eye(n_data, dtype=torch.float64)
        else:
            generator = torch.Generator().manual_seed(seed)
            matrix = torch.rand(n_data, in_features, generator=generator, dtype=torch.float64)
            matrix = 2 * matrix - 1
            # rows of unit L1 norm: features in [-1, 1] give angles in [-1, 1] (RY up to +-pi)
            matrix = matrix / matrix.abs().sum(1, keepdim=True)
        self.register_buffer("input_weight", matrix.to(device=device, dtype=dtype))
        self._program = sim.compile(step.circuit)
        self._unitaries: dict = {}

    def unitary(self) -> torch.Tensor:
        key = (self.input_weight.dtype, self.input_weight.device)
        if key not in self._unitaries:
            zeros = self.input_weight.new_zeros(self.n_data)
            self._unitaries[key] = self._program.unitary(zeros).detach()
        return self._unitaries[key]

    def angles(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.input_weight.T

    def weight_values(self) -> torch.Tensor:
        return self.input_weight.new_zeros(0)


# -- sequence modules -------------------------------------------------------------------------


def _check_registers(n_qubits: int, hidden_size: int) -> int:
    positive_int("n_qubits", n_qubits)
    if hidden_size >= n_qubits:
        raise ValueError(
            f"hidden_size={hidden_size} (the data register) must leave at least one qubit of "
            f"the n_qubits={n_qubits} for the hidden register"
        )
    return n_qubits - hidden_size


class _MemoryBase(RecurrentBase):
    def forward(self, input, hx=None):
        """``(output, h_n)``; see the class docstring for shapes."""
        if hx is not None and isinstance(hx, torch.Tensor) and not hx.is_complex():
            raise TypeError(
                f"hx is the hidden register's density matrix and must be complex, got {hx.dtype}"
            )
        return super().forward(input, hx)

    def _stack_state(self, finals, unbatched):
        if any(state[0] is None for state in finals):
            return None  # backends other than torch return expectation values, not states
        return super()._stack_state(finals, unbatched)


class QRNN(_MemoryBase):
    """Quantum-memory recurrent network, with the ``nn.RNN`` interface (see the module
    docstring for the physics and the simulation).

    Args:
        input_size: features per time step. When it differs from ``hidden_size`` a trainable
            ``Linear(input_size -> hidden_size)`` maps them to the data angles; otherwise the
            features are the angles themselves (``RY(pi * x)``, so scale inputs to [0, 1]).
        hidden_size: qubits of the data register = ``<Z>`` outputs per step (default 4). The
            hidden register has ``n_qubits - hidden_size`` qubits; its state, not
            ``hidden_size`` numbers, is what carries memory.
        num_layers: stacked QRNNs; layer ``k > 0`` reads layer ``k-1``'s ``<Z>`` outputs.
        batch_first, dropout, bidirectional: as in ``nn.RNN``.
        n_qubits: data + hidden qubits (default 10: 4 data + 6 hidden).
        n_layers: ansatz layers (default 2).
        ansatz: a name from ``circuits.ansatz.names()`` (default ``"ion_native"``), or a
            ``QuantumCircuit`` on ``n_qubits`` qubits whose parameters are all trainable.
        backend: ``"torch"`` (the exact Kraus simulation above, autograd) or another
            ``qrnn.backends`` name / backend object: each sequence then runs as one circuit
            with resets, read at markers; it starts in ``|0...0>`` (no ``hx``) and ``h_n`` is
            ``None`` (those backends return expectation values, not states).
        device, dtype: of the parameters; the state is complex64 for float32, complex128 for
            float64.

    Parameters: ``cell_l{k}.weight`` (ansatz angles, uniform in ``[0, 2 pi)``) and, where
    needed, ``cell_l{k}.encoder`` (``_reverse`` for the second direction).

    Shapes (``N`` batch, ``L`` length, ``D`` = 2 if bidirectional, ``R = 2**(n_qubits -
    hidden_size)``):
        ======  ====================================================================
        input   ``(L, N, input_size)``, ``(N, L, input_size)`` if batch_first,
                ``(L, input_size)`` unbatched, or a ``PackedSequence``
        hx      ``(num_layers * D, N, R, R)`` complex density matrices of the hidden
                register (unbatched: ``(num_layers * D, R, R)``); ``|0><0|`` if omitted
        output  ``(L, N, D * hidden_size)`` real ``<Z>`` of the data qubits (``(N, L, ...)``
                if batch_first; a ``PackedSequence`` if the input was one)
        h_n     ``(num_layers * D, N, R, R)`` complex, the hidden register's final state
                (each sequence's at its own length)
        ======  ====================================================================

    Returns ``(output, h_n)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 4,
        num_layers: int = 1,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        n_qubits: int = 10,
        n_layers: int = 2,
        ansatz: str | QuantumCircuit = "ion_native",
        backend: object = TORCH_BACKEND,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, batch_first, dropout, bidirectional)
        n_hidden = _check_registers(n_qubits, hidden_size)
        positive_int("n_layers", n_layers)
        dtype = real_dtype(dtype)
        self.n_qubits, self.n_layers, self.ansatz = n_qubits, n_layers, ansatz
        self.backend = backend
        self.n_data, self.n_hidden = hidden_size, n_hidden

        def make(size: int) -> _QRNNCell:
            return _QRNNCell(size, hidden_size, n_hidden, n_layers, ansatz, backend, device, dtype)

        self._add_cells(make)

    def extra_repr(self) -> str:
        ansatz = self.ansatz if isinstance(self.ansatz, str) else self.ansatz.name
        return (
            f"{self._shared_repr()}, n_qubits={self.n_qubits} ({self.n_data} data + "
            f"{self.n_hidden} hidden), n_layers={self.n_layers}, ansatz={ansatz!r}, "
            f"backend={self.backend!r}"
        )


class QReservoir(_MemoryBase):
    """Quantum reservoir with quantum memory: fixed random ion-trap dynamics, no trainable
    parameters (only a classical readout, e.g. a ``Forecaster``'s head, is trained).

    Same scheme as :class:`QRNN` (data register reset each step, hidden register coherent),
    with the cell unitary of ``circuits.cells.reservoir`` (``n_layers`` layers of random
    ``RZ RX`` fields and all-to-all ``RXX`` couplings, angles fixed by ``seed``) and a richer
    readout: ``<Z_q>`` of every qubit and ``<Z_q Z_{q+1}>`` of neighbours, ``2 n_qubits - 1``
    features per step, read after the dynamics and before the reset. The step's features
    reach the data angles through a fixed buffer ``input_weight`` (the identity when
    ``input_size == hidden_size``, else uniform in [-1, 1] with rows of unit L1 norm).

    Args:
        input_size: features per time step (scale to [0, 1] or [-1, 1]).
        hidden_size: data-register qubits (default 4); the rest are the memory.
        num_layers, batch_first, bidirectional: as in ``nn.RNN`` (each layer and direction
            gets its own reservoir, seeds ``seed, seed + 1, ...``).
        n_qubits: default 10.
        n_layers: depth of the reservoir dynamics per step (default 3).
        seed: seed of the dynamics and input maps (default 0).
        backend, device, dtype: as in :class:`QRNN`.

    Shapes: as :class:`QRNN`, except ``output`` is ``(L, N, D * (2 n_qubits - 1))``;
    ``output_size`` says so.

    Returns ``(output, h_n)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 4,
        num_layers: int = 1,
        batch_first: bool = False,
        bidirectional: bool = False,
        *,
        n_qubits: int = 10,
        n_layers: int = 3,
        seed: int = 0,
        backend: object = TORCH_BACKEND,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, batch_first, 0.0, bidirectional)
        _check_registers(n_qubits, hidden_size)
        positive_int("n_layers", n_layers)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        dtype = real_dtype(dtype)
        self.n_qubits, self.n_layers, self.seed = n_qubits, n_layers, seed
        self.backend = backend
        self.n_data, self.n_hidden = hidden_size, n_qubits - hidden_size
        count = iter(range(num_layers * self.num_directions))

        def make(size: int) -> _ReservoirCell:
            return _ReservoirCell(
                size, hidden_size, n_qubits, n_layers, seed + next(count), backend, device, dtype
            )

        self._add_cells(make)

    def extra_repr(self) -> str:
        return (
            f"{self._shared_repr()}, n_qubits={self.n_qubits} ({self.n_data} data + "
            f"{self.n_hidden} hidden), n_layers={self.n_layers}, seed={self.seed}, "
            f"backend={self.backend!r}"
        )
