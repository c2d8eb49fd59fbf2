"""Run configuration and run directories: what ``qrnn train`` and ``qrnn evaluate`` do.

A :class:`RunConfig` says which model to train on which series and how. It comes from a
TOML, YAML or JSON file (flat keys, see ``RunConfig``'s fields), command-line flags, or
code. :func:`train_run` trains the model and a parameter-matched classical baseline the same
way and writes a run directory::

    runs/<name>/
        config.json        the resolved RunConfig (re-usable as --config)
        metrics.json       {"model": {...}, "baseline": {...} | null}, original units
        history.json       qrnn.train.History of the model
        checkpoint.pt      qrnn.train checkpoint (weights, optimizer, RNG states, history)
        predictions.png    predictions vs truth
        loss.png           loss curves
        baseline/          history.json, checkpoint.pt, predictions.png, loss.png

:func:`evaluate_run` rebuilds the model from ``config.json``, loads the checkpoint and
re-scores it; ``overrides`` lets a caller change execution keys (a backend, say) first, and
``backend``/``device``/``shots`` score the trained quantum model on a simulated ion-trap device
(``qrnn.models.to_backend``) without writing into the run directory.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qrnn.models import DEFAULT_MODEL

__all__ = [
    "DEFAULT_DATASET",
    "DEFAULT_MODEL",
    "ConfigError",
    "RunConfig",
    "RunResult",
    "build_model",
    "evaluate_run",
    "format_comparison",
    "load_config",
    "load_data",
    "read_run_config",
    "train_run",
]

# The series `qrnn train` uses when none is named: the damped pendulum of the QLSTM paper.
DEFAULT_DATASET = "damped_oscillator"
_BASELINES = ("lstm", "gru", "esn")
# RunConfig key -> constructor word of the model (only passed when the key is set).
_MODEL_KEYS = {
    "hidden_size": "hidden_size",
    "qubits": "n_qubits",
    "layers": "n_layers",
    "ansatz": "ansatz",
    "backend": "backend",
}


class ConfigError(ValueError):
    """A run configuration that cannot be used; the message names the key and what is valid."""


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run.

    Model: ``model`` (a name from ``qrnn.models.model_names()``), ``hidden_size``,
    ``qubits``, ``layers``, ``ansatz``, ``backend`` (each passed to the model only when
    set; the quantum ones apply to quantum models), ``model_options`` (any other constructor
    options), ``baseline`` (``"lstm"``, ``"gru"``, ``"esn"`` or ``"none"``: the classical
    family matched to the model's trainable parameter count and trained the same way).

    Data: ``dataset`` (a name for ``qrnn.data.load``) with ``dataset_options``, or ``csv``
    (a path; relative paths in a config file are relative to that file) with ``column`` and
    ``date_column``; ``window``, ``horizon``, ``split`` (train, val, test fractions).

    Training (see ``qrnn.fit``): ``epochs``, ``batch_size``, ``lr``, ``optimizer``,
    ``grad_clip``, ``patience``, ``loss``, ``seed``.

    Output: ``output_dir`` (default ``runs``) and ``name`` (default: timestamp and model).
    """

    model: str = DEFAULT_MODEL
    hidden_size: int | None = None
    qubits: int | None = None
    layers: int | None = None
    ansatz: str | None = None
    backend: str | None = None
    model_options: dict[str, Any] = field(default_factory=dict)
    baseline: str = "lstm"
    dataset: str = DEFAULT_DATASET
    dataset_options: dict[str, Any] = field(default_factory=dict)
    csv: str | None = None
    column: str | int | list[str | int] | None = None
    date_column: str | int | None = None
    window: int = 4
    horizon: int = 1
    split: tuple[float, ...] = (0.6, 0.2, 0.2)
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
                value = float(value)
                object.__setattr__(self, key, value)
            if isinstance(value, bool) or not isinstance(value, kinds):
                expected = " or ".join(k.__name__ for k in kinds) + (" or null" if nullable else "")
                raise ConfigError(f"config key {key!r} must be {expected}, got {value!r}")
        for key in ("epochs", "batch_size", "window", "horizon", "hidden_size", "qubits"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"config key {key!r} must be >= 1, got {value}")
        for key in ("layers", "patience"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"config key {key!r} must be >= 1 or unset, got {value}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ConfigError(f"config key 'lr' must be a positive number, got {self.lr}")
        split = tuple(self.split)
        if len(split) not in (2, 3) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in split
        ):
            raise ConfigError(
                f"config key 'split' must be 2 or 3 fractions (train, [val,] test), got {split!r}"
            )
        object.__setattr__(self, "split", tuple(float(v) for v in split))
        if self.baseline not in (*_BASELINES, "none"):
            raise ConfigError(
                f"config key 'baseline' must be one of {[*_BASELINES, 'none']}, "
                f"got {self.baseline!r}"
            )
        if self.name is not None and (not self.name or Path(self.name).name != self.name):
            raise ConfigError(
                f"config key 'name' must be a plain directory name, got {self.name!r}"
            )
        overlap = sorted(set(self.model_options) & {*_MODEL_KEYS.values(), "input_size"})
        if overlap:
            raise ConfigError(
                f"model_options {overlap} have their own config keys (or are set by the data); "
                f"use {sorted(_MODEL_KEYS)}"
            )

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
        unknown = sorted(set(values) - set(cls.keys()))
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
    "layers": ((int,), True),
    "ansatz": ((str,), True),
    "backend": ((str,), True),
    "model_options": ((dict,), False),
    "baseline": ((str,), False),
    "dataset": ((str,), False),
    "dataset_options": ((dict,), False),
    "csv": ((str,), True),
    "column": ((str, int, list), True),
    "date_column": ((str, int), True),
    "window": ((int,), False),
    "horizon": ((int,), False),
    "split": ((list, tuple), False),
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


def load_config(path: str | os.PathLike, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Read a run config from a ``.toml``, ``.yaml``/``.yml`` or ``.json`` file.

    The file is a flat mapping of :class:`RunConfig` keys (``model_options`` and
    ``dataset_options`` are tables). ``overrides`` (e.g. command-line flags) replace file
    values. A relative ``csv`` path in the file is taken relative to the file's folder.
    Raises ConfigError for an unknown key (listing the valid ones) or a bad value.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no config file at {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            with path.open("rb") as handle:
                values = tomllib.load(handle)
        elif suffix in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(path.read_text()) or {}
        elif suffix == ".json":
            values = json.loads(path.read_text())
        else:
            raise ConfigError(f"config file {path} must end in .toml, .yaml, .yml or .json")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"cannot parse config file {path}: {error}") from None
    except ImportError:  # pragma: no cover - pyyaml is a dependency
        raise ConfigError("reading YAML needs pyyaml: pip install pyyaml") from None
    if not isinstance(values, Mapping):
        raise ConfigError(f"config file {path} must hold a mapping of keys at the top level")
    values = dict(values)
    if isinstance(values.get("csv"), str) and not Path(values["csv"]).is_absolute():
        values["csv"] = str(path.parent / values["csv"])
    config = RunConfig.from_mapping(values)
    return RunConfig.from_mapping(overrides or {}, base=config)


# ----------------------------------------------------------------------------- building


def load_data(config: RunConfig) -> Any:
    """The ``qrnn.data.WindowedData`` the run trains on (CSV if ``csv`` is set)."""
    from qrnn import data as qdata

    if config.csv is not None:
        column = tuple(config.column) if isinstance(config.column, list) else config.column
        series = qdata.load_csv(config.csv, column=column, date_column=config.date_column)
    else:
        series = qdata.load(config.dataset, **config.dataset_options)
    return qdata.prepare(series, window=config.window, horizon=config.horizon, split=config.split)


def _sizes(data: Any) -> tuple[int, int]:
    return int(data.train.inputs.shape[-1]), int(data.train.targets.shape[-1])


def build_model(config: RunConfig, data: Any) -> Any:
    """``qrnn.models.build`` of the configured model, sized to ``data``, seeded by ``seed``."""
    import torch

    from qrnn.models import build

    input_size, output_size = _sizes(data)
    torch.manual_seed(config.seed)
    return build(config.model, input_size, output_size, **config.model_options_for_build())


def _build_baseline(config: RunConfig, data: Any, target: Any, hidden_size: int | None = None):
    import torch

    from qrnn.models import build, match_parameters

    input_size, output_size = _sizes(data)
    torch.manual_seed(config.seed)
    if hidden_size is not None:  # rebuilding a saved run
        return build(config.baseline, input_size, output_size, hidden_size=hidden_size)
    return match_parameters(target, config.baseline, input_size, output_size)


# ----------------------------------------------------------------------------- runs


@dataclass
class RunResult:
    """What :func:`train_run` produced: the run directory, its metrics and histories."""

    run_dir: Path
    metrics: dict[str, Any]
    model: Any
    history: Any
    baseline: Any = None
    baseline_history: Any = None


def _new_run_dir(config: RunConfig) -> Path:
    root = Path(config.output_dir)
    if config.name is not None:
        run_dir = root / config.name
        if run_dir.exists():
            raise ConfigError(f"run directory {run_dir} already exists; choose another name")
        return run_dir
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir, attempt = root / f"{stamp}-{config.model}", 1
    while run_dir.exists():  # two runs in the same second
        attempt += 1
        run_dir = root / f"{stamp}-{config.model}-{attempt}"
    return run_dir


def _write_json(path: Path, values: Any) -> None:
    from qrnn.train import _write_atomically

    _write_atomically(path, lambda tmp: tmp.write_text(json.dumps(values, indent=2) + "\n"))


def _fit_settings(config: RunConfig) -> dict[str, Any]:
    return {
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "lr": config.lr,
        "optimizer": config.optimizer,
        "grad_clip": config.grad_clip,
        "patience": config.patience,
        "loss": config.loss,
        "seed": config.seed,
    }


def train_run(config: RunConfig, *, progress: bool = True, echo: Any = print) -> RunResult:
    """Train ``config``'s model and its matched baseline; write the run directory.

    Everything that can fail on bad input (data, model options, baseline sizing) is built
    before any training or any file is written. ``echo`` receives one-line status messages
    (``None`` for silence).
    """
    from qrnn.models import count_parameters
    from qrnn.train import fit, plot_history, plot_predictions

    say = echo or (lambda _message: None)
    if config.csv is not None:
        config = dataclasses.replace(config, csv=str(Path(config.csv).resolve()))
    data = load_data(config)
    model = build_model(config, data)
    baseline = None
    if config.baseline != "none" and config.baseline != config.model:
        baseline = _build_baseline(config, data, model)
    run_dir = _new_run_dir(config)
    run_dir.mkdir(parents=True)
    _write_json(run_dir / "config.json", config.to_dict())

    say(f"training {config.model} ({count_parameters(model)} parameters) on {data.series.name}")
    history = fit(model, data, checkpoint_dir=run_dir, progress=progress, **_fit_settings(config))
    history.save(run_dir / "history.json")
    plot_predictions(model, data, run_dir / "predictions.png", title=f"{config.model}")
    plot_history(history, run_dir / "loss.png", title=f"{config.model} loss")
    metrics = {"model": _summary(config.model, model, history.metrics), "baseline": None}

    baseline_history = None
    if baseline is not None:
        hidden = baseline.recurrent.hidden_size
        say(
            f"training the matched {config.baseline} baseline (hidden size {hidden}, "
            f"{count_parameters(baseline)} parameters)"
        )
        folder = run_dir / "baseline"
        baseline_history = fit(
            baseline, data, checkpoint_dir=folder, progress=progress, **_fit_settings(config)
        )
        baseline_history.save(folder / "history.json")
        plot_predictions(baseline, data, folder / "predictions.png", title=config.baseline)
        plot_history(baseline_history, folder / "loss.png", title=f"{config.baseline} loss")
        metrics["baseline"] = _summary(config.baseline, baseline, baseline_history.metrics)
        metrics["baseline"]["hidden_size"] = hidden
    _write_json(run_dir / "metrics.json", metrics)
    return RunResult(run_dir, metrics, model, history, baseline, baseline_history)


def _summary(name: str, model: Any, scores: dict[str, Any]) -> dict[str, Any]:
    from qrnn.models import count_parameters

    return {"name": name, "parameters": count_parameters(model), "metrics": scores}


def read_run_config(run_dir: str | os.PathLike) -> RunConfig:
    """The :class:`RunConfig` saved in ``run_dir/config.json``."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory: no config.json")
    return RunConfig.from_mapping(json.loads(path.read_text()))


_SCORED_SPLITS = ("train", "val", "test")


def evaluate_run(
    run_dir: str | os.PathLike,
    *,
    overrides: Mapping[str, Any] | None = None,
    backend: str | None = None,
    device: str | os.PathLike | Any = None,
    shots: int | None = None,
    seed: int | None = None,
    backend_options: Mapping[str, Any] | None = None,
    echo: Any = None,
) -> dict[str, Any]:
    """Rebuild a run's model(s) from ``config.json``, load the checkpoints, re-score.

    Without execution options the model runs as it was trained (``metrics.json`` should be
    reproduced). With ``backend``, ``device`` or ``shots`` the loaded quantum model is moved
    by ``qrnn.models.to_backend`` (default backend ``"aer"``) and scored there: transpiled to
    the device's native gates, with its noise model and readout error, and ``shots`` samples
    per circuit. The classical baseline does not run on a quantum device: it is scored as
    trained. Nothing is written into ``run_dir``.

    Args:
        run_dir: a directory written by :func:`train_run`.
        overrides: config keys to change before rebuilding (execution choices such as
            ``backend``); keys that change the model's shape make the checkpoint fail to load
            with a ``CheckpointMismatchError``.
        backend: ``"aer"`` (default when ``device`` or ``shots`` is given), ``"torch"`` or
            ``"pennylane:<device>"``.
        device: an ion-trap preset name (``qrnn.devices.names()``), device file or
            ``IonTrapDevice``; None: no device (noise-free, all gates).
        shots: samples per circuit within the device's limits; None: exact expectation values.
        seed: seeds the sampling of shots.
        backend_options: further ``qrnn.backends.get`` options (``gpu``, ``method``, ...).
        echo: receives one line before a device scoring starts (what runs where, how many
            windows); None for silence.

    Returns:
        the structure of ``metrics.json``, ``{"model": {...}, "baseline": {...} | None}``
        (``metrics`` per split: ``{"mse", "mae", "r2"}`` in original units; every split as
        trained, only ``val`` and ``test`` with execution options), plus, with execution
        options, ``"execution": {"backend", "device", "shots", "seed"}``.

    Raises:
        qrnn.devices.UnknownDeviceError (a ``KeyError``): an unknown device, listing the known
        ones. ValueError: shots outside the device's limits, a QRNN / QReservoir on a device
        without mid-circuit reset; ConfigError: execution options for a classical model. All
        of them before any scoring.
    """
    from qrnn.models import quantum_modules, to_backend
    from qrnn.train import evaluate, load_weights

    run_dir = Path(run_dir)
    config = RunConfig.from_mapping(overrides or {}, base=read_run_config(run_dir))
    execution = None
    if backend is not None or device is not None or shots is not None or backend_options:
        backend = "aer" if backend is None else backend
        machine = _check_execution(device, shots)
        execution = {
            "backend": backend,
            "device": None if machine is None else machine.name,
            "shots": shots,
            "seed": seed,
        }
    data = load_data(config)
    model = build_model(config, data)
    load_weights(model, run_dir)
    saved_path = run_dir / "metrics.json"
    saved = json.loads(saved_path.read_text()) if saved_path.is_file() else {}
    hidden = (saved.get("baseline") or {}).get("hidden_size")
    splits = _SCORED_SPLITS
    if execution is not None:
        if not quantum_modules(model):
            raise ConfigError(
                f"model {config.model!r} of run {run_dir} is classical; a backend, device or "
                "shots apply to quantum models only"
            )
        to_backend(
            model, backend, device=device, shots=shots, seed=seed, **dict(backend_options or {})
        )
        splits = ("val", "test")  # training windows are not re-scored on a device
        if echo is not None:
            baseline_name = config.baseline if hidden is not None else None
            echo(_execution_line(config.model, execution, data, splits, baseline_name))
    result = {
        "model": _summary(config.model, model, evaluate(model, data, splits)),
        "baseline": None,
    }
    if hidden is not None:
        baseline = _build_baseline(config, data, None, hidden_size=hidden)
        load_weights(baseline, run_dir / "baseline")
        result["baseline"] = _summary(config.baseline, baseline, evaluate(baseline, data, splits))
        result["baseline"]["hidden_size"] = hidden
    if execution is not None:
        result["execution"] = execution
    return result


def _execution_line(
    model: str, execution: Mapping[str, Any], data: Any, splits: tuple[str, ...], baseline: Any
) -> str:
    """E.g. ``qrnn scored on ionq-aria-1 with 1000 shots (aer, seed 0): 48 val + 48 test
    windows; the lstm baseline is classical (scored as trained)``."""
    where = f"on {execution['device']}" if execution["device"] else "without a device (noise-free)"
    if execution["shots"] is None:
        how, seed = "exact expectation values", ""
    else:
        how, seed = f"{execution['shots']} shots", f", seed {execution['seed']}"
    counts = " + ".join(f"{len(getattr(data, split).inputs)} {split}" for split in splits)
    line = f"{model} scored {where} with {how} ({execution['backend']}{seed}): {counts} windows"
    if baseline is not None:
        line += f"; the {baseline} baseline is classical (scored as trained)"
    return line


def _check_execution(device: Any, shots: Any) -> Any:
    """The device (``IonTrapDevice`` or None) after checking it and ``shots``: unknown names and
    shot counts outside the device's limits fail here, before any data or model is built."""
    from qrnn import devices

    if device is not None:
        device = devices.get(device)
    if shots is not None:
        if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
            raise ConfigError(f"shots must be a positive integer, got {shots!r}")
        if device is not None:
            device.check_shots(shots)
    return device


def format_comparison(metrics: Mapping[str, Any], split: str = "test") -> str:
    """A small text table of ``split`` metrics of the model and its baseline."""
    rows = [("model", "params", "MSE", "MAE", "R^2")]
    for role in ("model", "baseline"):
        entry = metrics.get(role)
        if not entry or split not in entry["metrics"]:
            continue
        name = entry["name"] + (" (matched)" if role == "baseline" else "")
        scores = entry["metrics"][split]
        rows.append(
            (
                name,
                str(entry["parameters"]),
                f"{scores['mse']:.4g}",
                f"{scores['mae']:.4g}",
                f"{scores['r2']:.4f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    return f"{split} metrics (original units)\n" + "\n".join(lines)
