"""The ``qrnn devices`` command."""

from __future__ import annotations

from qrnn import devices
from qrnn.cli import main


def test_lists_every_preset_with_key_figures(capsys):
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    for name in devices.names():
        assert name in out
    assert "1.33e-02" in out  # Aria's two-qubit depolarizing rate
    assert "600 us" in out


def test_shows_one_device_with_sources(capsys):
    assert main(["devices", "quantinuum-h1-1"]) == 0
    out = capsys.readouterr().out
    assert "Spec sheet parameters.csv" in out
    assert "[not published: chosen]" in out


def test_unknown_device_is_an_error(capsys):
    assert main(["devices", "nope"]) == 2
    err = capsys.readouterr().err
    assert "unknown device 'nope'" in err and "ionq-aria-1" in err
