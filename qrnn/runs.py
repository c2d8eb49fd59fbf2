"""Run directories: :func:`train_run` and :func:`evaluate_run`, what ``qrnn train`` and
``qrnn evaluate`` do.

:func:`train_run` trains a :class:`~qrnn.config.RunConfig`'s model and a parameter-matched
classical baseline the same way and writes a run directory::

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
(``qrnn.models.to_backend``) without writing into the run directory. Both return a
:class:`RunResult`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qrnn._atomic import write_atomically
from qrnn.config import ConfigError, RunConfig

__all__ = [
    "RunResult",
    "build_model",
    "evaluate_run",
    "format_comparison",
    "load_data",
    "read_run_config",
    "train_run",
]


# ----------------------------------------------------------------------------- building


def load_data(config: RunConfig) -> Any:
    """The ``qrnn.data.WindowedData`` the run trains on (CSV if ``csv`` is set).

    Its ``train``/``val``/``test`` splits hold scaled ``inputs`` ``(n, window, features)`` and
    ``targets`` ``(n, horizon * features)``.
    """
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
    """``qrnn.models.build`` of the configured model, sized to ``data``, seeded by ``seed``.

    Returns a ``qrnn.models.Forecaster`` mapping ``(batch, window, features)`` to
    ``(batch, horizon * features)``.
    """
    import torch

    from qrnn.models import build

    input_size, output_size = _sizes(data)
    torch.manual_seed(config.seed)
    return build(config.model, input_size, output_size, **config.model_options_for_build())


def _build_baseline(
    config: RunConfig, data: Any, target: Any, hidden_size: int | None = None
) -> Any:
    """The ``config.baseline`` family matched to ``target``'s trainable parameter count, or
    (rebuilding a saved run) with the saved ``hidden_size``."""
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
    """A run directory's model, its matched baseline and their scores.

    :func:`train_run` sets every field except ``execution``; :func:`evaluate_run` sets
    ``run_dir``, ``metrics``, ``model``, ``baseline`` and, when it scores on a device,
    ``execution`` (its histories are ``None``: the saved ones are in ``history.json``).

    Attributes:
        run_dir: the run directory.
        metrics: the structure of ``metrics.json``: ``{"model": entry, "baseline": entry |
            None}``, each entry ``{"name", "parameters", "metrics"}`` (the baseline's also
            ``"hidden_size"``) with ``metrics`` ``{split: {"mse", "mae", "r2"}}`` in the
            series' original units. From :func:`train_run`: what it wrote to
            ``metrics.json``. From :func:`evaluate_run`: the re-scored metrics (every split as
            trained; ``val`` and ``test`` only when scored on a device).
        model: the trained model, a ``qrnn.models.Forecaster`` mapping
            ``(batch, window, features)`` to ``(batch, horizon * features)``
            (:func:`evaluate_run`: rebuilt from ``config.json`` with the checkpoint's weights,
            moved to the execution backend when one was asked for).
        history: the model's ``qrnn.train.History`` (:func:`train_run` only).
        baseline: the matched classical baseline, or ``None`` without one (``baseline =
            "none"``, or the model is itself of the baseline's family).
        baseline_history: the baseline's ``History`` (:func:`train_run` only).
        execution: where :func:`evaluate_run` scored the model, ``{"backend", "device",
            "shots", "seed"}``; ``None`` when the model ran as trained.
    """

    run_dir: Path
    metrics: dict[str, Any]
    model: Any
    history: Any = None
    baseline: Any = None
    baseline_history: Any = None
    execution: dict[str, Any] | None = None


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
    write_atomically(path, lambda tmp: tmp.write_text(json.dumps(values, indent=2) + "\n"))


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
    return RunResult(
        run_dir,
        metrics,
        model,
        history=history,
        baseline=baseline,
        baseline_history=baseline_history,
    )


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
) -> RunResult:
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
        a :class:`RunResult` whose ``metrics`` have the structure of ``metrics.json``
        (``{"mse", "mae", "r2"}`` per split in original units; every split as trained, only
        ``val`` and ``test`` with execution options), with the loaded ``model`` and
        ``baseline`` and, with execution options, ``execution`` = ``{"backend", "device",
        "shots", "seed"}``.

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
    metrics = {
        "model": _summary(config.model, model, evaluate(model, data, splits)),
        "baseline": None,
    }
    baseline = None
    if hidden is not None:
        baseline = _build_baseline(config, data, None, hidden_size=hidden)
        load_weights(baseline, run_dir / "baseline")
        metrics["baseline"] = _summary(config.baseline, baseline, evaluate(baseline, data, splits))
        metrics["baseline"]["hidden_size"] = hidden
    return RunResult(run_dir, metrics, model, baseline=baseline, execution=execution)


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
    from qrnn import backends, devices

    if device is not None:
        device = devices.get(device)
    backends.check_shots(shots, device)
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
