"""What a worker does with one trial: train its run directory, or continue it.

This runs on Dask workers: it imports torch only when called, and returns plain data (never
raises for a trial that fails, so that one failure cannot stop the others or be retried as
if the worker had died).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

__all__ = ["run_trial"]


def run_trial(config: dict[str, Any], threads: int) -> dict[str, Any]:
    """Train the run directory ``config`` describes (``output_dir / name``) with ``threads``
    torch threads; an unfinished directory (killed, interrupted, failed) is continued from its
    checkpoints, a finished one only read.

    Returns:
        ``{"status": "finished", "seconds": float}`` or ``{"status": "failed", "error":
        "Type: message", "seconds": float}``.
    """
    import torch

    from qrnn.config import RunConfig
    from qrnn.runs import read_run_state, resume_run, train_run

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    try:
        run_config = RunConfig.from_mapping(config)
        run_dir = Path(run_config.output_dir) / str(run_config.name)
        if not (run_dir / "state.json").is_file():
            train_run(run_config, overwrite=run_dir.exists(), progress=False, echo=None)
        elif read_run_state(run_dir)["state"] != "finished":
            resume_run(run_dir, progress=False, echo=None)
    except Exception as error:  # recorded with the trial; the sweep goes on
        message = " ".join(str(error).split())
        return {
            "status": "failed",
            "error": f"{type(error).__name__}: {message}",
            "seconds": time.perf_counter() - start,
        }
    return {"status": "finished", "seconds": time.perf_counter() - start}
