"""QGRU: a GRU whose gates are variational circuits (the QLSTM construction of Chen, Yoo &
Fang, arXiv 2009.01783, applied to the GRU equations).

Each gate is a :class:`~qrnn.models._qlstm.VQCGate` (``Linear -> circuit -> <Z> -> Linear``)
with its own weights; the hidden state is classical::

    r = sigmoid(VQC_r([x_t, h]))        z = sigmoid(VQC_z([x_t, h]))
    n = tanh(VQC_n([x_t, r * h]))
    h_t = (1 - z) * n + z * h

The reset gate acts on ``h`` before the candidate circuit (Cho et al.'s original form);
``nn.GRU`` applies it after the hidden-side linear map, which has no counterpart when one
circuit reads ``[x_t, h]`` together.
"""

from __future__ import annotations

import torch

from qrnn.models._qlstm import GateRecurrent, VQCGate, _check_step_input, _gate_options
from qrnn.models._recurrent import State, Step, StepCell, positive_int

__all__ = ["QGRU", "QGRUCell"]


class QGRUCell(StepCell):
    """One QGRU step, like ``nn.GRUCell``: ``(x_t, h) -> h_t``.

    Args:
        input_size: features of ``x_t``.
        hidden_size: size of ``h`` (default 4).
        bias: biases in the classical ``Linear`` maps.
        n_qubits, n_layers, ansatz, backend, device, dtype: as in
            :class:`~qrnn.models.QLSTMCell`.

    Submodules: ``reset``, ``update``, ``new``, each a :class:`VQCGate`.

    Shapes:
        =====  ================================================
        input  ``(N, input_size)`` or ``(input_size,)``
        hx     ``(N, hidden_size)``; zeros when omitted
        out    ``(N, hidden_size)``
        =====  ================================================
    """

    gate_names = ("reset", "update", "new")

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 4,
        bias: bool = True,
        *,
        n_qubits: int = 10,
        n_layers: int = 2,
        ansatz: str = "ion_native",
        backend: object = "torch",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        options = _gate_options(n_qubits, n_layers, ansatz, backend, bias, device, dtype)
        super().__init__(options["dtype"])
        self.input_size = positive_int("input_size", input_size)
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.bias = bias
        self.n_qubits, self.n_layers, self.ansatz = n_qubits, n_layers, ansatz
        self.backend = backend
        for name in self.gate_names:
            setattr(self, name, VQCGate(input_size + hidden_size, hidden_size, **options))
        self.state_shapes = ((hidden_size,),)
        self.state_complex = (False,)
        self.output_size = hidden_size

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        return (
            f"{text}, n_qubits={self.n_qubits}, n_layers={self.n_layers}, "
            f"ansatz={self.ansatz!r}, backend={self.backend!r}"
        )

    def prepare(self) -> Step:
        reset, update, new = (getattr(self, n).prepare() for n in self.gate_names)

        def step(x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
            (h,) = state
            v = torch.cat([x, h], dim=-1)
            r = torch.sigmoid(reset(v))
            z = torch.sigmoid(update(v))
            n = torch.tanh(new(torch.cat([x, r * h], dim=-1)))
            h = (1 - z) * n + z * h
            return h, (h,)

        return step

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        """One step; see the class docstring for shapes."""
        x, unbatched = _check_step_input(input, self.input_size, "QGRUCell")
        x = x.to(self.dtype)
        if hx is None:
            state = self.initial_state(x.shape[0], x)
        else:
            h = hx.unsqueeze(0) if unbatched else hx
            if tuple(h.shape) != (x.shape[0], self.hidden_size):
                raise ValueError(
                    f"hx has shape {tuple(hx.shape)}; expected ({x.shape[0]}, {self.hidden_size})"
                )
            state = (h,)
        h, _ = self.prepare()(x, state)
        return h[0] if unbatched else h


class QGRU(GateRecurrent):
    """Quantum GRU, a drop-in for ``nn.GRU`` (see the module docstring for the cell).

    Args:
        input_size: features per time step.
        hidden_size: size of ``h`` (default 4).
        num_layers, bias, batch_first, dropout, bidirectional: as in ``nn.GRU``.
        n_qubits, n_layers, ansatz, backend, device, dtype: as in :class:`QGRUCell`.

    Parameters are those of the cells ``cell_l{k}`` and ``cell_l{k}_reverse``
    (:class:`QGRUCell`), e.g. ``cell_l0.update.vqc.weight``.

    Shapes (``N`` batch, ``L`` length, ``D`` = 2 if bidirectional else 1, ``H`` hidden_size):
        ======  ====================================================================
        input   ``(L, N, input_size)``, ``(N, L, input_size)`` if batch_first,
                ``(L, input_size)`` unbatched, or a ``PackedSequence``
        h_0     ``(num_layers * D, N, H)`` (``(num_layers * D, H)`` unbatched); zeros
                when omitted
        output  ``(L, N, D * H)`` (``(N, L, D * H)`` if batch_first); a
                ``PackedSequence`` if the input was one
        h_n     ``(num_layers * D, N, H)``, each sequence's state at its own length
        ======  ====================================================================

    Returns ``(output, h_n)``.
    """

    cell_class = QGRUCell

    def forward(self, input, hx=None):
        """``(output, h_n)``; see the class docstring for shapes."""
        return super().forward(input, hx)
