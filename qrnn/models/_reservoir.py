"""QReservoir: quantum reservoir computing with quantum memory (fixed random ion-trap dynamics;
only a classical readout, e.g. a ``Forecaster``'s head, is trained).

Same scheme as the QRNN (data register reset and re-encoded every step, hidden register
carried coherently; the exact simulation is ``qrnn.sim.MemoryProgram``), with the step
circuit of ``circuits.cells.reservoir`` (``reps`` layers of random ``RZ RX`` fields and
all-to-all ``RXX`` couplings, angles fixed by ``seed``) and a richer readout: ``<Z_q>`` of
every qubit and ``<Z_q Z_{q+1}>`` of neighbours, ``2 n_qubits - 1`` features per step.
"""

from __future__ import annotations

import torch

from circuits import cells
from circuits._checks import renamed_keywords
from qrnn import backends, sim
from qrnn._checks import real_dtype, torch_device
from qrnn.models._quantum_memory import (
    MemoryCell,
    MemoryRecurrent,
    check_memory_fits,
    check_registers,
    registers_repr,
)

__all__ = ["QReservoir", "QReservoirCell"]


def _readout_width(n_qubits: int) -> int:
    """``<Z_q>`` of every qubit and ``<Z_q Z_{q+1}>`` of neighbours."""
    return 2 * n_qubits - 1


class QReservoirCell(MemoryCell):
    """One reservoir step: ``(x_t, rho) -> (readout, rho')``; no trainable parameters.

    The step's features reach the data angles through a fixed buffer ``input_weight`` of shape
    ``(hidden_size, input_size)``: the identity when ``input_size == hidden_size``, else
    uniform in [-1, 1] with rows of unit L1 norm (features in [-1, 1] give angles in [-1, 1]),
    drawn from ``seed``.

    Args:
        input_size: features of ``x_t`` (scale to [0, 1] or [-1, 1]).
        hidden_size: data-register qubits (default 4); the rest are the memory.
        n_qubits: default 10.
        reps: layers of the reservoir dynamics per step (default 3); ``n_layers`` is a
            deprecated alias.
        seed: seed of the dynamics and of ``input_weight`` (default 0).
        backend, device, dtype: as in :class:`~qrnn.models.QRNNCell`.

    ``reset_parameters()`` draws ``input_weight`` from ``seed`` again (restoring it if it was
    changed); the dynamics are the step circuit's fixed angles and are not redrawn (build a
    cell with another ``seed`` for other dynamics).

    Shapes: as :class:`~qrnn.models.QRNNCell`, except ``output`` is ``(N, 2 n_qubits - 1)``
    (``output_size``).

    Returns ``(output, h')``.
    """

    _family = "QReservoir"

    @renamed_keywords(n_layers="reps")
    def __init__(
        self,
        input_size: int,
        hidden_size: int = 4,
        *,
        n_qubits: int = 10,
        reps: int = 3,
        seed: int = 0,
        backend: str | backends.Backend = backends.TORCH,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_registers(n_qubits, hidden_size)
        dtype = real_dtype(dtype)
        torch_device(device)
        check_memory_fits("QReservoir", n_qubits, hidden_size, _readout_width, device, dtype)
        step = cells.reservoir(n_qubits=n_qubits, n_inputs=hidden_size, seed=seed, reps=reps)
        super().__init__(input_size, step, backend, dtype)
        self.hidden_size, self.reps, self.seed = hidden_size, reps, seed
        weight = torch.empty(hidden_size, input_size, device=device, dtype=dtype)
        self.register_buffer("input_weight", weight)
        self._bound: dict[tuple, sim.MemoryStep] = {}
        self.reset_parameters()

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, {registers_repr(self)}, reps={self.reps}, "
            f"seed={self.seed}, backend={self.backend!r}"
        )

    def reset_parameters(self) -> None:
        """Draw ``input_weight`` from ``seed`` (the same values every time); the dynamics are
        fixed by ``seed`` in the step circuit and are not redrawn."""
        if self.input_size == self.hidden_size:
            matrix = torch.eye(self.hidden_size, dtype=torch.float64)
        else:
            generator = torch.Generator().manual_seed(self.seed)
            shape = (self.hidden_size, self.input_size)
            matrix = 2 * torch.rand(shape, generator=generator, dtype=torch.float64) - 1
            # rows of unit L1 norm: features in [-1, 1] give angles in [-1, 1] (RY up to +-pi)
            matrix = matrix / matrix.abs().sum(1, keepdim=True)
        with torch.no_grad():
            self.input_weight.copy_(matrix)

    def bind(self) -> sim.MemoryStep:
        # fixed dynamics: U is built once per dtype and device
        key = (self.input_weight.dtype, self.input_weight.device)
        if key not in self._bound:
            with torch.no_grad():
                self._bound[key] = self.memory.bind(dtype=key[0], device=key[1])
        return self._bound[key]

    def angles(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.input_weight.T

    def weight_values(self) -> torch.Tensor:
        return self.input_weight.new_zeros(0)


class QReservoir(MemoryRecurrent):
    """Quantum reservoir with quantum memory and the ``nn.RNN`` interface (see the module
    docstring; :class:`QReservoirCell` is one step). No trainable parameters.

    Args:
        input_size: features per time step (scale to [0, 1] or [-1, 1]).
        hidden_size: data-register qubits (default 4); the rest are the memory.
        num_layers, batch_first, bidirectional: as in ``nn.RNN`` (each layer and direction
            gets its own reservoir, seeds ``seed, seed + 1, ...``).
        n_qubits: default 10.
        reps: layers of the reservoir dynamics per step (default 3); ``n_layers`` is a
            deprecated alias.
        seed: seed of the dynamics and input maps (default 0).
        backend, device, dtype: as in :class:`~qrnn.models.QRNN`.

    Buffers: ``cell_l{k}.input_weight`` (see :class:`QReservoirCell`); ``reset_parameters()``
    draws them from their seeds again and leaves the dynamics as they are.

    Shapes: as :class:`~qrnn.models.QRNN`, except ``output`` is ``(L, N, D * (2 n_qubits -
    1))``; ``output_size`` says so.

    Returns ``(output, h_n)``.
    """

    @renamed_keywords(n_layers="reps")
    def __init__(
        self,
        input_size: int,
        hidden_size: int = 4,
        num_layers: int = 1,
        batch_first: bool = False,
        bidirectional: bool = False,
        *,
        n_qubits: int = 10,
        reps: int = 3,
        seed: int = 0,
        backend: str | backends.Backend = backends.TORCH,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, batch_first, 0.0, bidirectional)
        self._set_registers(n_qubits, backend)
        torch_device(device)
        check_memory_fits(
            "QReservoir",
            n_qubits,
            hidden_size,
            _readout_width,
            device,
            real_dtype(dtype),
            cells=num_layers * self.num_directions,
        )
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}")
        self.reps, self.seed = reps, seed
        seeds = iter(range(seed, seed + num_layers * self.num_directions))
        options = {"n_qubits": n_qubits, "reps": reps, "backend": backend}
        options |= {"device": device, "dtype": dtype}
        self._add_cells(lambda size: QReservoirCell(size, hidden_size, seed=next(seeds), **options))

    def extra_repr(self) -> str:
        return (
            f"{self._shared_repr()}, {registers_repr(self)}, reps={self.reps}, "
            f"seed={self.seed}, backend={self.backend!r}"
        )
