"""Run directories in Python: train_run writes one, evaluate_run re-scores it; both return a
RunResult whose metrics have the structure of metrics.json."""

from __future__ import annotations

import json
import os
import stat

import pytest
import torch

from qrnn.config import ConfigError, RunConfig
from qrnn.runs import (
    RunResult,
    RunStateError,
    evaluate_run,
    format_comparison,
    read_run_config,
    read_run_state,
    resume_run,
    train_run,
)
from qrnn.train import CheckpointError, History


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> RunResult:
    """A GRU (hidden size 3) and its matched LSTM baseline, two epochs each."""
    root = tmp_path_factory.mktemp("runs")
    config = RunConfig(
        model="gru",
        hidden_size=3,
        dataset="sine",
        dataset_options={"length": 40},  # a 40-point sine: epochs of milliseconds
        window=3,
        epochs=2,
        batch_size=8,
        output_dir=str(root),
        name="gru",
    )
    return train_run(config, progress=False, echo=None)


def test_train_run_returns_what_it_wrote(trained):
    assert isinstance(trained, RunResult)
    assert trained.metrics == json.loads((trained.run_dir / "metrics.json").read_text())
    assert set(trained.metrics) == {"model", "baseline"}
    assert trained.metrics["model"]["name"] == "gru"
    assert trained.metrics["baseline"]["name"] == "lstm"
    assert trained.metrics["baseline"]["hidden_size"] == trained.baseline.recurrent.hidden_size
    assert isinstance(trained.history, History) and trained.history.epochs == 2
    assert isinstance(trained.baseline_history, History)
    assert trained.execution is None
    assert trained.history.to_dict() == History.load(trained.run_dir / "history.json").to_dict()


def test_read_run_config_gives_back_the_config(trained):
    config = read_run_config(trained.run_dir)
    assert (config.model, config.hidden_size, config.name) == ("gru", 3, "gru")
    assert config.dataset_options == {"length": 40}


def test_evaluate_run_rebuilds_and_rescores_the_run(trained):
    result = evaluate_run(trained.run_dir)
    assert isinstance(result, RunResult)
    assert result.run_dir == trained.run_dir
    assert result.metrics == trained.metrics  # same weights, same data: the same scores
    assert (result.history, result.baseline_history, result.execution) == (None, None, None)
    for loaded, original in ((result.model, trained.model), (result.baseline, trained.baseline)):
        assert loaded is not original
        weights, expected = loaded.state_dict(), original.state_dict()
        assert weights.keys() == expected.keys()
        assert all(torch.equal(weights[key], expected[key]) for key in expected)


def test_evaluate_run_overrides_keys_that_change_the_shape_fail_to_load(trained):
    from qrnn.train import CheckpointMismatchError

    with pytest.raises(CheckpointMismatchError, match="has shape"):
        evaluate_run(trained.run_dir, overrides={"hidden_size": 4})


def test_a_run_name_is_not_reused(trained):
    config = read_run_config(trained.run_dir)
    with pytest.raises(ConfigError, match=r"already exists \(finished\); choose another name or"):
        train_run(config, progress=False, echo=None)


def test_format_comparison_is_a_table_of_both_models(trained):
    table = format_comparison(trained.metrics, split="val").splitlines()
    assert table[0] == "val metrics (original units)"
    assert table[1].split() == ["model", "params", "MSE", "MAE", "R^2"]
    assert table[2].split()[:2] == ["gru", str(trained.metrics["model"]["parameters"])]
    assert table[3].startswith("lstm (matched)")
    mse = trained.metrics["baseline"]["metrics"]["val"]["mse"]
    assert table[3].split()[3] == f"{mse:.4g}"  # after "lstm (matched)" and the parameters


# ----------------------------------------------------------------------------- run states


def tiny(root, **keys) -> RunConfig:
    """An LSTM (hidden size 2) on a 40-point sine, three epochs: a run of a fraction of a second."""
    values = dict(model="lstm", hidden_size=2, baseline="none", dataset="sine", window=3)
    values.update(dataset_options={"length": 40}, epochs=3, batch_size=8, name="tiny")
    return RunConfig(**{**values, "output_dir": str(root), **keys})


def test_a_finished_run_records_its_state(trained):
    state = read_run_state(trained.run_dir)
    assert state.keys() == {"state", "stage", "started", "updated", "pid", "error"}
    assert (state["state"], state["stage"], state["error"]) == ("finished", None, None)
    assert state["started"] <= state["updated"]  # ISO 8601 times of one time zone
    with pytest.raises(RunStateError, match="has finished; nothing to resume"):
        resume_run(trained.run_dir, progress=False, echo=None)


def test_the_saved_weights_say_which_epoch_they_are(tmp_path):
    """lr 0.5 overshoots: the lowest validation loss is at epoch 7 of 8."""
    last = train_run(tiny(tmp_path, name="last", epochs=8, lr=0.5), progress=False, echo=None)
    entry = last.metrics["model"]
    assert (entry["epochs"], entry["weights"], entry["weights_epoch"]) == (8, "last", 8)
    assert last.history.best_epoch == 6  # index: epoch 7
    assert not last.history.restored_best and last.history.weights_index == 7

    best = train_run(tiny(tmp_path, name="best", epochs=8, lr=0.5, patience=8), progress=False,
                     echo=None)  # fmt: skip
    assert best.history.train_loss == last.history.train_loss  # the same 8 epochs
    assert best.history.restored_best and best.history.weights_index == 6
    entry = best.metrics["model"]
    assert (entry["epochs"], entry["weights"], entry["weights_epoch"]) == (8, "best", 7)
    assert evaluate_run(best.run_dir).metrics == best.metrics  # the saved model is the best one
    assert entry["metrics"] != last.metrics["model"]["metrics"]


def test_files_follow_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        result = train_run(tiny(tmp_path), progress=False, echo=None)
    finally:
        os.umask(previous)
    paths = [result.run_dir, *result.run_dir.rglob("*")]
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in paths}
    assert modes == {p.name: 0o750 if p.is_dir() else 0o640 for p in paths}
    assert {"checkpoint.pt", "state.json", "config.json", "loss.png"} <= modes.keys()


def fail_at(monkeypatch, target: str, write: int, error: BaseException) -> None:
    """Raise ``error`` instead of the ``write``-th atomic write of a file named ``target``."""
    from qrnn import _atomic

    real, calls = _atomic.write_atomically, []

    def write_or_raise(path, write_file):
        if path.name == target:
            calls.append(path)
            if len(calls) == write:
                raise error
        return real(path, write_file)

    for module in ("qrnn.train", "qrnn.runs", "qrnn._rundir"):
        monkeypatch.setattr(f"{module}.write_atomically", write_or_raise)


def same_files(a, b) -> None:
    """The same metrics.json and weights; histories equal but for the seconds spent."""
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
    left, right = History.load(a / "history.json"), History.load(b / "history.json")
    left.wall_time = right.wall_time = 0.0
    assert left == right
    from qrnn.train import load_checkpoint

    for key in ("model", "result"):
        x, y = load_checkpoint(a)[key], load_checkpoint(b)[key]
        assert all(torch.equal(x[name], y[name]) for name in x)


def test_a_failed_run_says_why_and_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    whole = train_run(tiny(tmp_path / "whole"), progress=False, echo=None)
    fail_at(monkeypatch, "checkpoint.pt", 2, RuntimeError("CUDA error: an illegal memory access"))
    with pytest.raises(RuntimeError, match="illegal memory access") as raised:
        train_run(tiny(tmp_path), progress=False, echo=None)
    run = tmp_path / "tiny"
    assert raised.value.__notes__ == [
        f"run directory {run} is marked failed; resume it with: qrnn train --resume {run}, or "
        "train it again with --overwrite"
    ]
    monkeypatch.undo()
    state = read_run_state(run)
    assert (state["state"], state["stage"]) == ("failed", "model")
    assert state["error"] == "RuntimeError: CUDA error: an illegal memory access"
    with pytest.raises(RunStateError, match="is not finished: it failed while training the model"):
        evaluate_run(run)
    result = resume_run(run, progress=False, echo=None)
    assert read_run_state(run)["state"] == "finished"
    assert read_run_state(run)["started"] == state["started"]  # the run's first start
    assert result.metrics == whole.metrics
    same_files(whole.run_dir, run)


def test_a_killed_run_is_running_without_a_process(tmp_path, monkeypatch):
    """kill -9 leaves "running" in state.json; the free lock tells that nobody trains it."""
    from qrnn import _rundir

    real_write_state = _rundir.write_state

    def no_last_word(run_dir, state, **keys):  # as a killed process: "running", then nothing
        return real_write_state(run_dir, state, **keys) if state == "running" else None

    monkeypatch.setattr(_rundir, "write_state", no_last_word)
    fail_at(monkeypatch, "checkpoint.pt", 2, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        train_run(tiny(tmp_path), progress=False, echo=None)
    monkeypatch.undo()
    run = tmp_path / "tiny"
    state = read_run_state(run)
    assert (state["state"], state["active"]) == ("running", False)
    with pytest.raises(RunStateError, match="its process ended while training the model"):
        evaluate_run(run)

    lock = _rundir.RunLock(run)  # another process at work on it
    try:
        assert read_run_state(run)["active"]
        with pytest.raises(RunStateError, match="is still training the model"):
            evaluate_run(run)
        with pytest.raises(RunStateError, match="is being trained by another process"):
            resume_run(run, progress=False, echo=None)
        with pytest.raises(RunStateError, match="is being trained by another process"):
            train_run(tiny(tmp_path), overwrite=True, progress=False, echo=None)
    finally:
        lock.release()
    lines = []
    resume_run(run, progress=False, echo=lines.append)
    assert lines[0] == f"resuming {run} (was killed while training the model)"
    assert read_run_state(run)["state"] == "finished"


def test_overwrite_replaces_a_run_whole_or_not_at_all(tmp_path, monkeypatch):
    first = train_run(tiny(tmp_path, epochs=1), progress=False, echo=None)
    before = {p.relative_to(first.run_dir): p.read_bytes() for p in first.run_dir.rglob("*")
              if p.is_file()}  # fmt: skip
    real_rename, renames = os.rename, []

    def crash_on_the_second_rename(source, target):
        renames.append(target)
        if len(renames) == 2:  # the old run is aside, the new one not yet in place
            raise OSError("crash")
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", crash_on_the_second_rename)
    with pytest.raises(OSError, match="crash"):
        train_run(tiny(tmp_path, epochs=2), overwrite=True, progress=False, echo=None)
    monkeypatch.undo()
    after = {p.relative_to(first.run_dir): p.read_bytes() for p in first.run_dir.rglob("*")
             if p.is_file()}  # fmt: skip
    assert after == before  # the old run, put back whole
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]

    second = train_run(tiny(tmp_path, epochs=2), overwrite=True, progress=False, echo=None)
    assert second.metrics["model"]["epochs"] == 2
    assert json.loads((second.run_dir / "config.json").read_text())["epochs"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]


def test_overwrite_touches_only_run_directories(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match="exists and is not a run directory"):
            train_run(tiny(tmp_path, name="notes"), overwrite=overwrite, progress=False, echo=None)
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_a_corrupt_run_config_names_the_file(trained, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained.run_dir, run)
    for text, message in (
        ('{"model": "gru",', "cannot read run config .*config.json: Expecting"),
        ("[1, 2]", "run config .*config.json: a run config must be a mapping of keys, got list"),
        ('{"epochs": -1}', "run config .*config.json: config key 'epochs' must be >= 1, got -1"),
    ):
        (run / "config.json").write_text(text)
        with pytest.raises(ConfigError, match=message):
            evaluate_run(run)
    (run / "config.json").write_bytes(b"\x89PNG\r\n\x1a\n\xff")
    with pytest.raises(ConfigError, match=r"cannot read run config .*config.json"):
        read_run_config(run)


def test_a_damaged_checkpoint_names_the_file(trained, tmp_path):
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(trained.run_dir, run)
    checkpoint = run / "baseline" / "checkpoint.pt"
    whole = checkpoint.read_bytes()
    for content, message in ((b"", "is empty"), (whole[: len(whole) // 2], "truncated")):
        checkpoint.write_bytes(content)
        with pytest.raises(CheckpointError, match=f"checkpoint {checkpoint}.*{message}"):
            evaluate_run(run)
