"""Training loop, metrics, checkpoints and plots for one-step forecasters.

``fit(model, data)`` trains any ``nn.Module`` mapping ``(batch, window, features)`` to
``(batch, features)`` (a :class:`qrnn.models.Forecaster`) on a ``qrnn.data.WindowedData``:
Adam by default, gradient clipping, optional early stopping on the validation loss, a
checkpoint after every epoch, and resumption from it to bitwise the same result as an
uninterrupted run. Losses are computed on the scaled series (what the model sees); metrics
(MSE, MAE, R^2) are reported in the series' original units.

Checkpoint file (``checkpoint_dir / "checkpoint.pt"``, a ``torch.save`` dict):
``model`` the weights after the last completed epoch (the resume point), ``result`` the
weights ``fit`` returns (the best-validation weights under early stopping, else ``model``;
``history["restored_best"]`` says which),
``best`` the best-validation weights, ``optimizer``, ``rng`` (torch CPU/CUDA and shuffling
generator states), ``history``, ``settings``, ``data_fingerprint``, ``epoch`` and
``finished``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import os
import pickle
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from qrnn._atomic import write_atomically
from qrnn._checks import integer

__all__ = [
    "CHECKPOINT_NAME",
    "CheckpointError",
    "CheckpointMismatchError",
    "History",
    "check_data",
    "check_fit_arguments",
    "evaluate",
    "fit",
    "load_checkpoint",
    "load_weights",
    "metrics",
    "original_units",
    "predict",
]

CHECKPOINT_NAME = "checkpoint.pt"
_CHECKPOINT_FORMAT = "qrnn-checkpoint/1"
_SPLITS = ("train", "val", "test")

_OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "sgd": torch.optim.SGD,
}
_LOSSES: dict[str, Callable[[], nn.Module]] = {
    "mse": nn.MSELoss,
    "mae": nn.L1Loss,
    "huber": nn.HuberLoss,
}
# Settings that change the trajectory: a resumed run must use the same values. `epochs` may
# grow (continue training); `progress` only changes what is printed.
_RESUME_SETTINGS = ("batch_size", "lr", "optimizer", "grad_clip", "patience", "seed", "loss")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read (empty, truncated, not a qrnn checkpoint); the
    message names the file."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint does not fit the model or the training run it is loaded into."""


@dataclass
class History:
    """What happened in :func:`fit`.

    Attributes:
        train_loss: mean training loss of each epoch (scaled units, the training objective).
        val_loss: validation loss after each epoch (scaled units; NaN if there is no
            validation data).
        best_epoch: index into ``val_loss`` of the lowest validation loss (``None`` before
            the first epoch).
        stopped_early: whether early stopping ended the run before ``epochs``.
        restored_best: whether ``fit`` returned the best-validation weights (early stopping:
            ``patience`` set) rather than the last epoch's; see :attr:`weights_index`.
        metrics: ``{"train" | "val" | "test": {"mse", "mae", "r2"}}`` of the returned
            weights in the series' original units (see :func:`metrics`).
        wall_time: seconds spent in ``fit``, summed over resumed segments.
        settings: the ``fit`` arguments that shape the run (epochs, lr, ...).
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    restored_best: bool = False
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    wall_time: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss)

    @property
    def weights_index(self) -> int | None:
        """Index into ``train_loss`` / ``val_loss`` of the epoch whose weights ``fit``
        returned (and saved as the checkpoint's ``result``): ``best_epoch`` when
        ``restored_best``, else the last epoch; ``None`` before the first epoch."""
        if self.restored_best:
            return self.best_epoch
        return self.epochs - 1 if self.epochs else None

    @property
    def best_val_loss(self) -> float | None:
        """Lowest validation loss, or ``None`` before the first epoch."""
        return None if self.best_epoch is None else self.val_loss[self.best_epoch]

    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of the fields (JSON-compatible)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, fields: Mapping[str, Any]) -> History:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"unknown History fields {unknown}; expected {sorted(known)}")
        return cls(**copy.deepcopy(dict(fields)))

    def to_json(self) -> str:
        """JSON text of the history."""
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> History:
        """History from :meth:`to_json` text."""
        return cls.from_dict(json.loads(text))

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_json` to ``path`` (atomically: temporary file, then rename)."""
        return write_atomically(Path(path), lambda tmp: tmp.write_text(self.to_json() + "\n"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Read a history written by :meth:`save`."""
        return cls.from_json(Path(path).read_text())


# ----------------------------------------------------------------------------- predictions


def _placement(model: nn.Module) -> dict[str, Any]:
    """``{"device": ..., "dtype": ...}`` of the model's first floating tensor: where and in
    which precision its inputs must be (models refuse another dtype, as ``nn.LSTM`` does)."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return {"device": tensor.device, "dtype": tensor.dtype}
    return {"device": torch.device("cpu"), "dtype": torch.get_default_dtype()}


def predict(
    model: nn.Module,
    inputs: Any,
    *,
    scaler: Any = None,
    batch_size: int = 1024,
) -> torch.Tensor:
    """Model predictions, in evaluation mode and without gradients.

    Args:
        model: maps ``(batch, window, features)`` to ``(batch, output_size)``.
        inputs: a ``qrnn.data.Split`` (its ``inputs`` are used) or a
            ``(n, window, features)`` tensor.
        scaler: if given, predictions are mapped back to original units with
            ``scaler.inverse_transform``.
        batch_size: samples per forward call (bounds memory, not the result).

    Returns:
        ``(n, output_size)`` tensor on the CPU (scaled units unless ``scaler`` is given).
    """
    windows = getattr(inputs, "inputs", inputs)
    if not isinstance(windows, torch.Tensor) or windows.dim() != 3:
        raise TypeError(
            "predict expects a Split or a (n, window, features) tensor, got "
            f"{type(windows).__name__}{tuple(getattr(windows, 'shape', ()))}"
        )
    parts = _predict_chunks(model, windows, batch_size, lambda _n: None)
    if not parts:
        parts = [torch.empty(0, getattr(model, "output_size", 1))]
    prediction = torch.cat(parts)
    if scaler is not None:
        prediction = torch.as_tensor(scaler.inverse_transform(prediction.numpy()))
    return prediction


def _predict_chunks(
    model: nn.Module, windows: torch.Tensor, batch_size: int, done: Callable[[int], Any]
) -> list[torch.Tensor]:
    """Predictions of ``windows`` in chunks of ``batch_size`` (CPU tensors); ``done(n)`` after
    each chunk of ``n`` windows."""
    was_training = model.training
    model.eval()
    placement = _placement(model)
    parts = []
    try:
        with torch.no_grad():
            for chunk in windows.split(batch_size):
                parts.append(model(chunk.to(**placement)).cpu())
                done(len(chunk))
    finally:
        model.train(was_training)
    return parts


def original_units(data: Any, values: torch.Tensor) -> np.ndarray:
    """Scaled ``(n, horizon * features)`` targets or predictions -> original units."""
    array = values.detach().cpu().numpy()
    if hasattr(data, "inverse_targets"):  # knows the horizon-major layout
        return np.asarray(data.inverse_targets(array), dtype=np.float64)
    return np.asarray(data.scaler.inverse_transform(array), dtype=np.float64)


def metrics(truth: Any, prediction: Any) -> dict[str, float]:
    """MSE, MAE and R^2 of ``prediction`` against ``truth`` (both ``(n, features)``).

    MSE and MAE average over every element; R^2 = 1 - SS_res / SS_tot is computed per feature
    and averaged over features (NaN for a feature with constant truth). Computed in float64.
    """
    y = np.asarray(truth, dtype=np.float64)
    p = np.asarray(prediction, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"truth {y.shape} and prediction {p.shape} must have the same shape")
    if y.size == 0:
        return {"mse": math.nan, "mae": math.nan, "r2": math.nan}
    y2, p2 = y.reshape(len(y), -1), p.reshape(len(p), -1)
    residual = ((y2 - p2) ** 2).sum(axis=0)
    total = ((y2 - y2.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), np.nan)
    return {
        "mse": float(((y - p) ** 2).mean()),
        "mae": float(np.abs(y - p).mean()),
        "r2": float(r2.mean()),
    }


def evaluate(
    model: nn.Module,
    data: Any,
    splits: tuple[str, ...] = _SPLITS,
    *,
    batch_size: int = 1024,
    progress: bool = False,
) -> dict[str, dict[str, float]]:
    """Score ``model`` on ``data`` (a ``WindowedData``) in the series' original units.

    Predictions and targets ``(n, horizon * features)`` are mapped back with
    ``data.inverse_targets`` before :func:`metrics`.

    Args:
        model: maps ``(batch, window, features)`` to ``(batch, horizon * features)``.
        data: a ``qrnn.data.WindowedData``.
        splits: the splits to score.
        batch_size: windows per forward call (also the progress bar's step).
        progress: show a tqdm bar of the windows scored (all splits together) on stderr.

    Returns:
        ``{split: {"mse": ..., "mae": ..., "r2": ...}}`` for each non-empty split of
        ``splits`` (a ``split`` fraction of 0 leaves no validation windows, for instance).
    """
    from tqdm import tqdm  # plain text: tqdm.auto warns in notebooks without ipywidgets

    check_data(data)
    integer("batch_size", batch_size)
    chosen = [name for name in splits if len(getattr(data, name).inputs) > 0]
    total = sum(len(getattr(data, name).inputs) for name in chosen)
    scores = {}
    with tqdm(total=total, disable=not progress, desc="scoring", unit="window", leave=False) as bar:
        for name in chosen:
            split = getattr(data, name)
            prediction = torch.cat(_predict_chunks(model, split.inputs, batch_size, bar.update))
            truth = original_units(data, split.targets)
            scores[name] = metrics(truth, original_units(data, prediction))
    return scores


# ----------------------------------------------------------------------------- checkpoints


def _state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def _check_state_fits(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise CheckpointMismatchError naming the first key or shape that does not fit."""
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    if missing or unexpected:
        raise CheckpointMismatchError(
            f"checkpoint {source} does not fit the model: missing {missing}, "
            f"unexpected {unexpected} (was it saved from another model family?)"
        )
    for key, value in expected.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise CheckpointMismatchError(
                f"checkpoint {source} does not fit the model: {key!r} has shape "
                f"{tuple(state[key].shape)} in the checkpoint but {tuple(value.shape)} in "
                "the model (was it saved with another hidden size, qubit count or layer count?)"
            )


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`fit` (``path`` is the file or its directory).

    Raises FileNotFoundError if there is none, CheckpointError naming the file if it is empty,
    truncated or not a qrnn checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except EOFError:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes)") from None
    except (RuntimeError, OSError, pickle.UnpicklingError) as error:
        reason = str(error).split(". ")[0].strip() or type(error).__name__  # torch's first line
        raise CheckpointError(
            f"cannot read checkpoint {path}: truncated or not a torch file ({reason})"
        ) from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != _CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a qrnn checkpoint ({_CHECKPOINT_FORMAT})")
    checkpoint["path"] = str(path)
    return checkpoint


def load_weights(model: nn.Module, path: str | os.PathLike) -> dict[str, Any]:
    """Load the weights ``fit`` returned (``checkpoint["result"]``) into ``model``.

    Raises CheckpointMismatchError naming the parameter and both shapes if the checkpoint
    was saved from a differently shaped model. Returns the checkpoint dict.
    """
    checkpoint = load_checkpoint(path)
    _check_state_fits(model, checkpoint["result"], checkpoint["path"])
    model.load_state_dict(checkpoint["result"])
    return checkpoint


def _data_fingerprint(data: Any) -> str:
    digest = hashlib.sha256()
    for name in ("train", "val"):
        split = getattr(data, name)
        for tensor in (split.inputs, split.targets):
            digest.update(str(tuple(tensor.shape)).encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _rng_state(generator: torch.Generator) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "shuffle": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["shuffle"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ----------------------------------------------------------------------------- fit


def check_data(data: Any) -> None:
    for name in ("train", "val", "test", "scaler"):
        if not hasattr(data, name):
            raise TypeError(
                f"data must be a qrnn.data.WindowedData (from qrnn.data.prepare); "
                f"{type(data).__name__} has no {name!r}"
            )


def check_fit_arguments(model: nn.Module, data: Any, settings: Mapping[str, Any]) -> None:
    """Raise ValueError / TypeError for what :func:`fit` cannot train, before any training.

    ``settings`` holds fit's ``epochs``, ``batch_size``, ``lr``, ``optimizer``,
    ``grad_clip``, ``patience``, ``seed`` and ``loss``. ``qrnn.runs`` calls it before it
    creates a run directory. Runs the model on two training windows (eval mode, no gradient)
    to check the output shape.
    """
    check_data(data)
    integer("epochs", settings["epochs"])
    integer("batch_size", settings["batch_size"])
    lr, grad_clip, patience = settings["lr"], settings["grad_clip"], settings["patience"]
    optimizer, loss, seed = settings["optimizer"], settings["loss"], settings["seed"]
    if patience is not None:
        integer("patience", patience)
    if not (isinstance(lr, int | float) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if grad_clip is not None and not (isinstance(grad_clip, int | float) and grad_clip > 0):
        raise ValueError(f"grad_clip must be a positive number or None, got {grad_clip!r}")
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}, got {optimizer!r}")
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {sorted(_LOSSES)}, got {loss!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")
    train = data.train
    if len(train.inputs) == 0:
        raise ValueError("the training split is empty; use a longer series or a smaller window")
    if patience is not None and len(data.val.inputs) == 0:
        raise ValueError("early stopping (patience) needs a non-empty validation split")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    with torch.no_grad():  # shape check on two windows before any training
        was_training = model.training
        model.eval()
        probe = model(train.inputs[:2].to(**_placement(model)))
        model.train(was_training)
    if tuple(probe.shape) != tuple(train.targets[:2].shape):
        raise ValueError(
            f"model output shape {tuple(probe.shape)} does not match the targets' "
            f"{tuple(train.targets[:2].shape)}: build the model with output_size="
            f"{train.targets.shape[-1]}"
        )


def fit(
    model: nn.Module,
    data: Any,
    *,
    epochs: int = 50,
    batch_size: int = 16,
    lr: float = 0.01,
    optimizer: str = "adam",
    grad_clip: float | None = 1.0,
    patience: int | None = None,
    seed: int = 0,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    loss: str = "mse",
) -> History:
    """Train ``model`` on ``data`` and return the :class:`History`.

    Args:
        model: maps ``(batch, window, features)`` to ``(batch, features)``, e.g.
            ``qrnn.models.build("lstm", 1, 1)``. Trained in place.
        data: a ``qrnn.data.WindowedData``: ``train``/``val``/``test`` splits with
            ``inputs (n, window, features)`` and ``targets (n, features)`` (scaled) and the
            ``scaler`` that maps back to original units.
        epochs: total number of epochs (a resumed run continues up to this number).
        batch_size: windows per optimizer step; the training windows are shuffled each
            epoch by a generator seeded with ``seed``.
        lr: learning rate.
        optimizer: ``"adam"``, ``"adamw"``, ``"rmsprop"`` or ``"sgd"``.
        grad_clip: maximum global gradient norm (``None``: no clipping).
        patience: stop after this many epochs without a lower validation loss and restore
            the best weights (``None``: train all epochs, keep the last weights).
        seed: seeds torch's generator at the start (dropout, shot noise) and the shuffling.
        checkpoint_dir: write ``checkpoint.pt`` there after every epoch (atomically).
        resume: continue from ``checkpoint_dir``'s checkpoint. The run must use the same
            data and settings (``epochs`` may be larger); the result is then identical to an
            uninterrupted run.
        progress: show a tqdm progress bar with the running loss on stderr.
        loss: ``"mse"``, ``"mae"`` or ``"huber"`` (on the scaled series).

    Returns:
        the :class:`History`, with metrics of the returned weights on all three splits.

    Raises:
        ValueError / TypeError: bad arguments or data, before any training.
        CheckpointMismatchError: the checkpoint comes from another model shape, other data or
            other settings.
    """
    settings = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "grad_clip": grad_clip,
        "patience": patience,
        "seed": seed,
        "loss": loss,
    }
    check_fit_arguments(model, data, settings)
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs checkpoint_dir (where the checkpoint is)")
    train, val = data.train, data.val
    has_val = len(val.inputs) > 0
    trainable = [p for p in model.parameters() if p.requires_grad]
    placement = _placement(model)
    fingerprint = _data_fingerprint(data)
    optim = _OPTIMIZERS[optimizer](trainable, lr=lr)
    loss_fn = _LOSSES[loss]()
    generator = torch.Generator()
    checkpoint_path = None if checkpoint_dir is None else Path(checkpoint_dir) / CHECKPOINT_NAME
    history = History(settings=settings)
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs = 0

    if resume:
        checkpoint = load_checkpoint(checkpoint_path)
        source = checkpoint["path"]
        _check_state_fits(model, checkpoint["model"], source)
        for key in _RESUME_SETTINGS:
            if checkpoint["settings"][key] != settings[key]:
                raise CheckpointMismatchError(
                    f"checkpoint {source} was trained with {key}={checkpoint['settings'][key]!r}"
                    f", this run asks for {key}={settings[key]!r}; resuming would not "
                    "reproduce the uninterrupted run"
                )
        if checkpoint["data_fingerprint"] != fingerprint:
            raise CheckpointMismatchError(
                f"checkpoint {source} was trained on other data (train/val windows differ)"
            )
        model.load_state_dict(checkpoint["model"])
        optim.load_state_dict(checkpoint["optimizer"])
        _set_rng_state(checkpoint["rng"], generator)
        history = History.from_dict(checkpoint["history"])
        history.settings = settings
        best_state = checkpoint["best"]
        bad_epochs = checkpoint["bad_epochs"]
        # A run of fewer epochs that ended with `patience` bad epochs would have stopped early
        # at that epoch in a run of `epochs`: continuing it would not reproduce that run.
        history.stopped_early = (
            patience is not None and bad_epochs >= patience and history.epochs < epochs
        )
        if history.stopped_early or history.epochs >= epochs:
            model.load_state_dict(checkpoint["result"])
            return history
    else:
        torch.manual_seed(seed)
        generator.manual_seed(seed)

    def save_checkpoint(rng: dict[str, Any], finished: bool) -> None:
        result = best_state if (patience is not None and best_state is not None) else None
        payload = {
            "format": _CHECKPOINT_FORMAT,
            "model": model.state_dict(),
            "result": result if result is not None else model.state_dict(),
            "best": best_state,
            "optimizer": optim.state_dict(),
            "rng": rng,
            "history": history.to_dict(),
            "settings": settings,
            "data_fingerprint": fingerprint,
            "epoch": history.epochs,
            "bad_epochs": bad_epochs,
            "finished": finished,
        }
        write_atomically(checkpoint_path, lambda tmp: torch.save(payload, tmp))

    from tqdm import tqdm  # plain text: tqdm.auto warns in notebooks without ipywidgets

    start, wall_before = time.perf_counter(), history.wall_time
    n_train = len(train.inputs)
    rng = _rng_state(generator)
    bar = tqdm(
        total=epochs, initial=history.epochs, disable=not progress, unit="epoch", leave=False
    )
    try:
        while history.epochs < epochs and not history.stopped_early:
            model.train()
            order = torch.randperm(n_train, generator=generator)
            running, seen = 0.0, 0
            for index in order.split(batch_size):
                inputs = train.inputs[index].to(**placement)
                targets = train.targets[index].to(**placement)
                optim.zero_grad(set_to_none=True)
                batch_loss = loss_fn(model(inputs), targets)
                batch_loss.backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(trainable, grad_clip)
                optim.step()
                running += batch_loss.item() * len(index)
                seen += len(index)
                bar.set_postfix(loss=f"{running / seen:.4g}", refresh=False)
            history.train_loss.append(running / seen)
            val_loss = loss_fn(predict(model, val), val.targets).item() if has_val else math.nan
            history.val_loss.append(val_loss)
            if has_val and (history.best_epoch is None or val_loss < history.best_val_loss):
                history.best_epoch = history.epochs - 1
                best_state = _state_copy(model) if patience is not None else None
                bad_epochs = 0
            else:
                bad_epochs += 1
            history.stopped_early = (
                patience is not None and bad_epochs >= patience and history.epochs < epochs
            )
            # The state a resumed run starts from: taken before the final scoring, which may
            # itself draw random numbers (shot noise) in an uninterrupted run.
            rng = _rng_state(generator)
            history.wall_time = wall_before + time.perf_counter() - start
            bar.set_postfix(loss=f"{history.train_loss[-1]:.4g}", val=f"{val_loss:.4g}")
            bar.update()
            more_to_come = history.epochs < epochs and not history.stopped_early
            if checkpoint_path is not None and more_to_come:  # the last one is written below
                save_checkpoint(rng, finished=False)
    finally:
        bar.close()

    last_state = _state_copy(model)
    history.restored_best = patience is not None and best_state is not None
    if history.restored_best:
        model.load_state_dict(best_state)  # early stopping returns the best weights
    history.metrics = evaluate(model, data)
    history.wall_time = wall_before + time.perf_counter() - start
    if checkpoint_path is not None:
        # "model" must stay the last-epoch weights (to continue from); "result" is the best.
        result_state = _state_copy(model)
        model.load_state_dict(last_state)
        save_checkpoint(rng, finished=True)
        model.load_state_dict(result_state)
    return history
