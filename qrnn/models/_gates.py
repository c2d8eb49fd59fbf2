"""What QLSTM and QGRU share: gates that are variational circuits (Chen, Yoo & Fang, arXiv
2009.01783), a one-step cell built of such gates, and the sequence module around it.

Like ``torch.nn.RNNCellBase`` for ``LSTMCell``/``GRUCell``: :class:`GateCell` holds the
constructor, ``extra_repr``, ``reset_parameters`` and the checking of a single step's input;
a subclass only names its gates (``gate_names``), its state (``state_names``) and writes its
step algebra (:meth:`GateCell.equations`). :class:`GateRecurrent` is the ``nn.LSTM``-style
sequence module over such cells.

Each gate is a :class:`VQCGate`: ``v = [x_t, h_{t-1}]`` is mapped by a ``Linear(input_size +
hidden_size -> n_qubits)`` to one angle per qubit, encoded as ``H, RY(v_k)`` on qubit ``k``
(``circuits.cells.qlstm_gate``), followed by the trainable ansatz; ``<Z>`` of every qubit is
mapped by a ``Linear(n_qubits -> hidden_size)`` to the gate's pre-activation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from circuits import cells
from circuits._checks import renamed_keywords
from qrnn import backends, sim
from qrnn._checks import boolean, integer, real_dtype, torch_device
from qrnn.layer import QuantumLayer
from qrnn.models._recurrent import RecurrentBase, State, Step, StepCell

__all__ = ["GateCell", "GateRecurrent", "VQCGate"]

Gate = Callable[[torch.Tensor], torch.Tensor]


class VQCGate(nn.Module):
    """One gate circuit: ``Linear(in_features -> n_qubits)``, the ``qlstm_gate`` circuit with
    its own trainable weights, ``<Z>`` of every qubit, ``Linear(n_qubits -> out_features)``.

    Args:
        in_features, out_features: sizes of the classical input and output.
        n_qubits, reps, ansatz: the gate circuit (``circuits.cells.qlstm_gate``).
        backend: executor of the circuit (see :class:`~qrnn.layer.QuantumLayer`).
        bias: biases in the two ``Linear`` maps.
        device, dtype: of the parameters.

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
        reps: int,
        ansatz: str,
        backend: str | backends.Backend,
        bias: bool,
        device: torch.device | str | None,
        dtype: torch.dtype,
    ) -> None:
        super().__init__()
        gate = cells.qlstm_gate(n_qubits=n_qubits, reps=reps, ansatz=ansatz)
        options = {"device": device, "dtype": dtype}
        self.encoder = nn.Linear(in_features, n_qubits, bias=bias, **options)
        self.vqc = QuantumLayer(
            gate.circuit, gate.inputs, gate.weights, gate.observables, backend, **options
        )
        self.decoder = nn.Linear(n_qubits, out_features, bias=bias, **options)

    def reset_parameters(self) -> None:
        """Redraw ``encoder`` and ``decoder`` as ``nn.Linear`` does and the circuit angles
        ``vqc.weight`` uniformly in ``[0, 2 pi)``, all from torch's global generator."""
        self.encoder.reset_parameters()
        self.vqc.reset_parameters()
        self.decoder.reset_parameters()

    def prepare(self) -> Gate:
        """The gate map with the circuit's weight-only work done once."""
        circuit = self.vqc.prepare()
        return lambda v: self.decoder(circuit(self.encoder(v)))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.prepare()(v)


def check_gates_fit(
    family: str,
    n_gates: int,
    n_qubits: int,
    backend: str | backends.Backend,
    device: torch.device | str | None,
    dtype: torch.dtype,
) -> None:
    """Refuse, before any circuit is built, ``n_gates`` gate circuits of ``n_qubits`` qubits
    that the torch engine could not simulate for even one sample (other backends judge their
    own limits when they run)."""
    integer("n_qubits", n_qubits)
    engine = backend == backends.TORCH or (
        isinstance(backend, backends.Backend) and backends.is_engine(backend)
    )
    if not engine:
        return
    sim.check_memory(
        f"{family} with n_qubits={n_qubits} ({n_gates} gate circuits of 2**{n_qubits} amplitudes)",
        lambda n: sim.program_bytes(n, n, dtype=dtype, programs=n_gates),
        n_qubits,
        device=device,
    )


def _circuit_repr(module: nn.Module) -> str:
    text = "" if module.bias else ", bias=False"
    return (
        f"{text}, n_qubits={module.n_qubits}, reps={module.reps}, ansatz={module.ansatz!r}, "
        f"backend={module.backend!r}"
    )


class GateCell(StepCell):
    """Base of the one-step cells whose gates are :class:`VQCGate`\\ s (``QLSTMCell``,
    ``QGRUCell``), like ``torch.nn.RNNCellBase``; the constructor words are theirs
    (``n_layers`` is a deprecated alias of ``reps``).

    Every gate reads ``[x_t, h]`` (``input_size + hidden_size`` features) and gives
    ``hidden_size`` pre-activations. Subclasses set ``gate_names`` (the submodules, in
    ``state_dict`` order), ``state_names`` and implement :meth:`equations`.
    """

    gate_names: tuple[str, ...]

    @renamed_keywords(n_layers="reps")
    def __init__(
        self,
        input_size: int,
        hidden_size: int = 4,
        bias: bool = True,
        *,
        n_qubits: int = 10,
        reps: int = 2,
        ansatz: str = "ion_native",
        backend: str | backends.Backend = backends.TORCH,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        dtype = real_dtype(dtype)
        torch_device(device)
        super().__init__(input_size, dtype)
        self.hidden_size = integer("hidden_size", hidden_size)
        family = type(self).__name__.removesuffix("Cell")
        check_gates_fit(family, len(self.gate_names), n_qubits, backend, device, dtype)
        self.bias = boolean("bias", bias)
        self.n_qubits, self.reps, self.ansatz, self.backend = n_qubits, reps, ansatz, backend
        for name in self.gate_names:
            gate = VQCGate(
                input_size + hidden_size,
                hidden_size,
                n_qubits=n_qubits,
                reps=reps,
                ansatz=ansatz,
                backend=backend,
                bias=bias,
                device=device,
                dtype=dtype,
            )
            setattr(self, name, gate)
        self.state_shapes = ((hidden_size,),) * len(self.state_names)
        self.state_complex = (False,) * len(self.state_names)
        self.output_size = hidden_size

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}{_circuit_repr(self)}"

    def reset_parameters(self) -> None:
        """``reset_parameters()`` of every gate (:class:`VQCGate`), in ``gate_names`` order."""
        for name in self.gate_names:
            getattr(self, name).reset_parameters()

    def prepare(self) -> Step:
        gates = {name: getattr(self, name).prepare() for name in self.gate_names}
        return lambda x, state: self.equations(gates, x, state)

    def equations(
        self, gates: dict[str, Gate], x: torch.Tensor, state: State
    ) -> tuple[torch.Tensor, State]:
        """The step algebra: ``gates[name](v)`` runs gate ``name`` (``(N, input_size +
        hidden_size)`` -> ``(N, hidden_size)``); returns ``(out, new_state)``."""
        raise NotImplementedError


class GateRecurrent(RecurrentBase):
    """Shared constructor of QLSTM and QGRU: every gate of the cell is a variational circuit;
    subclasses name their one-step cell in ``cell_class``.

    Args: ``input_size, hidden_size=4, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False`` as in ``nn.LSTM``, and the keyword-only circuit options
    ``n_qubits=10, reps=2, ansatz="ion_native", backend="torch", device=None, dtype=None`` of
    :class:`GateCell` (``n_layers`` is a deprecated alias of ``reps``).
    """

    cell_class: type[GateCell]

    @renamed_keywords(n_layers="reps")
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
        reps: int = 2,
        ansatz: str = "ion_native",
        backend: str | backends.Backend = backends.TORCH,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, batch_first, dropout, bidirectional)
        self.bias = boolean("bias", bias)
        torch_device(device)
        gates = len(self.cell_class.gate_names) * num_layers * self.num_directions
        check_gates_fit(type(self).__name__, gates, n_qubits, backend, device, real_dtype(dtype))
        self.n_qubits, self.reps, self.ansatz, self.backend = n_qubits, reps, ansatz, backend
        options = {
            "n_qubits": n_qubits,
            "reps": reps,
            "ansatz": ansatz,
            "backend": backend,
            "device": device,
            "dtype": dtype,
        }
        self._add_cells(lambda size: self.cell_class(size, hidden_size, bias, **options))

    def extra_repr(self) -> str:
        return self._shared_repr() + _circuit_repr(self)
