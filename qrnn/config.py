"""Run configuration: what a ``qrnn train`` run is, and how it is read from files.

A :class:`RunConfig` says which model to train on which series and how. It comes from a
TOML, YAML or JSON file (:func:`load_config`; flat keys, see ``RunConfig``'s fields),
command-line flags, or code (``RunConfig(...)``, :meth:`RunConfig.from_mapping`). Values are
checked when the config is made: a bad key or value is a :class:`ConfigError` naming it and
what is valid. ``qrnn.runs`` trains and evaluates the run directory of a config.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qrnn._names import DEFAULT_MODEL, GRADIENTS

__all__ = ["DEFAULT_DATASET", "ConfigError", "RunConfig", "load_config"]

# The series `qrnn train` uses when none is named: the damped pendulum of the QLSTM paper.
DEFAULT_DATASET = "damped_oscillator"
_BASELINES = ("lstm", "gru", "esn")
# Keys renamed in this release: old -> new (the old one still read, with a DeprecationWarning).
_RENAMED_KEYS = {"layers": "reps"}
# RunConfig key -> constructor word of the model (only passed when the key is set).
_MODEL_KEYS = {
    "hidden_size": "hidden_size",
    "qubits": "n_qubits",
    "reps": "reps",
    "ansatz": "ansatz",
    "backend": "backend",
}
# The model keys each family takes (every family takes hidden_size). Checked when the config is
# made, so that a key that does not apply is an error naming that key (and its flag), before
# any data is read; tests/test_config.py checks this table against the constructors.
_QUANTUM_KEYS = ("qubits", "reps", "ansatz", "backend")
_KEYS_OF_MODEL = {
    "lstm": ("hidden_size",),
    "gru": ("hidden_size",),
    "esn": ("hidden_size",),
    "qlstm": ("hidden_size", *_QUANTUM_KEYS),
    "qgru": ("hidden_size", *_QUANTUM_KEYS),
    "qrnn": ("hidden_size", *_QUANTUM_KEYS),
    "qreservoir": ("hidden_size", "qubits", "reps", "backend"),  # a fixed random circuit
}


class ConfigError(ValueError):
    """A run configuration that cannot be used; the message names the key and what is valid."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run.

    Model: ``model`` (a name from ``qrnn.models.names()``), ``hidden_size``,
    ``qubits``, ``reps`` (circuit depth; ``layers`` in files and mappings is its deprecated
    alias), ``ansatz``, ``backend`` (each passed to the model only when set; setting one the
    model does not take, e.g. ``qubits`` for ``lstm``, is a ConfigError naming that key),
    ``model_options`` (any other constructor options), ``baseline`` (``"lstm"``, ``"gru"``,
    ``"esn"`` or ``"none"``: the classical family matched to the model's trainable parameter
    count and trained the same way).

    Device (quantum models only; see ``qrnn.models.to_backend``): ``device`` (an ion-trap
    preset name or device file: the model trains and is scored transpiled to its native
    gates, with its noise; default none, noise-free), ``shots`` (samples per circuit, within
    the device's limits; default none, exact expectation values) and ``gradient`` (how the
    quantum part is differentiated: ``"backprop"``, autograd through the exact density-matrix
    simulation, the default without shots on the torch backend; ``"parameter-shift"``, the
    default with shots or on a backend without autograd (``aer``), or ``"spsa"`` on sampled
    values, ``2 n_params`` or 2 circuit runs of ``shots`` each per sample; every shifted
    circuit of a layer call goes to the executor in one call). A gradient the executor
    cannot do (``backprop`` with shots or on ``aer``) is an error before any work. The
    matched baseline is classical and trains noise-free.

    Data: ``dataset`` (a name for ``qrnn.data.load``) with ``dataset_options``, or ``csv``
    (a path; relative paths in a config file are relative to that file) with ``column`` (a
    header name as a string, a 0-based index as an integer, or a list of them; unset: see
    ``qrnn.data.load_csv``) and ``date_column``; ``window``, ``horizon``, ``split`` (train,
    val, test fractions); ``difference`` (model the series' changes, for a trending series;
    metrics stay those of the level forecast: see ``qrnn.data.prepare``).

    Training (see ``qrnn.fit``): ``epochs``, ``batch_size``, ``lr``, ``optimizer``,
    ``grad_clip``, ``patience``, ``loss``, ``seed``.

    Output: ``output_dir`` (default ``runs``) and ``name`` (default: timestamp and model).
    """

    model: str = DEFAULT_MODEL
    hidden_size: int | None = None
    qubits: int | None = None
    reps: int | None = None
    ansatz: str | None = None
    backend: str | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    shots: int | None = None
    gradient: str | None = None
    baseline: str = "lstm"
    dataset: str = DEFAULT_DATASET
    dataset_options: dict[str, Any] = field(default_factory=dict)
    csv: str | None = None
    column: str | int | list[str | int] | None = None
    date_column: str | int | None = None
    window: int = 4
    horizon: int = 1
    split: tuple[float, ...] = (0.6, 0.2, 0.2)
    difference: bool = False
    epochs: int = 12  # the default QRNN trains in about a minute on 2 CPU cores
    batch_size: int = 16
    lr: float = 0.01
    optimizer: str = "adam"
    grad_clip: float | None = 1.0
    patience: int | None = None
    loss: str = "mse"
    seed: int = 0
    output_dir: str = "runs"
    name: str | None = None

    def __post_init__(self) -> None:
        for key, (kinds, nullable) in _KEY_TYPES.items():
            value = getattr(self, key)
            if value is None and nullable:
                continue
            if key in _FLOAT_KEYS and isinstance(value, str):
                # YAML 1.1 reads "1e-3" (no dot) as a string; take the number the user wrote.
                try:
                    value = float(value)
                except ValueError:
                    pass
                else:
                    object.__setattr__(self, key, value)
            if key in _FLOAT_KEYS and isinstance(value, int) and not isinstance(value, bool):
                try:
                    value = float(value)
                except OverflowError:
                    raise ConfigError(f"config key {key!r} is too large: {value}") from None
                object.__setattr__(self, key, value)
            if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
                expected = " or ".join(k.__name__ for k in kinds) + (" or null" if nullable else "")
                raise ConfigError(f"config key {key!r} must be {expected}, got {value!r}")
        for key in ("epochs", "batch_size", "window", "horizon", "hidden_size", "qubits", "shots"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"config key {key!r} must be >= 1, got {value}")
        for key in ("reps", "patience"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"config key {key!r} must be >= 1 or unset, got {value}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"config key 'lr' must be a positive number, got {self.lr}")
        if self.grad_clip is not None and not (
            math.isfinite(self.grad_clip) and self.grad_clip > 0
        ):
            raise ConfigError(
                f"config key 'grad_clip' must be a positive number or null, got {self.grad_clip}"
            )
        if not 0 <= self.seed < 2**64:  # the range torch.manual_seed takes
            raise ConfigError(f"config key 'seed' must be in [0, 2**64), got {self.seed}")
        split = tuple(self.split)
        if len(split) not in (2, 3) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in split
        ):
            raise ConfigError(
                f"config key 'split' must be 2 or 3 fractions in [0, 1] (train, [val,] test), "
                f"got {split!r}"
            )
        object.__setattr__(self, "split", tuple(float(v) for v in split))
        if isinstance(self.column, list) and not (
            self.column
            and all(isinstance(c, str | int) and not isinstance(c, bool) for c in self.column)
        ):
            raise ConfigError(
                f"config key 'column' must be a name, an index or a non-empty list of them, "
                f"got {self.column!r}"
            )
        if self.baseline not in (*_BASELINES, "none"):
            raise ConfigError(
                f"config key 'baseline' must be one of {[*_BASELINES, 'none']}, "
                f"got {self.baseline!r}"
            )
        if self.name is not None and (
            Path(self.name).name != self.name or self.name in ("", ".", "..") or "\0" in self.name
        ):
            raise ConfigError(
                f"config key 'name' must be a plain directory name, got {self.name!r}"
            )
        for key in ("model_options", "dataset_options"):
            _check_options(key, getattr(self, key))
        overlap = sorted(set(self.model_options) & {*_MODEL_KEYS.values(), "input_size"})
        if overlap:
            raise ConfigError(
                f"model_options {overlap} have their own config keys (or are set by the data); "
                f"use {sorted(_MODEL_KEYS)}"
            )
        self._check_model_keys()
        self._check_device_keys()

    def _check_model_keys(self) -> None:
        takes = _KEYS_OF_MODEL.get(self.model)
        if takes is None:  # not a model name: qrnn.models.build names the valid ones
            return
        for key in _MODEL_KEYS:
            if getattr(self, key) is not None and key not in takes:
                models = [name for name, keys in _KEYS_OF_MODEL.items() if key in keys]
                raise ConfigError(
                    f"--{key.replace('_', '-')} / config key {key!r} does not apply to model "
                    f"{self.model!r}; it applies to {', '.join(models)}"
                )

    def _check_device_keys(self) -> None:
        if self.gradient is not None and self.gradient not in GRADIENTS:
            raise ConfigError(
                f"config key 'gradient' must be one of {list(GRADIENTS)} or unset, "
                f"got {self.gradient!r}"
            )
        given = [key for key in ("device", "shots", "gradient") if getattr(self, key) is not None]
        takes = _KEYS_OF_MODEL.get(self.model)
        if given and takes is not None and "backend" not in takes:
            quantum = [name for name, keys in _KEYS_OF_MODEL.items() if "backend" in keys]
            raise ConfigError(
                f"--{given[0]} / config key {given[0]!r} does not apply to the classical model "
                f"{self.model!r}; it applies to {', '.join(quantum)}"
            )
        engine = self.backend in (None, "torch")
        if self.gradient is not None and self.device is None and self.shots is None and engine:
            raise ConfigError(
                "config key 'gradient' applies to a run on a device, with shots or on a backend "
                "other than torch (set 'device', 'shots' or 'backend'); noise-free exact runs on "
                "the torch engine use autograd"
            )

    def execution(self) -> dict[str, Any] | None:
        """``qrnn.models.to_backend`` arguments of a run on a device, with shots or with a
        ``gradient`` (``{"backend", "device", "shots", "seed", "gradient"}``), or None for a
        noise-free exact run with the backend's default gradient (the model is built on
        ``backend`` then). The backend is ``backend`` or ``"torch"``; the seed is the run's."""
        if self.device is None and self.shots is None and self.gradient is None:
            return None
        execution = {
            "backend": self.backend or "torch",
            "device": self.device,
            "shots": self.shots,
            "seed": self.seed,
        }
        if self.gradient is not None:
            execution["gradient"] = self.gradient
        return execution

    @classmethod
    def keys(cls) -> list[str]:
        """The valid configuration keys, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: RunConfig | None = None) -> RunConfig:
        """``base`` (default: all defaults) with the keys of ``values`` replaced.

        Raises ConfigError listing the valid keys if ``values`` has an unknown one.
        """
        if not isinstance(values, Mapping):
            raise ConfigError(
                f"a run config must be a mapping of keys, got {type(values).__name__}"
            )
        values = dict(values)
        for old, new in _RENAMED_KEYS.items():
            if old not in values:
                continue
            if new in values:
                raise ConfigError(f"config keys {new!r} and {old!r} (its old name) both given")
            warnings.warn(
                f"config key {old!r} is deprecated and will be removed; use {new!r}",
                DeprecationWarning,
                stacklevel=2,
            )
            values[new] = values.pop(old)
        unknown = sorted(set(values) - set(cls.keys()), key=str)  # YAML keys may be numbers
        if unknown:
            raise ConfigError(
                f"unknown config key{'s' if len(unknown) > 1 else ''} {unknown}; "
                f"valid keys: {', '.join(cls.keys())}"
            )
        return dataclasses.replace(base or cls(), **dict(values))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible ``dict`` of every key."""
        values = dataclasses.asdict(self)
        values["split"] = list(self.split)
        return values

    def model_options_for_build(self) -> dict[str, Any]:
        """Constructor options for ``qrnn.models.build(self.model, ...)``."""
        options = dict(self.model_options)
        for key, word in _MODEL_KEYS.items():
            if getattr(self, key) is not None:
                options[word] = getattr(self, key)
        return options


_KEY_TYPES: dict[str, tuple[tuple[type, ...], bool]] = {
    "model": ((str,), False),
    "hidden_size": ((int,), True),
    "qubits": ((int,), True),
    "reps": ((int,), True),
    "ansatz": ((str,), True),
    "backend": ((str,), True),
    "model_options": ((dict,), False),
    "device": ((str,), True),
    "shots": ((int,), True),
    "gradient": ((str,), True),
    "baseline": ((str,), False),
    "dataset": ((str,), False),
    "dataset_options": ((dict,), False),
    "csv": ((str,), True),
    "column": ((str, int, list), True),
    "date_column": ((str, int), True),
    "window": ((int,), False),
    "horizon": ((int,), False),
    "split": ((list, tuple), False),
    "difference": ((bool,), False),
    "epochs": ((int,), False),
    "batch_size": ((int,), False),
    "lr": ((float,), False),
    "optimizer": ((str,), False),
    "grad_clip": ((float,), True),
    "patience": ((int,), True),
    "loss": ((str,), False),
    "seed": ((int,), False),
    "output_dir": ((str,), False),
    "name": ((str,), True),
}
_FLOAT_KEYS = ("lr", "grad_clip")


def _check_options(key: str, options: dict) -> None:
    # Keyword arguments, saved in the run's config.json: str keys, JSON values.
    words = [word for word in options if not isinstance(word, str)]
    if words:
        raise ConfigError(f"config key {key!r} must have str keys (option names), got {words}")
    try:
        json.dumps(options)
    except (TypeError, ValueError) as error:  # a date, a set, a cycle: not JSON
        raise ConfigError(f"config key {key!r} must hold JSON values: {error}") from None


def load_config(path: str | os.PathLike, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Read a run config from a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file.

    The file is a flat mapping of :class:`RunConfig` keys (``model_options`` and
    ``dataset_options`` are tables). ``overrides`` (e.g. command-line flags) replace file
    values. A relative ``csv`` path in the file is taken relative to the file's folder.
    Raises FileNotFoundError for no such file, and ConfigError (one line, naming the file) for
    a file that cannot be read or is not UTF-8 text, a syntax error (with its line and
    column), an unknown key (listing the valid ones) or a bad value.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no config file at {path}")
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml", ".json"):
        raise ConfigError(f"config file {path} must end in .toml, .yaml, .yml or .json")
    values = _parse(path, _read_text(path), suffix)
    if not isinstance(values, Mapping):
        raise ConfigError(f"config file {path} must hold a mapping of keys at the top level")
    values = dict(values)
    if isinstance(values.get("csv"), str) and not Path(values["csv"]).is_absolute():
        values["csv"] = str(path.parent / values["csv"])
    config = RunConfig.from_mapping(values)
    return RunConfig.from_mapping(overrides or {}, base=config)


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {path}, line {line}: byte 0x{raw[error.start]:02x} is not UTF-8 text"
        ) from None


def _parse(path: Path, text: str, suffix: str) -> Any:
    """The document in ``text``; a syntax error is a one-line ConfigError naming file and line."""
    import yaml  # here, not at the top: ``qrnn --help`` does not need it

    try:
        if suffix == ".toml":
            return tomllib.loads(text)  # its messages end "(at line L, column C)"
        if suffix == ".json":
            return json.loads(text)
        return yaml.safe_load(text) or {}
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}"
        raise ConfigError(f"cannot parse config file {path}: {error.msg} (at {where})") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        what = error.problem or error.context or type(error).__name__
        where = f" (at line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"cannot parse config file {path}: {what}{where}") from None
    except yaml.reader.ReaderError as error:  # a character YAML does not allow
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        raise ConfigError(
            f"cannot parse config file {path}: character {chr(error.character)!r} is not allowed "
            f"in YAML (at line {line}, column {column})"
        ) from None
    except yaml.YAMLError as error:
        message = " ".join(str(error).split())
        raise ConfigError(f"cannot parse config file {path}: {message}") from None
    except ValueError as error:  # TOML syntax; a number too long for int() in any format
        raise ConfigError(f"cannot parse config file {path}: {error}") from None
    except RecursionError:
        raise ConfigError(f"cannot parse config file {path}: nested too deeply") from None
