"""Atomic file writes: the training loop's checkpoints and plots, a run directory's JSON files.

A reader (or a resumed run) sees either the previous file or the complete new one, never a
half-written file: the content goes to a temporary file beside the target, which is then
renamed over it (``os.replace`` is atomic on POSIX and Windows within one file system).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["write_atomically"]


def write_atomically(path: Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``.

    Missing parent folders are created. A failure (or an interruption) leaves the previous
    ``path`` untouched and no temporary file behind. Returns ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
