"""Classical baselines: LSTM, GRU, an echo-state network, and parameter matching.

``LSTM`` and ``GRU`` are ``torch.nn.LSTM`` and ``torch.nn.GRU`` themselves (re-exported so that
``qrnn.models`` holds every family); wrapping them would add nothing.

``EchoStateNetwork`` is a leaky-integrator reservoir (Jaeger 2001; Lukoševičius, "A practical
guide to applying echo state networks", 2012) with the ``nn.RNN`` interface (the same driver
as the quantum models: ``PackedSequence``, stacking, both directions). Its weights are fixed
random buffers, so inside a :class:`~qrnn.models.forecaster.Forecaster` only the linear
readout is trained. ``reset_parameters()`` of ``LSTM`` and ``GRU`` is torch's.

``match_parameters`` sizes a classical baseline so that its trainable parameter count,
forecaster head included, is as close as possible to a quantum model's.

``Persistence`` (the last value) and ``RidgeAutoregression`` (a linear map of the window,
fitted in closed form) are the two references every forecasting study reports: a model that
cannot beat persistence has learnt nothing about the series' dynamics. Both map windows to
predictions like a ``Forecaster``; neither is trained by ``qrnn.fit``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from qrnn._checks import boolean, real_dtype, torch_device
from qrnn.models._recurrent import RecurrentBase, StepCell, scan
from qrnn.models.forecaster import Forecaster

LSTM = nn.LSTM
GRU = nn.GRU

__all__ = [
    "GRU",
    "LSTM",
    "EchoStateNetwork",
    "Persistence",
    "RidgeAutoregression",
    "count_parameters",
    "match_parameters",
]


class EchoStateNetwork(RecurrentBase):
    r"""Leaky echo-state network (reservoir computer) with the ``nn.RNN`` interface.

    For each layer and direction, with leak rate :math:`a`:

    .. math::
        h_t = (1 - a)\, h_{t-1} + a \tanh(W_{in} x_t + b + W h_{t-1})

    ``W`` is drawn uniformly in [-1, 1], a fraction ``1 - density`` of its entries is zeroed,
    and it is rescaled to the given spectral radius (largest eigenvalue modulus). ``W_in`` and
    ``b`` are uniform in [-input_scaling, input_scaling]. All of them are buffers (saved in the
    ``state_dict``, never trained): the module has no parameters.

    Args:
        input_size: features per time step of the input.
        hidden_size: reservoir size per layer and direction.
        num_layers: stacked reservoirs; layer ``k > 0`` reads the output of layer ``k - 1``.
        bias: add the random bias ``b``.
        batch_first: input and output are ``(batch, seq, feature)`` instead of
            ``(seq, batch, feature)``.
        bidirectional: also run an independent reservoir over the reversed sequence.
        spectral_radius: largest eigenvalue modulus of ``W`` (below 1 for the echo-state
            property with ``tanh``; larger values give longer, possibly chaotic, memory).
        leak_rate: ``a`` in (0, 1]; smaller means slower, smoother dynamics.
        input_scaling: half-width of the uniform range of ``W_in`` and ``b``.
        density: fraction of non-zero entries of ``W``, in (0, 1].
        seed: seed of a private generator for the reservoir; ``None`` draws from torch's
            global generator, so ``torch.manual_seed`` controls it like any other module.
        device, dtype: of the buffers.

    Buffers: ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_l{k}`` (``_reverse`` for the
    second direction), as ``nn.RNN`` names its parameters. ``reset_parameters()`` draws all of
    them again: from ``seed`` when one was given (the same reservoir, undoing any change to the
    buffers), else from torch's global generator (a new reservoir). The hyperparameters
    (``spectral_radius``, ``leak_rate``, ...) are kept.

    Shapes (``N`` batch, ``L`` sequence length, ``D`` = 2 if bidirectional else 1):
        ========  ==============================================================
        input     ``(L, N, input_size)``, ``(N, L, input_size)`` if batch_first,
                  ``(L, input_size)`` unbatched, or a ``PackedSequence``
        hx        ``(num_layers * D, N, hidden_size)`` or ``(num_layers * D, hidden_size)``
                  unbatched; zeros when omitted
        output    ``(L, N, D * hidden_size)`` (``(N, L, ...)`` if batch_first; a
                  ``PackedSequence`` if the input was one)
        h_n       ``(num_layers * D, N, hidden_size)``, each sequence's state at its own
                  length
        ========  ==============================================================
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 100,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        bidirectional: bool = False,
        *,
        spectral_radius: float = 0.9,
        leak_rate: float = 1.0,
        input_scaling: float = 1.0,
        density: float = 1.0,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, batch_first, 0.0, bidirectional)
        if not spectral_radius > 0:
            raise ValueError(f"spectral_radius must be > 0, got {spectral_radius!r}")
        if not 0 < leak_rate <= 1:
            raise ValueError(f"leak_rate must be in (0, 1], got {leak_rate!r}")
        if not input_scaling > 0:
            raise ValueError(f"input_scaling must be > 0, got {input_scaling!r}")
        if not 0 < density <= 1:
            raise ValueError(f"density must be in (0, 1], got {density!r}")
        self.bias = boolean("bias", bias)
        self.spectral_radius = float(spectral_radius)
        self.leak_rate = float(leak_rate)
        self.input_scaling = float(input_scaling)
        self.density = float(density)
        self.seed = seed
        options = {"device": torch_device(device), "dtype": real_dtype(dtype)}
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for direction in range(self.num_directions):
                suffix = self._suffix(layer, direction)
                shapes = ((hidden_size, layer_input), (hidden_size, hidden_size), (hidden_size,))
                for name, shape in zip(_BUFFERS, shapes, strict=True):
                    self.register_buffer(name + suffix, torch.empty(shape, **options))
        self.reset_parameters()

    @staticmethod
    def _suffix(layer: int, direction: int) -> str:
        return f"_l{layer}" + ("_reverse" if direction else "")

    def reset_parameters(self) -> None:
        """Draw ``W_in``, ``W`` and ``b`` of every layer and direction (see the class)."""
        # Draw in float64 on the CPU so that a seed gives the same reservoir everywhere.
        generator = None if self.seed is None else torch.Generator().manual_seed(self.seed)
        hidden = self.hidden_size
        for layer in range(self.num_layers):
            for direction in range(self.num_directions):
                suffix = self._suffix(layer, direction)
                w_in_buffer = getattr(self, "weight_ih" + suffix)
                w_in = _uniform(tuple(w_in_buffer.shape), self.input_scaling, generator)
                w_hh = _uniform((hidden, hidden), 1.0, generator)
                if self.density < 1:
                    keep = torch.rand(hidden, hidden, generator=generator) < self.density
                    w_hh = w_hh * keep
                radius = torch.linalg.eigvals(w_hh).abs().max().item()
                if radius > 0:  # an all-zero sparse draw stays zero: no memory, but well defined
                    w_hh = w_hh * (self.spectral_radius / radius)
                b = _uniform((hidden,), self.input_scaling, generator)
                if not self.bias:
                    b = torch.zeros_like(b)
                for name, value in zip(_BUFFERS, (w_in, w_hh, b), strict=True):
                    getattr(self, name + suffix).copy_(value)

    def cell(self, layer: int, direction: int = 0) -> StepCell:
        """The reservoir of ``layer`` and ``direction`` as a one-step cell (a view of the
        buffers ``weight_ih_l{layer}``, ... made on each call)."""
        suffix = self._suffix(layer, direction)
        w_in, w_hh, b = (getattr(self, name + suffix) for name in _BUFFERS)
        return _EchoStateCell(w_in, w_hh, b, self.leak_rate)

    def extra_repr(self) -> str:
        text = self._shared_repr()
        if not self.bias:
            text += ", bias=False"
        return (
            f"{text}, spectral_radius={self.spectral_radius}, leak_rate={self.leak_rate}, "
            f"input_scaling={self.input_scaling}, density={self.density}, seed={self.seed}"
        )

    def forward(self, input, hx=None):
        """``(output, h_n)``; see the class docstring for shapes."""
        return super().forward(input, hx)


_BUFFERS = ("weight_ih", "weight_hh", "bias")


class _EchoStateCell(StepCell):
    """One layer and direction of an :class:`EchoStateNetwork`, over its buffers."""

    def __init__(self, w_in: torch.Tensor, w_hh: torch.Tensor, b: torch.Tensor, leak: float):
        super().__init__(w_in.shape[1], w_in.dtype)
        self.w_in, self.w_hh, self.b, self.leak = w_in, w_hh, b, leak
        self.state_shapes = ((w_hh.shape[0],),)
        self.state_complex = (False,)
        self.output_size = w_hh.shape[0]

    def run(self, sequence, state, valid):
        driven = sequence @ self.w_in.T + self.b  # input drive of every step at once
        w_hh_t, leak = self.w_hh.T, self.leak

        def step(drive: torch.Tensor, state):
            (h,) = state
            h = (1 - leak) * h + leak * torch.tanh(drive + h @ w_hh_t)
            return h, (h,)

        return scan(step, driven.unbind(0), state, valid)


def _uniform(shape: tuple[int, ...], scale: float, generator: torch.Generator | None):
    return (torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) * scale


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars of ``model`` (parameters with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


_GATES = {"lstm": 4, "gru": 3}
_FAMILIES = {"lstm": LSTM, "gru": GRU, "esn": EchoStateNetwork}


def _matched_count(
    family: str,
    hidden_size: int,
    input_size: int,
    output_size: int,
    num_layers: int,
    bidirectional: bool,
    bias: bool,
) -> int:
    """Trainable parameters of ``Forecaster(family(hidden_size, ...), output_size)``."""
    directions = 2 if bidirectional else 1
    head = hidden_size * directions * output_size + output_size
    if family == "esn":
        return head
    gates, total = _GATES[family], 0
    for layer in range(num_layers):
        layer_input = input_size if layer == 0 else hidden_size * directions
        per_direction = gates * hidden_size * (layer_input + hidden_size + (2 if bias else 0))
        total += per_direction * directions
    return total + head


def match_parameters(
    target: int | nn.Module,
    family: str = "lstm",
    input_size: int = 1,
    output_size: int = 1,
    **options: Any,
) -> Forecaster:
    """A classical baseline forecaster whose trainable size matches ``target``.

    Rule: the hidden size ``h >= 1`` is chosen so that ``count_parameters`` of the returned
    ``Forecaster(family(input_size, h, batch_first=True, **options), output_size)`` (the
    recurrent module **and** the linear head) is the closest possible to the target count;
    on a tie the smaller ``h`` wins. So the mismatch is at most half the gap between the
    counts of hidden sizes ``h`` and ``h + 1`` (for a one-layer LSTM with one input and
    output that gap is ``8h + 13``, i.e. about ``4 / h`` of the count, 10 % at ``h = 40``),
    and a target below the ``h = 1`` count gives ``h = 1``. For ``"esn"`` only the readout
    is trainable, so the reservoir gets ``h`` of about ``target / output_size`` units.

    Args:
        target: a trainable parameter count, or a model whose ``count_parameters`` is used
            (pass the quantum model's ``Forecaster`` to include its head).
        family: ``"lstm"``, ``"gru"`` or ``"esn"``.
        input_size: features per time step.
        output_size: predicted features.
        **options: passed to the recurrent module's constructor (``num_layers``,
            ``bidirectional``, ``bias``, ``dropout``; ESN reservoir options). ``hidden_size``
            is chosen here and ``proj_size`` is not supported.

    Returns:
        the ``Forecaster``; its ``recurrent.hidden_size`` is the chosen ``h``.
    """
    if family not in _FAMILIES:
        raise ValueError(f"family must be one of {sorted(_FAMILIES)}, got {family!r}")
    if isinstance(target, nn.Module):
        target = count_parameters(target)
    if not isinstance(target, int) or isinstance(target, bool) or target < 1:
        raise ValueError(f"target must be a positive parameter count or a module, got {target!r}")
    for forbidden in ("hidden_size", "proj_size", "batch_first"):
        if forbidden in options:
            raise ValueError(f"match_parameters chooses {forbidden} itself; do not pass it")
    shape = {
        "input_size": input_size,
        "output_size": output_size,
        "num_layers": options.get("num_layers", 1),
        "bidirectional": options.get("bidirectional", False),
        "bias": options.get("bias", True),
    }

    def count(hidden: int) -> int:
        return _matched_count(family, hidden, **shape)

    # The count grows strictly with h: bracket the target by doubling, then bisect for the
    # smallest h whose count reaches it; the answer is that h or the one below.
    high = 1
    while count(high) < target:
        high *= 2
    low = max(1, high // 2)
    while low < high:
        middle = (low + high) // 2
        if count(middle) < target:
            low = middle + 1
        else:
            high = middle
    hidden = low
    if hidden > 1 and target - count(hidden - 1) <= count(hidden) - target:
        hidden -= 1

    recurrent = _FAMILIES[family](input_size, hidden, batch_first=True, **options)
    model = Forecaster(recurrent, output_size)
    if count_parameters(model) != count(hidden):
        raise RuntimeError(  # guards the closed form above against an option it ignores
            f"parameter formula for {family} gave {count(hidden)}, the model has "
            f"{count_parameters(model)}; options {options} are not supported by matching"
        )
    return model


class Persistence(nn.Module):
    """The persistence forecast: every step ahead equals the window's last value.

    No parameters. (On a series prepared with ``difference=True`` the persistence level
    forecast is a change of zero; its errors are those of this module on the levels.)

    Args:
        horizon: steps predicted per window.

    Shapes:
        ===========  ============================================
        input        ``(batch, window, features)``
        output       ``(batch, horizon * features)``, horizon-major
        ===========  ============================================
    """

    def __init__(self, horizon: int = 1) -> None:
        super().__init__()
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
        self.horizon = horizon

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        """``(batch, window, features)`` -> ``(batch, horizon * features)``."""
        return window[:, -1].repeat(1, self.horizon)

    def extra_repr(self) -> str:
        return f"horizon={self.horizon}"


class RidgeAutoregression(nn.Module):
    """A linear autoregressive forecaster: ``y = W vec(window) + b``, fitted by ridge
    regression in closed form (the intercept is not penalised).

    :meth:`fit` solves ``min ||X W^T + b - Y||^2 + alpha ||W||^2`` in float64 and stores
    ``weight`` ``(outputs, window * features)`` and ``bias`` ``(outputs,)`` as buffers.
    :meth:`fit_validated` picks ``alpha`` from a grid by validation error first.

    Args:
        alpha: the ridge penalty, >= 0.

    Shapes:
        ===========  ======================================
        input        ``(batch, window, features)``
        output       ``(batch, outputs)`` (as fitted)
        ===========  ======================================
    """

    ALPHAS = (1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)

    def __init__(self, alpha: float = 1e-3) -> None:
        super().__init__()
        if not (isinstance(alpha, int | float) and not isinstance(alpha, bool) and alpha >= 0):
            raise ValueError(f"alpha must be a number >= 0, got {alpha!r}")
        self.alpha = float(alpha)
        self.register_buffer("weight", None)
        self.register_buffer("bias", None)

    def fit(self, inputs: torch.Tensor, targets: torch.Tensor) -> RidgeAutoregression:
        """Fit on ``inputs (n, window, features)`` and ``targets (n, outputs)``; returns self."""
        if inputs.dim() != 3 or targets.dim() != 2 or len(inputs) != len(targets):
            raise ValueError(
                "fit expects inputs (n, window, features) and targets (n, outputs) with the "
                f"same n, got {tuple(inputs.shape)} and {tuple(targets.shape)}"
            )
        if len(inputs) == 0:
            raise ValueError("fit needs at least one window")
        x = inputs.reshape(len(inputs), -1).double()
        y = targets.double()
        x_mean, y_mean = x.mean(0), y.mean(0)
        xc, yc = x - x_mean, y - y_mean
        gram = xc.T @ xc + self.alpha * torch.eye(x.shape[1], dtype=x.dtype)
        # lstsq rather than solve: alpha = 0 with collinear lags is still answered
        weight = torch.linalg.lstsq(gram, xc.T @ yc).solution.T
        dtype = inputs.dtype if inputs.is_floating_point() else torch.get_default_dtype()
        self.weight = weight.to(dtype)
        self.bias = (y_mean - weight @ x_mean).to(dtype)
        return self

    @classmethod
    def fit_validated(
        cls,
        train: tuple[torch.Tensor, torch.Tensor],
        val: tuple[torch.Tensor, torch.Tensor] | None = None,
        alphas: tuple[float, ...] = ALPHAS,
    ) -> RidgeAutoregression:
        """Fit with each of ``alphas`` on ``train`` (inputs, targets) and keep the one with the
        least MSE on ``val``; without validation windows ``alpha`` is 1e-3."""
        if val is None or len(val[0]) == 0:
            return cls().fit(*train)
        best, best_error = None, math.inf
        for alpha in alphas:
            model = cls(alpha).fit(*train)
            with torch.no_grad():
                error = float(((model(val[0]) - val[1]) ** 2).mean())
            if error < best_error:
                best, best_error = model, error
        return best

    def forward(self, window: torch.Tensor) -> torch.Tensor:
        """``(batch, window, features)`` -> ``(batch, outputs)``."""
        if self.weight is None:
            raise RuntimeError("RidgeAutoregression is not fitted; call fit(inputs, targets)")
        flat = window.reshape(len(window), -1)
        if flat.shape[1] != self.weight.shape[1]:
            raise ValueError(
                f"fitted on windows of {self.weight.shape[1]} values (window * features), got "
                f"{tuple(window.shape)}"
            )
        return flat.to(self.weight.dtype) @ self.weight.T + self.bias

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"
