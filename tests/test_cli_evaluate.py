"""`qrnn evaluate RUN_DIR --device NAME --shots N`: a trained model re-scored on a noisy device.

The runs are tiny (a 40-point sine, windows of 3, one epoch, 4- and 5-qubit models) so that
every command takes seconds.
"""

from __future__ import annotations

import json

import pytest

from qrnn.cli import main
from qrnn.runs import evaluate_run

TINY = {
    "dataset": "sine",
    "dataset_options": {"length": 40},
    "window": 3,
    "epochs": 1,
    "batch_size": 32,
}


def train(root, name: str, **keys) -> object:
    config = root / f"{name}.json"
    config.write_text(json.dumps({**TINY, "name": name, **keys}))
    assert main(["train", "--config", str(config), "--quiet", "--output-dir", str(root)]) == 0
    return root / name


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A QLSTM run (4 qubits), a QRNN run (4 data + 1 hidden qubits), an LSTM run."""
    root = tmp_path_factory.mktemp("runs")
    return {
        "qlstm": train(root, "qlstm", model="qlstm", qubits=4, reps=1),
        "qrnn": train(root, "qrnn", model="qrnn", qubits=5, reps=1),
        "lstm": train(root, "lstm", model="lstm", hidden_size=3, baseline="none"),
    }


def snapshot(run_dir) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in run_dir.rglob("*")}


def test_a_qlstm_run_on_ionq_aria_with_shots(runs, capsys):
    before = snapshot(runs["qlstm"])
    capsys.readouterr()
    argv = ["evaluate", str(runs["qlstm"]), "--device", "ionq-aria-1", "--shots", "1000"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert (
        "qlstm scored on ionq-aria-1 with 1000 shots (torch, seed 0): 8 val + 8 test windows; "
        "the lstm baseline is classical (scored as trained)"
    ) in out
    assert "val metrics (original units)" in out and "test metrics (original units)" in out
    assert "lstm (matched)" in out
    assert "matches" not in out  # other conditions: no comparison with metrics.json
    assert snapshot(runs["qlstm"]) == before  # nothing written into the run directory


def test_without_device_options_it_still_reproduces_metrics_json(runs, capsys):
    assert main(["evaluate", str(runs["qlstm"])]) == 0
    assert "matches" in capsys.readouterr().out


def test_a_qrnn_run_needs_a_device_with_mid_circuit_reset(runs, capsys):
    argv = ["evaluate", str(runs["qrnn"]), "--device", "ionq-aria-1", "--shots", "1000"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "QRNN resets its data register (qubits 0-3) after every time step" in err
    assert "device 'ionq-aria-1' does not support it" in err
    assert "Devices with mid-circuit reset: ideal, iontrap-10q, quantinuum-h1-1" in err


def test_a_qrnn_run_on_quantinuum_h1(runs, capsys):
    argv = ["evaluate", str(runs["qrnn"]), "--device", "quantinuum-h1-1", "--shots", "500"]
    assert main([*argv, "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "qrnn scored on quantinuum-h1-1 with 500 shots (torch, seed 7): 8 val + 8 test" in out
    assert "test metrics" in out


def test_an_ideal_device_without_shots_reproduces_the_exact_scores(runs):
    """Aer, transpiled to native gates, no noise, exact: the torch engine's metrics."""
    saved = json.loads((runs["qrnn"] / "metrics.json").read_text())
    lines = []
    result = evaluate_run(runs["qrnn"], device="ideal", backend="aer", echo=lines.append)
    assert result.execution == {"backend": "aer", "device": "ideal", "shots": None, "seed": None}
    scored = result.metrics
    assert lines == [
        "qrnn scored on ideal with exact expectation values (aer): 8 val + 8 test windows; "
        "the lstm baseline is classical (scored as trained)"
    ]
    assert set(scored["model"]["metrics"]) == {"val", "test"}  # no training windows
    for split in ("val", "test"):  # the trained model runs in float32: relative 1e-5
        for metric, value in saved["model"]["metrics"][split].items():
            expected = pytest.approx(value, rel=1e-5, abs=1e-6)
            assert scored["model"]["metrics"][split][metric] == expected
    for split in ("val", "test"):
        assert scored["baseline"]["metrics"][split] == saved["baseline"]["metrics"][split]


def test_unknown_device(runs, capsys):
    assert main(["evaluate", str(runs["qlstm"]), "--device", "ionq-nope", "--shots", "10"]) == 2
    err = capsys.readouterr().err
    assert "unknown device 'ionq-nope'; known devices: aqt-ibex-q1," in err


def test_shots_outside_the_device_limits(runs, capsys):
    argv = ["evaluate", str(runs["qlstm"]), "--device", "aqt-ibex-q1", "--shots", "5000"]
    assert main(argv) == 2
    assert "shots=5000 is outside the limits of device 'aqt-ibex-q1': 1 to 2000" in (
        capsys.readouterr().err
    )
    assert main(["evaluate", str(runs["qlstm"]), "--shots", "0"]) == 2
    assert "shots must be None (exact) or a positive integer, got 0" in capsys.readouterr().err


def test_a_classical_run_has_no_quantum_model_to_move(runs, capsys):
    assert main(["evaluate", str(runs["lstm"]), "--device", "ionq-aria-1"]) == 2
    assert "model 'lstm' of run" in capsys.readouterr().err


def test_progress_of_a_device_scoring_on_stderr(runs, capsys):
    argv = ["evaluate", str(runs["qlstm"]), "--device", "ideal"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "scoring:" in captured.err and "0/16 [" in captured.err  # 8 val + 8 test windows
    assert "qlstm scored on ideal" in captured.out
    assert main([*argv, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "scored on" not in captured.out
    assert "test metrics (original units)" in captured.out


def copy_of(run_dir, tmp_path):
    import shutil

    shutil.copytree(run_dir, tmp_path / "copy")
    return tmp_path / "copy"


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("qrnn evaluate: error: ") and err.count("\n") == 1, err
    return err


def test_a_damaged_checkpoint_is_a_one_line_error(runs, tmp_path, capsys):
    run = copy_of(runs["lstm"], tmp_path)
    checkpoint = run / "checkpoint.pt"
    whole = checkpoint.read_bytes()
    for content, message in (
        (b"", f"checkpoint {checkpoint} is empty (0 bytes)"),
        (whole[:-100], f"cannot read checkpoint {checkpoint}: truncated or not a torch file"),
        (b"not a checkpoint", f"cannot read checkpoint {checkpoint}: truncated or not a torch"),
    ):
        checkpoint.write_bytes(content)
        assert main(["evaluate", str(run)]) == 2
        assert message in one_line_error(capsys)


def test_a_corrupt_config_is_a_one_line_error_naming_the_file(runs, tmp_path, capsys):
    run = copy_of(runs["lstm"], tmp_path)
    for text, message in (
        ('{"model": "lstm",\n', "cannot read run config {path}: Expecting property name"),
        ('"lstm"', "run config {path}: a run config must be a mapping of keys, got str"),
        ('{"modle": "lstm"}', "run config {path}: unknown config key ['modle']; valid keys"),
    ):
        (run / "config.json").write_text(text)
        assert main(["evaluate", str(run)]) == 2
        assert message.format(path=run / "config.json") in one_line_error(capsys)


def test_an_unfinished_run_is_refused(runs, tmp_path, capsys):
    run = copy_of(runs["lstm"], tmp_path)
    state = json.loads((run / "state.json").read_text())
    (run / "state.json").write_text(json.dumps({**state, "state": "interrupted", "stage": "model"}))
    assert main(["evaluate", str(run)]) == 2
    assert one_line_error(capsys) == (
        f"qrnn evaluate: error: run {run} is not finished: it was interrupted while training the "
        f"model; resume it with: qrnn train --resume {run}\n"
    )
    (run / "state.json").write_text("{")
    assert main(["evaluate", str(run)]) == 2
    assert f"cannot read the run state {run / 'state.json'}" in one_line_error(capsys)


def test_ctrl_c_is_one_line_and_status_130(runs, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("qrnn.runs.evaluate_run", interrupted)
    assert main(["evaluate", str(runs["qlstm"]), "--device", "ideal"]) == 130
    assert capsys.readouterr().err == "qrnn evaluate: interrupted\n"
