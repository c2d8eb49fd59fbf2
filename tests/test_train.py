"""qrnn.train: fit, checkpoints and resumption, metrics, plots."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qrnn import plots, train
from qrnn.data import load, prepare
from qrnn.models import build
from qrnn.train import CheckpointMismatchError, History, evaluate, fit, load_checkpoint


@pytest.fixture(scope="module")
def sine():
    """68 / 24 / 24 windows of a sine with period 20, window 4."""
    return prepare(load("sine", length=120), window=4)


def lstm(hidden_size: int = 8, seed: int = 0):
    torch.manual_seed(seed)
    return build("lstm", 1, 1, hidden_size=hidden_size)


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_fit_learns_a_sine(sine):
    model = lstm()
    history = fit(model, sine, epochs=12, lr=0.05, progress=False)
    assert history.epochs == 12
    assert history.train_loss[-1] < 0.05 * history.train_loss[0]
    assert history.metrics["test"]["r2"] > 0.95
    assert set(history.metrics) == {"train", "val", "test"}
    assert history.best_epoch == int(np.argmin(history.val_loss))


def test_fit_is_deterministic(sine):
    a, b = lstm(), lstm()
    history_a = fit(a, sine, epochs=3, progress=False, seed=5)
    history_b = fit(b, sine, epochs=3, progress=False, seed=5)
    assert history_a.train_loss == history_b.train_loss
    assert_same_weights(weights(a), weights(b))


def test_metrics_are_in_original_units(sine):
    """Scores equal hand-written formulas on predictions mapped back by the fitted min-max."""
    model = lstm()
    scores = evaluate(model, sine)["test"]
    with torch.no_grad():
        scaled = model(sine.test.inputs).double().numpy()[:, 0]
    lo, hi = sine.scaler.data_min[0], sine.scaler.data_max[0]
    unscale = lambda y: (y + 1) / 2 * (hi - lo) + lo  # noqa: E731 - feature_range (-1, 1)
    prediction, truth = unscale(scaled), unscale(sine.test.targets.double().numpy()[:, 0])
    assert scores["mse"] == pytest.approx(np.mean((prediction - truth) ** 2), rel=1e-6)
    assert scores["mae"] == pytest.approx(np.mean(np.abs(prediction - truth)), rel=1e-6)
    r2 = 1 - np.sum((truth - prediction) ** 2) / np.sum((truth - truth.mean()) ** 2)
    assert scores["r2"] == pytest.approx(r2, rel=1e-6)


def test_metrics_on_a_small_example():
    truth = np.array([[1.0], [2.0], [3.0], [4.0]])
    prediction = np.array([[1.0], [2.0], [3.0], [6.0]])
    assert train.metrics(truth, prediction) == pytest.approx({"mse": 1.0, "mae": 0.5, "r2": 0.2})


@pytest.mark.parametrize("patience", [None, 2])
def test_resume_equals_uninterrupted(sine, tmp_path, patience):
    settings = dict(lr=0.05, batch_size=8, patience=patience, progress=False, seed=3)
    whole = lstm()
    history = fit(whole, sine, epochs=6, checkpoint_dir=tmp_path / "whole", **settings)

    first = lstm()
    fit(first, sine, epochs=3, checkpoint_dir=tmp_path / "parts", **settings)
    resumed = lstm(seed=99)  # different initial weights: everything must come from the file
    resumed_history = fit(
        resumed, sine, epochs=6, checkpoint_dir=tmp_path / "parts", resume=True, **settings
    )
    assert_same_weights(weights(whole), weights(resumed))
    assert resumed_history.train_loss == history.train_loss
    assert resumed_history.val_loss == history.val_loss
    assert resumed_history.metrics == history.metrics
    whole_ckpt = load_checkpoint(tmp_path / "whole")
    parts_ckpt = load_checkpoint(tmp_path / "parts")
    assert_same_weights(whole_ckpt["model"], parts_ckpt["model"])
    assert_same_weights(whole_ckpt["result"], parts_ckpt["result"])


def test_resume_of_a_finished_run_returns_its_result(sine, tmp_path):
    model = lstm()
    history = fit(model, sine, epochs=2, checkpoint_dir=tmp_path, progress=False)
    again = lstm(seed=7)
    again_history = fit(again, sine, epochs=2, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert_same_weights(weights(model), weights(again))
    assert again_history.metrics == history.metrics


def test_early_stopping_restores_the_best_weights(sine, tmp_path):
    model = lstm()
    history = fit(model, sine, epochs=40, lr=0.05, patience=3, checkpoint_dir=tmp_path,
                  progress=False)  # fmt: skip
    assert history.stopped_early
    assert history.epochs == history.best_epoch + 1 + 3 < 40
    best = min(history.val_loss)
    val_loss = torch.nn.functional.mse_loss(train.predict(model, sine.val), sine.val.targets)
    assert val_loss.item() == pytest.approx(best, rel=1e-6)
    checkpoint = load_checkpoint(tmp_path)
    assert checkpoint["finished"]
    assert_same_weights(checkpoint["result"], weights(model))


def test_checkpoint_write_failure_keeps_the_previous_checkpoint(sine, tmp_path, monkeypatch):
    fit(lstm(), sine, epochs=2, checkpoint_dir=tmp_path, progress=False)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    real_save = torch.save

    def save_half_then_fail(obj, path):
        real_save(obj, path)
        with open(path, "r+b") as handle:  # a torn write: half the file, then the crash
            handle.truncate(len(before) // 2)
        raise OSError("disk full")

    monkeypatch.setattr(train.torch, "save", save_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        fit(lstm(seed=1), sine, epochs=3, checkpoint_dir=tmp_path, progress=False)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
    monkeypatch.undo()
    assert load_checkpoint(tmp_path)["epoch"] == 2


def test_checkpoint_of_another_shape_is_refused_before_training(sine, tmp_path):
    fit(lstm(hidden_size=8), sine, epochs=1, checkpoint_dir=tmp_path, progress=False)
    model = lstm(hidden_size=6)
    before = weights(model)
    with pytest.raises(CheckpointMismatchError, match=r"weight_ih_l0.*\(32, 1\).*\(24, 1\)"):
        fit(model, sine, epochs=2, checkpoint_dir=tmp_path, resume=True, progress=False)
    assert_same_weights(before, weights(model))
    with pytest.raises(CheckpointMismatchError, match=r"missing \['recurrent.bias_l0'\]"):
        train.load_weights(build("esn", 1, 1, hidden_size=8), tmp_path)


def test_resume_with_other_settings_is_refused(sine, tmp_path):
    fit(lstm(), sine, epochs=1, lr=0.01, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointMismatchError, match=r"lr=0\.01.*lr=0\.02"):
        fit(lstm(), sine, epochs=2, lr=0.02, checkpoint_dir=tmp_path, resume=True, progress=False)
    other_data = prepare(load("sine", length=120, period=15.0), window=4)
    with pytest.raises(CheckpointMismatchError, match="other data"):
        fit(lstm(), other_data, epochs=2, checkpoint_dir=tmp_path, resume=True, progress=False)


def test_bad_arguments_fail_before_training(sine, tmp_path):
    model = lstm()
    before = weights(model)
    with pytest.raises(ValueError, match="output shape"):
        fit(build("lstm", 1, 2), sine, epochs=1, progress=False)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        fit(model, sine, optimizer="lbfgs", progress=False)
    with pytest.raises(ValueError, match="needs checkpoint_dir"):
        fit(model, sine, resume=True, progress=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        fit(model, sine, checkpoint_dir=tmp_path, resume=True, progress=False)
    with pytest.raises(TypeError, match="WindowedData"):
        fit(model, sine.train, progress=False)
    assert_same_weights(before, weights(model))


def test_history_json_round_trip(sine, tmp_path):
    history = fit(lstm(), sine, epochs=2, patience=1, progress=False)
    assert History.from_json(history.to_json()) == history
    history.save(tmp_path / "history.json")
    assert History.load(tmp_path / "history.json") == history
    with pytest.raises(ValueError, match="unknown History fields"):
        History.from_dict({"loss": []})


def test_progress_bar_shows_the_running_loss(sine, capsys):
    fit(lstm(), sine, epochs=1, progress=True)
    assert "loss=" in capsys.readouterr().err


def test_plots_are_png_files(sine, tmp_path):
    model = lstm()
    history = fit(model, sine, epochs=2, progress=False)
    for path in (
        plots.plot_predictions(model, sine, tmp_path / "predictions.png"),
        plots.plot_history(history, tmp_path / "loss.png"),
    ):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png", "predictions.png"]


def test_fit_without_a_validation_split(tmp_path):
    data = prepare(load("sine", length=80), window=4, split=(0.75, 0.25))
    history = fit(lstm(), data, epochs=2, checkpoint_dir=tmp_path, progress=False)
    assert all(np.isnan(history.val_loss)) and history.best_epoch is None
    assert set(history.metrics) == {"train", "test"}
    with pytest.raises(ValueError, match="needs a non-empty validation split"):
        fit(lstm(), data, epochs=2, patience=1, progress=False)


def test_a_damaged_checkpoint_is_a_checkpoint_error_naming_the_file(sine, tmp_path):
    fit(lstm(), sine, epochs=1, checkpoint_dir=tmp_path, progress=False)
    path = tmp_path / "checkpoint.pt"
    whole = path.read_bytes()
    for content, message in (
        (b"", "is empty"),
        (whole[: len(whole) // 2], "truncated or not a torch file"),  # OSError here
        (b"\x80\x02K\x01.", "truncated or not a torch file"),  # a pickle, not a zip file
    ):
        path.write_bytes(content)
        with pytest.raises(train.CheckpointError, match=f"checkpoint {path}.*{message}"):
            load_checkpoint(tmp_path)
    torch.save({"weights": torch.ones(2)}, path)
    with pytest.raises(train.CheckpointError, match="is not a qrnn checkpoint"):
        load_checkpoint(path)
    assert issubclass(CheckpointMismatchError, train.CheckpointError)


def test_resume_with_more_epochs_stops_where_the_longer_run_stops(sine, tmp_path):
    """A run that ends with `patience` bad epochs would have stopped early there in a longer
    run: continuing it to more epochs returns what the longer run returns."""
    settings = dict(lr=0.05, batch_size=8, patience=2, progress=False)
    longer = fit(lstm(), sine, epochs=40, **settings)
    assert longer.stopped_early
    short = fit(lstm(), sine, epochs=longer.epochs, checkpoint_dir=tmp_path, **settings)
    assert not short.stopped_early  # it ran all its epochs
    model = lstm(seed=1)
    continued = fit(model, sine, epochs=40, checkpoint_dir=tmp_path, resume=True, **settings)
    assert continued.stopped_early and continued.epochs == longer.epochs
    assert continued.metrics == longer.metrics
    assert continued.restored_best and continued.weights_index == longer.best_epoch


def test_history_says_whose_weights_fit_returned(sine):
    last = fit(lstm(), sine, epochs=3, progress=False)
    assert (last.restored_best, last.weights_index) == (False, 2)
    best = fit(lstm(), sine, epochs=3, patience=3, progress=False)
    assert (best.restored_best, best.weights_index) == (True, best.best_epoch)
    assert History().weights_index is None
    older = {key: value for key, value in last.to_dict().items() if key != "restored_best"}
    assert History.from_dict(older) == last  # a history.json written before the field


def loss_figure(history, tmp_path, monkeypatch):
    """The matplotlib Figure that plot_history saves."""
    from matplotlib.figure import Figure

    saved = []
    real_savefig = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (saved.append(self),
                        real_savefig(self, *a, **k))[1])  # fmt: skip
    plots.plot_history(history, tmp_path / "loss.png")
    monkeypatch.undo()
    return saved[0]


def test_the_loss_plot_marks_the_epoch_whose_weights_were_kept(tmp_path, monkeypatch):
    history = History(train_loss=[0.5, 0.4, 0.3, 0.2], val_loss=[0.6, 0.3, 0.4, 0.5], best_epoch=1)
    axis = loss_figure(history, tmp_path, monkeypatch).axes[0]
    labels = [text.get_text() for text in axis.get_legend().get_texts()]
    assert labels == ["train", "validation", "weights kept (last epoch)", "lowest validation loss"]
    kept, lowest = axis.get_lines()[2:]
    assert list(kept.get_xdata()) == [4, 4]  # epoch 4 (of 4), counted from 1
    assert (list(lowest.get_xdata()), list(lowest.get_ydata())) == ([2], [0.3])

    history.restored_best = True  # early stopping kept epoch 2's weights
    axis = loss_figure(history, tmp_path, monkeypatch).axes[0]
    labels = [text.get_text() for text in axis.get_legend().get_texts()]
    assert labels == ["train", "validation", "weights kept (best validation)"]
    assert list(axis.get_lines()[2].get_xdata()) == [2, 2]


def test_evaluate_in_chunks_with_a_progress_bar(sine, capsys):
    model = lstm()
    whole = evaluate(model, sine)
    chunked = evaluate(model, sine, ("train", "val", "test"), batch_size=5, progress=True)
    assert chunked.keys() == whole.keys()
    for split, scores in whole.items():
        assert chunked[split] == pytest.approx(scores, rel=1e-6)
    err = capsys.readouterr().err
    assert "scoring:" in err and "/116 [" in err  # 68 + 24 + 24 windows
    evaluate(model, sine)
    assert capsys.readouterr().err == ""


def test_a_float64_model_gets_float64_windows():
    """Models refuse another input dtype (as nn.LSTM does); fit and predict feed the windows in
    the model's own precision."""
    data = prepare(load("sine"), window=4)
    model = build("lstm", 1, 1, hidden_size=3).double()
    history = fit(model, data, epochs=1, progress=False)
    assert set(history.metrics) == {"train", "val", "test"}
    assert train.predict(model, data.test).dtype == torch.float64


def _sgd_step(sine, **clip):
    """One SGD step (lr 1) on all 68 training windows: (weights before, after, the gradient
    computed here by autograd on the same batch). The head's bias is off by 3, so the
    gradient's norm is well above 1."""
    model = lstm()
    with torch.no_grad():
        model.head.bias += 3.0
    before = [p.detach().clone() for p in model.parameters()]
    loss = torch.nn.functional.mse_loss(model(sine.train.inputs), sine.train.targets)
    gradient = torch.autograd.grad(loss, list(model.parameters()))
    fit(model, sine, epochs=1, batch_size=68, lr=1.0, optimizer="sgd", progress=False, **clip)
    return before, [p.detach() for p in model.parameters()], gradient


def _norm(tensors) -> float:
    return float(torch.sqrt(sum((t.double() ** 2).sum() for t in tensors)))


@pytest.mark.parametrize("clip, expected", [({"grad_clip": 0.05}, 0.05), ({}, 1.0)])
def test_gradients_are_clipped_to_the_global_norm(sine, clip, expected):
    """A step of lr 1 moves the weights by the clipped gradient: the gradient scaled to norm
    ``grad_clip`` (default 1.0), in its own direction."""
    before, after, gradient = _sgd_step(sine, **clip)
    norm = _norm(gradient)
    assert norm > expected  # so clipping acts
    steps = [b - a for b, a in zip(before, after, strict=True)]
    assert _norm(steps) == pytest.approx(expected, rel=1e-4)
    for step, g in zip(steps, gradient, strict=True):
        torch.testing.assert_close(step, g * (expected / norm), rtol=1e-4, atol=1e-7)


def test_without_clipping_the_step_is_the_whole_gradient(sine):
    before, after, gradient = _sgd_step(sine, grad_clip=None)
    for b, a, g in zip(before, after, gradient, strict=True):
        torch.testing.assert_close(b - a, g, rtol=1e-4, atol=1e-7)


def test_predict_takes_a_split_or_windows_and_maps_back_with_a_scaler(sine):
    model = lstm()
    windows = train.predict(model, sine.test.inputs)
    torch.testing.assert_close(train.predict(model, sine.test), windows)
    torch.testing.assert_close(train.predict(model, sine.test, batch_size=5), windows)
    original = train.predict(model, sine.test, scaler=sine.scaler)
    expected = sine.scaler.inverse_transform(windows.numpy())
    np.testing.assert_allclose(original.numpy(), expected, rtol=1e-6)
    assert train.predict(model, sine.test.inputs[:0]).shape == (0, 1)


@pytest.mark.parametrize(
    "bad, shown",
    [(torch.zeros(4, 1), r"Tensor\(4, 1\)"), ([[[0.0]]], r"list\(\)"), (None, r"NoneType\(\)")],
)
def test_predict_refuses_anything_but_windows(bad, shown):
    with pytest.raises(TypeError, match=rf"a \(n, window, features\) tensor, got {shown}$"):
        train.predict(lstm(), bad)


def test_metrics_average_r2_over_features_and_are_nan_without_data():
    truth = np.array([[0.0, 10.0], [1.0, 30.0], [2.0, 20.0]])
    prediction = np.array([[0.0, 12.0], [1.5, 30.0], [2.0, 16.0]])
    r2_first = 1 - 0.25 / 2.0  # SS_res / SS_tot of each feature, by hand
    r2_second = 1 - (4.0 + 16.0) / 200.0
    scores = train.metrics(truth, prediction)
    assert scores["r2"] == pytest.approx((r2_first + r2_second) / 2)
    assert scores["mse"] == pytest.approx((0.25 + 4.0 + 16.0) / 6)
    assert scores["mae"] == pytest.approx((0.5 + 2.0 + 4.0) / 6)
    empty = train.metrics(np.zeros((0, 1)), np.zeros((0, 1)))
    assert set(empty) == {"mse", "mae", "r2"} and all(math.isnan(v) for v in empty.values())
    one = train.metrics(np.array([[2.0]]), np.array([[1.0]]))
    assert (one["mse"], one["mae"]) == (1.0, 1.0) and math.isnan(one["r2"])  # constant truth
    with pytest.raises(ValueError, match=r"truth \(3, 2\) and prediction \(3, 1\)"):
        train.metrics(truth, prediction[:, :1])
