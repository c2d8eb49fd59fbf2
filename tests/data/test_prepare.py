"""prepare: chronological split, scaler fitted on train only, sliding windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qrnn.data import Series, Split, WindowedData, load, prepare


def ramp(n, features=None):
    values = (
        np.arange(n, dtype=np.float64)
        if features is None
        else np.arange(n * features, dtype=np.float64).reshape(n, features)
    )
    return Series(values, name="ramp", source="test", licence="CC0")


def test_qlstm_pendulum_windows():
    data = prepare(load("damped_oscillator"), window=4)
    assert isinstance(data, WindowedData) and data.window == 4 and data.horizon == 1
    assert data.boundaries == (144, 192)  # 0.6 and 0.8 of 240 points
    assert data.train.inputs.shape == (140, 4, 1) and data.train.targets.shape == (140, 1)
    assert data.val.inputs.shape == (48, 4, 1) and data.test.inputs.shape == (48, 4, 1)
    for split in (data.train, data.val, data.test):
        assert isinstance(split, Split)
        assert split.inputs.dtype == torch.float32 and split.targets.dtype == torch.float32
    assert data.n_features == 1
    # scaler fitted on the training span only: it spans exactly [-1, 1]
    train_scaled = torch.cat([data.train.inputs[0, :, 0], data.train.targets[:, 0]])
    assert train_scaled.min().item() == pytest.approx(
        -1.0
    ) and train_scaled.max().item() == pytest.approx(1.0)


def test_windows_are_chronological_and_every_target_is_forecast_once():
    series = ramp(20)
    data = prepare(series, window=3, split=(0.5, 0.25, 0.25), feature_range=(0.0, 1.0))
    assert data.boundaries == (10, 15)
    orig_inputs = data.scaler.inverse_transform(data.train.inputs)[..., 0]
    # ramp: the window of target t is t-3, t-2, t-1
    np.testing.assert_allclose(orig_inputs[0].numpy(), [0, 1, 2], atol=1e-5)
    targets = {
        name: data.inverse_targets(split.targets)[:, 0].round().int().tolist()
        for name, split in (("train", data.train), ("val", data.val), ("test", data.test))
    }
    assert targets == {
        "train": list(range(3, 10)),
        "val": list(range(10, 15)),
        "test": list(range(15, 20)),
    }
    np.testing.assert_array_equal(data.val.target_index, np.arange(10, 15))
    # val inputs reach back into the training span (past observations), targets never do
    val_inputs = data.scaler.inverse_transform(data.val.inputs)[..., 0].round().int()
    assert val_inputs[0].tolist() == [7, 8, 9]
    # scaler: fitted on 0..9 only
    assert data.scaler.data_min.tolist() == [0.0] and data.scaler.data_max.tolist() == [9.0]
    assert data.test.targets.max().item() == pytest.approx(19 / 9)


def test_multistep_multivariate_targets_are_horizon_major():
    series = ramp(30, features=2)  # feature f at time t = 2 t + f
    data = prepare(series, window=4, horizon=3, split=(0.6, 0.2, 0.2))
    n = 18 - 4 - 3 + 1
    assert data.train.inputs.shape == (n, 4, 2) and data.train.targets.shape == (n, 6)
    first = data.inverse_targets(data.train.targets)[0].reshape(3, 2)
    np.testing.assert_allclose(first.numpy(), [[8, 9], [10, 11], [12, 13]], atol=1e-4)
    # targets straddling a boundary are dropped: val targets all lie in [18, 24)
    assert data.val.target_index.tolist() == [18, 19, 20, 21]
    restored = data.inverse_targets(data.val.targets.numpy().astype(np.float64))
    assert isinstance(restored, np.ndarray) and restored.shape == (4, 6)


def test_two_way_split_has_an_empty_val_split():
    data = prepare(load("damped_oscillator"), window=4, split=(0.67, 0.33))
    assert len(data.val) == 0 and data.val.inputs.shape == (0, 4, 1)
    assert len(data.train) + len(data.test) == 240 - 4
    assert data.boundaries == (161, 161)


def test_prepare_accepts_an_array_and_airline_test_leaves_training_range():
    data = prepare(np.sin(np.arange(40.0)), window=2)
    assert data.series.name == "array"
    airline = prepare(load("airline"), window=12)
    # trend: test targets exceed the training maximum -> scaled above 1
    assert airline.test.targets.max().item() > 1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"window": 0}, ValueError, r"window must be >= 1, got 0"),
        ({"window": 2.0}, TypeError, r"window must be an integer"),
        ({"horizon": True}, TypeError, r"horizon must be an integer"),
        (
            {"window": 12},
            ValueError,
            r"window=12 \+ horizon=1 needs a training span of at least 13 points, but split "
            r"\(0.6, 0.2, 0.2\) of series 'ramp' \(length 20\) gives 12",
        ),
        ({"split": (0.6, 0.2, 0.3)}, ValueError, r"must sum to 1"),
        ({"split": (0.0, 0.5, 0.5)}, ValueError, r"positive training fraction"),
        ({"split": (0.8, -0.1, 0.3)}, ValueError, r">= 0"),
        ({"split": (1.0,)}, ValueError, r"2 \(train, test\) or 3"),
        ({"split": "abc"}, TypeError, r"split must be"),
        (
            {"split": (0.9, 0.05, 0.05), "horizon": 2, "window": 2},
            ValueError,
            r"the val span .* has 1 points, fewer than horizon=2",
        ),
        ({"feature_range": (1, -1)}, ValueError, r"lo < hi"),
    ],
)
def test_bad_arguments_fail_before_any_work(kwargs, error, match):
    with pytest.raises(error, match=match):
        prepare(ramp(20), **kwargs)


def test_non_finite_values_and_constant_training_span_are_rejected():
    values = np.arange(20.0)
    values[13] = np.nan
    with pytest.raises(ValueError, match=r"non-finite value nan at time index 13"):
        prepare(Series(values, name="gappy", source="t", licence="t"))
    with pytest.raises(ValueError, match=r"nan at time index 13; clean it"):  # no feature
        prepare(values)
    two = np.stack([np.arange(20.0), np.arange(20.0)], axis=1)
    two[5, 1] = np.inf
    with pytest.raises(ValueError, match=r"non-finite value inf at time index 5, feature 1;"):
        prepare(two)
    flat = np.concatenate([np.ones(12), np.arange(8.0)])
    with pytest.raises(ValueError, match=r"feature 0 is constant"):
        prepare(flat)
    with pytest.raises(TypeError, match=r"Series or numpy array"):
        prepare([1.0, 2.0, 3.0])


def test_inverse_targets_checks_the_width():
    data = prepare(ramp(20), window=2)
    with pytest.raises(ValueError, match=r"expected shape \(\.\.\., 1\)"):
        data.inverse_targets(torch.zeros(3, 2))


def test_the_smallest_spans_that_fit_are_accepted():
    """A training span of exactly window + horizon points gives one training window; val and
    test spans of exactly horizon points give one window each (the edges of the checks above)."""
    data = prepare(ramp(20), window=11, horizon=1)  # train_end = 12 = window + horizon
    assert len(data.train.inputs) == 1
    data = prepare(ramp(20), window=2, horizon=2, split=(0.8, 0.1, 0.1))  # 2 points each
    assert (len(data.val.inputs), len(data.test.inputs)) == (1, 1)
