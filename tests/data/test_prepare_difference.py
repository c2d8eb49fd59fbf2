"""prepare(..., difference=True): windows of changes, targets as changes from the last level,
so that errors in original units are those of the level forecast."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qrnn import data as qdata
from qrnn.config import ConfigError, RunConfig
from qrnn.models import Persistence
from qrnn.train import evaluate


@pytest.fixture(scope="module")
def airline():
    return qdata.load("airline")


def test_windows_hold_changes_and_targets_are_changes_from_the_last_level(airline):
    x = np.asarray(airline.values, dtype=np.float64)
    data = qdata.prepare(airline, window=4, horizon=2, difference=True)
    assert data.differenced and data.series.name == "airline (differenced)"
    for split in (data.train, data.val, data.test):
        s = split.target_index  # positions in the changes; the level position is s + 1
        inputs = data.scaler.inverse_transform(split.inputs.double().numpy())[..., 0]
        changes = np.stack([x[t - 3 : t + 1] - x[t - 4 : t] for t in s])  # d_(t-3) .. d_t
        np.testing.assert_allclose(inputs, changes, rtol=1e-5, atol=1e-3)
        targets = data.inverse_targets(split.targets.double().numpy())
        levels_ahead = np.stack([x[s + 1] - x[s], x[s + 2] - x[s]], axis=1)
        np.testing.assert_allclose(targets, levels_ahead, rtol=1e-5, atol=1e-3)


def test_val_and_test_predict_the_positions_the_level_windows_predict(airline):
    levels = qdata.prepare(airline, window=4)
    changes = qdata.prepare(airline, window=4, difference=True)
    for name in ("val", "test"):
        np.testing.assert_array_equal(
            getattr(changes, name).target_index + 1, getattr(levels, name).target_index
        )
    assert len(changes.train) == len(levels.train) - 1


def test_errors_are_those_of_the_level_forecast(airline):
    """Predicting no change is the persistence level forecast: the same MSE."""
    data = qdata.prepare(airline, window=4, difference=True)
    zero = torch.tensor(data.scaler.transform(np.zeros(1)), dtype=torch.float32)

    class NoChange(torch.nn.Module):
        def forward(self, window):
            return zero.expand(len(window), 1)

    x = np.asarray(airline.values, dtype=np.float64)
    t = qdata.prepare(airline, window=4).test.target_index
    persistence = float(np.mean((x[t] - x[t - 1]) ** 2))
    assert evaluate(NoChange(), data, ("test",))["test"]["mse"] == pytest.approx(persistence)
    levels = qdata.prepare(airline, window=4)
    scored = evaluate(Persistence(), levels, ("test",))["test"]["mse"]
    assert scored == pytest.approx(persistence, rel=1e-6)


def test_difference_is_a_run_config_key():
    assert RunConfig(difference=True).difference is True
    with pytest.raises(ConfigError, match="'difference' must be bool"):
        RunConfig.from_mapping({"difference": "yes"})
    with pytest.raises(TypeError, match="difference must be True or False"):
        qdata.prepare(np.arange(20.0), difference=1)
