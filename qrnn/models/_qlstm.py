"""QLSTM: an LSTM whose gates are variational circuits (Chen, Yoo & Fang, arXiv 2009.01783).

The hidden state ``(h, c)`` is classical. Each of the four gates of the LSTM equations is its
own variational quantum circuit (:class:`VQCGate`): ``v = [x_t, h_{t-1}]`` is mapped by a
``Linear(input_size + hidden_size -> n_qubits)`` to one angle per qubit, encoded as
``H, RY(v_k)`` on qubit ``k`` (``circuits.cells.qlstm_gate``), followed by the trainable ansatz;
``<Z>`` of every qubit is mapped by a ``Linear(n_qubits -> hidden_size)`` to the gate's
pre-activation. Then the usual algebra::

    f = sigmoid(VQC_f(v))   i = sigmoid(VQC_i(v))   g = tanh(VQC_g(v))   o = sigmoid(VQC_o(v))
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Differences from the paper, on purpose: the classical input and output maps are ``Linear``
layers (the paper feeds ``[h, x]`` straight into as many qubits, and its ``RY(arctan v),
RZ(arctan v^2)`` encoding is here ``RY(v)`` with the ``Linear`` learning the scale), and
``h_t`` is the plain LSTM output rather than two further circuits.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from circuits import cells
from qrnn.layer import QuantumLayer
from qrnn.models._recurrent import RecurrentBase, State, Step, StepCell, positive_int, real_dtype

__all__ = ["QLSTM", "QLSTMCell", "VQCGate"]


class VQCGate(nn.Module):
    """One gate circuit: ``Linear(in_features -> n_qubits)``, the ``qlstm_gate`` circuit with
    its own trainable weights, ``<Z>`` of every qubit, ``Linear(n_qubits -> out_features)``.

    Submodules (stable ``state_dict`` names): ``encoder`` (the input ``Linear``), ``vqc``
    (the :class:`~qrnn.layer.QuantumLayer`, its angles are ``vqc.weight``), ``decoder``.

    Shapes: ``(batch, in_features)`` -> ``(batch, out_features)``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        n_qubits: int,
        n_layers: int,
        ansatz: str,
        backend: object,
        bias: bool,
        device: torch.device | str | None,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        gate = cells.qlstm_gate(n_qubits=n_qubits, n_layers=n_layers, ansatz=ansatz)
        options = {"device": device, "dtype": dtype}
        self.encoder = nn.Linear(in_features, n_qubits, bias=bias, **options)
        self.vqc = QuantumLayer(
            gate.circuit, gate.inputs, gate.weights, gate.observables, backend, **options
        )
        self.decoder = nn.Linear(n_qubits, out_features, bias=bias, **options)

    def prepare(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """The gate map with the circuit's weight-only work done once."""
        circuit = self.vqc.prepare()
        return lambda v: self.decoder(circuit(self.encoder(v)))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.prepare()(v)


def _gate_options(n_qubits, n_layers, ansatz, backend, bias, device, dtype) -> dict:
    positive_int("n_qubits", n_qubits)
    positive_int("n_layers", n_layers)
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be a bool, got {bias!r}")
    return {
        "n_qubits": n_qubits,
        "n_layers": n_layers,
        "ansatz": ansatz,
        "backend": backend,
        "bias": bias,
        "device": device,
        "dtype": real_dtype(dtype),
    }


def _check_step_input(x: torch.Tensor, size: int, name: str) -> tuple[torch.Tensor, bool]:
    if not isinstance(x, torch.Tensor) or x.dim() not in (1, 2) or x.shape[-1] != size:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} input must be (batch, {size}) or ({size},), got {got}")
    return (x.unsqueeze(0), True) if x.dim() == 1 else (x, False)


class QLSTMCell(StepCell):
    """One QLSTM step, like ``nn.LSTMCell``: ``(x_t, (h, c)) -> (h_t, c_t)``.

    Args:
        input_size: features of ``x_t``.
        hidden_size: size of ``h`` and ``c`` (default 4).
        bias: biases in the classical ``Linear`` maps.
        n_qubits: qubits of each gate circuit (default 10).
        n_layers: ansatz layers (default 2).
        ansatz: a name from ``circuits.ansatz.names()`` (default ``"ion_native"``).
        backend: ``"torch"`` or any ``QuantumLayer`` backend.
        device, dtype: of the parameters (default ``torch.get_default_dtype()``).

    Submodules: ``forget``, ``input``, ``cell``, ``output``, each a :class:`VQCGate`.

    Shapes:
        =====  ================================================
        input  ``(N, input_size)`` or ``(input_size,)``
        hx     ``(h, c)``, each ``(N, hidden_size)``; zeros when omitted
        out    ``(h_t, c_t)``, each ``(N, hidden_size)``
        =====  ================================================
    """

    gate_names = ("forget", "input", "cell", "output")

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
        self.backend = options["backend"]
        for name in self.gate_names:
            setattr(self, name, VQCGate(input_size + hidden_size, hidden_size, **options))
        self.state_shapes = ((hidden_size,), (hidden_size,))
        self.state_complex = (False, False)
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
        forget, input_, cell, output = (getattr(self, n).prepare() for n in self.gate_names)

        def step(x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
            h, c = state
            v = torch.cat([x, h], dim=-1)
            c = torch.sigmoid(forget(v)) * c + torch.sigmoid(input_(v)) * torch.tanh(cell(v))
            h = torch.sigmoid(output(v)) * torch.tanh(c)
            return h, (h, c)

        return step

    def forward(
        self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step; see the class docstring for shapes."""
        x, unbatched = _check_step_input(input, self.input_size, "QLSTMCell")
        x = x.to(self.dtype)
        if hx is None:
            state = self.initial_state(x.shape[0], x)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("hx must be a pair (h, c)")
            state = tuple(s.unsqueeze(0) if unbatched else s for s in hx)
            for name, s in zip(("h", "c"), state, strict=True):
                if tuple(s.shape) != (x.shape[0], self.hidden_size):
                    raise ValueError(
                        f"{name} has shape {tuple(s.shape)}; expected "
                        f"({x.shape[0]}, {self.hidden_size})"
                    )
        _, (h, c) = self.prepare()(x, state)
        return (h[0], c[0]) if unbatched else (h, c)


class GateRecurrent(RecurrentBase):
    """Shared constructor of QLSTM and QGRU: every gate of the cell is a variational circuit;
    subclasses name their one-step cell in ``cell_class``."""

    cell_class: type[StepCell]

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 4,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        n_qubits: int = 10,
        n_layers: int = 2,
        ansatz: str = "ion_native",
        backend: object = "torch",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, batch_first, dropout, bidirectional)
        _gate_options(n_qubits, n_layers, ansatz, backend, bias, device, dtype)
        self.bias = bias
        self.n_qubits, self.n_layers, self.ansatz = n_qubits, n_layers, ansatz
        self.backend = backend

        def make(size: int) -> StepCell:
            return self.cell_class(
                size,
                hidden_size,
                bias,
                n_qubits=n_qubits,
                n_layers=n_layers,
                ansatz=ansatz,
                backend=backend,
                device=device,
                dtype=dtype,
            )

        self._add_cells(make)

    def extra_repr(self) -> str:
        text = self._shared_repr()
        if not self.bias:
            text += ", bias=False"
        return (
            f"{text}, n_qubits={self.n_qubits}, n_layers={self.n_layers}, "
            f"ansatz={self.ansatz!r}, backend={self.backend!r}"
        )


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
        n_qubits, n_layers, ansatz, backend, device, dtype: as in :class:`QLSTMCell`.

    Parameters are those of the cells ``cell_l{k}`` and ``cell_l{k}_reverse``
    (:class:`QLSTMCell`); e.g. ``cell_l0.forget.vqc.weight`` are the circuit angles of the
    first layer's forget gate.

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
