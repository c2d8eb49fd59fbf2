"""Atomic file writes: the training loop's checkpoints and plots, a run directory's JSON files.

A reader (or a resumed run) sees either the previous file or the complete new one, never a
half-written file: the content goes to a temporary file beside the target, which is flushed
to disk and then renamed over it (``os.replace`` is atomic on POSIX and Windows within one
file system). The temporary file is created as ``open()`` would create it, so the result has
the permissions the user's umask gives (``tempfile.mkstemp`` would make it 0600).

A process killed mid-write (``kill -9``, power loss) leaves its temporary file behind:
``.<name>.<random>.tmp``. :func:`remove_temporaries` deletes them when nobody else writes
into the folder (a resumed run does it first).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["remove_temporaries", "write_atomically"]

_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}\.tmp")  # .<name>.<random>.tmp


def _new_temporary(path: Path) -> Path:
    """Create an empty, unique ``.<name>.<random>.tmp`` beside ``path`` (mode 0666 & ~umask)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:  # pragma: no cover - 2**32 names
            continue
        return tmp


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    Missing parent folders are created. A failure (or an interruption) leaves the previous
    ``path`` untouched and no temporary file behind. Returns ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temporary(path)
    try:
        write(tmp)
        _fsync(tmp)  # the content is on disk before the name points at it
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def remove_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files that killed :func:`write_atomically` calls left in ``folder``
    and its subfolders; returns them. Only safe while no other process writes there."""
    leftovers = [
        path
        for path in folder.rglob(".*.tmp")
        if path.is_file() and _TEMPORARY.fullmatch(path.name)
    ]
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers
