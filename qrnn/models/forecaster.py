"""One-step-ahead forecaster: any ``nn.LSTM``-style recurrent module plus a linear head.

Classical (``nn.LSTM``, ``nn.GRU``, the echo-state network) and quantum recurrent modules
(``QLSTM``, ``QGRU``, ``QRNN``, ``QReservoir``) share the ``torch.nn`` recurrent interface:
``forward(input) -> (output, state)`` with ``output`` of shape ``(batch, seq, D * H_out)``
when ``batch_first=True``. The forecaster reads the last time step of ``output`` and maps it
to the prediction with one ``nn.Linear``, so every model family is trained and scored the same
way.
"""

from __future__ import annotations

import torch
from torch import nn

from qrnn.models._recurrent import outputs_only


def recurrent_output_size(recurrent: nn.Module) -> int:
    """Number of features per time step in ``recurrent``'s ``output``.

    Uses ``recurrent.output_size`` when the module defines it (a quantum module whose output
    is a register of ``<Z>`` values, say), else the ``nn.LSTM`` rule
    ``(2 if bidirectional else 1) * (proj_size or hidden_size)``.
    """
    explicit = getattr(recurrent, "output_size", None)
    if isinstance(explicit, int) and not isinstance(explicit, bool):
        return explicit
    hidden = getattr(recurrent, "proj_size", 0) or getattr(recurrent, "hidden_size", None)
    if not isinstance(hidden, int) or hidden < 1:
        raise TypeError(
            f"cannot tell the output size of {type(recurrent).__name__}: expected an "
            "nn.LSTM-style module with an int 'hidden_size' (or 'output_size') attribute; "
            "pass recurrent_size= to Forecaster"
        )
    return hidden * (2 if getattr(recurrent, "bidirectional", False) else 1)


class Forecaster(nn.Module):
    """Predict the next value(s) of a series from a window of past values.

    ``Forecaster(recurrent, output_size)`` runs ``recurrent`` over the window and applies
    ``head = nn.Linear(recurrent_size, output_size)`` to the output of the **last** time step.
    For a bidirectional module that is the forward direction's final state concatenated with
    the backward direction's state after reading the whole window in reverse.

    Args:
        recurrent: an ``nn.LSTM``-like module: ``forward(x) -> (output, state)``. If it has a
            ``batch_first`` attribute that is ``False``, the window is transposed to
            ``(seq, batch, features)`` before the call and ``output`` back afterwards.
        output_size: number of predicted features (usually the series' feature count).
        recurrent_size: features per step of ``recurrent``'s output; inferred by
            :func:`recurrent_output_size` when omitted.

    Shapes:
        ===========  ================================
        input        ``(batch, window, input_size)``
        output       ``(batch, output_size)``
        ===========  ================================
    """

    def __init__(
        self, recurrent: nn.Module, output_size: int, *, recurrent_size: int | None = None
    ) -> None:
        super().__init__()
        if not isinstance(recurrent, nn.Module):
            raise TypeError(f"recurrent must be an nn.Module, got {type(recurrent).__name__}")
        if not isinstance(output_size, int) or isinstance(output_size, bool) or output_size < 1:
            raise ValueError(f"output_size must be a positive int, got {output_size!r}")
        if recurrent_size is None:
            recurrent_size = recurrent_output_size(recurrent)
        self.recurrent = recurrent
        self.head = nn.Linear(recurrent_size, output_size)

    def reset_parameters(self) -> None:
        """``recurrent.reset_parameters()`` (what it draws is the recurrent module's to say;
        a module without that method is left as it is), then ``head`` as ``nn.Linear``."""
        reset = getattr(self.recurrent, "reset_parameters", None)
        if callable(reset):
            reset()
        self.head.reset_parameters()

    @property
    def input_size(self) -> int | None:
        """``recurrent.input_size`` (features per time step), or ``None`` if not declared."""
        return getattr(self.recurrent, "input_size", None)

    @property
    def output_size(self) -> int:
        """Number of predicted features."""
        return self.head.out_features

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        """``(batch, window, input_size)`` -> ``(batch, output_size)``."""
        if window.dim() != 3:
            raise ValueError(
                "Forecaster expects a (batch, window, features) tensor, got shape "
                f"{tuple(window.shape)}"
            )
        batch_first = getattr(self.recurrent, "batch_first", True)
        sequence = window if batch_first else window.transpose(0, 1)
        with outputs_only():  # the state is not read: an executor may skip making it
            output, _state = self.recurrent(sequence)
        last = output[:, -1] if batch_first else output[-1]
        return self.head(last)
