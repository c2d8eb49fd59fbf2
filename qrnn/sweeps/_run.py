"""``qrnn.sweep``: run a sweep's trials on Dask, skip the finished ones, gather the table.

The sweep folder (``output_dir / name``)::

    sweeps/<name>/
        sweep.json       the trials: id, swept values, status, error of a failed one, seconds
        runs/<id>/       one ordinary run directory per trial (qrnn.runs)
        results.csv      one row per trial (results.md and results.png: the table and plot)

A trial whose run directory says ``finished`` is skipped; one that is missing is trained; one
that did not finish (a worker killed, a failure, an interruption) is continued from its
checkpoints. A trial that raises is recorded with its error; the others go on.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qrnn._atomic import write_atomically
from qrnn.sweeps._cluster import connect
from qrnn.sweeps._spec import Sweep, SweepError, Trial, load_sweep, make_sweep

__all__ = ["SweepResult", "sweep"]

_LEDGER = "sweep.json"


@dataclass
class SweepResult:
    """What :func:`sweep` did and wrote.

    Attributes:
        folder: the sweep folder.
        rows: one dict per trial, the rows of ``results.csv``: trial id, status, error, the
            swept keys, seed, the model's parameters and val/test scores, its baseline's, the
            persistence and ridge test MSE, ``beats_persistence``, seconds, run directory.
        ran: ids of the trials run (or continued) by this call.
        skipped: ids of the trials found finished and not run again.
        failed: trial id -> ``"Type: message"`` of each trial that failed.
        csv, markdown, plot: the files written.
    """

    folder: Path
    rows: list[dict[str, Any]]
    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    csv: Path | None = None
    markdown: Path | None = None
    plot: Path | None = None


def _spec(sweep: Sweep | str | os.PathLike | Mapping[str, Any]) -> Sweep:
    if isinstance(sweep, Sweep):
        return sweep
    if isinstance(sweep, Mapping):
        return make_sweep(sweep)
    if isinstance(sweep, str | os.PathLike):
        return load_sweep(sweep)
    raise SweepError(
        f"sweep must be a sweep file path, a mapping or a Sweep, got {type(sweep).__name__}"
    )


def is_finished(trial: Trial) -> bool:
    """Whether the trial's run directory says it finished (and holds its metrics)."""
    run_dir = Path(trial.config.output_dir) / str(trial.config.name)
    try:
        state = json.loads((run_dir / "state.json").read_text())
    except (OSError, ValueError):
        return False
    return state.get("state") == "finished" and (run_dir / "metrics.json").is_file()


def sweep(
    sweep: Sweep | str | os.PathLike | Mapping[str, Any],
    *,
    scheduler: str | None = None,
    client: Any = None,
    workers: int | None = None,
    processes: bool = True,
    connect_timeout: float = 5.0,
    progress: bool = True,
    echo: Any = print,
) -> SweepResult:
    """Run every trial of a sweep that has not finished, on Dask; write the results table.

    Args:
        sweep: a sweep file (see ``qrnn.sweeps``), a mapping of its keys, or a ``Sweep``.
        scheduler: address of an existing Dask scheduler (``tcp://host:8786``); default: a
            local cluster made for this call.
        client: a ``distributed.Client`` to use as it is (instead of ``scheduler``).
        workers: worker processes of the local cluster (default: one per core); each trial
            gets ``cores // workers`` torch threads.
        processes: local workers are processes (default) or threads of this process.
        connect_timeout: seconds to wait for ``scheduler`` before a SweepError.
        progress: one progress bar on stderr with the finished, failed and running counts.
        echo: receives one-line messages (what is skipped, where results are); None: silence.

    Returns:
        a :class:`SweepResult`; ``results.csv``, ``results.md`` and ``results.png`` are in
        the sweep folder.

    Raises:
        SweepError: a bad sweep, Dask missing (with the pip command), an unreachable
            scheduler; all before any trial runs. A failing trial does not raise: it is in
            ``failed`` and in the table.
    """
    from qrnn.sweeps._table import write_results

    spec = _spec(sweep)
    say = echo or (lambda _line: None)
    trials = spec.trials()
    folder = spec.folder
    ledger = _read_ledger(folder)
    skipped = [t.id for t in trials if is_finished(t)]
    todo = [t for t in trials if t.id not in set(skipped)]
    result = SweepResult(folder=folder, rows=[], skipped=skipped)
    if skipped:
        say(f"sweep {spec.name}: {len(skipped)} of {len(trials)} trials already finished")
    entries = ledger.setdefault("trials", {})
    for trial in trials:
        entry = entries.setdefault(trial.id, {})
        entry["varying"] = trial.varying
        if trial.id in skipped:
            entry.update(status="finished", error=None)
    ledger.update(name=spec.name, source=spec.source)
    folder.mkdir(parents=True, exist_ok=True)
    _write_ledger(folder, ledger)
    if todo:
        with connect(
            client=client,
            scheduler=scheduler,
            workers=workers,
            processes=processes,
            connect_timeout=connect_timeout,
        ) as (dask_client, threads):
            _run_all(dask_client, threads, todo, folder, ledger, result, progress, spec.name)
    result.rows = write_results(spec, trials, ledger, result)
    failed = f", {len(result.failed)} failed" if result.failed else ""
    say(
        f"sweep {spec.name}: {len(trials)} trials ({len(result.ran)} run, {len(skipped)} "
        f"already finished{failed}); results in {result.markdown}"
    )
    return result


def _run_all(client, threads, todo, folder, ledger, result, progress, name) -> None:
    from distributed import wait
    from tqdm.auto import tqdm

    from qrnn.sweeps._trial import run_trial

    submitted = {}
    for trial in todo:
        future = client.submit(
            run_trial,
            trial.config.to_dict(),
            threads,
            key=f"qrnn-trial-{trial.id}-{secrets.token_hex(3)}",
            pure=False,
        )
        submitted[future] = trial
    pending = set(submitted)
    counts = {"finished": 0, "failed": 0}
    bar = tqdm(
        total=len(todo), desc=f"sweep {name}", unit="trial", disable=not progress, file=sys.stderr
    )
    try:
        while pending:
            try:
                done, pending = wait(pending, timeout=1.0, return_when="FIRST_COMPLETED")
            except TimeoutError:  # none finished within the second: refresh the counts
                done = set()
            for future in done:
                trial = submitted[future]
                outcome = _outcome(future)
                entry = ledger["trials"][trial.id]
                entry.update(
                    status=outcome["status"],
                    error=outcome.get("error"),
                    seconds=outcome.get("seconds"),
                )
                counts[outcome["status"]] += 1
                result.ran.append(trial.id)
                if outcome["status"] == "failed":
                    result.failed[trial.id] = outcome["error"]
                _write_ledger(folder, ledger)
                bar.update(1)
            running = _running(client, len(pending))
            bar.set_postfix_str(
                f"finished {counts['finished']}, failed {counts['failed']}, running {running}",
                refresh=True,
            )
    except BaseException:
        client.cancel(list(pending))
        raise
    finally:
        bar.close()


def _outcome(future) -> dict[str, Any]:
    """The trial's own report, or (the task itself failed: its worker died too often, say)
    a failure with the task's error."""
    try:
        return future.result()
    except Exception as error:
        message = " ".join(str(error).split())
        return {"status": "failed", "error": f"{type(error).__name__}: {message}"}


def _running(client, pending: int) -> int:
    """Trials being worked on now (at most one per worker thread)."""
    try:
        threads = sum(client.nthreads().values())
    except Exception:  # the scheduler is busy or gone; the bar is only a display
        return 0
    return min(pending, threads)


def _read_ledger(folder: Path) -> dict[str, Any]:
    try:
        values = json.loads((folder / _LEDGER).read_text())
    except (OSError, ValueError):
        return {}
    return values if isinstance(values, dict) else {}


def _write_ledger(folder: Path, ledger: dict[str, Any]) -> None:
    text = json.dumps(ledger, indent=1, default=str) + "\n"
    write_atomically(folder / _LEDGER, lambda tmp: tmp.write_text(text))
