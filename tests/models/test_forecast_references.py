"""The two references of every forecasting table: persistence and a ridge autoregression,
checked against numpy written out independently."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qrnn.models import Persistence, RidgeAutoregression


def test_persistence_repeats_the_last_value_for_every_step_ahead():
    windows = torch.arange(2 * 3 * 2, dtype=torch.float32).reshape(2, 3, 2)  # (batch, window, f)
    out = Persistence(horizon=3)(windows)
    assert out.shape == (2, 3 * 2)
    expected = np.tile(windows[:, -1].numpy(), (1, 3))  # horizon-major: (x1, x2) per step
    np.testing.assert_array_equal(out.numpy(), expected)
    assert list(Persistence().parameters()) == []


def _ridge_numpy(x, y, alpha):
    """argmin ||[X 1] theta - y||^2 + alpha ||w||^2 (intercept unpenalised), normal equations."""
    design = np.hstack([x, np.ones((len(x), 1))])
    penalty = alpha * np.eye(design.shape[1])
    penalty[-1, -1] = 0.0
    theta = np.linalg.solve(design.T @ design + penalty, design.T @ y)
    return theta[:-1].T, theta[-1]


@pytest.mark.parametrize("alpha", [1e-3, 0.5, 10.0])
def test_ridge_is_the_penalised_least_squares_solution(alpha):
    generator = np.random.default_rng(0)
    inputs = generator.normal(size=(50, 4, 2))
    targets = generator.normal(size=(50, 3))
    model = RidgeAutoregression(alpha).fit(torch.tensor(inputs), torch.tensor(targets))
    weight, bias = _ridge_numpy(inputs.reshape(50, -1), targets, alpha)
    np.testing.assert_allclose(model.weight.numpy(), weight, atol=1e-10)
    np.testing.assert_allclose(model.bias.numpy(), bias, atol=1e-10)
    new = generator.normal(size=(5, 4, 2))
    expected = new.reshape(5, -1) @ weight.T + bias
    np.testing.assert_allclose(model(torch.tensor(new)).numpy(), expected, atol=1e-10)


def test_ridge_recovers_the_exact_recurrence_of_a_sine():
    # sin(w (t+1)) = 2 cos(w) sin(w t) - sin(w (t-1)): a window of 2 predicts it exactly
    w = 0.3
    x = np.sin(w * np.arange(60))
    windows = np.stack([x[t - 2 : t] for t in range(2, 60)])[:, :, None]
    targets = x[2:60, None]
    model = RidgeAutoregression(alpha=0.0).fit(torch.tensor(windows), torch.tensor(targets))
    np.testing.assert_allclose(model.weight.numpy()[0], [-1.0, 2 * np.cos(w)], atol=1e-8)


def test_the_validated_penalty_is_the_one_with_least_validation_error():
    generator = np.random.default_rng(1)
    x = torch.tensor(generator.normal(size=(40, 3, 1)))
    y = x[:, -1] * 0.7 + torch.tensor(generator.normal(scale=0.5, size=(40, 1)))
    train, val = (x[:25], y[:25]), (x[25:], y[25:])
    chosen = RidgeAutoregression.fit_validated(train, val)
    errors = {}
    for alpha in RidgeAutoregression.ALPHAS:
        weight, bias = _ridge_numpy(x[:25].reshape(25, -1).numpy(), y[:25].numpy(), alpha)
        prediction = x[25:].reshape(15, -1).numpy() @ weight.T + bias
        errors[alpha] = float(((prediction - y[25:].numpy()) ** 2).mean())
    assert chosen.alpha == min(errors, key=errors.get)


def test_bad_input_to_the_references():
    with pytest.raises(ValueError, match="alpha must be a number >= 0"):
        RidgeAutoregression(-1.0)
    with pytest.raises(RuntimeError, match="not fitted"):
        RidgeAutoregression()(torch.zeros(1, 2, 1))
    with pytest.raises(ValueError, match="horizon must be an integer >= 1"):
        Persistence(0)
    model = RidgeAutoregression().fit(torch.zeros(4, 2, 1), torch.zeros(4, 1))
    with pytest.raises(ValueError, match="fitted on windows of 2 values"):
        model(torch.zeros(1, 3, 1))
