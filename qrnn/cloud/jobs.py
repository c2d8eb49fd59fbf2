"""The job store: one SQLite file that records every cloud submission, so nothing is lost.

A row is written (status ``pending``) *before* anything is sent to a vendor and completed
after: a process killed in between leaves a ``pending`` row that ``qrnn jobs recover``
resolves. Each row holds the provider, backend, the client id (a UUID, also sent to the
vendor as a job tag where it takes one), the vendor's job id, the circuits (QPY), the
observables and parameter values, shots, the cost estimate, every status change with its
time, and the result once fetched. No credential is ever written here.

The store lives at ``$QRNN_HOME/jobs.sqlite`` (``QRNN_HOME`` defaults to ``~/.qrnn``). It runs
in WAL mode, so several qrnn processes may read and write it at once; a writer waits up to
``timeout`` seconds for another's lock. The schema is versioned (``PRAGMA user_version``): a
store written by a newer qrnn is refused, never rewritten. A file that is not a qrnn store
(corrupt, or something else) is reported and left alone: qrnn never creates a store over
existing data.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qrnn.cloud._errors import (
    StoreCorruptError,
    StoreError,
    StoreLockedError,
    StoreMissingError,
    StoreVersionError,
    UnknownJobError,
)

__all__ = [
    "ACTIVE",
    "FINAL",
    "SCHEMA_VERSION",
    "STATUSES",
    "Job",
    "JobStore",
    "default_path",
]

SCHEMA_VERSION = 1
_APPLICATION_ID = 0x51524E4E  # "QRNN": tells our store from any other SQLite file
_SQLITE_HEADER = b"SQLite format 3\x00"

# pending: written, submit not confirmed. unknown: recover could not find it at the vendor.
STATUSES = ("pending", "queued", "running", "done", "failed", "cancelled", "unknown")
FINAL = frozenset({"done", "failed", "cancelled"})
ACTIVE = frozenset({"queued", "running"})

_SCHEMA = """
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,          -- the client UUID, also the vendor-side tag
    provider TEXT NOT NULL,
    backend TEXT NOT NULL,
    kind TEXT NOT NULL,           -- 'counts' (sampler) or 'expval' (estimator)
    status TEXT NOT NULL,
    vendor_id TEXT,
    created_at REAL NOT NULL,     -- row written, before the submit call
    submitted_at REAL,            -- the vendor acknowledged the job
    finished_at REAL,
    shots INTEGER NOT NULL,
    circuits BLOB NOT NULL,       -- QPY, every circuit as submitted (ISA-transpiled)
    observables TEXT,             -- JSON: per circuit, a list of Pauli labels (or null)
    parameter_values TEXT,        -- JSON: per circuit, a list of values (or null)
    cost TEXT,                    -- JSON: the estimate shown before submitting
    source TEXT,                  -- what was submitted, in words (a file, a run directory)
    result TEXT,                  -- JSON, once fetched
    error TEXT
);
CREATE TABLE history (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    at REAL NOT NULL,
    status TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX history_job ON history(job_id);
CREATE INDEX jobs_created ON jobs(created_at);
"""


def default_path() -> Path:
    """``$QRNN_HOME/jobs.sqlite``, ``QRNN_HOME`` defaulting to ``~/.qrnn``."""
    home = os.environ.get("QRNN_HOME") or Path.home() / ".qrnn"
    return Path(home).expanduser() / "jobs.sqlite"


@dataclass(frozen=True)
class Job:
    """One row of the store.

    Attributes:
        id: the client UUID (a string of 36 characters).
        provider, backend: where it was sent, e.g. ``"ibm"``, ``"fake_manila"``.
        kind: ``"counts"`` (sampled bitstrings) or ``"expval"`` (expectation values).
        status: one of :data:`STATUSES`.
        vendor_id: the vendor's job id, or None before the vendor acknowledged it.
        created_at, submitted_at, finished_at: UNIX times (seconds), None until reached.
        shots: samples per circuit.
        observables: per circuit, a list of Pauli labels (``kind == "expval"``) or None.
        parameter_values: per circuit, a list of floats in ``circuit.parameters`` order,
            or None for circuits without parameters.
        cost: the estimate shown before submitting (see ``qrnn.cloud.estimate_cost``).
        source: what was submitted, in words.
        result: once fetched: ``{"counts": [dict, ...]}`` or
            ``{"expvals": [[float, ...], ...], "stds": [[float, ...], ...]}``, one entry
            per circuit.
        error: the vendor's or qrnn's reason when the job failed or is unknown.
        history: ``(time, status, detail)`` for every status change, oldest first.
    """

    id: str
    provider: str
    backend: str
    kind: str
    status: str
    vendor_id: str | None
    created_at: float
    submitted_at: float | None
    finished_at: float | None
    shots: int
    observables: list | None
    parameter_values: list | None
    cost: dict | None
    source: str | None
    result: dict | None
    error: str | None
    history: list[tuple[float, str, str | None]] = field(default_factory=list)

    @property
    def final(self) -> bool:
        """Whether the job can no longer change (done, failed or cancelled)."""
        return self.status in FINAL


class JobStore:
    """The SQLite job store (see the module docstring).

    Args:
        path: the store file (default :func:`default_path`).
        create: create the store (and its folder) when it does not exist; without it a
            missing store is a :class:`StoreMissingError`.
        timeout: seconds a write waits for another process's lock before
            :class:`StoreLockedError`.

    Raises:
        StoreMissingError, StoreCorruptError, StoreVersionError, StoreLockedError.
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = False, timeout=10.0):
        self.path = Path(path) if path is not None else default_path()
        self.timeout = float(timeout)
        self._check_file(create)
        try:
            self._connection = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the job store {self.path}: {error}") from None
        try:
            self._open()
        except BaseException:
            self._connection.close()
            raise

    # ------------------------------------------------------------------ opening

    def _check_file(self, create: bool) -> None:
        path = self.path
        wal = path.with_name(path.name + "-wal")
        if path.is_dir():
            raise StoreCorruptError(f"the job store {path} is a folder, not a file")
        if not path.exists():
            if wal.exists() and wal.stat().st_size > 0:
                raise StoreCorruptError(
                    f"the job store {path} is missing but its write-ahead log {wal.name} is "
                    "there: the store was moved or deleted. Put it back; qrnn will not start "
                    "a new store beside the log"
                )
            if not create:
                raise StoreMissingError(
                    f"no job store at {path}: nothing has been submitted from here yet (the "
                    "store lives in $QRNN_HOME, default ~/.qrnn)"
                )
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(
                    f"cannot create the folder of the job store {path}: {error}"
                ) from None
            return
        try:
            with path.open("rb") as handle:
                header = handle.read(len(_SQLITE_HEADER))
        except OSError as error:
            raise StoreError(f"cannot read the job store {path}: {error}") from None
        # An empty file is a store whose creation had not written its first page yet.
        if header and header != _SQLITE_HEADER:
            raise StoreCorruptError(
                f"{path} is not a SQLite database (corrupt, or another file): qrnn will not "
                "overwrite it. Move it away to start a new job store; the jobs it recorded are "
                "still in each vendor's console"
            )

    def _open(self) -> None:
        with self._errors("open"):
            self._connection.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            version = self._pragma("user_version")
            if version > SCHEMA_VERSION:
                raise StoreVersionError(
                    f"the job store {self.path} has schema version {version}, written by a "
                    f"newer qrnn; this qrnn reads version {SCHEMA_VERSION}. Upgrade qrnn; the "
                    "store is left as it is"
                )
            if version == 0:
                self._initialise()
            elif self._pragma("application_id") != _APPLICATION_ID:
                raise StoreCorruptError(f"{self.path} is a SQLite database but not a job store")
            if self._pragma("journal_mode") != "wal":
                self._connection.execute("PRAGMA journal_mode = WAL")

    def _pragma(self, name: str):
        return self._connection.execute(f"PRAGMA {name}").fetchone()[0]

    def _initialise(self) -> None:
        """Create the schema in an empty database (under the write lock: two processes that
        create the store at once create it once)."""
        with self._transaction():
            if self._pragma("user_version") != 0:
                return  # another process created it while we waited
            tables = self._connection.execute("SELECT name FROM sqlite_master").fetchall()
            if tables:
                raise StoreCorruptError(
                    f"{self.path} is a SQLite database of something else (tables "
                    f"{sorted(t[0] for t in tables)}), not a job store: qrnn will not write "
                    "into it"
                )
            for statement in _SCHEMA.split(";"):  # (executescript would commit first)
                if statement.strip():
                    self._connection.execute(statement)
            self._connection.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            self._connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except sqlite3.OperationalError as error:
            text = str(error)
            if "locked" in text or "busy" in text:
                raise StoreLockedError(
                    f"the job store {self.path} is locked by another process (waited "
                    f"{self.timeout:g} s to {action}); try again when it has finished"
                ) from None
            raise self._corrupt(action, error) from None
        except sqlite3.DatabaseError as error:
            raise self._corrupt(action, error) from None

    def _corrupt(self, action: str, error: Exception) -> StoreCorruptError:
        return StoreCorruptError(
            f"cannot {action} the job store {self.path}: {error}. qrnn will not repair or "
            "overwrite it; move it away to start a new one (sqlite3's .recover may save "
            "its rows)"
        )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock at once (BEGIN IMMEDIATE)."""
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ writing

    def create(
        self,
        *,
        provider: str,
        backend: str,
        kind: str,
        circuits: Sequence[Any],
        shots: int,
        observables: list | None = None,
        parameter_values: list | None = None,
        cost: dict | None = None,
        source: str | None = None,
    ) -> Job:
        """Write a ``pending`` row for a submission about to be sent, with a new client id.

        Args:
            circuits: the ``QuantumCircuit``s exactly as they will be sent.
            observables: per circuit, a list of Pauli labels (``kind == "expval"``).
            parameter_values: per circuit, a list of floats, or None.
        """
        if kind not in ("counts", "expval"):
            raise ValueError(f"kind must be 'counts' or 'expval', got {kind!r}")
        job_id = str(uuid.uuid4())
        now = time.time()
        blob = _dump_circuits(circuits)
        with self._errors("write a job into"), self._transaction() as db:
            db.execute(
                "INSERT INTO jobs (id, provider, backend, kind, status, created_at, shots, "
                "circuits, observables, parameter_values, cost, source) "
                "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
                (
                    job_id,
                    provider,
                    backend,
                    kind,
                    now,
                    int(shots),
                    blob,
                    _json(observables),
                    _json(parameter_values),
                    _json(cost),
                    source,
                ),
            )
            db.execute(
                "INSERT INTO history VALUES (?, ?, 'pending', ?)",
                (job_id, now, "written before submitting"),
            )
        return self.get(job_id)

    def mark_submitted(self, job_id: str, vendor_id: str, status: str = "queued") -> Job:
        """The vendor acknowledged the job: record its id and its first status."""
        self._update(job_id, status, f"vendor job id {vendor_id}", vendor_id=vendor_id)
        return self.get(job_id)

    def set_status(self, job_id: str, status: str, detail: str | None = None) -> Job:
        """Record a status (a history entry only when it changed; ``detail`` says why)."""
        self._update(job_id, status, detail)
        return self.get(job_id)

    def store_result(self, job_id: str, result: dict) -> Job:
        """Record a fetched result; the job is ``done``."""
        self._update(job_id, "done", "result fetched", result=_json(result))
        return self.get(job_id)

    def _update(self, job_id: str, status: str, detail: str | None, **columns: Any) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        now = time.time()
        with self._errors("update a job in"), self._transaction() as db:
            row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise UnknownJobError(f"no job {job_id!r} in {self.path}")
            if "vendor_id" in columns:
                columns["submitted_at"] = now
            if status in FINAL:
                columns["finished_at"] = now
            if status in ("failed", "cancelled", "unknown") and detail:
                columns["error"] = detail
            columns["status"] = status
            assignments = ", ".join(f"{name} = ?" for name in columns)
            db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*columns.values(), job_id))
            if row[0] != status or detail is not None:
                db.execute("INSERT INTO history VALUES (?, ?, ?, ?)", (job_id, now, status, detail))

    # ------------------------------------------------------------------ reading

    def get(self, job_id: str) -> Job:
        """The job with this id, or with this unique prefix (at least 4 characters).

        Raises:
            UnknownJobError: no job, or a prefix shared by several.
        """
        job_id = str(job_id).strip()
        with self._errors("read"):
            rows = self._connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchall()
            if not rows and len(job_id) >= 4:
                rows = self._connection.execute(
                    "SELECT * FROM jobs WHERE id LIKE ? ESCAPE '\\'",
                    (job_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
                ).fetchall()
            if len(rows) > 1:
                raise UnknownJobError(
                    f"job id prefix {job_id!r} matches {len(rows)} jobs; give more characters"
                )
            if not rows:
                recent = [job.id for job in self.list(limit=5)]
                known = f"; recent jobs: {', '.join(recent)}" if recent else "; the store is empty"
                raise UnknownJobError(
                    f"no job {job_id!r} in {self.path}{known} (qrnn jobs list shows them all)"
                )
            return self._job(rows[0], with_history=True)

    def list(self, *, status: str | None = None, limit: int | None = None) -> list[Job]:
        """Jobs newest first (without their history), optionally of one status."""
        query, arguments = "SELECT * FROM jobs", []
        if status is not None:
            query, arguments = query + " WHERE status = ?", [status]
        query += " ORDER BY created_at DESC"
        if limit is not None:
            query, arguments = query + " LIMIT ?", [*arguments, int(limit)]
        with self._errors("read"):
            rows = self._connection.execute(query, arguments).fetchall()
            return [self._job(row, with_history=False) for row in rows]

    def circuits(self, job_id: str) -> list:
        """The job's circuits, read back from QPY."""
        job_id = self.get(job_id).id
        with self._errors("read"):
            (blob,) = self._connection.execute(
                "SELECT circuits FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        from qiskit import qpy

        return list(qpy.load(io.BytesIO(blob)))

    def _job(self, row: sqlite3.Row | tuple, *, with_history: bool) -> Job:
        names = [
            "id", "provider", "backend", "kind", "status", "vendor_id", "created_at",
            "submitted_at", "finished_at", "shots", "circuits", "observables",
            "parameter_values", "cost", "source", "result", "error",
        ]  # fmt: skip
        values = dict(zip(names, row, strict=True))
        values.pop("circuits")
        for name in ("observables", "parameter_values", "cost", "result"):
            values[name] = None if values[name] is None else json.loads(values[name])
        history = []
        if with_history:
            history = [
                (at, status, detail)
                for at, status, detail in self._connection.execute(
                    "SELECT at, status, detail FROM history WHERE job_id = ? ORDER BY rowid",
                    (values["id"],),
                )
            ]
        return Job(**values, history=history)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _dump_circuits(circuits: Sequence[Any]) -> bytes:
    from qiskit import qpy

    buffer = io.BytesIO()
    qpy.dump(list(circuits), buffer)
    return buffer.getvalue()
