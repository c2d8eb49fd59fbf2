"""Training and evaluating under device noise: `qrnn train --device D [--shots N]`, the run's
device kept in config.json (evaluate and --resume rebuild there), `qrnn evaluate --device D
--shots N` on the torch engine (default) and on Aer (the independent path).

Tiny runs: a 40-point sine, windows of 3, one epoch, a 3-qubit QRNN (1 data + 2 hidden).
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from qrnn import backends
from qrnn.cli import main
from qrnn.config import ConfigError, RunConfig
from qrnn.models import quantum_modules
from qrnn.runs import build_model, evaluate_run, load_data, read_run_config
from qrnn.train import predict

TINY = {
    "dataset": "sine",
    "dataset_options": {"length": 40},
    "window": 3,
    "epochs": 1,
    "batch_size": 32,
    "model": "qrnn",
    "qubits": 3,
    "hidden_size": 1,
    "reps": 1,
    "baseline": "none",
}
DEVICE = "iontrap-10q"


def train(root, name: str, *flags: str, **keys) -> object:
    config = root / f"{name}.json"
    config.write_text(json.dumps({**TINY, "name": name, **keys}))
    argv = ["train", "--config", str(config), "--quiet", "--output-dir", str(root), *flags]
    assert main(argv) == 0
    return root / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("noise-runs")
    return {
        "noiseless": train(root, "noiseless"),
        "noisy": train(root, "noisy", "--device", DEVICE),
        "shots": train(root, "shots", "--device", DEVICE, "--shots", "200", "--gradient", "spsa"),
        "root": root,
    }


def test_a_run_trained_on_a_device_keeps_it_and_is_rebuilt_there(runs, capsys):
    config = read_run_config(runs["noisy"])
    assert (config.device, config.shots, config.gradient) == (DEVICE, None, None)
    model = build_model(config, load_data(config))  # what --resume and evaluate rebuild
    (cell,) = quantum_modules(model)
    assert cell._backend.device.name == DEVICE and cell._backend.supports_autograd
    capsys.readouterr()
    assert main(["evaluate", str(runs["noisy"])]) == 0  # exact noisy scores reproduce
    assert "matches" in capsys.readouterr().out
    noiseless = json.loads((runs["noiseless"] / "metrics.json").read_text())
    noisy = json.loads((runs["noisy"] / "metrics.json").read_text())
    assert noisy["model"]["metrics"]["test"] != noiseless["model"]["metrics"]["test"]


def test_a_run_with_shots_is_not_compared_with_its_saved_scores(runs, capsys):
    config = read_run_config(runs["shots"])
    assert (config.device, config.shots, config.gradient) == (DEVICE, 200, "spsa")
    (cell,) = quantum_modules(build_model(config, load_data(config)))
    assert (cell._backend.shots, cell._backend.gradient) == (200, "spsa")
    capsys.readouterr()
    assert main(["evaluate", str(runs["shots"])]) == 0
    assert "sampled scores (200 shots, as trained): not compared with" in capsys.readouterr().out


def test_evaluate_on_a_device_defaults_to_the_torch_engine_and_aer_agrees(runs):
    """Exact noisy scores agree to 1e-6; with shots the predictions (head(<Z>), one data
    qubit) agree within 4 standard errors of the difference of two independent samples."""
    run, shots = runs["noiseless"], 2000
    exact = evaluate_run(run, device=DEVICE)
    assert exact.execution["backend"] == "torch"
    exact_aer = evaluate_run(run, device=DEVICE, backend="aer")
    for split in ("val", "test"):
        for metric, value in exact.metrics["model"]["metrics"][split].items():
            expected = exact_aer.metrics["model"]["metrics"][split][metric]
            assert math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-9)
    data = load_data(read_run_config(run))
    on_torch = evaluate_run(run, device=DEVICE, shots=shots, seed=1).model
    on_aer = evaluate_run(run, device=DEVICE, shots=shots, seed=2, backend="aer").model
    head = exact.model.head
    mean = predict(exact.model, data.test)
    z = (mean - head.bias.detach()) / head.weight.detach()[0, 0]
    stderr = head.weight.detach().abs()[0, 0] * ((1 - z**2).clamp(min=0) / shots).sqrt()
    difference = (predict(on_torch, data.test) - predict(on_aer, data.test)).abs()
    assert bool((difference <= 4 * 2**0.5 * stderr + 1e-9).all())
    assert bool((predict(on_torch, data.test) != mean).any())


def test_device_keys_are_checked_before_any_work(runs, capsys, tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({**TINY, "name": "refused"}))
    base = ["train", "--config", str(config), "--quiet", "--output-dir", str(tmp_path)]
    cases = [
        (["--device", "aqt-ibex-q1", "--shots", "5000"], "shots=5000 is outside the limits of "
         "device 'aqt-ibex-q1': 1 to 2000"),
        (["--device", "ionq-nope"], "unknown device 'ionq-nope'"),
        (["--gradient", "spsa"], "config key 'gradient' applies to a run on a device, with "
         "shots or on a backend other than torch"),
        (["--device", DEVICE, "--gradient", "adjoint"], "config key 'gradient' must be one of "
         "['backprop', 'parameter-shift', 'spsa']"),
        (["--shots", "0"], "config key 'shots' must be >= 1, got 0"),
        (["--device", "ionq-aria-1"], "needs mid-circuit reset; device 'ionq-aria-1' does not"),
    ]  # fmt: skip
    for flags, message in cases:
        assert main([*base, *flags]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
        assert not (tmp_path / "refused").exists()  # refused before the run directory


def test_backprop_with_shots_is_refused():
    with pytest.raises(backends.BackendError, match="has no autograd"):
        build_model(
            RunConfig.from_mapping({**TINY, "device": DEVICE, "shots": 10, "gradient": "backprop"}),
            load_data(RunConfig.from_mapping(TINY)),
        )


def test_run_config_execution():
    assert RunConfig().execution() is None
    config = RunConfig(device=DEVICE, shots=100, gradient="spsa", seed=3)
    assert config.execution() == {
        "backend": "torch", "device": DEVICE, "shots": 100, "seed": 3, "gradient": "spsa"
    }  # fmt: skip
    with pytest.raises(ConfigError, match="'shots' must be int or null"):
        RunConfig(shots=1.5)
    with pytest.raises(ConfigError, match="'device' does not apply to the classical model 'lstm'"):
        RunConfig(model="lstm", device=DEVICE)
    assert torch.get_default_dtype() == torch.float32  # nothing above changed it
