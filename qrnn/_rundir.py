"""A run directory's life on disk: its state file, its lock, its creation and replacement.

``state.json`` says what the run is doing, written atomically at every change::

    {"state": "running" | "finished" | "failed" | "interrupted",
     "stage": "model" | "baseline" | null,   what was training (null once finished)
     "started": ISO 8601 time of the first start, "updated": of this write,
     "pid": the process that wrote it, "error": "Type: message" of a failed run, else null}

A process that trains a run holds an exclusive ``flock`` on the run directory; the kernel
drops it when the process ends, however it ends. So a ``"running"`` state whose lock is free
belongs to a process that was killed (``kill -9``, power loss) before it could write
``"interrupted"`` or ``"failed"``. On systems without ``fcntl`` (Windows) the lock is a no-op
and a ``"running"`` run is taken to be stopped.

A new run directory appears complete or not at all: it is filled (``config.json``,
``state.json``) as a hidden sibling ``.<name>.new-<random>`` and renamed into place. Replacing
a run (``overwrite``) renames the old directory aside (``.<name>.old-<random>``) before the
new one takes its name, then deletes it: a crash leaves the old run, or the new one, or
neither under the name (with hidden leftovers beside it, deleted when that name is next
created), never a mixture.
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import json
import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from qrnn._atomic import write_atomically
from qrnn.config import ConfigError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = [
    "STATES",
    "STATE_NAME",
    "RunLock",
    "RunStateError",
    "check_output_dir",
    "check_replaceable",
    "create_run_dir",
    "read_state",
    "unfinished_message",
    "write_state",
]

STATE_NAME = "state.json"
STATES = ("running", "finished", "failed", "interrupted")
_STAGES = ("model", "baseline", None)


class RunStateError(ValueError):
    """A run directory whose state does not allow what was asked: evaluating a run that has
    not finished, resuming a finished run or one that another process is training, a state
    file that cannot be read. The message names the directory and what to do."""


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- lock


class RunLock:
    """An exclusive lock on a run directory, held by the process that trains it.

    Raises RunStateError if another process holds it. The lock belongs to the directory
    itself (not its name), so it follows the directory when it is renamed.
    """

    def __init__(self, run_dir: Path) -> None:
        self._descriptor: int | None = None
        if fcntl is None:  # pragma: no cover - Windows
            return
        descriptor = os.open(run_dir, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            state = _read_file(run_dir / STATE_NAME)
            pid = f" (process {state['pid']})" if state and state.get("pid") else ""
            raise RunStateError(
                f"run {run_dir} is being trained by another process{pid}; wait for it to end"
            ) from None
        except BaseException:
            os.close(descriptor)
            raise
        self._descriptor = descriptor

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing the last descriptor drops the flock
            self._descriptor = None


def _is_locked(run_dir: Path) -> bool:
    try:
        RunLock(run_dir).release()
    except RunStateError:
        return True
    return False


# ----------------------------------------------------------------------------- state


def _read_file(path: Path) -> dict[str, Any] | None:
    try:
        values = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:  # JSONDecodeError and UnicodeDecodeError
        raise RunStateError(f"cannot read the run state {path}: {error}") from None
    if not isinstance(values, dict) or values.get("state") not in STATES:
        raise RunStateError(
            f"{path} is not a run state: expected a mapping with 'state' one of {list(STATES)}"
        )
    return values


def read_state(run_dir: Path) -> dict[str, Any]:
    """The content of ``run_dir/state.json``, and for a ``"running"`` run ``"active"``:
    whether a process still trains it. A directory of an older qrnn without ``state.json``
    is ``"finished"`` if it has ``metrics.json``, else ``"failed"``."""
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run directory at {run_dir}")
    if not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run directory: no config.json")
    values = _read_file(run_dir / STATE_NAME)
    if values is None:
        finished = (run_dir / "metrics.json").is_file()
        values = {
            "state": "finished" if finished else "failed",
            "stage": None if finished else "model",
            "error": None if finished else "no state.json and no metrics.json (older qrnn)",
        }
    if values["state"] == "running":
        values["active"] = _is_locked(run_dir)
    return values


def write_state(
    run_dir: Path,
    state: str,
    *,
    stage: str | None,
    started: str | None,
    error: BaseException | None = None,
) -> dict[str, Any]:
    """Write ``run_dir/state.json`` atomically; returns what was written."""
    if state not in STATES or stage not in _STAGES:
        raise ValueError(f"state must be one of {STATES}, stage one of {_STAGES}")
    now = _now()
    values = {
        "state": state,
        "stage": stage,
        "started": started or now,
        "updated": now,
        "pid": os.getpid(),
        "error": None if error is None else f"{type(error).__name__}: {error}",
    }
    text = json.dumps(values, indent=2) + "\n"
    write_atomically(run_dir / STATE_NAME, lambda tmp: tmp.write_text(text))
    return values


def unfinished_message(run_dir: Path, values: dict[str, Any]) -> str:
    """One line: why the run in ``run_dir`` (state ``values``, not finished) is not finished
    and what to do about it."""
    stage = values.get("stage") or "model"
    resume = f"resume it with: qrnn train --resume {run_dir}"
    state = values["state"]
    if state == "running" and values.get("active"):
        return (
            f"run {run_dir} is not finished: process {values.get('pid')} is still training "
            f"the {stage}"
        )
    if state == "running":
        why = f"its process ended while training the {stage} without recording why (killed?)"
    elif state == "interrupted":
        why = f"it was interrupted while training the {stage}"
    else:
        error = str(values.get("error") or "unknown error").splitlines()[0]
        why = f"it failed while training the {stage} ({error})"
        resume += ", or train it again with --overwrite"
    return f"run {run_dir} is not finished: {why}; {resume}"


# ----------------------------------------------------------------------------- creation


def _sibling(run_dir: Path, kind: str) -> Path:
    return run_dir.with_name(f".{run_dir.name}.{kind}-{secrets.token_hex(4)}")


def _remove_leftovers(run_dir: Path) -> None:
    """Delete the hidden siblings that a crash while creating or replacing ``run_dir`` left
    (``.<name>.new-*``, ``.<name>.old-*``), unless a live process holds one."""
    for kind in ("new", "old"):
        for leftover in run_dir.parent.glob(f".{glob.escape(run_dir.name)}.{kind}-*"):
            if leftover.is_dir() and not leftover.is_symlink() and not _is_locked(leftover):
                shutil.rmtree(leftover, ignore_errors=True)


def check_output_dir(output_dir: Path) -> None:
    """Raise ConfigError if ``output_dir`` or a folder above it is a file."""
    for folder in (output_dir, *output_dir.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ConfigError(
                    f"output_dir {output_dir}: {folder} is a file, not a folder; choose "
                    "another output directory"
                )
            return


def create_run_dir(run_dir: Path, config: dict[str, Any], *, overwrite: bool) -> RunLock:
    """Create ``run_dir`` holding ``config.json`` and a ``"running"`` ``state.json``, locked by
    this process (the returned lock). With ``overwrite`` an existing run directory is
    replaced; without, an existing name is a ConfigError."""
    check_output_dir(run_dir.parent)
    try:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        _remove_leftovers(run_dir)
        new = _sibling(run_dir, "new")
        new.mkdir()
    except OSError as error:
        raise ConfigError(f"cannot create run directory {run_dir}: {error}") from None
    lock = RunLock(new)
    old = None
    try:
        text = json.dumps(config, indent=2) + "\n"
        write_atomically(new / "config.json", lambda tmp: tmp.write_text(text))
        write_state(new, "running", stage="model", started=None)
        if run_dir.exists() or run_dir.is_symlink():
            check_replaceable(run_dir, overwrite=overwrite)
            old_lock = RunLock(run_dir)  # nobody may start training the old run meanwhile
            try:
                old = _sibling(run_dir, "old")
                os.rename(run_dir, old)
            finally:
                old_lock.release()
        os.rename(new, run_dir)
    except BaseException:
        lock.release()
        shutil.rmtree(new, ignore_errors=True)
        if old is not None and not run_dir.exists():
            with contextlib.suppress(OSError):
                os.rename(old, run_dir)  # put the old run back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return lock


def check_replaceable(run_dir: Path, *, overwrite: bool) -> None:
    """Raise unless the existing ``run_dir`` may be replaced: ConfigError without
    ``overwrite`` or when it is not a run directory, RunStateError while it trains."""
    if not overwrite:
        try:
            state = read_state(run_dir)["state"]
        except FileNotFoundError:  # a file, or a folder without config.json
            raise ConfigError(
                f"{run_dir} already exists and is not a run directory; choose another name"
            ) from None
        resume = "" if state == "finished" else f", continue it with --resume {run_dir},"
        raise ConfigError(
            f"run directory {run_dir} already exists ({state}); choose another name{resume} "
            "or replace it with --overwrite"
        )
    if run_dir.is_symlink() or not (run_dir / "config.json").is_file():
        raise ConfigError(
            f"{run_dir} exists and is not a run directory (no config.json); not replacing it"
        )
    if _is_locked(run_dir):
        raise RunStateError(f"run {run_dir} is being trained by another process; not replacing it")
