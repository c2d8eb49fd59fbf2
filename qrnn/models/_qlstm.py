"""QLSTM: an LSTM whose gates are variational circuits (Chen, Yoo & Fang, arXiv 2009.01783).

The hidden state ``(h, c)`` is classical. Each of the four gates of the LSTM equations is its
own variational quantum circuit (:class:`~qrnn.models.VQCGate`, see ``_gates.py``) reading
``v = [x_t, h_{t-1}]``. Then the usual algebra::

    f = sigmoid(VQC_f(v))   i = sigmoid(VQC_i(v))   g = tanh(VQC_g(v))   o = sigmoid(VQC_o(v))
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Differences from the paper, on purpose: the classical input and output maps are ``Linear``
layers (the paper feeds ``[h, x]`` straight into as many qubits, and its ``RY(arctan v),
RZ(arctan v^2)`` encoding is here ``RY(v)`` with the ``Linear`` learning the scale), and
``h_t`` is the plain LSTM output rather than two further circuits.
"""

from __future__ import annotations

import torch

from qrnn.models._gates import Gate, GateCell, GateRecurrent
from qrnn.models._recurrent import State

__all__ = ["QLSTM", "QLSTMCell"]


class QLSTMCell(GateCell):
    """One QLSTM step, like ``nn.LSTMCell``: ``(x_t, (h, c)) -> (h_t, c_t)``.

    Args:
        input_size: features of ``x_t``.
        hidden_size: size of ``h`` and ``c`` (default 4).
        bias: biases in the classical ``Linear`` maps.
        n_qubits: qubits of each gate circuit (default 10).
        reps: ansatz layers (repetitions) of each gate circuit (default 2); ``n_layers`` is a
            deprecated alias.
        ansatz: a name from ``circuits.ansatz.names()`` (default ``"ion_native"``).
        backend: ``"torch"`` or any ``QuantumLayer`` backend.
        device, dtype: of the parameters (default ``torch.get_default_dtype()``).

    Submodules: ``forget``, ``input``, ``cell``, ``output``, each a
    :class:`~qrnn.models.VQCGate`; ``reset_parameters()`` redraws them all.

    Shapes:
        =====  ================================================
        input  ``(N, input_size)`` or ``(input_size,)``
        hx     ``(h, c)``, each ``(N, hidden_size)`` (``(hidden_size,)`` unbatched);
               zeros when omitted
        out    ``(h_t, c_t)``, each ``(N, hidden_size)`` (``(hidden_size,)`` unbatched)
        =====  ================================================
    """

    gate_names = ("forget", "input", "cell", "output")
    state_names = ("h", "c")

    def equations(self, gates: dict[str, Gate], x: torch.Tensor, state: State):
        h, c = state
        v = torch.cat([x, h], dim=-1)
        forget = torch.sigmoid(gates["forget"](v))
        c = forget * c + torch.sigmoid(gates["input"](v)) * torch.tanh(gates["cell"](v))
        h = torch.sigmoid(gates["output"](v)) * torch.tanh(c)
        return h, (h, c)

    def forward(
        self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step; see the class docstring for shapes."""
        _, (h, c) = self.step_once(input, hx)
        return h, c


class QLSTM(GateRecurrent):
    """Quantum LSTM, a drop-in for ``nn.LSTM`` (see the module docstring for the cell).

    Args:
        input_size: features per time step.
        hidden_size: size of ``h`` and ``c`` (default 4).
        num_layers: stacked QLSTM layers; layer ``k > 0`` reads layer ``k-1``'s output.
        bias: biases in the classical ``Linear`` maps.
        batch_first: ``(N, L, F)`` input and output instead of ``(L, N, F)``.
        dropout: dropout on each layer's output except the last (training only).
        bidirectional: also run a second set of cells over the reversed sequences.
        n_qubits, reps, ansatz, backend, device, dtype: as in :class:`QLSTMCell` (keyword
            only; ``n_layers`` is a deprecated alias of ``reps``).

    Parameters are those of the cells ``cell_l{k}`` and ``cell_l{k}_reverse``
    (:class:`QLSTMCell`); e.g. ``cell_l0.forget.vqc.weight`` are the circuit angles of the
    first layer's forget gate. ``reset_parameters()`` redraws every cell's.

    Shapes (``N`` batch, ``L`` length, ``D`` = 2 if bidirectional else 1, ``H`` hidden_size):
        ======  ====================================================================
        input   ``(L, N, input_size)``, ``(N, L, input_size)`` if batch_first,
                ``(L, input_size)`` unbatched, or a ``PackedSequence``
        h_0     ``(num_layers * D, N, H)`` (or ``(num_layers * D, H)`` unbatched)
        c_0     same as ``h_0``; both zeros when ``hx`` is omitted
        output  ``(L, N, D * H)`` (``(N, L, D * H)`` if batch_first); a
                ``PackedSequence`` if the input was one
        h_n     ``(num_layers * D, N, H)``, each sequence's state at its own length
        c_n     same as ``h_n``
        ======  ====================================================================

    Returns ``(output, (h_n, c_n))``.
    """

    _pair_state = True
    cell_class = QLSTMCell

    def forward(self, input, hx=None):
        """``(output, (h_n, c_n))``; see the class docstring for shapes."""
        return super().forward(input, hx)
