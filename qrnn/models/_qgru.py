"""QGRU: a GRU whose gates are variational circuits (the QLSTM construction of Chen, Yoo &
Fang, arXiv 2009.01783, applied to the GRU equations).

Each gate is a :class:`~qrnn.models.VQCGate` (``Linear -> circuit -> <Z> -> Linear``, see
``_gates.py``) with its own weights; the hidden state is classical::

    r = sigmoid(VQC_r([x_t, h]))        z = sigmoid(VQC_z([x_t, h]))
    n = tanh(VQC_n([x_t, r * h]))
    h_t = (1 - z) * n + z * h

The reset gate acts on ``h`` before the candidate circuit (Cho et al.'s original form);
``nn.GRU`` applies it after the hidden-side linear map, which has no counterpart when one
circuit reads ``[x_t, h]`` together.
"""

from __future__ import annotations

import torch

from qrnn.models._gates import Gate, GateCell, GateRecurrent
from qrnn.models._recurrent import State

__all__ = ["QGRU", "QGRUCell"]


class QGRUCell(GateCell):
    """One QGRU step, like ``nn.GRUCell``: ``(x_t, h) -> h_t``.

    Args:
        input_size: features of ``x_t``.
        hidden_size: size of ``h`` (default 4).
        bias: biases in the classical ``Linear`` maps.
        n_qubits, reps, ansatz, backend, device, dtype: as in
            :class:`~qrnn.models.QLSTMCell` (``n_layers`` is a deprecated alias of ``reps``).

    Submodules: ``reset``, ``update``, ``new``, each a :class:`~qrnn.models.VQCGate`;
    ``reset_parameters()`` redraws them all.

    Shapes:
        =====  ================================================
        input  ``(N, input_size)`` or ``(input_size,)``
        hx     ``(N, hidden_size)`` (``(hidden_size,)`` unbatched); zeros when omitted
        out    ``(N, hidden_size)`` (``(hidden_size,)`` unbatched)
        =====  ================================================
    """

    gate_names = ("reset", "update", "new")
    state_names = ("hx",)

    def equations(self, gates: dict[str, Gate], x: torch.Tensor, state: State):
        (h,) = state
        v = torch.cat([x, h], dim=-1)
        r = torch.sigmoid(gates["reset"](v))
        z = torch.sigmoid(gates["update"](v))
        n = torch.tanh(gates["new"](torch.cat([x, r * h], dim=-1)))
        h = (1 - z) * n + z * h
        return h, (h,)

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        """One step; see the class docstring for shapes."""
        h, _ = self.step_once(input, hx)
        return h


class QGRU(GateRecurrent):
    """Quantum GRU, a drop-in for ``nn.GRU`` (see the module docstring for the cell).

    Args:
        input_size: features per time step.
        hidden_size: size of ``h`` (default 4).
        num_layers, bias, batch_first, dropout, bidirectional: as in ``nn.GRU``.
        n_qubits, reps, ansatz, backend, device, dtype: as in :class:`QGRUCell` (keyword
            only; ``n_layers`` is a deprecated alias of ``reps``).

    Parameters are those of the cells ``cell_l{k}`` and ``cell_l{k}_reverse``
    (:class:`QGRUCell`), e.g. ``cell_l0.update.vqc.weight``. ``reset_parameters()`` redraws
    every cell's.

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
