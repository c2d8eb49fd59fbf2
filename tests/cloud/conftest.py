"""Cloud tests: a store of their own, no waiting between retries, and no real account."""

from __future__ import annotations

import pytest

from qrnn.cloud import _retry


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("QRNN_HOME", str(tmp_path / "qrnn-home"))
    for name in (
        "QISKIT_IBM_TOKEN",
        "QISKIT_IBM_INSTANCE",
        "QISKIT_IONQ_API_TOKEN",
        "IONQ_API_KEY",
        "IONQ_API_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_retry, "DEFAULT", _retry.RetryPolicy(attempts=4, sleep=lambda _: None))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A finished run directory of a 2-qubit QLSTM (window 2), trained once for every test
    that scores a run on a cloud backend."""
    import json

    from qrnn.cli import main

    folder = tmp_path_factory.mktemp("runs")
    config = folder / "tiny.json"
    tiny = {"dataset": "sine", "dataset_options": {"length": 16}, "window": 2, "epochs": 1}
    tiny |= {"model": "qlstm", "qubits": 2, "reps": 1, "name": "tiny", "batch_size": 32}
    config.write_text(json.dumps(tiny))
    assert main(["train", "--config", str(config), "--quiet", "--output-dir", str(folder)]) == 0
    return folder / "tiny"
