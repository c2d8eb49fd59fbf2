"""The job store: rows survive, concurrent writers lose nothing, and a store that is corrupt,
locked, missing or newer is reported and never recreated over existing data."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.quantum_info import Operator

from qrnn.cloud import (
    JobStore,
    StoreCorruptError,
    StoreLockedError,
    StoreMissingError,
    StoreVersionError,
    UnknownJobError,
)
from qrnn.cloud.jobs import SCHEMA_VERSION, default_path


def _circuit() -> QuantumCircuit:
    theta = Parameter("theta")
    circuit = QuantumCircuit(2, name="bell")
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    return circuit


def _new_job(store: JobStore, **overrides):
    options = {
        "provider": "ibm",
        "backend": "fake_manila",
        "kind": "expval",
        "circuits": [_circuit()],
        "shots": 100,
        "observables": [["ZZ", "XI"]],
        "parameter_values": [[0.5]],
        "cost": {"usd": 0.0, "note": "simulator"},
        "source": "test",
    }
    return store.create(**(options | overrides))


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_default_store_lives_in_qrnn_home(tmp_path, monkeypatch):
    monkeypatch.setenv("QRNN_HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / "jobs.sqlite"
    with JobStore(create=True) as store:
        assert store.path == tmp_path / "home" / "jobs.sqlite"
        assert store._pragma("journal_mode") == "wal"


def test_a_job_row_keeps_everything_through_its_life(tmp_path):
    with JobStore(tmp_path / "jobs.sqlite", create=True) as store:
        job = _new_job(store)
        assert job.status == "pending" and job.vendor_id is None and len(job.id) == 36
        store.mark_submitted(job.id, "vendor-123")
        store.set_status(job.id, "running")
        store.set_status(job.id, "running")  # unchanged: no second history entry
        store.store_result(job.id, {"expvals": [[0.9, 0.1]], "stds": [[0.01, 0.02]]})
    with JobStore(tmp_path / "jobs.sqlite") as store:  # another process would see the same
        job = store.get(job.id)
        (circuit,) = store.circuits(job.id)
    assert [status for _, status, _ in job.history] == ["pending", "queued", "running", "done"]
    assert job.vendor_id == "vendor-123" and job.final
    assert job.created_at <= job.submitted_at <= job.finished_at
    assert job.observables == [["ZZ", "XI"]] and job.parameter_values == [[0.5]]
    assert job.result["expvals"] == [[0.9, 0.1]] and job.cost["usd"] == 0.0
    values = {circuit.parameters[0]: 0.5}
    expected = _circuit().assign_parameters([0.5])
    assert Operator(circuit.assign_parameters(values)).equiv(Operator(expected))


def test_a_failed_job_keeps_its_reason(tmp_path):
    with JobStore(tmp_path / "jobs.sqlite", create=True) as store:
        job = _new_job(store)
        store.mark_submitted(job.id, "v1")
        failed = store.set_status(job.id, "failed", "the vendor says: circuit too deep")
    assert failed.error == "the vendor says: circuit too deep" and failed.final


def test_jobs_are_found_by_a_unique_prefix_and_listed_newest_first(tmp_path):
    with JobStore(tmp_path / "jobs.sqlite", create=True) as store:
        first, second = _new_job(store), _new_job(store, kind="counts", observables=None)
        assert store.get(first.id[:8]).id == first.id
        assert [job.id for job in store.list()] == [second.id, first.id]
        assert [job.id for job in store.list(status="pending", limit=1)] == [second.id]
        with pytest.raises(UnknownJobError, match=r"no job 'nope-0000'.*recent jobs: "):
            store.get("nope-0000")


def test_an_ambiguous_prefix_asks_for_more_characters(tmp_path, monkeypatch):
    import uuid

    ids = iter([uuid.UUID("abcd0000-0000-4000-8000-000000000001"),
                uuid.UUID("abcd0000-0000-4000-8000-000000000002")])  # fmt: skip
    monkeypatch.setattr(uuid, "uuid4", lambda: next(ids))
    with JobStore(tmp_path / "jobs.sqlite", create=True) as store:
        _new_job(store), _new_job(store)
        with pytest.raises(UnknownJobError, match="'abcd0000' matches 2 jobs"):
            store.get("abcd0000")
        assert store.get("abcd0000-0000-4000-8000-000000000002").id.endswith("2")
        with pytest.raises(UnknownJobError, match="no job 'abc'"):  # too short to be a prefix
            store.get("abc")


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "jobs.sqlite"
    writer = textwrap.dedent(
        f"""
        from qiskit import QuantumCircuit
        from qrnn.cloud import JobStore
        store = JobStore({str(path)!r}, create=True)
        for _ in range(15):
            job = store.create(provider="ibm", backend="b", kind="counts",
                               circuits=[QuantumCircuit(1)], shots=1)
            store.mark_submitted(job.id, "v-" + job.id)
        """
    )
    processes = [subprocess.Popen([sys.executable, "-c", writer]) for _ in range(2)]
    assert [process.wait(timeout=120) for process in processes] == [0, 0]
    with JobStore(path) as store:
        jobs = store.list()
    assert len({job.id for job in jobs}) == 30
    assert all(job.vendor_id == "v-" + job.id for job in jobs)


def test_a_missing_store_is_an_error_unless_asked_to_create_it(tmp_path):
    with pytest.raises(StoreMissingError, match=r"no job store at .*jobs\.sqlite"):
        JobStore(tmp_path / "jobs.sqlite")
    assert not (tmp_path / "jobs.sqlite").exists()


def test_a_store_whose_database_vanished_beside_its_log_is_not_recreated(tmp_path):
    path = tmp_path / "jobs.sqlite"
    (tmp_path / "jobs.sqlite-wal").write_bytes(b"\x37\x7f\x06\x82" + bytes(60))
    with pytest.raises(StoreCorruptError, match="moved or deleted"):
        JobStore(path, create=True)
    assert not path.exists()


@pytest.mark.parametrize("create", [False, True])
def test_a_file_that_is_not_a_database_is_left_alone(tmp_path, create):
    path = tmp_path / "jobs.sqlite"
    path.write_bytes(b"these are my notes, not a database\n" * 100)
    before = _digest(path)
    with pytest.raises(StoreCorruptError, match=r"not a SQLite database.*will not overwrite"):
        JobStore(path, create=create)
    assert _digest(path) == before


def test_a_damaged_store_is_reported_and_left_alone(tmp_path):
    path = tmp_path / "jobs.sqlite"
    with JobStore(path, create=True) as store:
        for _ in range(30):
            _new_job(store)
    with sqlite3.connect(path) as connection:  # fold the log into the file
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    page = 4096
    data[page : 4 * page] = b"\xff" * (3 * page)  # schema and rows overwritten
    path.write_bytes(bytes(data))
    before = _digest(path)
    with pytest.raises(StoreCorruptError, match="will not repair or overwrite"):
        JobStore(path, create=True).list()
    assert _digest(path) == before


def test_another_programs_database_is_not_written_into(tmp_path):
    path = tmp_path / "jobs.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    before = _digest(path)
    with pytest.raises(StoreCorruptError, match="not a job store"):
        JobStore(path, create=True)
    assert _digest(path) == before


def test_a_store_from_a_newer_qrnn_is_refused_and_not_rewritten(tmp_path):
    path = tmp_path / "jobs.sqlite"
    with JobStore(path, create=True) as store:
        _new_job(store)
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = _digest(path)
    with pytest.raises(StoreVersionError, match=f"schema version {SCHEMA_VERSION + 1}.*newer"):
        JobStore(path)
    assert _digest(path) == before


def test_a_store_locked_by_another_writer_is_a_clear_error(tmp_path):
    path = tmp_path / "jobs.sqlite"
    JobStore(path, create=True).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        with JobStore(path, timeout=0.2) as store:
            assert store.list() == []  # WAL: reading goes on beside the writer
            with pytest.raises(StoreLockedError, match=r"locked by another process \(waited"):
                _new_job(store)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with JobStore(path) as store:  # the lock released: the store works again
        assert _new_job(store).status == "pending"
