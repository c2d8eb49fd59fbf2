"""QRNN: a recurrent network whose memory is a quantum register (Takaki et al., PRA 103,
052414 (2021); Li et al., arXiv 2302.03244, the plain "pQRNN" variant).

The ``n_qubits`` qubits are split into a data register (qubits ``0 .. hidden_size-1``) and a
hidden register (the rest). Each time step the data register, freshly reset, receives
``RY(pi * a_k)`` on data qubit ``k`` (``a`` the step's input angles), the trainable ansatz
acts on all qubits, ``<Z>`` of each data qubit is the step's output, and the data register is
reset; the hidden register carries on, coherently (``circuits.cells.qrnn_step``). The exact
simulation of that channel is ``qrnn.sim.MemoryProgram`` (see ``qrnn/sim/_memory.py`` for the
maths); the hidden state is a ``(batch, 2**n_hidden, 2**n_hidden)`` complex density matrix,
returned as ``h_n`` and accepted back as the initial state.

The staggered variant of Li et al. (sQRNN, rotating which qubits hold data) is not provided.
"""

from __future__ import annotations

import math

import torch
from qiskit.circuit import QuantumCircuit
from torch import nn

from circuits import cells
from circuits._checks import renamed_keywords
from qrnn import backends, sim
from qrnn._cache import WeightCache
from qrnn._checks import real_dtype, torch_device
from qrnn.models._quantum_memory import (
    MemoryCell,
    MemoryRecurrent,
    check_memory_fits,
    check_registers,
    registers_repr,
)

__all__ = ["QRNN", "QRNNCell"]


def _circuit_repr(module: nn.Module) -> str:
    ansatz = module.ansatz if isinstance(module.ansatz, str) else module.ansatz.name
    return (
        f"{registers_repr(module)}, reps={module.reps}, ansatz={ansatz!r}, "
        f"backend={module.backend!r}"
    )


class QRNNCell(MemoryCell):
    """One QRNN step, like ``nn.RNNCell``: ``(x_t, rho) -> (<Z> of the data qubits, rho')``.

    Args:
        input_size: features of ``x_t``. When it differs from ``hidden_size`` a trainable
            ``encoder = Linear(input_size -> hidden_size)`` maps them to the data angles;
            otherwise the features are the angles themselves (``RY(pi * x)``, so scale
            inputs to [0, 1]).
        hidden_size: qubits of the data register = ``<Z>`` outputs (default 4).
        n_qubits: data + hidden qubits (default 10: 4 data + 6 hidden).
        reps: ansatz layers (repetitions, default 2); ``n_layers`` is a deprecated alias.
        ansatz: a name from ``circuits.ansatz.names()`` (default ``"ion_native"``), or a
            ``QuantumCircuit`` on ``n_qubits`` qubits whose parameters are all trainable.
        backend: ``"torch"`` (exact, autograd) or another ``qrnn.backends`` name or
            ``Backend`` (the step runs as a circuit with resets from ``|0...0>``, so no
            ``hx``; ``h'`` is that executor's simulated state, ``Backend.density_matrix``).
        device, dtype: of the parameters; the state is complex64 for float32, complex128 for
            float64.

    Parameters: ``weight`` (the ansatz angles) and, when ``input_size != hidden_size``,
    ``encoder``. ``reset_parameters()`` draws ``weight`` uniformly in ``[0, 2 pi)`` and
    ``encoder`` as ``nn.Linear`` does, from torch's global generator.

    Shapes (``N`` batch, ``R = 2**(n_qubits - hidden_size)``):
        ======  ============================================================
        input   ``(N, input_size)`` or ``(input_size,)``
        hx      ``(N, R, R)`` complex density matrix of the hidden register
                (``(R, R)`` unbatched); ``|0><0|`` when omitted
        output  ``(N, hidden_size)`` real ``<Z>`` of the data qubits
                (``(hidden_size,)`` unbatched)
        h'      ``(N, R, R)`` complex (``(R, R)`` unbatched), the hidden
                register after the step
        ======  ============================================================

    Returns ``(output, h')``.
    """

    _family = "QRNN"

    @renamed_keywords(n_layers="reps")
    def __init__(
        self,
        input_size: int,
        hidden_size: int = 4,
        *,
        n_qubits: int = 10,
        reps: int = 2,
        ansatz: str | QuantumCircuit = "ion_native",
        backend: str | backends.Backend = backends.TORCH,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        n_hidden = check_registers(n_qubits, hidden_size)
        dtype = real_dtype(dtype)
        torch_device(device)
        check_memory_fits("QRNN", n_qubits, hidden_size, lambda n: hidden_size, device, dtype)
        step = cells.qrnn_step(n_data=hidden_size, n_hidden=n_hidden, reps=reps, ansatz=ansatz)
        super().__init__(input_size, step, backend, dtype)
        if backends.is_engine(self._backend):  # trained: U is built with gradients
            blocks = self.memory.unitary_blocks
            readout = self.output_size
            check_memory_fits(
                "QRNN", n_qubits, hidden_size, lambda n: readout, device, dtype, grad_blocks=blocks
            )
        self.hidden_size, self.reps, self.ansatz = hidden_size, reps, ansatz
        self.encoder = (
            nn.Linear(input_size, hidden_size, device=device, dtype=dtype)
            if input_size != hidden_size
            else None
        )
        self.weight = nn.Parameter(torch.empty(len(step.weights), device=device, dtype=dtype))
        self._bound = WeightCache()
        self.reset_parameters()

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, {_circuit_repr(self)}"

    def reset_parameters(self) -> None:
        """Circuit angles ``weight`` uniform in ``[0, 2 pi)``, ``encoder`` as ``nn.Linear``;
        both from torch's global generator."""
        with torch.no_grad():
            self.weight.copy_(torch.rand(self.weight.shape, dtype=torch.float64) * 2 * math.pi)
        if self.encoder is not None:
            self.encoder.reset_parameters()

    def bind(self) -> sim.MemoryStep:
        # U is rebuilt only when the weights changed (or a backward pass used it)
        return self._bound.get((self.weight,), lambda weights: self.memory.bind(*weights))

    def angles(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.encoder is None else self.encoder(x)

    def weight_values(self) -> torch.Tensor:
        return self.weight


class QRNN(MemoryRecurrent):
    """Quantum-memory recurrent network, with the ``nn.RNN`` interface (see the module
    docstring for the physics; :class:`QRNNCell` is one step).

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
        reps: ansatz layers (repetitions, default 2); ``n_layers`` is a deprecated alias.
        ansatz: a name from ``circuits.ansatz.names()`` (default ``"ion_native"``), or a
            ``QuantumCircuit`` on ``n_qubits`` qubits whose parameters are all trainable.
        backend: ``"torch"`` (the exact simulation, autograd) or another ``qrnn.backends``
            name or ``Backend``: each sequence then runs as one circuit with resets, read
            at markers; it starts in ``|0...0>`` (no ``hx``), and ``h_n`` is the hidden
            register's state as that executor simulates it (``Backend.density_matrix``, with
            the device's noise; a simulator's state, differentiable where the backend has
            autograd).
        device, dtype: of the parameters; the state is complex64 for float32, complex128 for
            float64.

    Parameters: ``cell_l{k}.weight`` (ansatz angles, uniform in ``[0, 2 pi)``) and, where
    needed, ``cell_l{k}.encoder`` (``_reverse`` for the second direction); the cells are
    :class:`QRNNCell`\\ s. ``reset_parameters()`` redraws every cell's.

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

    @renamed_keywords(n_layers="reps")
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
        reps: int = 2,
        ansatz: str | QuantumCircuit = "ion_native",
        backend: str | backends.Backend = backends.TORCH,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, batch_first, dropout, bidirectional)
        self._set_registers(n_qubits, backend)
        torch_device(device)
        check_memory_fits(
            "QRNN",
            n_qubits,
            hidden_size,
            lambda n: hidden_size,
            device,
            real_dtype(dtype),
            cells=num_layers * self.num_directions,
        )
        self.reps, self.ansatz = reps, ansatz
        options = {
            "n_qubits": n_qubits,
            "reps": reps,
            "ansatz": ansatz,
            "backend": backend,
            "device": device,
            "dtype": dtype,
        }
        self._add_cells(lambda size: QRNNCell(size, hidden_size, **options))

    def extra_repr(self) -> str:
        return f"{self._shared_repr()}, {_circuit_repr(self)}"
