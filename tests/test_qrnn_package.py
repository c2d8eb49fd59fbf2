"""The qrnn package: subpackages are attributes, imported on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import qrnn


def _loaded_after(code: str) -> set[str]:
    """Top-level modules of torch, qiskit and PennyLane loaded by ``code`` in a fresh process."""
    probe = (
        f"{code}\nimport sys\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'torch', 'qiskit', 'pennylane'})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_import_qrnn_loads_neither_torch_nor_qiskit_nor_pennylane():
    assert _loaded_after("import qrnn") == set()


def test_gradients_is_reachable_as_an_attribute():
    assert "gradients" in qrnn.__all__ and "gradients" in dir(qrnn)
    assert _loaded_after("import qrnn\nqrnn.gradients.spsa") >= {"torch"}
    from qrnn.gradients import parameter_shift, spsa

    assert qrnn.gradients.spsa is spsa
    assert qrnn.gradients.parameter_shift is parameter_shift


@pytest.mark.parametrize("name", sorted(set(qrnn.__all__) - {"__version__"}))
def test_every_public_name_resolves(name):
    assert getattr(qrnn, name) is not None


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'qrnn' has no attribute 'simulator'"):
        qrnn.simulator  # noqa: B018
