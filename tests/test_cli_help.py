"""`qrnn --help` and every sub-command's help: fast (no torch, qiskit or PennyLane import),
and every option shows its choices and default."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from qrnn import _names
from qrnn.cli import _build_parser

COMMANDS = ["demo", "train", "evaluate", "run", "devices", "submit", "jobs", "sweep"]
# Options whose help need not state a default: nothing is read unless they are given, or
# they are required (submit's --provider and --backend).
_NO_DEFAULT = {"--help", "--version", "--config", "--csv", "--column", "--resume"}
_NO_DEFAULT |= {"--provider", "--backend"}


def _heavy_modules_after(argv: list[str]) -> set[str]:
    """Top-level torch, qiskit and PennyLane modules loaded by ``qrnn ARGV`` in a fresh
    process (which must exit 0)."""
    probe = (
        "import contextlib, io, sys\nfrom qrnn.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    try:\n        main({argv!r})\n"
        "    except SystemExit as exit:\n        assert exit.code == 0\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'torch', 'qiskit', 'qiskit_aer', 'pennylane'})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


@pytest.mark.parametrize(
    "argv", [["--help"], ["--version"], *([command, "--help"] for command in COMMANDS)]
)
def test_help_imports_neither_torch_nor_qiskit_nor_pennylane(argv):
    assert _heavy_modules_after(argv) == set()


def test_python_dash_m_qrnn_runs_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "qrnn", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("qrnn ")


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = _build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(commands.choices)


def _help(command: str) -> str:
    return " ".join(_subparsers()[command].format_help().split())  # unwrapped


def test_every_command_has_help():
    assert sorted(_subparsers()) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_states_its_default(command):
    for action in _subparsers()[command]._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue  # positional arguments, deprecated spellings
        if isinstance(action, argparse._StoreTrueAction):
            continue  # off unless given
        if _NO_DEFAULT & set(action.option_strings):
            continue
        assert "(default: " in action.help or "; default: " in action.help, action.option_strings


def test_train_help_lists_every_choice_and_default():
    text = _help("train")
    for names in (_names.MODELS, _names.DATASETS, _names.ANSATZE, _names.BACKENDS):
        assert ", ".join(names) in text
    for names in (_names.OPTIMIZERS, _names.LOSSES, _names.BASELINES):
        assert ", ".join(names) in text
    assert f"model to train: {', '.join(_names.MODELS)} (default: qrnn)" in text
    assert "(default: damped_oscillator)" in text
    assert "--epochs EPOCHS training epochs (default: 12)" in text
    assert "--lr LR learning rate (default: 0.01)" in text
    # a model option's default is the default model's, then the families that differ
    assert "hidden size of the model (default: 4; esn: 100; gru, lstm: 16)" in text
    assert "of a quantum model (default: 2; qreservoir: 3)" in text


@pytest.mark.parametrize("command", ["evaluate", "run", "devices"])
def test_device_help_lists_every_preset(command):
    assert ", ".join(_names.device_names()) in _help(command)


def test_run_help_lists_every_template_and_the_default_device():
    text = _help("run")
    assert "template: " + ", ".join(_names.template_names()) in text
    assert f"(default: {_names.DEFAULT_DEVICE})" in text


def test_help_keeps_hyphenated_names_whole():
    lines = _subparsers()["run"].format_help().splitlines()
    assert not any(line.rstrip().endswith(("ionq-", "quantinuum-", "aqt-")) for line in lines)
