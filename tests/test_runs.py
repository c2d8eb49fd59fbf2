"""Run directories in Python: train_run writes one, evaluate_run re-scores it; both return a
RunResult whose metrics have the structure of metrics.json."""

from __future__ import annotations

import json

import pytest
import torch

from qrnn.config import ConfigError, RunConfig
from qrnn.runs import RunResult, evaluate_run, format_comparison, read_run_config, train_run
from qrnn.train import History


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
    with pytest.raises(ConfigError, match="already exists; choose another name"):
        train_run(config, progress=False, echo=None)


def test_format_comparison_is_a_table_of_both_models(trained):
    table = format_comparison(trained.metrics, split="val").splitlines()
    assert table[0] == "val metrics (original units)"
    assert table[1].split() == ["model", "params", "MSE", "MAE", "R^2"]
    assert table[2].split()[:2] == ["gru", str(trained.metrics["model"]["parameters"])]
    assert table[3].startswith("lstm (matched)")
    mse = trained.metrics["baseline"]["metrics"]["val"]["mse"]
    assert table[3].split()[3] == f"{mse:.4g}"  # after "lstm (matched)" and the parameters
