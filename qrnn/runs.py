"""Run directories: :func:`train_run`, :func:`resume_run` and :func:`evaluate_run`, what
``qrnn train``, ``qrnn train --resume`` and ``qrnn evaluate`` do.

:func:`train_run` trains a :class:`~qrnn.config.RunConfig`'s model and a parameter-matched
classical baseline the same way and writes a run directory::

    runs/<name>/
        config.json        the resolved RunConfig (re-usable as --config)
        state.json         running | finished | failed | interrupted (see read_run_state)
        metrics.json       {"model": {...}, "baseline": {...} | null}, original units
        history.json       qrnn.train.History of the model
        checkpoint.pt      qrnn.train checkpoint (weights, optimizer, RNG states, history)
        predictions.png    predictions vs truth
        loss.png           loss curves, the epoch whose weights were kept marked
        baseline/          history.json, checkpoint.pt, predictions.png, loss.png

Everything that can fail on bad input (data, model, baseline sizing, training settings, the
output location) is checked before the directory exists, so a refused run leaves nothing
behind. The directory appears complete with ``config.json`` and ``state.json`` when training
starts; ``state.json`` then records every change (a failure with its error, an interruption);
every file is written atomically. :func:`resume_run` continues a run that did not finish
(killed, interrupted, failed) from its checkpoints, to the same files an uninterrupted run
writes (``history.json``'s ``wall_time`` aside).

:func:`evaluate_run` rebuilds a finished run's model from ``config.json``, loads the checkpoint
and re-scores it; ``overrides`` lets a caller change execution keys (a backend, say) first, and
``backend``/``device``/``shots`` score the trained quantum model on a simulated ion-trap device
(``qrnn.models.to_backend``) without writing into the run directory. All three return a
:class:`RunResult`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qrnn import _rundir
from qrnn._atomic import remove_temporaries, write_atomically
from qrnn._rundir import RunStateError
from qrnn.config import ConfigError, RunConfig

__all__ = [
    "RunResult",
    "RunStateError",
    "build_model",
    "evaluate_run",
    "format_comparison",
    "load_data",
    "read_run_config",
    "read_run_state",
    "resume_run",
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
    return qdata.prepare(
        series,
        window=config.window,
        horizon=config.horizon,
        split=config.split,
        difference=config.difference,
    )


def _sizes(data: Any) -> tuple[int, int]:
    return int(data.train.inputs.shape[-1]), int(data.train.targets.shape[-1])


def build_model(config: RunConfig, data: Any) -> Any:
    """``qrnn.models.build`` of the configured model, sized to ``data``, seeded by ``seed``;
    with ``device`` or ``shots``, its quantum parts moved there (``RunConfig.execution``).

    Returns a ``qrnn.models.Forecaster`` mapping ``(batch, window, features)`` to
    ``(batch, horizon * features)``.
    """
    import torch

    from qrnn.models import build

    input_size, output_size = _sizes(data)
    torch.manual_seed(config.seed)
    model = build(config.model, input_size, output_size, **config.model_options_for_build())
    execution = config.execution()
    if execution is not None:  # trained and scored on a device (noise, shots)
        from qrnn.models import to_backend

        to_backend(model, execution.pop("backend"), **execution)
    return model


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

    :func:`train_run` and :func:`resume_run` set every field except ``execution``;
    :func:`evaluate_run` sets ``run_dir``, ``metrics``, ``model``, ``baseline`` and, when it
    scores on a device, ``execution`` (its histories are ``None``: the saved ones are in
    ``history.json``).

    Attributes:
        run_dir: the run directory.
        metrics: the structure of ``metrics.json``: ``{"model": entry, "baseline": entry |
            None}``, each entry ``{"name", "parameters", "epochs", "weights",
            "weights_epoch", "metrics"}`` (the baseline's also ``"hidden_size"``):
            ``epochs`` trained; ``weights`` ``"best"`` (early stopping restored the
            best-validation weights) or ``"last"`` (the last epoch's); ``weights_epoch`` the
            epoch, counted from 1, whose weights the saved model holds; ``metrics``
            ``{split: {"mse", "mae", "r2"}}`` in the series' original units. From
            :func:`train_run`: what it wrote to ``metrics.json``. From :func:`evaluate_run`:
            the re-scored metrics (every split as trained; ``val`` and ``test`` only when
            scored on a device).
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


@dataclass
class _Plan:
    """What a run trains, built and checked before its directory exists."""

    config: RunConfig
    data: Any
    model: Any
    baseline: Any


def _plan(config: RunConfig) -> _Plan:
    from qrnn.train import check_fit_arguments

    _check_execution(config.device, config.shots)  # an unknown device: before any data
    data = load_data(config)
    model = build_model(config, data)
    baseline = None
    if config.baseline != "none" and config.baseline != config.model:
        baseline = _build_baseline(config, data, model)
    for trained in (model, baseline):
        if trained is not None:  # e.g. an unknown optimizer: refused before any file
            check_fit_arguments(trained, data, _fit_settings(config))
    return _Plan(config, data, model, baseline)


def _new_run_dir(config: RunConfig, overwrite: bool) -> Path:
    root = Path(config.output_dir)
    _rundir.check_output_dir(root)
    if config.name is not None:
        run_dir = root / config.name
        if run_dir.exists() or run_dir.is_symlink():
            _rundir.check_replaceable(run_dir, overwrite=overwrite)
        return run_dir
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir, attempt = root / f"{stamp}-{config.model}", 1
    while run_dir.exists():  # two runs in the same second
        attempt += 1
        run_dir = root / f"{stamp}-{config.model}-{attempt}"
    return run_dir


def _write_json(path: Path, values: Any) -> None:
    text = json.dumps(values, indent=2) + "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text))


def train_run(
    config: RunConfig, *, overwrite: bool = False, progress: bool = True, echo: Any = print
) -> RunResult:
    """Train ``config``'s model and its matched baseline; write the run directory.

    Everything that can fail on bad input (data, model options, baseline sizing, training
    settings, an output directory that is a file, a name already taken) fails before the run
    directory is created. ``echo`` receives one-line status messages (``None`` for silence).

    Args:
        config: the run.
        overwrite: replace an existing run directory of the same name (not one that a live
            process is training); the old one is deleted once the new one is in place.
        progress: tqdm progress bars of the training on stderr.
        echo: receives one-line status messages; ``None`` for silence.

    Raises:
        ConfigError, ValueError, TypeError, KeyError, FileNotFoundError: bad input, before
            any file is written.
        RunStateError: ``overwrite`` of a run that another process is training.
        Any error during training, after marking the run ``"failed"`` in ``state.json``;
        KeyboardInterrupt after marking it ``"interrupted"``. Both carry a note (PEP 678)
        naming the run directory and how to resume it.
    """
    if config.csv is not None:
        config = dataclasses.replace(config, csv=str(Path(config.csv).resolve()))
    run_dir = _new_run_dir(config, overwrite)
    plan = _plan(config)
    lock = _rundir.create_run_dir(run_dir, config.to_dict(), overwrite=overwrite)
    return _train(plan, run_dir, lock, started=None, progress=progress, echo=echo)


def resume_run(
    run_dir: str | os.PathLike, *, progress: bool = True, echo: Any = print
) -> RunResult:
    """Continue a run that did not finish (killed, interrupted or failed) from its checkpoints.

    The run's ``config.json`` says what to train; nothing else can be changed. The model's
    training continues from ``checkpoint.pt`` (or starts again when the run stopped before
    the first one was written); then the baseline's, from ``baseline/checkpoint.pt`` or from
    its start. The directory ends as an uninterrupted run leaves it: the same
    ``metrics.json``, checkpoint weights, plots and ``history.json`` (except its
    ``wall_time``, the seconds spent, summed over the attempts).

    Args:
        run_dir: a directory written by :func:`train_run`.
        progress: tqdm progress bars of the training on stderr.
        echo: receives one-line status messages; ``None`` for silence.

    Returns:
        the :class:`RunResult`, as :func:`train_run` returns it.

    Raises:
        FileNotFoundError: not a run directory. RunStateError: the run has finished, another
            process is training it, or its state file is unreadable. ConfigError: a corrupt
            ``config.json``. CheckpointError: an unreadable checkpoint;
            CheckpointMismatchError: the data changed (a CSV file edited since).
        Errors and interruptions during training as :func:`train_run`.
    """
    run_dir = Path(run_dir)
    state = read_run_state(run_dir)
    if state["state"] == "finished":
        raise RunStateError(
            f"run {run_dir} has finished; nothing to resume (qrnn evaluate {run_dir} re-scores it)"
        )
    lock = _rundir.RunLock(run_dir)  # another process training it: RunStateError
    try:
        plan = _plan(read_run_config(run_dir))
        remove_temporaries(run_dir)  # what killed writes left behind
    except BaseException:
        lock.release()
        raise
    if echo is not None:
        stopped = "was killed" if state["state"] == "running" else state["state"]
        echo(f"resuming {run_dir} ({stopped} while training the {state.get('stage') or 'model'})")
    return _train(plan, run_dir, lock, started=state.get("started"), progress=progress, echo=echo)


def _train(
    plan: _Plan, run_dir: Path, lock: Any, *, started: str | None, progress: bool, echo: Any
) -> RunResult:
    """Train the model, then the baseline, in ``run_dir`` (locked by ``lock``), each from its
    checkpoint if there is one; record the state."""
    from qrnn.models import count_parameters
    from qrnn.plots import plot_history, plot_predictions

    say = echo or (lambda _message: None)
    config, data, model, baseline = plan.config, plan.data, plan.model, plan.baseline
    stage = "model"
    try:
        started = _rundir.write_state(run_dir, "running", stage=stage, started=started)["started"]
        say(f"training {config.model} ({count_parameters(model)} parameters) on {data.series.name}")
        history = _fit(model, data, run_dir, config, progress)
        history.save(run_dir / "history.json")
        plot_predictions(model, data, run_dir / "predictions.png", title=f"{config.model}")
        plot_history(history, run_dir / "loss.png", title=f"{config.model} loss")
        metrics = {
            "model": _summary(config.model, model, history.metrics, history),
            "baseline": None,
        }

        baseline_history = None
        if baseline is not None:
            stage = "baseline"
            _rundir.write_state(run_dir, "running", stage=stage, started=started)
            hidden = baseline.recurrent.hidden_size
            say(
                f"training the matched {config.baseline} baseline (hidden size {hidden}, "
                f"{count_parameters(baseline)} parameters)"
            )
            folder = run_dir / "baseline"
            baseline_history = _fit(baseline, data, folder, config, progress)
            baseline_history.save(folder / "history.json")
            plot_predictions(baseline, data, folder / "predictions.png", title=config.baseline)
            plot_history(baseline_history, folder / "loss.png", title=f"{config.baseline} loss")
            scores = baseline_history.metrics
            metrics["baseline"] = _summary(config.baseline, baseline, scores, baseline_history)
            metrics["baseline"]["hidden_size"] = hidden
        _write_json(run_dir / "metrics.json", metrics)
        _rundir.write_state(run_dir, "finished", stage=None, started=started)
    except KeyboardInterrupt as error:
        _mark(run_dir, "interrupted", stage, started, error)
        raise
    except BaseException as error:
        _mark(run_dir, "failed", stage, started, error)
        raise
    finally:
        lock.release()
    return RunResult(
        run_dir,
        metrics,
        model,
        history=history,
        baseline=baseline,
        baseline_history=baseline_history,
    )


def _fit(model: Any, data: Any, folder: Path, config: RunConfig, progress: bool) -> Any:
    """``qrnn.fit`` with checkpoints in ``folder``, resumed from its checkpoint if it has one."""
    from qrnn.train import CHECKPOINT_NAME, fit

    resume = (folder / CHECKPOINT_NAME).is_file()
    return fit(
        model,
        data,
        checkpoint_dir=folder,
        resume=resume,
        progress=progress,
        **_fit_settings(config),
    )


def _mark(
    run_dir: Path, state: str, stage: str, started: str | None, raised: BaseException
) -> None:
    """Record a failed or interrupted run; add a note on how to go on to ``raised``."""
    error = raised if state == "failed" else None
    with contextlib.suppress(OSError):  # the original error matters more than this one
        _rundir.write_state(run_dir, state, stage=stage, started=started, error=error)
    what = (
        f"run directory {run_dir} is marked {state}; resume it with: qrnn train --resume {run_dir}"
    )
    if state == "failed":
        what += ", or train it again with --overwrite"
    raised.add_note(what)


def _summary(name: str, model: Any, scores: dict[str, Any], history: Any) -> dict[str, Any]:
    """A ``metrics.json`` entry: ``name``, ``parameters``, ``epochs`` trained, ``weights``
    (``"best"``: the best-validation epoch's, restored by early stopping; ``"last"``: the last
    epoch's), ``weights_epoch`` (which epoch's weights the model holds, counted from 1) and
    ``metrics``."""
    from qrnn.models import count_parameters

    index = history.weights_index
    return {
        "name": name,
        "parameters": count_parameters(model),
        "epochs": history.epochs,
        "weights": "best" if history.restored_best else "last",
        "weights_epoch": None if index is None else index + 1,
        "metrics": scores,
    }


def read_run_config(run_dir: str | os.PathLike) -> RunConfig:
    """The :class:`RunConfig` saved in ``run_dir/config.json``.

    Raises FileNotFoundError without one, ConfigError naming the file if it is not JSON or
    not a valid run config.
    """
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory: no config.json")
    try:
        values = json.loads(path.read_text())
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError
        raise ConfigError(f"cannot read run config {path}: {error}") from None
    try:
        return RunConfig.from_mapping(values)
    except ConfigError as error:
        raise ConfigError(f"run config {path}: {error}") from None


def read_run_state(run_dir: str | os.PathLike) -> dict[str, Any]:
    """What ``run_dir/state.json`` records about a run.

    Returns:
        ``{"state", "stage", "started", "updated", "pid", "error"}``: ``state`` one of
        ``"running"``, ``"finished"``, ``"failed"``, ``"interrupted"``;
        ``stage`` what was training (``"model"``, ``"baseline"``; ``None`` once finished);
        ``started`` / ``updated`` ISO 8601 times of the first start and the last change;
        ``pid`` the process that wrote it; ``error`` ``"Type: message"`` of a failed run.
        A ``"running"`` run also has ``"active"``: whether a process is still training it
        (``False``: that process was killed; resume the run). A directory written by an
        older qrnn (no ``state.json``) is ``"finished"`` if it has ``metrics.json``.

    Raises:
        FileNotFoundError: not a run directory. RunStateError: an unreadable ``state.json``.
    """
    return _rundir.read_state(Path(run_dir))


_SCORED_SPLITS = ("train", "val", "test")
# Windows per call when scoring on a device: the progress bar's step. The circuits run per
# window and time step either way: 48 + 48 windows of a 4-qubit QLSTM on quantinuum-h1-1
# (200 shots) took 17.3 s in chunks of 16 against 17.7 s in one call (2 loaded cores).
_DEVICE_BATCH = 16


def _read_metrics(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "metrics.json"
    try:
        values = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"run {run_dir} has no metrics.json") from None
    except ValueError as error:
        raise RunStateError(f"cannot read {path}: {error}") from None
    if not isinstance(values, dict):
        raise RunStateError(f"{path} is not a metrics file (a mapping expected)")
    return values


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
    progress: bool = False,
) -> RunResult:
    """Rebuild a finished run's model(s) from ``config.json``, load the checkpoints, re-score.

    Without execution options the model runs as it was trained (``metrics.json`` should be
    reproduced; a run trained on a device, ``config.json``'s ``device`` and ``shots``, is
    rebuilt there). With ``backend``, ``device`` or ``shots`` the loaded quantum model is moved
    by ``qrnn.models.to_backend`` (default backend ``"torch"``: the exact density-matrix
    engine, whose shots are sampled from its exact outcome distributions; ``"aer"`` is the
    independent path) and scored there: transpiled to the device's native gates, with its
    noise model and readout error, and ``shots`` samples per circuit. The classical baseline
    does not run on a quantum device: it is scored as trained. Nothing is written into ``run_dir``.

    Args:
        run_dir: a directory written by :func:`train_run`.
        overrides: config keys to change before rebuilding (execution choices such as
            ``backend``); keys that change the model's shape make the checkpoint fail to load
            with a ``CheckpointMismatchError``.
        backend: ``"torch"`` (default when ``device`` or ``shots`` is given), ``"aer"`` or
            ``"pennylane:<device>"``.
        device: an ion-trap preset name (``qrnn.devices.names()``), device file or
            ``IonTrapDevice``; None: the run's own device (``config.json``), else none
            (noise-free, all gates); ``"ideal"`` scores a device-trained run noise-free.
        shots: samples per circuit within the device's limits; None: exact expectation values.
        seed: seeds the sampling of shots.
        backend_options: further ``qrnn.backends.get`` options (``gpu``, ``method``, ...).
        echo: receives one line before a device scoring starts (what runs where, how many
            windows); None for silence.
        progress: a tqdm bar of the windows scored on a device (in chunks of 16 windows),
            on stderr.

    Returns:
        a :class:`RunResult` whose ``metrics`` have the structure of ``metrics.json``
        (``{"mse", "mae", "r2"}`` per split in original units; every split as trained, only
        ``val`` and ``test`` with execution options), with the loaded ``model`` and
        ``baseline`` and, with execution options, ``execution`` = ``{"backend", "device",
        "shots", "seed"}``.

    Raises:
        RunStateError: the run has not finished (running, killed, interrupted, failed); the
        message says how to resume it. FileNotFoundError: not a run directory.
        ConfigError: a corrupt ``config.json``; CheckpointError: an empty or truncated
        checkpoint (both name the file). qrnn.devices.UnknownDeviceError (a ``KeyError``): an
        unknown device, listing the known ones. ValueError: shots outside the device's
        limits, a QRNN / QReservoir on a device without mid-circuit reset; ConfigError:
        execution options for a classical model. All of them before any scoring.
    """
    from qrnn.models import quantum_modules, to_backend
    from qrnn.train import History, evaluate, load_weights

    run_dir = Path(run_dir)
    state = read_run_state(run_dir)
    if state["state"] != "finished":
        raise RunStateError(_rundir.unfinished_message(run_dir, state))
    config = RunConfig.from_mapping(overrides or {}, base=read_run_config(run_dir))
    execution = None
    if backend is not None or device is not None or shots is not None or backend_options:
        backend = "torch" if backend is None else backend
        device = config.device if device is None else device
        machine = _check_execution(device, shots)
        execution = {
            "backend": backend,
            "device": None if machine is None else machine.name,
            "shots": shots,
            "seed": seed,
        }
    data = load_data(config)
    model = build_model(config, data)
    history = History.from_dict(load_weights(model, run_dir)["history"])
    hidden = (_read_metrics(run_dir).get("baseline") or {}).get("hidden_size")
    splits, batch_size = _SCORED_SPLITS, 1024  # as fit scored it
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
        batch_size = _DEVICE_BATCH
        if echo is not None:
            baseline_name = config.baseline if hidden is not None else None
            echo(_execution_line(config.model, execution, data, splits, baseline_name))
    on_device = execution is not None
    scores = evaluate(model, data, splits, batch_size=batch_size, progress=progress and on_device)
    metrics = {"model": _summary(config.model, model, scores, history), "baseline": None}
    baseline = None
    if hidden is not None:
        baseline = _build_baseline(config, data, None, hidden_size=hidden)
        baseline_history = History.from_dict(
            load_weights(baseline, run_dir / "baseline")["history"]
        )
        scores = evaluate(baseline, data, splits)
        metrics["baseline"] = _summary(config.baseline, baseline, scores, baseline_history)
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
