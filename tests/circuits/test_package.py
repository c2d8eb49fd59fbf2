"""The circuits package stands alone: no qrnn import, PennyLane only on first use."""

from __future__ import annotations

import subprocess
import sys

import circuits
from circuits import cells, encoding, interop


def test_import_loads_neither_qrnn_nor_pennylane():
    code = (
        "import sys, circuits\n"
        "from circuits import encoding, ansatz, cells, interop\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('qrnn', 'pennylane'))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_public_names_are_reexported():
    assert circuits.to_pennylane is interop.to_pennylane
    assert circuits.angle_encoding is encoding.angle_encoding
    assert circuits.Cell is cells.Cell
    for name in circuits.__all__:
        assert hasattr(circuits, name), name
