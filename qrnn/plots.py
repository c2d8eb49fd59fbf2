"""Plots of a trained forecaster and its training: PNG files, written atomically."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from qrnn._atomic import write_atomically
from qrnn.train import History, check_data, original_units, predict

__all__ = ["plot_history", "plot_predictions"]

_SPLITS = ("train", "val", "test")


def plot_predictions(
    model: nn.Module,
    data: Any,
    path: str | os.PathLike,
    *,
    splits: tuple[str, ...] = _SPLITS,
    title: str | None = None,
) -> Path:
    """Save a PNG of one-step-ahead predictions against the series, in original units.

    One panel per feature: the whole series in black and, at each window's first target
    position (``split.target_index``), the prediction of ``splits``, one colour per split.
    Written atomically; returns the path.
    """
    from matplotlib.figure import Figure

    check_data(data)
    series = np.asarray(data.series.values, dtype=np.float64)
    series = series.reshape(len(series), -1)
    n_features = series.shape[1]
    figure = Figure(figsize=(10, 2.4 * n_features + 0.8), layout="constrained")
    axes = figure.subplots(n_features, 1, squeeze=False)[:, 0]
    colours = {"train": "tab:blue", "val": "tab:orange", "test": "tab:green"}
    for feature, axis in enumerate(axes):
        axis.plot(series[:, feature], color="black", linewidth=1.0, label="truth")
        for name in splits:
            split = getattr(data, name)
            if len(split) == 0:
                continue
            # column `feature` of the first horizon block is the one-step-ahead prediction
            prediction = original_units(data, predict(model, split))[:, feature]
            axis.plot(split.target_index, prediction, color=colours.get(name), label=name)
        axis.set_ylabel(f"feature {feature}" if n_features > 1 else "value")
    axes[0].legend(loc="upper right", ncols=4, fontsize="small")
    axes[-1].set_xlabel("time step")
    name = getattr(data.series, "name", None)
    axes[0].set_title(title or f"predictions vs truth{f': {name}' if name else ''}")
    return write_atomically(Path(path), lambda tmp: figure.savefig(tmp, format="png", dpi=110))


def plot_history(history: History, path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Save a PNG of the training and validation loss per epoch (log scale).

    A dotted line marks the epoch whose weights ``fit`` returned (:attr:`History.weights_index`:
    the best-validation epoch under early stopping, else the last); a dot on the validation
    curve marks its lowest point when that is another epoch. Written atomically; returns the
    path."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7, 4), layout="constrained")
    axis = figure.subplots()
    epochs = np.arange(1, history.epochs + 1)
    axis.plot(epochs, history.train_loss, label="train")
    if any(math.isfinite(v) for v in history.val_loss):
        axis.plot(epochs, history.val_loss, label="validation")
    kept = history.weights_index
    if kept is not None:
        which = "best validation" if history.restored_best else "last epoch"
        axis.axvline(kept + 1, color="grey", linestyle=":", label=f"weights kept ({which})")
    best = history.best_epoch
    if best is not None and best != kept:
        axis.plot(
            best + 1,
            history.val_loss[best],
            "o",
            color="tab:orange",
            label="lowest validation loss",
        )
    if all(v > 0 for v in history.train_loss):
        axis.set_yscale("log")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("epoch")
    axis.set_ylabel(f"{history.settings.get('loss', 'loss')} (scaled units)")
    axis.set_title(title or "loss")
    axis.legend()
    return write_atomically(Path(path), lambda tmp: figure.savefig(tmp, format="png", dpi=110))
