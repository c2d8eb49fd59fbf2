"""Recurrent models for time series: quantum cells, classical baselines, a forecaster head.

Every family is an ``nn.LSTM``-style module (``input_size``, ``hidden_size``, ``num_layers``,
``batch_first``, ``bidirectional``; ``forward(x) -> (output, state)``) with a public one-step
cell (``QLSTMCell``, ``QGRUCell``, ``QRNNCell``, ``QReservoirCell``) and
``reset_parameters()``. Circuit depth is ``reps``. :func:`build` looks a family up by name
(:func:`names`) and wraps it in a :class:`Forecaster`, which is what ``qrnn.fit`` and
``qrnn train`` train.

:func:`to_backend` moves a (trained) model's quantum parts to another executor, e.g. Aer with
an ion-trap device's noise and shots.

Bad input is refused at once, as ``nn.LSTM`` refuses it: a constructor whose circuits the
torch engine could not simulate for even one sample raises ``qrnn.sim.SimulationMemoryError``
before building any circuit (how much is needed, how much is available, how many qubits fit);
``device="cuda"`` that torch cannot use raises ``qrnn.backends.GPUUnavailableError``;
``dropout`` with one layer warns; ``forward`` refuses an input (or initial state) whose dtype
is not the weights' instead of casting it.

Adding a family is one entry in ``_FAMILIES``: ``"name": (ModuleClass, {default options})``.
"""

from __future__ import annotations

import warnings
from typing import Any

from torch import nn

from qrnn._names import DEFAULT_MODEL  # the model `qrnn train` trains when none is named
from qrnn.models._backend import quantum_modules, to_backend
from qrnn.models._gates import VQCGate
from qrnn.models._qgru import QGRU, QGRUCell
from qrnn.models._qlstm import QLSTM, QLSTMCell
from qrnn.models._qrnn import QRNN, QRNNCell
from qrnn.models._reservoir import QReservoir, QReservoirCell
from qrnn.models.classical import (
    GRU,
    LSTM,
    EchoStateNetwork,
    Persistence,
    RidgeAutoregression,
    count_parameters,
    match_parameters,
)
from qrnn.models.forecaster import Forecaster, recurrent_output_size

__all__ = [
    "DEFAULT_MODEL",
    "GRU",
    "LSTM",
    "QGRU",
    "QLSTM",
    "QRNN",
    "EchoStateNetwork",
    "Forecaster",
    "Persistence",
    "QGRUCell",
    "QLSTMCell",
    "QRNNCell",
    "QReservoir",
    "QReservoirCell",
    "RidgeAutoregression",
    "VQCGate",
    "build",
    "count_parameters",
    "match_parameters",
    "model_names",
    "names",
    "quantum_modules",
    "recurrent_output_size",
    "to_backend",
]

# name -> (nn.LSTM-style class, default constructor options). The class is called as
# cls(input_size=..., batch_first=True, **defaults, **options).
_FAMILIES: dict[str, tuple[type[nn.Module], dict[str, Any]]] = {
    "lstm": (LSTM, {"hidden_size": 16}),
    "gru": (GRU, {"hidden_size": 16}),
    "esn": (EchoStateNetwork, {}),
    "qlstm": (QLSTM, {}),
    "qgru": (QGRU, {}),
    "qrnn": (QRNN, {}),
    "qreservoir": (QReservoir, {}),
}


def names() -> list[str]:
    """Names accepted by :func:`build`, sorted."""
    return sorted(_FAMILIES)


def model_names() -> list[str]:
    """Deprecated alias of :func:`names` (kept for one release)."""
    warnings.warn(
        "qrnn.models.model_names() is deprecated and will be removed; use qrnn.models.names()",
        DeprecationWarning,
        stacklevel=2,
    )
    return names()


def build(name: str, input_size: int, output_size: int, **options: Any) -> Forecaster:
    """Build ``Forecaster(family(input_size, batch_first=True, **options), output_size)``.

    Args:
        name: a family from :func:`names` (``"lstm"``, ``"gru"``, ``"esn"``, ...).
        input_size: features per time step of the input windows.
        output_size: predicted features.
        **options: constructor options of the family (``hidden_size``, ``num_layers``,
            ``reps``, ...);
            they override the registry's defaults (``hidden_size=16`` for LSTM and GRU).

    Returns:
        a :class:`Forecaster` mapping ``(batch, window, input_size)`` to
        ``(batch, output_size)``.
    """
    if name not in _FAMILIES:
        raise ValueError(f"unknown model {name!r}; available models: {', '.join(names())}")
    if "batch_first" in options:
        raise ValueError("build() always uses batch_first=True; do not pass batch_first")
    family, defaults = _FAMILIES[name]
    arguments = {**defaults, **options}
    try:
        recurrent = family(input_size=input_size, batch_first=True, **arguments)
    except TypeError as error:  # an option the family does not take; list only the caller's
        raise TypeError(f"model {name!r} rejected options {sorted(options)}: {error}") from None
    return Forecaster(recurrent, output_size)
