"""Bad input to the quantum models is refused at once, the way ``nn.LSTM`` refuses it.

* a model whose circuits could not be simulated for even one sample (40 or 60 qubits) is
  refused by its constructor, before any circuit or ``2**n`` table is built, with one line:
  how much it needs, how much is available, how many qubits fit;
* an input whose dtype is not the weights' is an error (nothing is cast), with the message
  ``nn.LSTM`` gives; so is an initial state of another precision;
* ``dropout`` with one layer warns as ``nn.LSTM`` does;
* a CUDA device that torch cannot use is an error at construction that says how to get one.

``QuantumLayer``'s own refusals are in ``tests/test_layer.py``.
"""

from __future__ import annotations

import re
import warnings

import pytest
import torch
from references import address_space_limit
from torch import nn

from qrnn import backends, sim
from qrnn.models import (
    QGRU,
    QLSTM,
    QRNN,
    EchoStateNetwork,
    QGRUCell,
    QLSTMCell,
    QReservoir,
    QReservoirCell,
    QRNNCell,
)

F64 = torch.float64
MODELS = {"QLSTM": QLSTM, "QGRU": QGRU, "QRNN": QRNN, "QReservoir": QReservoir}
CELLS = {"QLSTM": QLSTMCell, "QGRU": QGRUCell, "QRNN": QRNNCell, "QReservoir": QReservoirCell}
SMALL = {"QLSTM": 3, "QGRU": 3, "QRNN": 4, "QReservoir": 4}  # n_qubits of a fast model


def small(family: str, dtype=F64, **options) -> nn.Module:
    torch.manual_seed(0)
    return MODELS[family](2, 2, n_qubits=SMALL[family], reps=1, dtype=dtype, **options)


# --- circuits too large to simulate -----------------------------------------------------------


@pytest.mark.parametrize("n_qubits", [40, 60])
@pytest.mark.parametrize("family", MODELS)
def test_a_model_too_large_to_simulate_is_refused_by_its_constructor(family, n_qubits):
    expected = (
        rf"^{family} with n_qubits={n_qubits} \(.*\) needs about .+; .+ is available\. "
        r"Use fewer qubits: at most \d+ fit\.$"
    )
    with pytest.raises(sim.SimulationMemoryError, match=expected):
        MODELS[family](1, n_qubits=n_qubits)
    with pytest.raises(sim.SimulationMemoryError, match=rf"^{family} with n_qubits={n_qubits}"):
        CELLS[family](1, n_qubits=n_qubits)


def test_the_advice_is_a_size_that_the_constructor_accepts():
    with pytest.raises(sim.SimulationMemoryError) as refused:
        QLSTM(1, n_qubits=40)
    fits = int(re.search(r"at most (\d+) fit", str(refused.value))[1])
    assert 10 <= fits < 40  # any machine that runs the suite holds a 10-qubit QLSTM
    QLSTM(1, n_qubits=fits, reps=1)  # constructs (its circuits are compiled at first use)


def test_a_qrnn_that_could_run_but_not_train_is_refused_by_its_constructor():
    """Training builds the step unitary with gradients: 2**12 columns of 2**12, kept before
    each of its dense blocks. The reservoir's fixed dynamics are built without them."""
    with address_space_limit(2 * 2**30):
        with pytest.raises(sim.SimulationMemoryError) as refused:
            QRNN(1, n_qubits=12)
        QReservoir(1, n_qubits=12)
    assert str(refused.value).startswith(
        "QRNN with n_qubits=12 (4 data + 8 hidden qubits; a step unitary of 4**12 entries with "
        "gradients) needs about "
    )


def test_the_limit_is_the_torch_engine_s_only():
    """Another executor judges its own limits (Aer's matrix-product-state method runs wide,
    shallow circuits): a QLSTM on Aer is built at 40 qubits."""
    model = QLSTM(1, n_qubits=40, reps=1, backend="aer")
    assert model.n_qubits == 40


@pytest.mark.parametrize(
    ("family", "n_qubits"), [("QLSTM", 14), ("QGRU", 14), ("QRNN", 10), ("QReservoir", 10)]
)
def test_reasonable_sizes_still_run(family, n_qubits):
    torch.manual_seed(0)
    model = MODELS[family](1, 2, n_qubits=n_qubits, reps=1)
    output, _ = model(torch.rand(3, 2, 1))
    assert output.shape == (3, 2, model.output_size) and torch.isfinite(output).all()


# --- input dtype, as nn.LSTM -----------------------------------------------------------------


def lstm_message(input_dtype, weight_dtype) -> str:
    """What ``nn.LSTM`` says, without its "RNN" prefix: the reference wording."""
    lstm = nn.LSTM(2, 2, dtype=weight_dtype)
    with pytest.raises(ValueError) as refused:
        lstm(torch.zeros(3, 1, 2, dtype=input_dtype))
    return str(refused.value).removeprefix("RNN ")


@pytest.mark.parametrize(("given", "weights"), [(torch.float32, F64), (F64, torch.float32)])
@pytest.mark.parametrize("family", MODELS)
def test_an_input_of_another_dtype_is_refused_as_nn_lstm_refuses_it(family, given, weights):
    model = small(family, dtype=weights)
    expected = f"{family} {lstm_message(given, weights)}"
    with pytest.raises(ValueError) as refused:
        model(torch.zeros(3, 1, 2, dtype=given))
    assert str(refused.value) == expected


def test_the_echo_state_network_refuses_another_dtype_too():
    esn = EchoStateNetwork(2, 4, seed=0, dtype=F64)
    with pytest.raises(ValueError, match=r"input dtype \(torch.float32\) does not match"):
        esn(torch.zeros(3, 1, 2))


def test_an_integer_input_is_refused_with_the_input_conversion_only():
    with pytest.raises(ValueError, match=r"Convert input: input.to\(torch.float64\)$"):
        small("QLSTM")(torch.zeros(3, 1, 2, dtype=torch.int64))


@pytest.mark.parametrize("family", MODELS)
def test_a_cell_refuses_another_dtype(family):
    cell = small(family).cell(0)
    with pytest.raises(ValueError, match=rf"^{family}Cell input dtype \(torch.float32\)"):
        cell(torch.zeros(1, 2))


@pytest.mark.parametrize("family", MODELS)
def test_an_initial_state_of_another_precision_is_refused(family):
    model = small(family)
    x = torch.rand(3, 1, 2, dtype=F64)
    _, h_n = model(x)
    lower = tuple(s.to(torch.complex64 if s.is_complex() else torch.float32) for s in _states(h_n))
    hx = lower if isinstance(h_n, tuple) else lower[0]
    with pytest.raises(ValueError, match=r"has dtype torch.(float32|complex64); expected"):
        model(x, hx)


def _states(h_n):
    return h_n if isinstance(h_n, tuple) else (h_n,)


# --- dropout with one layer -------------------------------------------------------------------


@pytest.mark.parametrize("family", ["QLSTM", "QGRU", "QRNN"])
def test_dropout_with_one_layer_warns_as_nn_lstm_does(family):
    with pytest.warns(UserWarning) as reference:
        nn.LSTM(2, 2, dropout=0.5)
    with pytest.warns(UserWarning) as warned:
        small(family, dropout=0.5)
    assert [str(w.message) for w in warned] == [str(w.message) for w in reference]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small(family, dropout=0.5, num_layers=2)  # applied between the layers: no warning


# --- devices ----------------------------------------------------------------------------------


def cuda_refusal() -> tuple[str, str]:
    """The device to ask for and the reason this torch cannot give it."""
    if not torch.backends.cuda.is_built():
        return "cuda", r"needs a CUDA build of torch.*install a CUDA build.*device='cpu'"
    if not torch.cuda.is_available():
        return "cuda", r"sees no GPU.*device='cpu'"
    count = torch.cuda.device_count()
    return f"cuda:{count}", rf"torch sees {count} GPU"


@pytest.mark.parametrize(
    "build",
    [
        *(lambda device, f=f: MODELS[f](1, 2, n_qubits=SMALL[f], device=device) for f in MODELS),
        *(lambda device, f=f: CELLS[f](1, 2, n_qubits=SMALL[f], device=device) for f in MODELS),
        lambda device: EchoStateNetwork(1, 4, device=device),
    ],
    ids=[*MODELS, *(f"{f}Cell" for f in MODELS), "EchoStateNetwork"],
)
def test_a_cuda_device_torch_cannot_use_is_refused_at_construction(build):
    device, reason = cuda_refusal()
    with pytest.raises(backends.GPUUnavailableError, match=reason):
        build(device)


def test_a_device_torch_does_not_know_is_refused():
    with pytest.raises(ValueError, match=r"device must be a torch device.*'gpu0'"):
        QLSTM(1, n_qubits=3, device="gpu0")
