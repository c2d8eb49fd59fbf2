"""Training on any executor from the command line: `qrnn train --backend aer|pennylane:<name>
[--device D] [--shots N] [--gradient parameter-shift|spsa]`.

Tiny runs: a 40-point sine, windows of 3, one epoch, a 2-qubit QLSTM (hidden size 1, one rep).
Exact parameter-shift on Aer must train the model exactly as autograd on the torch engine does
(the same losses and scores to 1e-6), which checks the whole path: shifted circuits, one Aer
run per layer call, the jacobian contracted into torch's backward pass.
"""

from __future__ import annotations

import json
import math

import pytest

from qrnn.cli import main
from qrnn.models import quantum_modules
from qrnn.runs import build_model, load_data, read_run_config

TINY = {
    "dataset": "sine",
    "dataset_options": {"length": 40},
    "window": 3,
    "epochs": 1,
    "batch_size": 32,
    "model": "qlstm",
    "qubits": 2,
    "hidden_size": 1,
    "reps": 1,
    "baseline": "none",
}


def train(root, name: str, *flags: str) -> tuple[int, dict | None]:
    config = root / f"{name}.json"
    config.write_text(json.dumps({**TINY, "name": name}))
    argv = ["train", "--config", str(config), "--quiet", "--output-dir", str(root), *flags]
    status = main(argv)
    if status != 0:
        return status, None
    return status, json.loads((root / name / "metrics.json").read_text())["model"]


def close(a: dict, b: dict) -> bool:
    return all(
        math.isclose(a["metrics"][split][key], b["metrics"][split][key], rel_tol=1e-6)
        for split in a["metrics"]
        for key in a["metrics"][split]
    )


def test_exact_parameter_shift_on_aer_trains_as_autograd_on_torch(tmp_path):
    _, on_torch = train(tmp_path, "torch")
    _, on_aer = train(tmp_path, "aer", "--backend", "aer", "--gradient", "parameter-shift")
    assert read_run_config(tmp_path / "aer").gradient == "parameter-shift"
    assert close(on_aer, on_torch), (on_aer["metrics"], on_torch["metrics"])


def test_a_pennylane_device_trains_as_the_torch_engine(tmp_path):
    _, on_torch = train(tmp_path, "torch")
    _, on_pennylane = train(tmp_path, "pennylane", "--backend", "pennylane:default.qubit")
    assert close(on_pennylane, on_torch)


@pytest.mark.parametrize("gradient", ["parameter-shift", "spsa"])
def test_shots_on_aer_train_with_either_gradient(tmp_path, gradient):
    flags = ["--backend", "aer", "--shots", "64", "--gradient", gradient]
    status, metrics = train(tmp_path, "run", *flags)
    assert status == 0 and math.isfinite(metrics["metrics"]["test"]["mse"])
    config = read_run_config(tmp_path / "run")
    (backend,) = {m._backend for m in quantum_modules(build_model(config, load_data(config)))}
    assert (backend.name, backend.shots, backend.gradient) == ("aer", 64, gradient)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--backend", "aer", "--gradient", "backprop"],
            "backend 'aer' (shots=None) has no autograd",
        ),
        (
            ["--backend", "aer", "--shots", "8", "--gradient", "backprop"],
            "(shots=8) has no autograd",
        ),
        (["--backend", "aer", "--shots", "0"], "config key 'shots' must be >= 1, got 0"),
        (["--backend", "aer", "--shots", "-5"], "config key 'shots' must be >= 1, got -5"),
        (["--backend", "nosuch", "--shots", "8"], "nosuch"),
        (["--backend", "pennylane:no.such.device"], "no.such.device"),
        (["--backend", "aer", "--gradient", "adjoint"], "config key 'gradient' must be one of"),
    ],
)
def test_bad_executor_options_are_refused_before_any_work(tmp_path, capsys, flags, message):
    status, _ = train(tmp_path, "refused", *flags)
    err = capsys.readouterr().err
    assert status == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "refused").exists()
