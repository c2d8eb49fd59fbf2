"""Classical baselines, the forecaster head, parameter matching and the model registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_sequence, pad_packed_sequence

from qrnn.data import load, prepare
from qrnn.models import (
    GRU,
    LSTM,
    EchoStateNetwork,
    Forecaster,
    build,
    count_parameters,
    match_parameters,
    model_names,
    names,
)
from qrnn.train import fit

# ----------------------------------------------------------------------------- echo-state network


def reference_esn(esn: EchoStateNetwork, x: np.ndarray) -> np.ndarray:
    """Plain numpy leaky-ESN recurrence, one layer, one direction: x (seq, in) -> (seq, hidden)."""
    w_in, w, b = (
        getattr(esn, n).double().numpy() for n in ("weight_ih_l0", "weight_hh_l0", "bias_l0")
    )
    a, h, states = esn.leak_rate, np.zeros(esn.hidden_size), []
    for x_t in x:
        h = (1 - a) * h + a * np.tanh(w_in @ x_t + b + w @ h)
        states.append(h)
    return np.array(states)


def test_esn_matches_a_numpy_recurrence():
    esn = EchoStateNetwork(2, 12, leak_rate=0.3, spectral_radius=0.8, seed=1, dtype=torch.float64)
    x = torch.randn(7, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    output, h_n = esn(x)  # unbatched (seq, features)
    expected = reference_esn(esn, x.numpy())
    np.testing.assert_allclose(output.numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(h_n.numpy(), expected[-1:], atol=1e-12)


def test_esn_reservoir_has_the_requested_spectral_radius_and_density():
    esn = EchoStateNetwork(1, 40, spectral_radius=0.7, density=0.25, seed=3, dtype=torch.float64)
    w = esn.weight_hh_l0.numpy()
    assert np.abs(np.linalg.eigvals(w)).max() == pytest.approx(0.7, rel=1e-9)
    assert 0.15 < np.count_nonzero(w) / w.size < 0.35
    assert np.abs(esn.weight_ih_l0.numpy()).max() <= esn.input_scaling


def test_esn_has_no_parameters_and_is_seeded():
    a, b = EchoStateNetwork(3, 10, seed=5), EchoStateNetwork(3, 10, seed=5)
    assert list(a.parameters()) == []
    assert {name for name, _ in a.named_buffers()} == {"weight_ih_l0", "weight_hh_l0", "bias_l0"}
    assert torch.equal(a.weight_hh_l0, b.weight_hh_l0)
    assert not torch.equal(a.weight_hh_l0, EchoStateNetwork(3, 10, seed=6).weight_hh_l0)
    torch.manual_seed(0)
    c = EchoStateNetwork(3, 10)
    torch.manual_seed(0)
    assert torch.equal(c.weight_hh_l0, EchoStateNetwork(3, 10).weight_hh_l0)


def test_esn_shapes_follow_nn_rnn():
    x = torch.randn(5, 6, 3)  # (batch, seq, features)
    esn = EchoStateNetwork(3, 8, num_layers=2, bidirectional=True, batch_first=True, seed=0)
    rnn = nn.RNN(3, 8, num_layers=2, bidirectional=True, batch_first=True)
    for module in (esn, rnn):
        output, h_n = module(x)
        assert output.shape == (5, 6, 16)
        assert h_n.shape == (4, 5, 8)
    # the forward direction's last output is its final state; the backward's first
    output, h_n = esn(x)
    torch.testing.assert_close(output[:, -1, :8], h_n[2])
    torch.testing.assert_close(output[:, 0, 8:], h_n[3])
    # an initial state is used, and time-major input gives the same numbers
    hx = torch.randn(4, 5, 8)
    time_major = EchoStateNetwork(3, 8, num_layers=2, bidirectional=True, seed=0)
    out_tm, h_tm = time_major(x.transpose(0, 1), hx)
    out_bf, h_bf = esn(x, hx)
    torch.testing.assert_close(out_tm.transpose(0, 1), out_bf)
    torch.testing.assert_close(h_tm, h_bf)
    assert not torch.allclose(out_bf, output)


def test_esn_rejects_bad_input():
    with pytest.raises(ValueError, match="leak_rate"):
        EchoStateNetwork(1, 4, leak_rate=0.0)
    with pytest.raises(ValueError, match="hidden_size"):
        EchoStateNetwork(1, 0)
    esn = EchoStateNetwork(2, 4, batch_first=True, seed=0)
    with pytest.raises(ValueError, match="1 features per step; expected input_size=2"):
        esn(torch.zeros(3, 5, 1))
    with pytest.raises(ValueError, match=r"\(N, L, 2\).*\(5,\)"):
        esn(torch.zeros(5))
    with pytest.raises(ValueError, match="hx"):
        esn(torch.zeros(3, 5, 2), torch.zeros(1, 2, 4))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_esn_accepts_a_packed_sequence_like_the_padded_sequences(bidirectional):
    esn = EchoStateNetwork(2, 6, num_layers=2, bidirectional=bidirectional, seed=4)
    esn = esn.double()
    lengths = [3, 5, 2]
    generator = torch.Generator().manual_seed(2)
    items = [torch.randn(n, 2, generator=generator, dtype=torch.float64) for n in lengths]
    output, h_n = esn(pack_sequence(items, enforce_sorted=False))
    assert isinstance(output, PackedSequence)
    padded, out_lengths = pad_packed_sequence(output)
    assert out_lengths.tolist() == lengths
    for b, item in enumerate(items):  # each sequence alone, unpadded: numpy-free reference
        alone, alone_h = esn(item)
        torch.testing.assert_close(padded[: lengths[b], b], alone)
        torch.testing.assert_close(h_n[:, b], alone_h)
        assert bool((padded[lengths[b] :, b] == 0).all())
    # one layer, forward direction: the numpy recurrence on each sequence
    if not bidirectional:
        single = EchoStateNetwork(2, 6, seed=4, dtype=torch.float64)
        padded, _ = pad_packed_sequence(single(pack_sequence(items, enforce_sorted=False))[0])
        for b, item in enumerate(items):
            expected = reference_esn(single, item.numpy())
            np.testing.assert_allclose(padded[: lengths[b], b].numpy(), expected, atol=1e-12)


def test_esn_reset_parameters_redraws_from_the_seed_or_the_global_generator():
    seeded = EchoStateNetwork(2, 5, num_layers=2, seed=3)
    saved = {k: v.clone() for k, v in seeded.state_dict().items()}
    with torch.no_grad():
        for buffer in seeded.buffers():
            buffer.zero_()
    seeded.reset_parameters()  # a seed: the same reservoir again
    for key, value in seeded.state_dict().items():
        assert torch.equal(value, saved[key]), key

    free = EchoStateNetwork(2, 5, spectral_radius=0.5, density=0.5)
    before = {k: v.clone() for k, v in free.state_dict().items()}
    torch.manual_seed(11)
    free.reset_parameters()  # no seed: a new draw from torch's global generator
    drawn = {k: v.clone() for k, v in free.state_dict().items()}
    for key, value in drawn.items():
        assert not torch.equal(value, before[key]), key
    torch.manual_seed(11)
    free.reset_parameters()
    for key, value in free.state_dict().items():
        assert torch.equal(value, drawn[key]), key
    radius = torch.linalg.eigvals(free.weight_hh_l0.double()).abs().max()
    assert float(radius) == pytest.approx(0.5, rel=1e-6)  # hyperparameters are kept


def test_esn_trains_only_its_readout():
    data = prepare(load("sine", length=100), window=4)
    torch.manual_seed(0)
    model = build("esn", 1, 1, hidden_size=30, seed=0)
    reservoir = {k: v.clone() for k, v in model.recurrent.state_dict().items()}
    head = model.head.weight.clone()
    assert count_parameters(model) == 31  # the readout: 30 weights + 1 bias
    history = fit(model, data, epochs=8, lr=0.05, progress=False)
    for key, value in model.recurrent.state_dict().items():
        assert torch.equal(value, reservoir[key]), key
    assert not torch.equal(model.head.weight, head)
    assert history.train_loss[-1] < history.train_loss[0]


# ----------------------------------------------------------------------------- forecaster


def test_forecaster_reads_the_last_step():
    torch.manual_seed(0)
    lstm = LSTM(2, 5, batch_first=True)
    model = Forecaster(lstm, 3)
    x = torch.randn(4, 6, 2)
    expected = model.head(lstm(x)[0][:, -1])
    torch.testing.assert_close(model(x), expected)
    assert model(x).shape == (4, 3)
    assert (model.input_size, model.output_size) == (2, 3)


def test_forecaster_handles_time_major_and_bidirectional_modules():
    torch.manual_seed(0)
    gru = GRU(1, 4, bidirectional=True)  # batch_first=False
    model = Forecaster(gru, 1)
    assert model.head.in_features == 8
    x = torch.randn(3, 5, 1)
    expected = model.head(gru(x.transpose(0, 1))[0][-1])
    torch.testing.assert_close(model(x), expected)


@pytest.mark.parametrize("family", ["lstm", "gru"])
def test_classical_reset_parameters_is_torchs_and_seeded(family):
    model = build(family, 2, 1, hidden_size=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(5)
    model.reset_parameters()  # Forecaster: the recurrent module, then the head
    drawn = {k: v.clone() for k, v in model.state_dict().items()}
    for key, value in drawn.items():
        assert not torch.equal(value, before[key]), key
    torch.manual_seed(5)
    model.reset_parameters()
    for key, value in model.state_dict().items():
        assert torch.equal(value, drawn[key]), key


def test_forecaster_reset_parameters_leaves_a_module_without_one_alone():
    class Fixed(nn.Module):
        hidden_size = 3

        def forward(self, x):
            return x.new_ones(*x.shape[:2], 3), None

    model = Forecaster(Fixed(), 1)
    head = model.head.weight.clone()
    model.reset_parameters()
    assert not torch.equal(model.head.weight, head)


def test_forecaster_rejects_bad_input():
    with pytest.raises(TypeError, match="hidden_size"):
        Forecaster(nn.Identity(), 1)
    with pytest.raises(ValueError, match="output_size"):
        Forecaster(LSTM(1, 2), 0)
    with pytest.raises(ValueError, match=r"\(batch, window, features\)"):
        Forecaster(LSTM(1, 2, batch_first=True), 1)(torch.zeros(4, 1))


# ----------------------------------------------------------------------------- parameter matching


def brute_force_counts(family: str, input_size: int, output_size: int, **options) -> dict:
    """count_parameters of every real model for hidden sizes 1..80."""
    cls = {"lstm": LSTM, "gru": GRU, "esn": EchoStateNetwork}[family]
    counts = {}
    for hidden in range(1, 81):
        recurrent = cls(input_size, hidden, batch_first=True, **options)
        counts[hidden] = count_parameters(Forecaster(recurrent, output_size))
    return counts


@pytest.mark.parametrize(
    ("family", "options"),
    [("lstm", {}), ("gru", {}), ("lstm", {"num_layers": 2, "bidirectional": True}), ("esn", {})],
)
def test_match_parameters_picks_the_closest_size(family, options):
    counts = brute_force_counts(family, 2, 1, **options)
    targets = (1, 50, 77) if family == "esn" else (1, 50, 333, 1000, 2024)  # within 1..80
    for target in targets:
        model = match_parameters(target, family, input_size=2, output_size=1, **options)
        hidden = model.recurrent.hidden_size
        assert count_parameters(model) == counts[hidden]
        best = min(abs(c - target) for c in counts.values())
        assert abs(counts[hidden] - target) == best  # nothing in 1..80 is closer
        if hidden > 1:  # the documented bound: half the gap to the neighbouring size
            gap = counts[hidden + 1] - counts[hidden - 1]
            assert abs(counts[hidden] - target) <= gap / 2


def test_match_parameters_accepts_a_model_as_target():
    torch.manual_seed(0)
    target = build("gru", 1, 1, hidden_size=10)  # 3*10*(1+10+2) + 11 = 401
    model = match_parameters(target, "lstm")
    assert isinstance(model.recurrent, nn.LSTM) and model.recurrent.batch_first
    # LSTM: 4h(1 + h + 2) + h + 1: h=8 -> 361 (40 below), h=9 -> 442 (41 above)
    assert model.recurrent.hidden_size == 8
    assert count_parameters(model) == 361


def test_match_parameters_rejects_bad_input():
    with pytest.raises(ValueError, match="family must be one of"):
        match_parameters(100, "transformer")
    with pytest.raises(ValueError, match="hidden_size"):
        match_parameters(100, "lstm", hidden_size=3)
    with pytest.raises(ValueError, match="target"):
        match_parameters(0, "lstm")


# ----------------------------------------------------------------------------- registry


def test_registry_builds_every_family():
    assert {"lstm", "gru", "esn"} <= set(names())
    x = torch.randn(2, 4, 3)
    for name in names():
        model = build(name, 3, 2)
        assert isinstance(model, Forecaster)
        assert model.recurrent.batch_first
        assert model(x).shape == (2, 2)
    assert build("lstm", 1, 1, hidden_size=5, num_layers=2).recurrent.num_layers == 2


def test_model_names_is_a_deprecated_alias_of_names():
    with pytest.warns(DeprecationWarning, match=r"model_names\(\) is deprecated.*names\(\)"):
        assert model_names() == names()


def test_registry_errors_name_the_choices():
    with pytest.raises(ValueError, match="unknown model 'transformer'; available models: esn"):
        build("transformer", 1, 1)
    with pytest.raises(TypeError, match=r"model 'lstm' rejected options.*n_qubits"):
        build("lstm", 1, 1, n_qubits=10)
    with pytest.raises(ValueError, match="batch_first"):
        build("gru", 1, 1, batch_first=False)
