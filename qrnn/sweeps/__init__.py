"""Experiment sweeps on Dask: ``qrnn.sweep(SWEEP_FILE)`` and ``qrnn sweep SWEEP_FILE``.

A sweep file (``_spec.py`` describes it) names RunConfig keys to search, by grid or at
random, and the seeds; each trial is an ordinary run directory (``qrnn.runs``), trained on a
Dask cluster (``_cluster.py``: a local one by default, or an existing scheduler). Finished
trials are skipped when the sweep runs again, unfinished ones continued; a failing trial is
recorded with its error. The results are gathered into one CSV, a Markdown table beside the
persistence and ridge references, and a plot (``_table.py``).

Importing this package needs neither torch nor Dask; running a sweep needs the
``distributed`` extra (``pip install "qrnn-iontrap[distributed]"``).
"""

from __future__ import annotations

from qrnn.sweeps._run import SweepResult, sweep
from qrnn.sweeps._spec import Sweep, SweepError, Trial, load_sweep, make_sweep, trial_id_of

__all__ = [
    "Sweep",
    "SweepError",
    "SweepResult",
    "Trial",
    "load_sweep",
    "make_sweep",
    "sweep",
    "trial_id_of",
]
