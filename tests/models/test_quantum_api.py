"""The nn.LSTM-style interface shared by QLSTM, QGRU, QRNN and QReservoir.

Small circuits (3-4 qubits, one ansatz layer) keep this fast; the physics of each model is
checked in its own test file.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_sequence, pad_packed_sequence

from qrnn.models import (
    QGRU,
    QLSTM,
    QRNN,
    Forecaster,
    QGRUCell,
    QLSTMCell,
    QReservoir,
    QReservoirCell,
    QRNNCell,
    build,
    names,
)

F64 = torch.float64
NAMES = ["qlstm", "qgru", "qrnn", "qreservoir"]


CELLS = {"qlstm": QLSTMCell, "qgru": QGRUCell, "qrnn": QRNNCell, "qreservoir": QReservoirCell}
CLASSES = {"qlstm": QLSTM, "qgru": QGRU, "qrnn": QRNN, "qreservoir": QReservoir}


def make(name: str, input_size: int = 2, **options) -> nn.Module:
    torch.manual_seed(0)
    if name == "qlstm":
        return QLSTM(input_size, 3, n_qubits=3, reps=1, dtype=F64, **options)
    if name == "qgru":
        return QGRU(input_size, 3, n_qubits=3, reps=1, dtype=F64, **options)
    if name == "qrnn":
        return QRNN(input_size, 2, n_qubits=4, reps=1, dtype=F64, **options)
    return QReservoir(input_size, 2, n_qubits=4, reps=1, dtype=F64, **options)


def state_shape(model, layers_directions: int, batch: int) -> tuple[int, ...]:
    if isinstance(model, (QRNN, QReservoir)):
        side = 2**model.n_hidden
        return (layers_directions, batch, side, side)
    return (layers_directions, batch, model.hidden_size)


def states(h_n) -> tuple[torch.Tensor, ...]:
    return h_n if isinstance(h_n, tuple) else (h_n,)


def sequences(batch=3, length=5, features=2, seed=0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(length, batch, features, generator=generator, dtype=F64)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_shapes_and_return_structure(name, batch_first):
    model = make(name, batch_first=batch_first)
    x = sequences()  # (L=5, N=3, F=2)
    output, h_n = model(x.transpose(0, 1) if batch_first else x)
    expected = (3, 5, model.output_size) if batch_first else (5, 3, model.output_size)
    assert output.shape == expected and output.dtype == F64
    assert isinstance(h_n, tuple) == (name == "qlstm")  # (h_n, c_n) only for the LSTM
    for state in states(h_n):
        assert state.shape == state_shape(model, 1, 3)
    if name in ("qrnn", "qreservoir"):
        assert h_n.dtype == torch.complex128
    else:  # the LSTM/GRU output is h at every step
        torch.testing.assert_close(output[:, -1] if batch_first else output[-1], states(h_n)[0][0])


@pytest.mark.parametrize("name", NAMES)
def test_bidirectional_two_layers(name):
    model = make(name, num_layers=2, bidirectional=True)
    output, h_n = model(sequences())
    per_direction = model.cell(1).output_size
    assert model.output_size == 2 * per_direction
    assert output.shape == (5, 3, 2 * per_direction)
    for state in states(h_n):
        assert state.shape == state_shape(model, 4, 3)
    if name in ("qlstm", "qgru"):
        top_forward, top_backward = states(h_n)[0][2], states(h_n)[0][3]
        torch.testing.assert_close(output[-1, :, :per_direction], top_forward)
        torch.testing.assert_close(output[0, :, per_direction:], top_backward)


@pytest.mark.parametrize("name", NAMES)
def test_stacked_layer_reads_the_layer_below(name):
    model = make(name, num_layers=2)
    x = sequences()
    output, _ = model(x)
    # run layer by layer with the same cells: layer 1 on layer 0's output
    first, _ = model.cell(0).run(x, model.cell(0).initial_state(3, x), None)
    second, _ = model.cell(1).run(first, model.cell(1).initial_state(3, x), None)
    torch.testing.assert_close(output, second)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_sequence_equals_running_each_sequence_alone(name, bidirectional):
    model = make(name, bidirectional=bidirectional)
    lengths = [3, 5, 2]  # not sorted: exercises sorted/unsorted indices
    generator = torch.Generator().manual_seed(1)
    items = [torch.rand(n, 2, generator=generator, dtype=F64) for n in lengths]
    packed = pack_sequence(items, enforce_sorted=False)
    output, h_n = model(packed)
    assert isinstance(output, PackedSequence)
    torch.testing.assert_close(output.sorted_indices, packed.sorted_indices)
    padded, out_lengths = pad_packed_sequence(output)
    assert out_lengths.tolist() == lengths
    for b, item in enumerate(items):
        alone, alone_h = model(item[:, None])
        torch.testing.assert_close(padded[: lengths[b], b], alone[:, 0])
        for got, want in zip(states(h_n), states(alone_h), strict=True):
            torch.testing.assert_close(got[:, b], want[:, 0])


@pytest.mark.parametrize("name", NAMES)
def test_given_initial_state(name):
    model = make(name, num_layers=2)
    x = sequences()
    default_out, default_h = model(x)
    explicit_out, _ = model(x, hx=_default_like(model, default_h))
    torch.testing.assert_close(explicit_out, default_out)  # the default, given explicitly
    other = _perturbed(default_h)
    out_other, _ = model(x, hx=other)
    assert not torch.allclose(out_other, default_out)
    # continuing from h_n equals running the concatenated sequence
    y = sequences(seed=5)
    _, h_x = model(x)
    out_y, h_y = model(y, hx=h_x)
    out_xy, h_xy = model(torch.cat([x, y]))
    torch.testing.assert_close(out_y, out_xy[x.shape[0] :])
    for got, want in zip(states(h_y), states(h_xy), strict=True):
        torch.testing.assert_close(got, want)


def _default_like(model, h_n):
    if isinstance(model, (QRNN, QReservoir)):
        ground = torch.zeros_like(h_n)
        ground[..., 0, 0] = 1
        return ground
    return (
        tuple(torch.zeros_like(s) for s in h_n) if isinstance(h_n, tuple) else torch.zeros_like(h_n)
    )


def _perturbed(h_n):
    if isinstance(h_n, tuple):
        return tuple(torch.full_like(s, 0.3) for s in h_n)
    if h_n.is_complex():  # maximally mixed hidden register
        eye = torch.eye(h_n.shape[-1], dtype=h_n.dtype)
        return (eye / h_n.shape[-1]).expand_as(h_n).clone()
    return torch.full_like(h_n, 0.3)


@pytest.mark.parametrize("name", NAMES)
def test_unbatched_input(name):
    model = make(name)
    x = sequences(batch=1)
    batched_out, batched_h = model(x)
    out, h_n = model(x[:, 0])
    assert out.shape == (5, model.output_size)
    torch.testing.assert_close(out, batched_out[:, 0])
    for got, want in zip(states(h_n), states(batched_h), strict=True):
        torch.testing.assert_close(got, want[:, 0])


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_names_are_stable_and_reload(name):
    model = make(name, bidirectional=True)
    keys = set(model.state_dict())
    expected_prefixes = {"cell_l0.", "cell_l0_reverse."}
    assert {k.split(".")[0] + "." for k in keys} <= expected_prefixes or not keys
    fresh = make(name, bidirectional=True)
    torch.manual_seed(123)
    for parameter in fresh.parameters():
        nn.init.uniform_(parameter)
    fresh.load_state_dict(model.state_dict())
    x = sequences()
    torch.testing.assert_close(fresh(x)[0], model(x)[0])


def test_state_dict_keys_of_each_family():
    assert "cell_l0.forget.vqc.weight" in make("qlstm").state_dict()
    assert "cell_l0.update.vqc.weight" in make("qgru").state_dict()
    assert set(make("qrnn", input_size=2).state_dict()) == {"cell_l0.weight"}
    assert set(make("qrnn", input_size=1).state_dict()) == {
        "cell_l0.weight",
        "cell_l0.encoder.weight",
        "cell_l0.encoder.bias",
    }
    assert set(make("qreservoir", input_size=1).state_dict()) == {"cell_l0.input_weight"}


@pytest.mark.parametrize("name", NAMES)
def test_repr_names_the_configuration(name):
    text = repr(make(name, batch_first=True))
    assert "batch_first=True" in text and "n_qubits=" in text and "reps=1" in text
    cell_class = CELLS[name].__name__
    assert f"(cell_l0): {cell_class}(" in text  # the public cell, not a private class


@pytest.mark.parametrize("name", NAMES)
def test_registry_builds_a_forecaster(name):
    assert name in names()
    forecaster = build(name, 1, 1, n_qubits=4, reps=1, hidden_size=2)
    assert isinstance(forecaster, Forecaster)
    window = torch.rand(3, 4, 1)
    assert forecaster(window).shape == (3, 1)


@pytest.mark.parametrize("name", NAMES)
def test_defaults_need_only_input_size(name):
    model = CLASSES[name](1)
    assert model.n_qubits == 10 and model.num_layers == 1 and not model.batch_first


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: QRNN(1, 10, n_qubits=10), ValueError, "hidden register"),
        (lambda: QLSTM(0), ValueError, "input_size"),
        (lambda: QGRU(1, num_layers=0), ValueError, "num_layers"),
        (lambda: QLSTM(1, dropout=1.5), ValueError, "dropout"),
        (lambda: QRNN(1, ansatz="nope", n_qubits=4, hidden_size=2), ValueError, "nope"),
        (lambda: QRNN(1, n_qubits=4, hidden_size=2, dtype=torch.int32), TypeError, "dtype"),
        (lambda: QReservoir(1, seed=-1), ValueError, "seed"),
    ],
)
def test_bad_constructor_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("name", NAMES)
def test_bad_forward_arguments(name):
    model = make(name)
    with pytest.raises(ValueError, match="input_size=2"):
        model(torch.zeros(4, 3, 5, dtype=F64))
    with pytest.raises(ValueError, match=r"\(L, N, 2\)"):
        model(torch.zeros(4, dtype=F64))
    h_n = model(sequences())[1]
    wrong = tuple(s[:, :1] for s in h_n) if isinstance(h_n, tuple) else h_n[:, :1]
    with pytest.raises(ValueError, match="expected"):
        model(sequences(), hx=wrong)


@pytest.mark.parametrize("name", ["qlstm", "qgru"])
def test_gate_circuits_run_on_another_backend(name):
    from qrnn import backends

    model = make(name)
    other = make(name, backend=backends.get("torch"))  # a backend object: the generic path
    other.load_state_dict(model.state_dict())
    x = sequences()
    torch.testing.assert_close(other(x)[0], model(x)[0])


@pytest.mark.parametrize("name", NAMES)
def test_a_cell_called_alone_is_one_step_of_the_sequence_module(name):
    model = make(name)
    cell = model.cell(0)
    assert type(cell) is CELLS[name]
    x = sequences(batch=3, length=2)
    output, h_n = model(x)
    state = None
    for t in range(2):
        result = cell(x[t], state)
        # QLSTMCell: (h, c); QGRUCell: h; QRNNCell / QReservoirCell: (output, h')
        out = result[0] if isinstance(result, tuple) else result
        torch.testing.assert_close(out, output[t])
        state = result[1] if name in ("qrnn", "qreservoir") else result
    for got, want in zip(states(h_n), states(state), strict=True):
        torch.testing.assert_close(got[0], want)


@pytest.mark.parametrize("name", NAMES)
def test_a_cell_takes_unbatched_input_and_checks_its_state(name):
    cell = make(name).cell(0)
    x = sequences(batch=1, length=1)[0]  # (1, 2)
    batched = cell(x)
    alone = cell(x[0])
    for got, want in zip(states(alone), states(batched), strict=True):
        torch.testing.assert_close(got, want[0])
    with pytest.raises(ValueError, match=r"input must be \(N, 2\) or \(2,\)"):
        cell(torch.zeros(1, 3, dtype=F64))
    state = batched[1] if name in ("qrnn", "qreservoir") else batched
    wrong = tuple(s[:, :1] for s in state) if isinstance(state, tuple) else state[:, :1]
    with pytest.raises(ValueError, match="expected"):
        cell(x, wrong)


@pytest.mark.parametrize("name", ["qrnn", "qreservoir"])
def test_a_memory_cell_wants_a_complex_state(name):
    cell = make(name).cell(0)
    x = sequences(batch=2, length=1)[0]
    _, rho = cell(x)
    assert rho.shape == (2, 4, 4) and rho.dtype == torch.complex128
    with pytest.raises(TypeError, match="must be complex"):
        cell(x, rho.real)


@pytest.mark.parametrize("name", NAMES)
def test_public_cells_build_alone_with_the_models_words(name):
    torch.manual_seed(0)
    cell = CELLS[name](2, 2, n_qubits=4, reps=1, dtype=F64)
    assert cell.input_size == 2 and cell.reps == 1
    assert "reps=1" in repr(cell)
    out = cell(torch.rand(3, 2, dtype=F64))
    assert states(out)[0].shape[0] == 3


def test_top_level_names_reach_the_cells():
    import qrnn

    assert qrnn.QRNNCell is QRNNCell and qrnn.QReservoirCell is QReservoirCell


@pytest.mark.parametrize("name", ["qlstm", "qgru", "qrnn"])
def test_reset_parameters_redraws_every_parameter_and_is_seeded(name):
    model = make(name, input_size=1, num_layers=2, bidirectional=True)
    before = {k: v.clone() for k, v in model.named_parameters()}
    torch.manual_seed(7)
    model.reset_parameters()
    drawn = {k: v.detach().clone() for k, v in model.named_parameters()}
    for key, value in drawn.items():
        assert not torch.equal(value, before[key]), key
    torch.manual_seed(7)
    model.reset_parameters()
    for key, value in model.named_parameters():
        assert torch.equal(value, drawn[key]), key
    cell = model.cell(1, 1)  # and one cell on its own
    torch.manual_seed(7)
    cell.reset_parameters()
    first = {k: v.detach().clone() for k, v in cell.named_parameters()}
    torch.manual_seed(7)
    cell.reset_parameters()
    for key, value in cell.named_parameters():
        assert torch.equal(value, first[key]), key


def test_quantum_forecaster_reset_parameters_reaches_every_parameter():
    torch.manual_seed(0)
    forecaster = build("qrnn", 1, 1, n_qubits=3, reps=1, hidden_size=2)
    before = {k: v.clone() for k, v in forecaster.named_parameters()}
    forecaster.reset_parameters()
    for key, value in forecaster.named_parameters():
        assert not torch.equal(value, before[key]), key


def test_reservoir_reset_parameters_restores_its_fixed_input_map():
    model = make("qreservoir", input_size=3, num_layers=2)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    x = sequences(features=3)
    output = model(x)[0]
    with torch.no_grad():
        for buffer in model.buffers():
            buffer.fill_(0.5)
    assert not torch.allclose(model(x)[0], output)
    model.reset_parameters()  # drawn from the seeds again; the dynamics were never touched
    for key, value in model.state_dict().items():
        assert torch.equal(value, saved[key]), key
    torch.testing.assert_close(model(x)[0], output)


@pytest.mark.parametrize("name", NAMES)
def test_n_layers_is_a_deprecated_alias_of_reps(name):
    torch.manual_seed(0)
    expected = make(name)
    torch.manual_seed(0)
    with pytest.warns(DeprecationWarning, match=r"n_layers= is deprecated.*use reps="):
        old = CLASSES[name](2, **_sizes(name), n_layers=1, dtype=F64)
    assert old.reps == 1
    x = sequences()
    torch.testing.assert_close(old(x)[0], expected(x)[0])
    with pytest.raises(TypeError, match="both reps= and its deprecated alias n_layers="):
        CLASSES[name](2, **_sizes(name), reps=1, n_layers=1)
    with pytest.warns(DeprecationWarning, match=f"{CELLS[name].__name__}\\(\\): n_layers="):
        cell = CELLS[name](2, **_sizes(name), n_layers=1)
    assert cell.reps == 1
    with pytest.raises(TypeError, match="both reps="):
        CELLS[name](2, **_sizes(name), reps=1, n_layers=1)


def _sizes(name: str) -> dict:
    if name in ("qrnn", "qreservoir"):
        return {"hidden_size": 2, "n_qubits": 4}
    return {"hidden_size": 3, "n_qubits": 3}
