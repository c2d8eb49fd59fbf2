"""`qrnn train` and `qrnn evaluate`: run directories from the command line."""

from __future__ import annotations

import json

import pytest

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
