"""A run directory's evaluation on a cloud backend, in rounds that outlive the process.

A recurrent model needs each time step's results before the next step's circuits exist, so
its evaluation on a cloud is a sequence of rounds. :func:`submit_run` writes an evaluation
record (``evaluations/<id>.json`` beside the job store), scores the run as ``qrnn evaluate``
does through ``qrnn.backends.cloud`` and returns as soon as the first round is submitted;
:func:`fetch_run`, in this process or any later one, scores it again: every circuit whose job
has finished is read from the store (fetched from the vendor first if need be), every circuit
whose inputs are now known is submitted, and the rest wait for the next round. Once every
circuit has its result, the metrics are those ``qrnn evaluate`` computes, through the same
classical readout, and are kept in the record.

Replaying the evaluation is what makes this work for any model without a second code path:
the calls a model makes are the same every time (the windows, in chunks, step by step), so a
circuit is identified by the call it belongs to, its measurement group and its row; the job's
``source`` records that key, so the store, written before the vendor is called, is the
ledger, and nothing is sent twice. A missing result is replaced by a placeholder. Which
circuits depend on a placeholder is found by scoring twice with different placeholders: a
circuit whose parameter values differ between the two passes waits for a later round, one
whose values agree is submitted (this holds for any classical readout, whatever mixes the
rows or the steps). The parameter values of every replayed circuit are checked against those
recorded with its job.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qrnn.cloud import _provider
from qrnn.cloud._errors import CloudError, JobFailedError, SubmitInputError, UnknownJobError
from qrnn.cloud.jobs import ACTIVE, JobStore, default_path

__all__ = ["Evaluation", "EvaluationProgress", "fetch_run", "find_evaluation", "submit_run"]

_SOURCE = re.compile(r"evaluation (\S+) call (\d+) group (\d+) rows (\[[\d, ]*\])$")
_ID = re.compile(r"[0-9a-f-]{4,36}")
# The expectation value that stands in for a missing result in the probe pass and in the pass
# that submits: any two different values in (-1, 1) do.
_PLACEHOLDERS = (0.3141, -0.5772)


@dataclass
class Evaluation:
    """The record of one run directory's evaluation on a cloud backend.

    Attributes:
        id: its id (a UUID; a unique prefix of 4 or more characters will do).
        run_dir: the run directory (absolute).
        provider, backend, shots, seed: where and how it is scored.
        created_at: UNIX time it was started.
        rounds: how many rounds have been run.
        jobs: how many jobs it has submitted.
        status: ``"running"`` until every circuit has its result, then ``"done"``.
        metrics: once done, the metrics in the structure of ``metrics.json`` (``val`` and
            ``test``), as ``qrnn evaluate`` computes them; else None.
    """

    id: str
    run_dir: str
    provider: str
    backend: str
    shots: int
    seed: int
    created_at: float
    rounds: int = 0
    jobs: int = 0
    status: str = "running"
    metrics: dict | None = None


@dataclass(frozen=True)
class EvaluationProgress:
    """Where an evaluation stands after a round.

    Attributes:
        evaluation: its record.
        submitted: ids of the jobs this round submitted.
        waiting: ids of the jobs whose results the evaluation still waits for.
        cost: estimated cost of this round's jobs in USD (None where a price is unverified).
    """

    evaluation: Evaluation
    submitted: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    cost: float | None = 0.0

    @property
    def done(self) -> bool:
        return self.evaluation.status == "done"


def _folder(store: str | Path | None) -> Path:
    path = Path(store) if store is not None else default_path()
    return path.parent / "evaluations"


def _save(evaluation: Evaluation, store) -> None:
    from qrnn._atomic import write_atomically

    folder = _folder(store)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(asdict(evaluation), indent=2)
    write_atomically(folder / f"{evaluation.id}.json", lambda path: path.write_text(text))


def find_evaluation(evaluation_id: str, store: str | Path | None = None) -> Evaluation | None:
    """The evaluation with this id or unique prefix (4+ characters), or None when there is
    none (the id may be a job's).

    Raises:
        UnknownJobError: a prefix shared by several evaluations.
    """
    text = str(evaluation_id).strip()
    folder = _folder(store)
    if not _ID.fullmatch(text) or not folder.is_dir():
        return None
    found = sorted(folder.glob(f"{text}*.json"))
    if len(found) > 1:
        raise UnknownJobError(f"evaluation id prefix {text!r} matches {len(found)}; give more")
    if not found:
        return None
    try:
        return Evaluation(**json.loads(found[0].read_text()))
    except (ValueError, TypeError) as error:
        raise CloudError(f"cannot read the evaluation record {found[0]}: {error}") from None


def submit_run(
    run_dir: str | Path,
    *,
    provider: str,
    backend: str,
    shots: int,
    seed: int = 0,
    wait: bool = False,
    timeout: float | None = None,
    store: str | Path | None = None,
    echo: Callable[[str], Any] | None = None,
) -> EvaluationProgress:
    """Score a finished run's quantum model on a cloud backend (its ``val`` and ``test``
    windows), recorded in the job store; return once the first round is submitted.

    Args:
        run_dir: a directory written by ``qrnn train`` (a quantum model).
        provider, backend: as :func:`qrnn.cloud.submit`.
        shots: samples per circuit.
        seed: seeds the sampling where the backend's simulator takes a seed.
        wait: go on round by round until the metrics are in (local simulators always do:
            their jobs end with this process).
        timeout: with ``wait``, seconds to wait for each job (None: no limit).
        store: the job store's path (default ``$QRNN_HOME/jobs.sqlite``); the record goes to
            ``evaluations/`` beside it.
        echo: receives a line of what runs where before the first round.

    Returns:
        An :class:`EvaluationProgress`; its ``evaluation.id`` is what :func:`fetch_run` takes.

    Raises:
        SubmitInputError: bad shots or seed; the errors of ``qrnn evaluate`` for the run
        directory and of :func:`qrnn.cloud.submit` for the provider and backend, all before
        anything is written or sent.
    """
    from qrnn.runs import read_run_config, read_run_state

    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise SubmitInputError(f"shots must be a whole number >= 1, got {shots!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SubmitInputError(f"seed must be a whole number, got {seed!r}")
    run_dir = Path(run_dir).resolve()
    read_run_config(run_dir)  # not a run directory, a corrupt config: here
    state = read_run_state(run_dir)
    if state["state"] != "finished":
        from qrnn import _rundir

        raise CloudError(_rundir.unfinished_message(run_dir, state))
    info = _provider.get(provider).backend(backend)  # unknown backend, credentials: here
    evaluation = Evaluation(
        id=str(uuid.uuid4()),
        run_dir=str(run_dir),
        provider=provider,
        backend=backend,
        shots=shots,
        seed=seed,
        created_at=time.time(),
    )
    progress = _round(evaluation, store, echo=echo, check_only=True)  # model vs. machine
    return _advance(progress.evaluation, store, wait or info.local, timeout)


def fetch_run(
    evaluation_id: str,
    *,
    wait: bool = False,
    timeout: float | None = None,
    store: str | Path | None = None,
) -> EvaluationProgress:
    """Run the next round of an evaluation :func:`submit_run` started: fetch the jobs that
    finished, submit the circuits whose inputs are now known; with ``wait``, go on until the
    metrics are in. A finished evaluation is returned as recorded.

    Raises:
        UnknownJobError: no evaluation with this id.
        JobFailedError: a job of the evaluation is unknown or its submit unconfirmed.
        TimeoutError: with ``wait``, a job still unfinished after ``timeout`` (nothing lost).
    """
    evaluation = find_evaluation(evaluation_id, store)
    if evaluation is None:
        raise UnknownJobError(f"no evaluation {evaluation_id!r} in {_folder(store)}")
    if evaluation.status == "done":
        return EvaluationProgress(evaluation)
    return _advance(evaluation, store, wait, timeout)


def _advance(evaluation: Evaluation, store, wait: bool, timeout) -> EvaluationProgress:
    submitted: list[str] = []
    cost: float | None = 0.0
    while True:
        progress = _round(evaluation, store)
        submitted += progress.submitted
        cost = None if cost is None or progress.cost is None else cost + progress.cost
        if progress.done or not wait:
            return EvaluationProgress(progress.evaluation, submitted, progress.waiting, cost)
        from qrnn.cloud import _submit

        with _open(store) as jobs:
            for job_id in progress.waiting:
                _submit.fetch(jobs, job_id, timeout=timeout)


def _open(store) -> JobStore:
    return JobStore(store, create=True)


# A run trained on a simulated device (``device``, ``shots``, ``gradient`` in its config) is
# rebuilt noise-free here: the machine behind the cloud backend is the device now.
TRAINED_ON_A_SIMULATOR = {"device": None, "shots": None, "gradient": None}


def _round(
    evaluation: Evaluation, store, echo=None, check_only: bool = False
) -> EvaluationProgress:
    """Score the run once through a :class:`_Ledger` (``check_only``: build and move the
    model, which checks it against the machine, and score nothing)."""
    from qrnn.runs import evaluate_run

    ledger = _Ledger(evaluation, store, check_only)
    for placeholder in _PLACEHOLDERS:  # a probe pass, then the pass that submits
        ledger.start_pass(placeholder)
        with contextlib.suppress(_Stop):
            result = evaluate_run(
                evaluation.run_dir,
                overrides=TRAINED_ON_A_SIMULATOR,
                backend=f"cloud:{evaluation.provider}:{evaluation.backend}",
                shots=evaluation.shots,
                seed=evaluation.seed,
                backend_options={"evaluation": ledger, "store": store},
                echo=echo,
            )
        if check_only:
            break
        echo = None
    if check_only:
        return EvaluationProgress(evaluation)
    evaluation.rounds += 1
    evaluation.jobs += len(ledger.submitted)
    if not ledger.waiting and ledger.placeholders:  # never scored from stand-in values
        raise CloudError(
            f"evaluation {evaluation.id}: {ledger.placeholders} circuit(s) have no result and "
            "no job is waiting: their values changed between two scorings with the same "
            "results (a model that is not deterministic in evaluation?)"
        )
    if not ledger.waiting:
        evaluation.status = "done"
        evaluation.metrics = result.metrics
    _save(evaluation, store)
    return EvaluationProgress(evaluation, ledger.submitted, sorted(ledger.waiting), ledger.cost())


class _Stop(Exception):
    """Raised by a check-only ledger at the first circuit call: the model has been built and
    moved to the backend, which is all a check needs."""


class _Ledger:
    """One round's view of an evaluation, used by ``CloudBackend`` (see the module)."""

    def __init__(self, evaluation: Evaluation, store, check_only: bool) -> None:
        self.evaluation = evaluation
        self.store = store
        self.check_only = check_only
        self.submitted: list[str] = []
        self.waiting: set[str] = set()
        self._call = -1
        self._group = 0
        self._placeholder = 0.0
        self._probe: dict[tuple[int, int, int], np.ndarray] | None = None
        self._values: dict[tuple[int, int, int], np.ndarray] = {}
        self._jobs: dict = {}  # job id -> Job, read once a round
        self._ledger = self._read()

    def _read(self) -> dict[tuple[int, int, int], tuple[str, int]]:
        """(call, group, row) -> (job id, circuit index) of the evaluation's jobs so far; a
        failed or cancelled job's rows are submitted again."""
        if not Path(self.store or default_path()).exists():
            return {}
        ledger = {}
        with JobStore(self.store) as jobs:
            for job in sorted(jobs.list(), key=lambda j: j.created_at):
                match = _SOURCE.match(job.source or "")
                if not match or match.group(1) != self.evaluation.id:
                    continue
                if job.status in ("failed", "cancelled"):
                    continue
                call, group = int(match.group(2)), int(match.group(3))
                for index, row in enumerate(json.loads(match.group(4))):
                    ledger[call, group, row] = (job.id, index)
        return ledger

    def start_pass(self, placeholder: float) -> None:
        """Score again with ``placeholder`` for missing results; the first pass is a probe
        (it submits nothing), the second compares its values with the probe's."""
        if self._values:
            self._probe, self._values = self._values, {}
        self._placeholder, self._call = placeholder, -1
        self.placeholders = 0  # rows of this pass answered by a placeholder

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        if self.check_only:
            raise _Stop
        self._call += 1
        self._group = 0
        yield

    def results(self, backend, circuit, rows: np.ndarray, options: dict) -> list[dict]:
        """Per row: its result, or a placeholder while it is pending (see the module)."""
        group = self._group
        self._group += 1
        found: list[dict | None] = [None] * len(rows)
        new = []
        with JobStore(self.store) if self._ledger else contextlib.nullcontext() as jobs:
            for row in range(len(rows)):
                key = (self._call, group, row)
                self._values[key] = rows[row]
                if self._probe is not None and not np.array_equal(self._probe.get(key), rows[row]):
                    continue  # its values depend on a missing result: a later round
                if key in self._ledger:
                    job_id, index = self._ledger[key]
                    found[row] = self._result(jobs, job_id, index, rows[row])
                elif self._probe is not None:
                    new.append(row)
        size = backend.circuits_per_job or max(len(new), 1)
        for start in range(0, len(new), size):
            chunk = new[start : start + size]  # one job each: its source names its rows
            source = f"evaluation {self.evaluation.id} call {self._call} group {group} rows {chunk}"
            (handle,) = backend.submit_rows(circuit, rows[chunk], source, options)
            self.submitted.append(handle.id)
            self.waiting.add(handle.id)
        placeholder = _placeholder(circuit, options, backend.shots, self._placeholder)
        self.placeholders += sum(result is None for result in found)
        return [placeholder if result is None else result for result in found]

    def _result(self, jobs: JobStore, job_id: str, index: int, values: np.ndarray):
        from qrnn.cloud import _submit

        job = self._jobs.get(job_id)
        if job is None:
            job = jobs.get(job_id)
            if job.status in ACTIVE:
                with contextlib.suppress(TimeoutError, JobFailedError):
                    _submit.fetch(jobs, job_id, timeout=0)
                job = jobs.get(job_id)
            self._jobs[job_id] = job
        if job.status in ("failed", "cancelled"):
            raise JobFailedError(
                f"job {job.id} of evaluation {self.evaluation.id} is {job.status}"
                f"{': ' + job.error if job.error else ''}; the next `qrnn jobs fetch "
                f"{self.evaluation.id}` submits its circuits again"
            )
        if job.status in ("pending", "unknown"):
            hint = (
                "run `qrnn jobs recover` first"
                if job.status == "pending"
                else "check the vendor's console"
            )
            raise JobFailedError(
                f"job {job.id} of evaluation {self.evaluation.id} is {job.status} "
                f"({job.error or 'its submit was never confirmed'}): {hint}"
            )
        recorded = (job.parameter_values or [None] * (index + 1))[index]
        if recorded is not None and not np.allclose(recorded, values, rtol=0, atol=1e-6):
            raise CloudError(
                f"evaluation {self.evaluation.id}: the circuit values of job {job.id} differ "
                "from the run's now; the run directory changed since the evaluation began: "
                "start a new one with qrnn submit"
            )
        if job.result is None:
            self.waiting.add(job.id)
            return None
        return {key: job.result[key][index] for key in job.result}

    def cost(self) -> float | None:
        if not self.submitted:
            return 0.0
        total = 0.0
        with JobStore(self.store) as jobs:
            for job_id in self.submitted:
                usd = (jobs.get(job_id).cost or {}).get("usd")
                if usd is None:
                    return None
                total += usd
        return total


def _placeholder(circuit, options: dict, shots: int, value: float) -> dict:
    """What stands in for a missing result: expectation values ``value``, or counts whose
    every qubit reads ``<Z> = value`` (up to the rounding of the shots)."""
    labels = options.get("observables")
    if labels is not None:
        return {"expvals": [value] * len(labels), "stds": [0.0] * len(labels)}
    zeros = round(shots * (1 + value) / 2)
    width = circuit.num_clbits
    counts = {"0" * width: zeros, "1" * width: shots - zeros}
    return {"counts": {key: n for key, n in counts.items() if n}}
