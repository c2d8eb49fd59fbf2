"""One protocol, several executors: ``qrnn.backends.get(name, device=None, shots=None, ...)``.

Every backend has ``expval(circuit, values, observables) -> (batch, n_obs)`` with the meaning
of ``qrnn.sim.expval``, ``expval_at_markers`` for expectation values at several points of one
circuit, and the attributes ``name``, ``shots``, ``device``, ``noise_model`` and
``supports_autograd``. Executors without autograd are differentiated by ``qrnn.gradients``
(parameter-shift by default, SPSA as an option). See ``_base.py``.
"""

from __future__ import annotations

import inspect

from qrnn.backends._base import MARKER_LABEL, Backend, add_marker, marker_positions
from qrnn.backends._errors import BackendError, GPUUnavailableError

_NAMES = ("torch", "aer", "pennylane:<device>")


def names() -> list[str]:
    """Backend names ``get`` accepts (``pennylane:<device>`` takes any PennyLane device name,
    e.g. ``pennylane:default.qubit``)."""
    return list(_NAMES)


def get(name: str, device=None, shots: int | None = None, **options) -> Backend:
    """A backend by name.

    Args:
        name: "torch", "aer" or "pennylane:<device>" (e.g. "pennylane:default.qubit",
            "pennylane:default.mixed", "pennylane:lightning.qubit").
        device: None, an ion-trap preset name (``qrnn.devices.names()``) or an
            ``IonTrapDevice``: circuits run transpiled to its native gates, with its noise.
        shots: None for exact expectation values, else samples per circuit.
        **options: backend options: all take ``noise_model``, ``seed``, ``gradient``
            ("backprop" | "parameter-shift" | "spsa") and ``gradient_options``; "aer" also
            ``method``, ``gpu``, ``precision`` (see ``AerBackend``).
    """
    if not isinstance(name, str):
        raise BackendError(f"backend name must be a string, one of {list(_NAMES)}; got {name!r}")
    if name == "torch":
        from qrnn.backends.torch import TorchBackend

        cls, extra = TorchBackend, {}
    elif name == "aer":
        from qrnn.backends.aer import AerBackend

        cls, extra = AerBackend, {}
    elif name.startswith("pennylane:") and len(name) > len("pennylane:"):
        from qrnn.backends.pennylane import PennyLaneBackend

        cls, extra = PennyLaneBackend, {"pennylane_device": name[len("pennylane:") :]}
    else:
        raise BackendError(
            f"unknown backend {name!r}; expected one of {list(_NAMES)} "
            "(e.g. 'pennylane:default.qubit')"
        )
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "device", "shots"}
    accepted -= set(extra)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise TypeError(
            f"backend {name!r} has no option {unknown[0]!r}; its options are {sorted(accepted)}"
        )
    return cls(device=device, shots=shots, **extra, **options)


__all__ = [
    "MARKER_LABEL",
    "Backend",
    "BackendError",
    "GPUUnavailableError",
    "add_marker",
    "get",
    "marker_positions",
    "names",
]
