"""`qrnn train` and `qrnn evaluate`: run directories from the command line."""

from __future__ import annotations

import json

import pytest
from test_runs import fail_at  # raise at the n-th atomic write of a file

from qrnn.cli import main

QUICK = ["--epochs", "2", "--quiet"]


@pytest.fixture(scope="module")
def gru_run(tmp_path_factory):
    """One small run: a GRU and its matched LSTM baseline, two epochs each."""
    root = tmp_path_factory.mktemp("runs")
    argv = ["train", "--model", "gru", "--dataset", "sine", "--output-dir", str(root)]
    assert main([*argv, "--name", "gru", "--hidden-size", "6", *QUICK]) == 0
    return root / "gru"


def test_train_writes_a_run_directory(gru_run, capsys):
    names = {p.name for p in gru_run.iterdir()}
    assert {"config.json", "metrics.json", "history.json", "checkpoint.pt"} <= names
    assert {"predictions.png", "loss.png", "baseline"} <= names
    assert {p.name for p in (gru_run / "baseline").iterdir()} >= {"checkpoint.pt", "history.json"}
    metrics = json.loads((gru_run / "metrics.json").read_text())
    assert metrics["model"]["name"] == "gru"
    assert metrics["model"]["parameters"] == 3 * 6 * (1 + 6 + 2) + 7  # GRU(1, 6) + Linear(6, 1)
    assert metrics["baseline"]["name"] == "lstm"
    assert set(metrics["model"]["metrics"]) == {"train", "val", "test"}
    config = json.loads((gru_run / "config.json").read_text())
    assert (config["model"], config["epochs"], config["hidden_size"]) == ("gru", 2, 6)


def test_train_prints_the_comparison(tmp_path, capsys):
    argv = ["train", "--model", "esn", "--dataset", "sine", "--output-dir", str(tmp_path)]
    assert main([*argv, "--epochs", "1", "--quiet", "--baseline", "gru"]) == 0
    out = capsys.readouterr().out
    assert "test metrics (original units)" in out
    assert "esn" in out and "gru (matched)" in out
    assert f"run directory: {tmp_path}" in out


def test_evaluate_reproduces_the_saved_metrics(gru_run, capsys):
    assert main(["evaluate", str(gru_run)]) == 0
    out = capsys.readouterr().out
    assert "matches" in out and "lstm (matched)" in out


def test_evaluate_notices_different_metrics(gru_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(gru_run, copy)
    metrics = json.loads((copy / "metrics.json").read_text())
    metrics["model"]["metrics"]["test"]["mse"] += 1.0
    (copy / "metrics.json").write_text(json.dumps(metrics))
    assert main(["evaluate", str(copy)]) == 1
    assert "model test mse" in capsys.readouterr().out


def test_evaluate_refuses_a_checkpoint_of_another_shape(gru_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(gru_run, copy)
    config = json.loads((copy / "config.json").read_text())
    config["hidden_size"] = 7
    (copy / "config.json").write_text(json.dumps(config))
    assert main(["evaluate", str(copy)]) == 2
    assert "'recurrent.weight_ih_l0' has shape (18, 1) in the checkpoint but (21, 1)" in (
        capsys.readouterr().err
    )


def test_train_from_a_toml_config_and_csv(tmp_path, capsys):
    (tmp_path / "series.csv").write_text(
        "step,level\n" + "".join(f"{i},{(i % 7) * 0.5 + (i % 3)}\n" for i in range(60))
    )
    (tmp_path / "run.toml").write_text(
        'model = "lstm"\nhidden_size = 4\ncsv = "series.csv"\ncolumn = "level"\n'
        f'epochs = 2\nwindow = 3\nbaseline = "none"\noutput_dir = "{tmp_path / "runs"}"\n'
        'name = "csv"\nlr = 0.02\n'
    )
    assert main(["train", "--config", str(tmp_path / "run.toml"), "--quiet", "--lr", "0.03"]) == 0
    config = json.loads((tmp_path / "runs" / "csv" / "config.json").read_text())
    assert config["csv"] == str(tmp_path / "series.csv")  # relative to the config file
    assert (config["window"], config["lr"]) == (3, 0.03)  # the flag beats the file
    assert json.loads((tmp_path / "runs" / "csv" / "metrics.json").read_text())["baseline"] is None
    assert main(["evaluate", str(tmp_path / "runs" / "csv")]) == 0


def test_unknown_config_key_lists_the_valid_keys(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text('model = "lstm"\nlearning_rate = 0.1\n')
    argv = ["train", "--config", str(tmp_path / "bad.toml"), "--output-dir", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "unknown config key ['learning_rate']" in err
    assert "valid keys: model, hidden_size" in err and "lr" in err
    assert list(tmp_path.iterdir()) == [tmp_path / "bad.toml"]  # nothing trained or written


def test_bad_model_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--model", "transformer", "--output-dir", str(tmp_path), "--quiet"]) == 2
    assert "unknown model 'transformer'; available models:" in capsys.readouterr().err
    assert main(["train", "--model", "lstm", "--qubits", "4", "--output-dir", str(tmp_path)]) == 2
    assert "--qubits / config key 'qubits' does not apply to model 'lstm'" in (
        capsys.readouterr().err
    )
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- resume


TINY = {
    "model": "gru",
    "hidden_size": 3,
    "dataset": "sine",
    "dataset_options": {"length": 40},
    "window": 3,
    "epochs": 3,
    "batch_size": 8,
    "name": "run",
}


def tiny_config(folder, **keys):
    path = folder / "run.json"
    path.write_text(json.dumps({**TINY, **keys}))
    return path


def test_ctrl_c_marks_the_run_interrupted_and_resume_finishes_it(tmp_path, capsys, monkeypatch):
    config = tiny_config(tmp_path)
    assert (
        main(["train", "--config", str(config), "--output-dir", str(tmp_path / "a"), "--quiet"])
        == 0
    )
    capsys.readouterr()
    # Ctrl-C while the baseline trains (its second checkpoint)
    fail_at(monkeypatch, "checkpoint.pt", 5, KeyboardInterrupt())
    assert (
        main(["train", "--config", str(config), "--output-dir", str(tmp_path / "b"), "--quiet"])
        == 130
    )
    err = capsys.readouterr().err
    run = tmp_path / "b" / "run"
    assert err == (
        f"qrnn train: interrupted; run directory {run} is marked interrupted; resume it with: "
        f"qrnn train --resume {run}\n"
    )
    state = json.loads((run / "state.json").read_text())
    assert (state["state"], state["stage"], state["error"]) == ("interrupted", "baseline", None)
    monkeypatch.undo()

    assert main(["evaluate", str(run)]) == 2
    assert capsys.readouterr().err == (
        f"qrnn evaluate: error: run {run} is not finished: it was interrupted while training "
        f"the baseline; resume it with: qrnn train --resume {run}\n"
    )
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert_same_run(tmp_path / "a" / "run", run)
    assert main(["evaluate", str(run)]) == 0


def test_resume_takes_no_option_that_would_change_the_run(tmp_path, capsys):
    argv = ["train", "--resume", str(tmp_path / "run"), "--epochs", "5", "--lr", "0.1"]
    assert main([*argv, "--overwrite", "--quiet"]) == 2
    assert capsys.readouterr().err == (
        f"qrnn train: error: --resume continues {tmp_path / 'run'} as its config.json says: no "
        "--epochs, --lr, --overwrite (the only other options are --quiet and --threads)\n"
    )
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert f"no run directory at {tmp_path / 'nothing'}" in capsys.readouterr().err


def test_a_failed_run_is_resumed_or_overwritten(tmp_path, capsys, monkeypatch):
    config = tiny_config(tmp_path, baseline="none")
    argv = ["train", "--config", str(config), "--output-dir", str(tmp_path), "--quiet"]
    fail_at(monkeypatch, "checkpoint.pt", 2, OSError(28, "No space left on device"))
    with pytest.raises(OSError, match="No space left"):  # not a user error: a traceback
        main(argv)
    monkeypatch.undo()
    run = tmp_path / "run"
    state = json.loads((run / "state.json").read_text())
    assert (state["state"], state["stage"]) == ("failed", "model")
    assert state["error"] == "OSError: [Errno 28] No space left on device"

    assert main(argv) == 2  # the name is taken
    assert capsys.readouterr().err == (
        f"qrnn train: error: run directory {run} already exists (failed); choose another name, "
        f"continue it with --resume {run}, or replace it with --overwrite\n"
    )
    assert main(["evaluate", str(run)]) == 2
    assert "it failed while training the model (OSError: [Errno 28] No space left on device)" in (
        capsys.readouterr().err
    )
    assert main([*argv, "--overwrite"]) == 0
    assert json.loads((run / "state.json").read_text())["state"] == "finished"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run.json"]  # nothing left aside
    assert main([*argv[:-1], "--overwrite", "--quiet", "--epochs", "2"]) == 0  # a finished one too
    assert json.loads((run / "metrics.json").read_text())["model"]["epochs"] == 2


def test_output_dir_naming_a_file(tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    for output in (tmp_path / "taken", tmp_path / "taken" / "below"):
        assert main(["train", "--model", "lstm", "--output-dir", str(output), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert f"{tmp_path / 'taken'} is a file, not a folder" in err
    assert list(tmp_path.iterdir()) == [tmp_path / "taken"]


def test_a_run_refused_before_training_leaves_no_directory(tmp_path, capsys):
    for keys, message in (
        ({"optimizer": "lbfgs"}, "optimizer must be one of"),
        ({"loss": "hinge"}, "loss must be one of"),
        ({"patience": 2, "split": [0.8, 0.2]}, "needs a non-empty validation split"),
    ):
        config = tiny_config(tmp_path, **keys)
        argv = ["train", "--config", str(config), "--output-dir", str(tmp_path / "runs")]
        assert main([*argv, "--quiet"]) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "runs").exists()


# ----------------------------------------------------------------------------- kill -9

# A training process that SIGKILLs itself at its `at`-th atomic write: "torn" kills it in the
# middle of that write (the temporary file half written, the target not yet replaced),
# "after" right after it (e.g. between two epochs, once a checkpoint is in place).
KILLER = """
import os, signal, sys
import torch
torch.set_num_threads(1)  # as tests/conftest.py: the same arithmetic as the reference run
mode, at, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
real_replace, writes = os.replace, []
def replace(source, target):
    writes.append(target)
    if len(writes) == at and mode == "torn":
        os.truncate(source, os.path.getsize(source) // 2)
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(source, target)
    if len(writes) == at:
        os.kill(os.getpid(), signal.SIGKILL)
os.replace = replace
from qrnn.cli import main
sys.exit(main(argv))
"""


def killed(tmp_path, mode: str, at: int, argv: list[str]) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-c", KILLER, mode, str(at), *argv],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == -9, (mode, at, done.returncode, done.stderr[-2000:])


def assert_same_run(expected, actual) -> None:
    """Two run directories hold the same run: every file the same, bit for bit, except the
    seconds spent (history.json's wall_time), the output folder in config.json and the
    times in state.json."""
    import torch

    files = sorted(p.relative_to(expected) for p in expected.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(actual) for p in actual.rglob("*") if p.is_file())
    for name in files:
        a, b = expected / name, actual / name
        if name.name == "checkpoint.pt":
            left, right = (torch.load(p, weights_only=True) for p in (a, b))
            for history in (left["history"], right["history"]):
                history.pop("wall_time")
            assert_equal_tree(left, right, str(name))
        elif name.suffix == ".json":
            left, right = (json.loads(p.read_text()) for p in (a, b))
            for values in (left, right):
                values.pop("wall_time", None)  # history.json
                values.pop("output_dir", None)  # config.json
                for key in ("started", "updated", "pid"):  # state.json
                    values.pop(key, None)
            assert left == right, name
        else:  # metrics.json above is compared as values; the plots byte for byte
            assert a.read_bytes() == b.read_bytes(), name
    assert (expected / "metrics.json").read_bytes() == (actual / "metrics.json").read_bytes()


def assert_equal_tree(a, b, where: str) -> None:
    import torch

    assert type(a) is type(b), where
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_equal_tree(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_equal_tree(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), where
    else:
        assert a == b or (a != a and b != b), where  # NaN == NaN here


@pytest.mark.slow
def test_killed_anywhere_a_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    """kill -9 at five points of one run's life, each resumed by the next process: before the
    run directory exists, before the first checkpoint, while a checkpoint is written, between
    the model and the baseline, while the baseline's checkpoint is written.

    Atomic writes of the run (gru + lstm baseline, 3 epochs): 1 config.json and 2 state.json
    in the hidden new directory, which is then renamed into place; 3 state.json (running);
    4, 5 the model's checkpoints after epochs 1 and 2, 6 the final one; 7 history.json,
    8, 9 the plots; 10 state.json (baseline); 11-13 the baseline's checkpoints, 14-16 its
    history and plots; 17 metrics.json; 18 state.json (finished). A resumed process starts
    with 1 state.json (running), then continues where the run stopped.
    """
    config = tiny_config(tmp_path)
    train = ["train", "--config", str(config), "--output-dir", "runs", "--quiet"]
    assert main([*train[:4], str(tmp_path / "reference"), "--quiet"]) == 0
    run = tmp_path / "runs" / "run"
    resume = ["train", "--resume", "runs/run", "--quiet"]

    killed(tmp_path, "torn", 1, train)  # while writing config.json: no run directory yet
    assert not run.exists() and len(list((tmp_path / "runs").iterdir())) == 1  # hidden
    killed(tmp_path, "after", 3, train)  # before the first checkpoint
    assert json.loads((run / "state.json").read_text())["state"] == "running"
    assert not (run / "checkpoint.pt").exists()
    killed(tmp_path, "torn", 3, resume)  # during the write of the second checkpoint
    assert torch_load(run / "checkpoint.pt")["epoch"] == 1
    assert [p.name for p in run.glob(".checkpoint.pt.*.tmp")] != []  # the torn temporary
    killed(tmp_path, "after", 3, resume)  # the model finished, the baseline not started
    assert torch_load(run / "checkpoint.pt")["finished"]
    assert not (run / "history.json").exists() and not (run / "baseline").exists()
    killed(tmp_path, "torn", 7, resume)  # during the write of the baseline's second checkpoint
    assert torch_load(run / "baseline" / "checkpoint.pt")["epoch"] == 1
    assert json.loads((run / "state.json").read_text())["stage"] == "baseline"

    monkeypatch.chdir(tmp_path)
    assert main(resume) == 0  # in this process: the same arithmetic (one torch thread)
    assert json.loads((run / "state.json").read_text())["state"] == "finished"
    assert_same_run(tmp_path / "reference" / "run", run)
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["run"]


def torch_load(path):
    import torch

    return torch.load(path, weights_only=True)
