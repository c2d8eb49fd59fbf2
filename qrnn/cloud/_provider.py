"""The provider interface every cloud implements, the registry of providers and the price
list their cost estimates cite.

A provider is a thin layer over its vendor's own SDK (imported only when the provider is
used; a missing SDK is a :class:`MissingExtraError` naming the pip extra). Credentials stay
where each SDK keeps them (its configuration file or environment variables): no method here
takes, stores or prints a token.
"""

from __future__ import annotations

import importlib
import tomllib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qrnn.cloud._errors import MissingExtraError, UnknownBackendError, UnknownProviderError

__all__ = ["BackendInfo", "Provider", "Task", "get", "names", "price"]

# provider name -> (module, class); the modules import their SDK lazily.
_PROVIDERS = {
    "braket": ("qrnn.cloud._braket", "BraketProvider"),
    "ibm": ("qrnn.cloud._ibm", "IBMProvider"),
    "ionq": ("qrnn.cloud._ionq", "IonQProvider"),
}


@dataclass(frozen=True)
class BackendInfo:
    """What qrnn needs to know about a backend before submitting to it.

    Attributes:
        name: the vendor's name for it (``"fake_manila"``, ``"ionq_simulator"``, an ARN).
        num_qubits: its width.
        max_shots: the most shots one circuit may ask for.
        simulator: whether it is a simulator (free of charge on every vendor here).
        local: whether it runs inside this process (IBM's local testing mode, Braket's
            local simulator): its jobs end with the process, so ``qrnn submit`` waits for them.
        preset: the qrnn device preset of the same machine (``qrnn.devices``), if any.
    """

    name: str
    num_qubits: int
    max_shots: int
    simulator: bool
    local: bool
    preset: str | None = None


@dataclass(frozen=True)
class Task:
    """One submission: circuits as the backend runs them, with what to measure.

    Attributes:
        kind: ``"counts"`` (sampled bitstrings) or ``"expval"`` (expectation values).
        circuits: the prepared circuits (:meth:`Provider.prepare`), one job for all.
        shots: samples per circuit.
        observables: ``kind == "expval"``: per circuit, Pauli labels on the prepared
            circuit's qubits (rightmost character = qubit 0); else None.
        parameter_values: per circuit, the values in ``circuit.parameters`` order that
            ``circuits`` were bound with (kept for the record), or None.
    """

    kind: str
    circuits: list
    shots: int
    observables: list[list[str]] | None = None
    parameter_values: list[list[float] | None] | None = None


class Provider(ABC):
    """A public quantum cloud, reached through its vendor's SDK.

    ``status``, ``result`` and ``cancel`` are safe to retry; ``submit`` is not and is never
    retried. Status strings are those of ``qrnn.cloud.jobs.STATUSES``.
    """

    name: str = ""
    extra: str = ""  # the pip extra that installs the SDK
    max_circuits: int | None = None  # circuits one job may hold (None: no limit)
    mid_circuit: bool = True  # whether its backends take resets and mid-circuit measurements
    expectation_values: bool = True  # whether it estimates observables itself (else: counts)
    one_basis_per_job: bool = False  # whether a job's observables must share a measurement basis

    def __init__(self) -> None:
        self._sdk_check()

    @abstractmethod
    def _sdk_check(self) -> None:
        """Import the SDK, or raise :class:`MissingExtraError` (see :meth:`_require`)."""

    def _require(self, module: str) -> Any:
        try:
            return importlib.import_module(module)
        except ImportError as error:
            raise MissingExtraError(
                f"provider {self.name!r} needs the {module.split('.')[0]} package ({error}); "
                f'install it with: pip install "qrnn-iontrap[{self.extra}]"'
            ) from None

    @abstractmethod
    def backends(self) -> list[str]:
        """Names of the backends qrnn can submit to (those known without an account, and
        the account's when credentials are configured)."""

    @abstractmethod
    def backend(self, name: str, *, offline: bool = False) -> BackendInfo:
        """The backend called ``name``; :class:`UnknownBackendError` lists the known ones.
        ``offline`` (a dry run): from what the SDK knows without an account, where it can."""

    @abstractmethod
    def prepare(
        self, backend: str, circuits: list, observables: list | None, *, offline: bool = False
    ) -> tuple:
        """``(circuits, observables)`` as the backend runs them: transpiled to its gates
        and layout, the observables' labels mapped to the same qubits."""

    @abstractmethod
    def submit(self, backend: str, task: Task, tag: str) -> str:
        """Send ``task`` (tagged with the client id ``tag`` where the vendor takes tags);
        return the vendor's job id. Called once per job, never retried."""

    @abstractmethod
    def status(self, backend: str, vendor_id: str) -> tuple[str, str | None]:
        """``(status, detail)``: the job's status and, for a failure, the vendor's reason."""

    @abstractmethod
    def result(self, backend: str, vendor_id: str, task: Task) -> dict:
        """The result of a finished job: ``{"counts": [{bitstring: count}, ...]}`` or
        ``{"expvals": [[...], ...], "stds": [[...], ...]}``, one entry per circuit."""

    @abstractmethod
    def cancel(self, backend: str, vendor_id: str) -> None:
        """Ask the vendor to cancel the job."""

    @abstractmethod
    def find(self, backend: str, tag: str, since: float, until: float) -> str | None:
        """The vendor job id of the job tagged ``tag`` created between the UNIX times
        ``since`` and ``until``, or None when there is none.

        Raises:
            CloudError: the vendor's answer does not settle it (several jobs carry the tag,
                the listing was refused or is longer than qrnn reads).
        """

    @abstractmethod
    def estimate(self, backend: str, task: Task, *, offline: bool = False) -> dict:
        """The cost estimate (see :func:`price` for the sources): ``{"usd": float or None,
        "machine_seconds": float or None, "basis": str, "source": str, "date": str}``."""

    def _unknown_backend(self, name: str, known: list[str], more: str = "") -> UnknownBackendError:
        return UnknownBackendError(
            f"unknown {self.name} backend {name!r}; known: {', '.join(known)}{more}"
        )


def names() -> list[str]:
    """The providers qrnn knows: ``braket``, ``ibm``, ``ionq``."""
    return sorted(_PROVIDERS)


def get(name: str) -> Provider:
    """The provider called ``name``.

    Raises:
        UnknownProviderError: not one of :func:`names`.
        MissingExtraError: its SDK is not installed (the message gives the pip command).
    """
    if name not in _PROVIDERS:
        raise UnknownProviderError(
            f"unknown provider {name!r}; expected one of: {', '.join(names())}"
        )
    module, cls = _PROVIDERS[name]
    return getattr(importlib.import_module(module), cls)()


_PRICES = Path(__file__).with_name("prices.toml")


def price(key: str) -> dict:
    """The published price entry ``key`` of ``prices.toml``: its figures (absent where not
    verified), ``source`` (where it was published) and ``date`` (when it was read)."""
    with _PRICES.open("rb") as handle:
        return tomllib.load(handle)["price"][key]
