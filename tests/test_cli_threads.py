"""`qrnn train` and `qrnn evaluate` use one torch thread unless told otherwise (--threads N,
or the environment's OMP_NUM_THREADS)."""

from __future__ import annotations

import pytest
import torch

from qrnn.cli import main


@pytest.fixture(autouse=True)
def _restore_threads(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _evaluate_missing_run(tmp_path, *flags: str) -> None:
    """`qrnn evaluate` of a run that does not exist: the threads are set, then it fails."""
    assert main(["evaluate", str(tmp_path / "no-such-run"), *flags]) == 2


def test_one_thread_by_default(tmp_path):
    torch.set_num_threads(2)
    _evaluate_missing_run(tmp_path)
    assert torch.get_num_threads() == 1


def test_threads_flag(tmp_path):
    torch.set_num_threads(1)
    _evaluate_missing_run(tmp_path, "--threads", "2")
    assert torch.get_num_threads() == 2


def test_omp_num_threads_is_left_to_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    torch.set_num_threads(2)  # what torch read from OMP_NUM_THREADS at start-up
    _evaluate_missing_run(tmp_path)
    assert torch.get_num_threads() == 2


def test_the_flag_overrides_omp_num_threads(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    torch.set_num_threads(2)
    _evaluate_missing_run(tmp_path, "--threads", "1")
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_threads_must_be_a_positive_whole_number(value, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["train", "--threads", value])
    assert exit.value.code == 2
    assert f"argument --threads: expected a whole number >= 1, got {value!r}" in (
        capsys.readouterr().err
    )


def test_train_help_documents_the_policy(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--threads N torch CPU threads (default: 1, or OMP_NUM_THREADS when set)" in text
