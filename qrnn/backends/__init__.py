"""One protocol, several executors: ``qrnn.backends.get(name, device=None, shots=None, ...)``.

Every backend has ``expval(circuit, values, observables) -> (batch, n_obs)`` with the meaning
of ``qrnn.sim.expval``, ``expval_at_markers`` for expectation values at several points of one
circuit, ``counts(circuit, values, shots)`` for sampled measurement outcomes, and the
attributes ``name``, ``shots``, ``device``, ``noise_model`` and ``supports_autograd``.
Executors without autograd are differentiated by ``qrnn.gradients`` (parameter-shift by
default, SPSA as an option). See ``_base.py``.

``resolve`` is the one place that turns what a model or layer was given as its ``backend`` (a
name or a backend object) into a backend; ``is_engine`` says whether that backend is the exact
torch engine itself, which models then use directly (compiled programs, autograd).

Large batches spread over workers (a Dask client or any ``concurrent.futures`` executor): the
Aer backend's ``executor=`` and ``max_job_size=`` options (same seeds, same samples as one
process), and ``split_expval`` for any backend, e.g. the torch engine's noisy evaluations.
"""

from __future__ import annotations

from qrnn.backends._base import MARKER_LABEL, Backend, add_marker, marker_positions
from qrnn.backends._device import check_shots
from qrnn.backends._errors import BackendError, GPUUnavailableError
from qrnn.backends._scatter import split_expval
from qrnn.sim import ObservableError

TORCH = "torch"
_NAMES = (TORCH, "aer", "pennylane:<device>", "cloud:<provider>:<backend>")


def names() -> list[str]:
    """Backend names ``get`` accepts (``pennylane:<device>`` takes any PennyLane device name,
    e.g. ``pennylane:default.qubit``)."""
    return list(_NAMES)


def get(name: str, device=None, shots: int | None = None, **options) -> Backend:
    """A backend by name.

    Args:
        name: "torch", "aer" or "pennylane:<device>" (e.g. "pennylane:default.qubit",
            "pennylane:default.mixed", "pennylane:lightning.qubit") or
            "cloud:<provider>:<backend>" (``qrnn.backends.cloud``; e.g. "cloud:ibm:fake_manila").
        device: None, an ion-trap preset name (``qrnn.devices.names()``) or an
            ``IonTrapDevice``: circuits run transpiled to its native gates, with its noise.
        shots: None for exact expectation values, else samples per circuit.
        **options: the backend class's ``options``: every backend takes ``noise_model``,
            ``seed``, ``gradient`` ("backprop" | "parameter-shift" | "spsa") and
            ``gradient_options``; "aer" also ``method``, ``gpu``, ``precision``
            (``AerBackend``); "pennylane:..." also ``device_options`` (for ``qml.device``).

    Raises:
        BackendError: an unknown name or a bad option value. TypeError: an unknown option.
    """
    if not isinstance(name, str):
        raise BackendError(f"backend name must be a string, one of {list(_NAMES)}; got {name!r}")
    if name == TORCH:
        from qrnn.backends.torch import TorchBackend

        return TorchBackend(device=device, shots=shots, **options)
    if name == "aer":
        from qrnn.backends.aer import AerBackend

        return AerBackend(device=device, shots=shots, **options)
    if name.startswith("pennylane:") and len(name) > len("pennylane:"):
        from qrnn.backends.pennylane import PennyLaneBackend

        return PennyLaneBackend(name[len("pennylane:") :], device=device, shots=shots, **options)
    if name.startswith("cloud:"):
        from qrnn.backends.cloud import CloudBackend

        return CloudBackend(name[len("cloud:") :], device=device, shots=shots, **options)
    raise BackendError(
        f"unknown backend {name!r}; expected one of {list(_NAMES)} (e.g. 'pennylane:default.qubit')"
    )


def resolve(backend) -> Backend:
    """A backend name (``get(name)`` with default options) or a ``Backend`` -> ``Backend``.

    Raises:
        BackendError: an unknown name. TypeError: neither a name nor a ``Backend``.
    """
    if isinstance(backend, str):
        return get(backend)
    if isinstance(backend, Backend):
        return backend
    raise TypeError(
        f"backend must be a backend name {list(_NAMES)} or a qrnn.backends.Backend (from "
        f"qrnn.backends.get), got {backend!r}"
    )


def is_engine(backend: Backend) -> bool:
    """Whether ``backend`` is the exact torch engine as it is (no device, noise or shots):
    models then run ``qrnn.sim``'s compiled programs directly, with autograd."""
    from qrnn.backends.torch import TorchBackend

    return isinstance(backend, TorchBackend) and backend.exact_engine


__all__ = [
    "MARKER_LABEL",
    "TORCH",
    "Backend",
    "BackendError",
    "GPUUnavailableError",
    "ObservableError",
    "add_marker",
    "check_shots",
    "get",
    "is_engine",
    "marker_positions",
    "names",
    "resolve",
    "split_expval",
]
