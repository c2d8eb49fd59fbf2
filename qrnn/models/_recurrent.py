"""The ``torch.nn.RNN``-style driver shared by every recurrent model of ``qrnn.models`` (the
quantum ones and the echo-state network).

One class, :class:`RecurrentBase`, does what ``nn.LSTM``, ``nn.GRU`` and ``nn.RNN`` have in
common: input layouts (``batch_first``, unbatched, ``PackedSequence``), the initial state
(given or default), stacking (``num_layers``, dropout between layers), both directions, and
the ``(output, h_n)`` / ``(output, (h_n, c_n))`` return structure. A model only supplies its
one-step cell per layer and direction (:class:`StepCell`): ``prepare()`` does the weight-only
work once per forward and returns ``step(x_t, state) -> (out_t, state)``; :func:`scan` runs it
over a sequence. A cell called on its own (``cell(input, hx)``, like ``nn.LSTMCell``) checks
its input and state with the same rules (:meth:`StepCell.step_once`).

Variable lengths are handled by masking: every sequence of the batch runs for the longest
length, and at step ``t`` the state of a sequence with ``length <= t`` is kept (its output is
zero). The reverse direction of a sequence of length ``l`` reads its steps ``l-1, ..., 0``, as
``nn.LSTM`` does.
"""

from __future__ import annotations

import contextvars
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from qrnn._checks import boolean, integer

State = tuple[torch.Tensor, ...]
Step = Callable[[torch.Tensor, State], tuple[torch.Tensor, State]]

_FINAL_STATE_WANTED = contextvars.ContextVar("final_state_wanted", default=True)


@contextmanager
def outputs_only() -> Iterator[None]:
    """Within it the caller reads only the recurrent modules' ``output``: a cell whose
    executor would make its final state separately (a quantum-memory cell on a noisy backend)
    may skip it and return None, and the module's state is then None."""
    token = _FINAL_STATE_WANTED.set(False)
    try:
        yield
    finally:
        _FINAL_STATE_WANTED.reset(token)


def final_state_wanted() -> bool:
    """False within :func:`outputs_only`."""
    return _FINAL_STATE_WANTED.get()


def scan(
    step: Step, inputs: list[torch.Tensor], state: State, valid: torch.Tensor | None
) -> tuple[torch.Tensor, State]:
    """Run ``step`` over ``inputs`` (one ``(N, ...)`` tensor per time step) from ``state``.

    ``valid`` is ``(L, N)`` bool or None: where ``valid[t, n]`` is False, sequence ``n`` has
    ended, so its state is kept and its output is zero. Returns ``(outputs (L, N, F), state)``.
    """
    outputs = []
    for t, x_t in enumerate(inputs):
        out, new_state = step(x_t, state)
        if valid is not None and not bool(valid[t].all()):
            keep = valid[t]
            new_state = tuple(
                torch.where(keep.view(-1, *([1] * (new.dim() - 1))), new, old)
                for new, old in zip(new_state, state, strict=True)
            )
            out = out * keep.unsqueeze(-1).to(out.dtype)
        state = new_state
        outputs.append(out)
    return torch.stack(outputs), state


def check_input_dtype(module: str, input: torch.Tensor, weight: torch.dtype) -> None:
    """Inputs are not cast to the weights' dtype, as in ``nn.LSTM``: a float32 input to a
    float64 model is a ``ValueError`` that says which of the two to convert."""
    if input.dtype == weight:
        return
    fix = f"Convert input: input.to({weight})"
    if input.dtype in (torch.float32, torch.float64):
        fix += f", or convert model: model.to({input.dtype})"
    raise ValueError(
        f"{module} input dtype ({input.dtype}) does not match weight dtype ({weight}). {fix}"
    )


def check_state(tensor: object, expected: tuple[int, ...], label: str, wanted: torch.dtype):
    """A given initial state: the shape ``expected`` and the dtype ``wanted`` (not cast)."""
    if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != expected:
        got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
        raise ValueError(f"{label} has shape {got}; expected {expected}")
    if tensor.is_complex() != wanted.is_complex:
        if wanted.is_complex:
            raise TypeError(
                f"{label} is the hidden register's density matrix and must be complex, got "
                f"{tensor.dtype}"
            )
        raise TypeError(f"{label} is complex ({tensor.dtype}); expected a real tensor")
    if tensor.dtype != wanted:
        raise ValueError(
            f"{label} has dtype {tensor.dtype}; expected {wanted} to match the input and "
            f"weights: convert it with .to({wanted})"
        )
    return tensor


class StepCell(nn.Module):
    """A one-step recurrent cell as the driver sees it.

    Subclasses set ``state_shapes`` (per state component, its shape after the batch axis),
    ``state_complex`` (per component), ``state_names`` (as ``hx`` calls them) and
    ``output_size``, and implement :meth:`prepare` and :meth:`reset_parameters`. :meth:`run`
    (a whole sequence, masked) has a default built on :meth:`prepare`; cells whose executor
    wants the whole sequence at once override it.
    """

    state_shapes: tuple[tuple[int, ...], ...]
    state_complex: tuple[bool, ...]
    state_names: tuple[str, ...] = ("hx",)
    output_size: int

    def __init__(self, input_size: int, dtype: torch.dtype) -> None:
        super().__init__()
        self.input_size = integer("input_size", input_size)
        self._default_dtype = dtype

    @property
    def dtype(self) -> torch.dtype:
        """Real dtype of the cell: that of its first floating parameter or buffer (so
        ``.double()`` switches it), else the dtype it was built with."""
        for tensor in (*self.parameters(), *self.buffers()):
            if tensor.is_floating_point():
                return tensor.dtype
        return self._default_dtype

    def prepare(self) -> Step:
        raise NotImplementedError

    def reset_parameters(self) -> None:
        raise NotImplementedError

    def initial_state(self, batch: int, reference: torch.Tensor) -> State:
        """Zeros of the state shapes (quantum cells override: ``|0><0|``)."""
        return tuple(
            reference.new_zeros((batch, *shape), dtype=self._state_dtype(k, reference.dtype))
            for k, shape in enumerate(self.state_shapes)
        )

    def _state_dtype(self, k: int, real: torch.dtype) -> torch.dtype:
        if not self.state_complex[k]:
            return real
        return torch.complex64 if real == torch.float32 else torch.complex128

    def run(
        self, sequence: torch.Tensor, state: State, valid: torch.Tensor | None
    ) -> tuple[torch.Tensor, State]:
        """``sequence (L, N, F)``, ``valid (L, N)`` bool or None -> ``(L, N, output_size)``."""
        return scan(self.prepare(), sequence.unbind(0), state, valid)

    def step_once(self, input: torch.Tensor, hx) -> tuple[torch.Tensor, State]:
        """One step of a cell called on its own: ``input (N, input_size)`` or
        ``(input_size,)``; ``hx`` None (the initial state), one tensor, or a tuple with one
        tensor per state component, each ``(N, *shape)`` (``(*shape)`` unbatched). Returns
        ``(out, state)`` with the input's batching."""
        size = self.input_size
        if (
            not isinstance(input, torch.Tensor)
            or input.dim() not in (1, 2)
            or input.shape[-1] != size
        ):
            got = tuple(input.shape) if isinstance(input, torch.Tensor) else type(input).__name__
            raise ValueError(
                f"{type(self).__name__} input must be (N, {size}) or ({size},), got {got}"
            )
        check_input_dtype(type(self).__name__, input, self.dtype)
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input
        if hx is None:
            state = self.initial_state(x.shape[0], x)
        else:
            parts = hx if len(self.state_names) > 1 else (hx,)
            if len(self.state_names) > 1 and (
                not isinstance(hx, (tuple, list)) or len(hx) != len(self.state_names)
            ):
                raise TypeError(f"hx must be a tuple ({', '.join(self.state_names)})")
            state = tuple(
                check_state(
                    part,
                    (*(() if unbatched else x.shape[:1]), *shape),
                    name,
                    self._state_dtype(k, x.dtype),
                ).to(x.device)
                for k, (part, shape, name) in enumerate(
                    zip(parts, self.state_shapes, self.state_names, strict=True)
                )
            )
            if unbatched:
                state = tuple(part.unsqueeze(0) for part in state)
        out, state = self.run(x.unsqueeze(0), state, None)
        out = out[0]
        if unbatched:
            out, state = out[0], tuple(None if s is None else s[0] for s in state)
        return out, state


def _reverse(sequence: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    """Reverse each sequence of ``(L, N, F)`` within its own length (padding stays put)."""
    if lengths is None:
        return sequence.flip(0)
    steps = torch.arange(sequence.shape[0], device=sequence.device)[:, None]
    index = torch.where(steps < lengths[None], lengths[None] - 1 - steps, steps)
    return sequence.gather(0, index[..., None].expand(-1, -1, sequence.shape[-1]))


class RecurrentBase(nn.Module):
    """``nn.RNN``-style sequence module over per-layer, per-direction :class:`StepCell`\\ s.

    Subclasses call ``super().__init__`` with the shared words, then :meth:`_add_cells` with a
    factory ``make(layer_input_size) -> StepCell``. The cells are attributes ``cell_l{k}`` and
    ``cell_l{k}_reverse`` (stable ``state_dict`` names, as ``nn.LSTM``'s ``weight_ih_l0``).
    ``_pair_state = True`` makes the state an ``(h, c)`` pair as in ``nn.LSTM``.
    """

    _pair_state = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        batch_first: bool,
        dropout: float,
        bidirectional: bool,
    ) -> None:
        super().__init__()
        self.input_size = integer("input_size", input_size)
        self.hidden_size = integer("hidden_size", hidden_size)
        self.num_layers = integer("num_layers", num_layers)
        boolean("batch_first", batch_first)
        boolean("bidirectional", bidirectional)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise TypeError(f"dropout must be a number in [0, 1), got {dropout!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if dropout and self.num_layers == 1:  # as nn.LSTM warns
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={self.num_layers}",
                stacklevel=2,
            )
        self.batch_first = batch_first
        self.bidirectional = bidirectional
        self.dropout = float(dropout)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _add_cells(self, make: Callable[[int], StepCell]) -> None:
        for layer in range(self.num_layers):
            size = self.input_size
            if layer:
                size = self.cell(layer - 1).output_size * self.num_directions
            for direction in range(self.num_directions):
                setattr(self, self._cell_name(layer, direction), make(size))

    @staticmethod
    def _cell_name(layer: int, direction: int) -> str:
        return f"cell_l{layer}" + ("_reverse" if direction else "")

    def cell(self, layer: int, direction: int = 0) -> StepCell:
        """The one-step cell of ``layer`` (0-based), direction 0 (forward) or 1 (reverse)."""
        return getattr(self, self._cell_name(layer, direction))

    def reset_parameters(self) -> None:
        """Call ``reset_parameters()`` of every cell, layer by layer, forward direction first
        (see the cell class for what it draws)."""
        for layer in range(self.num_layers):
            for direction in range(self.num_directions):
                self.cell(layer, direction).reset_parameters()

    @property
    def output_size(self) -> int:
        """Features per time step of ``output``: ``num_directions * cell output size``."""
        return self.cell(self.num_layers - 1).output_size * self.num_directions

    def _shared_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        return text

    # -- forward --------------------------------------------------------------------------------

    def forward(self, input, hx=None):
        """Run the sequence; see the subclass docstring for shapes and the state."""
        packed = isinstance(input, PackedSequence)
        lengths = None
        if packed:
            sequence, lengths = pad_packed_sequence(input)  # (L, N, F), original batch order
            lengths = lengths.to(sequence.device)
            unbatched = False
        else:
            if not isinstance(input, torch.Tensor):
                raise TypeError(
                    f"input must be a tensor or PackedSequence, got {type(input).__name__}"
                )
            unbatched = input.dim() == 2
            if input.dim() not in (2, 3):
                raise ValueError(
                    f"input must be (L, N, {self.input_size}), (N, L, {self.input_size}) with "
                    f"batch_first, or (L, {self.input_size}) unbatched; got {tuple(input.shape)}"
                )
            sequence = input.unsqueeze(1) if unbatched else input
            if self.batch_first and not unbatched:
                sequence = sequence.transpose(0, 1)
        if sequence.shape[-1] != self.input_size:
            raise ValueError(
                f"input has {sequence.shape[-1]} features per step; expected input_size="
                f"{self.input_size}"
            )
        if sequence.shape[0] == 0:
            raise ValueError("input has no time steps")
        check_input_dtype(type(self).__name__, sequence, self.cell(0).dtype)
        states = self._initial_states(hx, sequence, unbatched)
        valid = None
        if lengths is not None:
            steps = torch.arange(sequence.shape[0], device=sequence.device)
            valid = steps[:, None] < lengths[None]

        finals: list[State] = []
        layer_input = sequence
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                cell = self.cell(layer, direction)
                steps_in = layer_input if direction == 0 else _reverse(layer_input, lengths)
                out, state = cell.run(
                    steps_in, states[layer * self.num_directions + direction], valid
                )
                outputs.append(out if direction == 0 else _reverse(out, lengths))
                finals.append(state)
            layer_input = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, training=True)

        h_n = self._stack_state(finals, unbatched)
        output = layer_input
        if packed:
            output = _pack_like(output, lengths, input)
        elif unbatched:
            output = output.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, h_n

    def _initial_states(self, hx, sequence: torch.Tensor, unbatched: bool) -> list[State]:
        batch = sequence.shape[1]
        count = self.num_layers * self.num_directions
        cells = [self.cell(k // self.num_directions, k % self.num_directions) for k in range(count)]
        if hx is None:
            return [cell.initial_state(batch, sequence) for cell in cells]
        components = self._state_components(hx)
        reference = cells[0]
        result: list[list[torch.Tensor]] = [[] for _ in range(count)]
        for k, (tensor, shape) in enumerate(zip(components, reference.state_shapes, strict=True)):
            expected = (count, *(() if unbatched else (batch,)), *shape)
            label = f"initial state {self._state_label(k)} (num_layers * num_directions, N, ...)"
            wanted = reference._state_dtype(k, sequence.dtype)
            tensor = check_state(tensor, expected, label, wanted).to(sequence.device)
            if unbatched:
                tensor = tensor.unsqueeze(1)
            for i in range(count):
                result[i].append(tensor[i])
        return [tuple(parts) for parts in result]

    def _state_components(self, hx) -> tuple:
        if self._pair_state:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"hx must be a pair (h_0, c_0), got {type(hx).__name__}")
            return tuple(hx)
        if isinstance(hx, (tuple, list)):
            raise TypeError("hx must be one tensor for this model, not a tuple")
        return (hx,)

    def _state_label(self, k: int) -> str:
        return ("h_0", "c_0")[k] if self._pair_state else "hx"

    def _stack_state(self, finals: list[State], unbatched: bool):
        if any(part is None for state in finals for part in state):  # (``outputs_only``)
            return None
        stacked = tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
        if unbatched:
            stacked = tuple(s.squeeze(1) for s in stacked)
        return stacked if self._pair_state else stacked[0]


def _pack_like(output: torch.Tensor, lengths: torch.Tensor, like: PackedSequence):
    """Pack padded ``(L, N, F)`` (original batch order) with ``like``'s batch order."""
    order = like.sorted_indices
    if order is not None:
        output = output.index_select(1, order.to(output.device))
        lengths = lengths.index_select(0, order.to(lengths.device))
    data = pack_padded_sequence(output, lengths.cpu(), enforce_sorted=True).data
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)
