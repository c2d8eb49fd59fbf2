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
