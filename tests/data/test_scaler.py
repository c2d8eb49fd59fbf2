"""Scaler: min-max into the encoding's range and back, for numpy arrays and torch tensors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from qrnn.data import NotFittedError, Scaler


def test_maps_training_min_and_max_onto_the_feature_range():
    train = np.array([2.0, 4.0, 10.0])
    scaler = Scaler().fit(train)
    np.testing.assert_allclose(scaler.transform(train), [-1.0, -0.5, 1.0])
    # values outside the training span map outside the range, not clipped
    np.testing.assert_allclose(scaler.transform(np.array([14.0, 0.0])), [2.0, -1.5])
    other = Scaler((0.0, np.pi)).fit(train)
    np.testing.assert_allclose(other.transform(train), [0.0, np.pi / 4, np.pi])


def test_per_feature_scaling_with_any_leading_shape():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(50, 3)) * [1.0, 10.0, 100.0] + [0.0, 5.0, -7.0]
    scaler = Scaler((-1.0, 1.0)).fit(values)
    assert scaler.n_features == 3
    scaled = scaler.transform(values)
    lo, hi = values.min(axis=0), values.max(axis=0)
    np.testing.assert_allclose(scaled, -1 + 2 * (values - lo) / (hi - lo), atol=1e-12)
    batched = values.reshape(5, 10, 3)
    np.testing.assert_allclose(scaler.transform(batched), scaled.reshape(5, 10, 3), atol=1e-12)
    np.testing.assert_allclose(
        scaler.inverse_transform(scaler.transform(batched)), batched, atol=1e-12
    )


def test_torch_round_trip_keeps_dtype_device_and_gradients():
    scaler = Scaler().fit(np.array([[0.0, -5.0], [4.0, 5.0]]))
    x = torch.tensor([[[1.0, 0.0], [2.0, 5.0]]], dtype=torch.float32, requires_grad=True)
    y = scaler.transform(x)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32 and y.shape == (1, 2, 2)
    torch.testing.assert_close(y, torch.tensor([[[-0.5, 0.0], [0.0, 1.0]]]))
    back = scaler.inverse_transform(y)
    torch.testing.assert_close(back, x)
    back.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))
    y64 = scaler.transform(torch.tensor([[1.0, 0.0]], dtype=torch.float64))
    assert y64.dtype == torch.float64
    # numpy and torch agree
    np.testing.assert_allclose(scaler.transform(np.array([[1.0, 0.0]])), y64.numpy(), atol=1e-15)


def test_one_feature_scaler_is_elementwise_on_any_shape():
    scaler = Scaler().fit(np.array([0.0, 10.0]))
    out = scaler.transform(torch.full((4, 7), 5.0))
    torch.testing.assert_close(out, torch.zeros(4, 7))
    assert scaler.transform(np.array([[10.0]])).shape == (1, 1)


def test_fit_from_torch_and_dict_round_trip():
    scaler = Scaler((0.0, 1.0)).fit(torch.tensor([[1.0], [3.0]]))
    state = json.loads(json.dumps(scaler.to_dict()))
    again = Scaler.from_dict(state)
    np.testing.assert_array_equal(again.transform(np.array([2.0])), [0.5])
    assert "data_min=[1.0]" in repr(again)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: Scaler((1.0, 1.0)), ValueError, r"lo < hi"),
        (lambda: Scaler((0.0, float("inf"))), ValueError, r"finite with lo < hi"),
        (lambda: Scaler("ab"), ValueError, r"pair \(lo, hi\)"),
        (lambda: Scaler().fit(np.array([])), ValueError, r"empty"),
        (
            lambda: Scaler().fit(np.array([1.0, np.nan])),
            ValueError,
            r"non-finite values: nan at row 1",
        ),
        (
            lambda: Scaler().fit(np.array([[1.0, 2.0], [3.0, 2.0]])),
            ValueError,
            r"feature 1 is constant \(2.0\)",
        ),
        (lambda: Scaler().transform(np.zeros(3)), NotFittedError, r"not fitted; call fit"),
        (
            lambda: (
                Scaler().fit(np.zeros((2, 3)) + np.arange(2)[:, None]).transform(np.zeros((4, 2)))
            ),
            ValueError,
            r"expected shape \(\.\.\., 3\).*got \(4, 2\)",
        ),
        (
            lambda: Scaler().fit(np.arange(2.0)).transform("x"),
            TypeError,
            r"numpy array or torch tensor",
        ),
        (lambda: Scaler.from_dict({"feature_range": (0, 1)}), KeyError, r"missing"),
    ],
)
def test_bad_use_is_a_clear_error(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "data_min, data_max",
    [
        ([0.0, 1.0], [1.0]),  # shapes differ
        ([], []),  # no feature
        ([0.0, 1.0], [1.0, 1.0]),  # a constant feature: max must exceed min
        ([0.0], [-1.0]),
    ],
)
def test_a_state_that_is_not_a_fitted_scaler_is_refused(data_min, data_max):
    state = {"feature_range": (-1.0, 1.0), "data_min": data_min, "data_max": data_max}
    with pytest.raises(ValueError, match=r"data_min"):
        Scaler.from_dict(state)


def test_a_state_round_trips_through_json_as_lists():
    scaler = Scaler().fit(np.array([[0.0, 10.0], [2.0, 30.0]]))
    again = Scaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    np.testing.assert_array_equal(again.data_min, [0.0, 10.0])
    np.testing.assert_allclose(again.transform(np.array([[1.0, 20.0]])), [[0.0, 0.0]])
