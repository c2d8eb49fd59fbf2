"""The names the ``qrnn`` command lists in its help, importable without torch or qiskit.

Each registry below is owned by the module named beside it, which needs torch, qiskit or
PennyLane to import; ``qrnn --help`` must not pay for those. tests/test_names.py checks that
every copy equals its registry, so they cannot drift.
"""

from __future__ import annotations

from pathlib import Path

# qrnn.models.names(); DEFAULT_MODEL is re-exported there.
MODELS = ("esn", "gru", "lstm", "qgru", "qlstm", "qreservoir", "qrnn")
DEFAULT_MODEL = "qrnn"
# Constructor defaults of each family (its class, or the registry's override) for the
# options `qrnn train` has flags for, under their RunConfig keys; a family without the
# option has no entry.
_QUANTUM = {"hidden_size": 4, "qubits": 10, "reps": 2, "ansatz": "ion_native", "backend": "torch"}
MODEL_DEFAULTS: dict[str, dict[str, object]] = {
    "esn": {"hidden_size": 100},
    "gru": {"hidden_size": 16},
    "lstm": {"hidden_size": 16},
    "qgru": _QUANTUM,
    "qlstm": _QUANTUM,
    "qreservoir": {"hidden_size": 4, "qubits": 10, "reps": 3, "backend": "torch"},
    "qrnn": _QUANTUM,
}
# qrnn.config: the classical families a run's baseline may be.
BASELINES = ("lstm", "gru", "esn")
# qrnn.data.names()
DATASETS = (
    "airline",
    "bessel_j2",
    "damped_oscillator",
    "lorenz63",
    "mackey_glass",
    "narma10",
    "narma5",
    "sine",
    "sunspots",
)
# circuits.ansatz.names(); with the model cells, qrnn.run.template_names().
ANSATZE = ("brickwork", "hardware_efficient", "ion_native")
CELL_TEMPLATES = ("qlstm_gate", "qrnn_step", "reservoir")
# qrnn.backends.names(); qrnn.run.BACKENDS (what `qrnn run` executes on).
BACKENDS = ("torch", "aer", "pennylane:<device>", "cloud:<provider>:<backend>")
RUN_BACKENDS = ("aer", "torch")
# qrnn.run.DEFAULT_DEVICE (also qrnn.devices.get's default).
DEFAULT_DEVICE = "iontrap-10q"
# qrnn.backends' gradient methods (``Backend`` option ``gradient``): how a run trained on a
# device with shots differentiates its sampled values (exact runs use autograd, "backprop").
GRADIENTS = ("backprop", "parameter-shift", "spsa")
# qrnn.train's optimizers and losses (``fit(optimizer=, loss=)``).
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
LOSSES = ("huber", "mae", "mse")


def device_names() -> list[str]:
    """``qrnn.devices.names()``: the device presets shipped in ``qrnn/devices/presets``."""
    presets = Path(__file__).parent / "devices" / "presets"
    return sorted(path.stem for path in presets.glob("*.toml"))


def template_names() -> list[str]:
    """``qrnn.run.template_names()``: circuits ``qrnn run`` builds by name."""
    return sorted([*ANSATZE, *CELL_TEMPLATES])
