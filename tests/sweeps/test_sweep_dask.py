"""Sweeps on a LocalCluster bound to loopback with 2 workers: the table is right, a failing
trial is recorded without stopping the others, a killed worker loses no finished result,
resuming runs only what is missing, an unreachable scheduler is a clear error."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")  # the distributed extra; CI installs it

from qrnn import data as qdata  # noqa: E402
from qrnn._rundir import write_state  # noqa: E402
from qrnn.cli import main  # noqa: E402
from qrnn.sweeps import SweepError, make_sweep, sweep  # noqa: E402

# A 40-point sine and a one-epoch LSTM with 2 hidden units: a trial takes well under a second.
_BASE = {
    "dataset": "sine",
    "dataset_options": {"length": 40, "period": 9.0},
    "window": 3,
    "epochs": 1,
    "batch_size": 8,
    "hidden_size": 2,
    "baseline": "none",
}


def _spec(tmp_path, name="s", grid=None, seeds=(0, 1), base=None):
    return make_sweep(
        {
            "name": name,
            "output_dir": str(tmp_path),
            "seeds": list(seeds),
            "base": {**_BASE, **(base or {})},
            "grid": grid or {"model": ["lstm", "gru"]},
        }
    )


def _saved_test_mse(row, folder: Path) -> float:
    metrics = json.loads((folder / row["run_dir"] / "metrics.json").read_text())
    return metrics["model"]["metrics"]["test"]["mse"]


def _persistence_test_mse() -> float:
    """From the raw series: predict x_(t-1) for every test position t."""
    data = qdata.prepare(qdata.load("sine", length=40, period=9.0), window=3)
    x = np.asarray(data.series.values, dtype=np.float64)
    t = data.test.target_index
    return float(np.mean((x[t] - x[t - 1]) ** 2))


def test_a_small_sweep_finishes_and_its_table_is_right(tmp_path, dask_client):
    result = sweep(_spec(tmp_path), client=dask_client, progress=False, echo=None)
    assert not result.failed and len(result.ran) == 4 and not result.skipped
    rows = list(csv.DictReader(result.csv.open()))
    assert [(r["model"], r["seed"], r["status"]) for r in rows] == [
        ("lstm", "0", "finished"),
        ("lstm", "1", "finished"),
        ("gru", "0", "finished"),
        ("gru", "1", "finished"),
    ]
    persistence = _persistence_test_mse()
    for row in rows:  # each row is its run directory's metrics.json, named from the CSV's folder
        assert row["run_dir"] == f"runs/{row['trial']}"
        assert float(row["test_mse"]) == _saved_test_mse(row, result.csv.parent)
        assert float(row["persistence_test_mse"]) == pytest.approx(
            persistence, rel=1e-6
        )  # float32 windows
        beats = float(row["test_mse"]) < persistence
        assert row["beats_persistence"] == str(beats)
    table = result.markdown.read_text()
    assert "| dataset | lstm | gru | persistence | ridge |" not in table  # dataset not swept
    header, _rule, line = [text for text in table.splitlines() if text.startswith("|")]
    assert header == "| trials | lstm | gru | persistence | ridge |"
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    for name, cell in zip(("lstm", "gru"), cells[1:3], strict=True):
        values = [float(r["test_mse"]) for r in rows if r["model"] == name]
        expected = f"{statistics.fmean(values):.3g} ± {statistics.stdev(values):.2g}"
        assert expected in cell
        assert ("†" in cell) == (statistics.fmean(values) >= persistence)
    assert cells[3] == f"{persistence:.3g}"
    assert result.plot.read_bytes().startswith(b"\x89PNG")
    ledger = json.loads((result.folder / "sweep.json").read_text())
    assert {entry["status"] for entry in ledger["trials"].values()} == {"finished"}


def test_a_failing_trial_is_recorded_with_its_error_and_the_others_finish(
    tmp_path, dask_client, capsys
):
    grid = {"model": ["lstm"], "dataset_options": [{"length": 40}, {"length": 40, "wobble": 1}]}
    result = sweep(
        _spec(tmp_path, grid=grid, seeds=[0]), client=dask_client, progress=True, echo=None
    )
    bar = capsys.readouterr().err  # one bar, with the counts
    assert "sweep s: 100%" in bar and "finished 1, failed 1, running 0" in bar
    assert len(result.failed) == 1
    (error,) = result.failed.values()
    assert error.startswith("TypeError:") and "wobble" in error
    statuses = sorted(row["status"] for row in result.rows)
    assert statuses == ["failed", "finished"]
    assert "Failed trials:" in result.markdown.read_text()


def test_resuming_runs_only_what_is_missing_or_unfinished(tmp_path, dask_client):
    spec = _spec(tmp_path, grid={"model": ["lstm", "gru", "esn"]}, seeds=[0])
    first = sweep(spec, client=dask_client, progress=False, echo=None)
    rows = {row["trial"]: row for row in first.rows}
    kept, removed, stopped = rows
    stamps = {
        trial: os.stat(f"{rows[trial]['run_dir']}/metrics.json").st_mtime_ns for trial in rows
    }
    shutil.rmtree(rows[removed]["run_dir"])  # never ran
    write_state(Path(rows[stopped]["run_dir"]), "interrupted", stage="model", started=None)

    again = sweep(spec, client=dask_client, progress=False, echo=None)
    assert sorted(again.ran) == sorted([removed, stopped])
    assert sorted(again.skipped) == sorted(set(rows) - {removed, stopped})
    assert os.stat(f"{rows[kept]['run_dir']}/metrics.json").st_mtime_ns == stamps[kept]
    assert all(row["status"] == "finished" for row in again.rows)

    third = sweep(spec, client=dask_client, progress=False, echo=None)
    assert third.ran == [] and len(third.skipped) == 3


def test_killing_a_worker_mid_sweep_loses_no_finished_result(tmp_path, dask_processes):
    spec = _spec(tmp_path, grid={"model": ["lstm", "gru", "esn"]}, seeds=[0], base={"epochs": 3})
    results = {}
    with distributed.Client(dask_processes) as dask_client:
        worker = threading.Thread(
            target=lambda: results.update(
                done=sweep(spec, client=dask_client, progress=False, echo=None)
            )
        )
        worker.start()
        ledger_path = spec.folder / "sweep.json"
        finished_before: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not finished_before:
            time.sleep(0.2)
            try:
                ledger = json.loads(ledger_path.read_text())
            except (OSError, ValueError):
                continue
            finished_before = [
                trial for trial, e in ledger["trials"].items() if e.get("status") == "finished"
            ]
        assert finished_before, "no trial finished in time"
        stamps = {
            trial: os.stat(spec.folder / "runs" / trial / "metrics.json").st_mtime_ns
            for trial in finished_before
        }
        busy = [address for address, keys in dask_client.processing().items() if keys]
        pids = dask_client.run(os.getpid, workers=busy[:1])
        for pid in pids.values():
            os.kill(pid, signal.SIGKILL)  # its nanny starts a new worker; the task is re-run
        worker.join(timeout=180)
    assert not worker.is_alive()
    done = results["done"]
    assert not done.failed
    assert [row["status"] for row in done.rows] == ["finished"] * 3
    for trial, stamp in stamps.items():
        assert os.stat(spec.folder / "runs" / trial / "metrics.json").st_mtime_ns == stamp


def test_the_command_runs_a_sweep_file_on_a_scheduler_and_prints_the_table(
    tmp_path, dask_processes, capsys
):
    path = tmp_path / "tiny.toml"
    path.write_text(
        f'output_dir = "{tmp_path}"\nseeds = 1\n[base]\n'
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in _BASE.items() if k != "dataset_options")
        + '[base.dataset_options]\nlength = 40\n[grid]\nmodel = ["lstm"]\n'
    )
    status = main(["sweep", str(path), "--scheduler", dask_processes.scheduler_address, "--quiet"])
    assert status == 0
    assert (tmp_path / "tiny" / "results.md").is_file()
    assert (
        "| trials | lstm | persistence | ridge |" in (tmp_path / "tiny" / "results.md").read_text()
    )


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path, capsys):
    spec = _spec(tmp_path, seeds=[0])
    with pytest.raises(SweepError, match=r"cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'"):
        sweep(spec, scheduler="tcp://127.0.0.1:9", connect_timeout=1, progress=False, echo=None)
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"grid": {"model": ["lstm"]}, "output_dir": str(tmp_path)}))
    status = main(
        ["sweep", str(path), "--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "1"]
    )
    assert status == 2
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
    assert not (tmp_path / "s" / "runs").exists()
