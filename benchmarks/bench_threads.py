"""Wall time of ``qrnn train`` with 1 and 2 torch threads, on a quiet machine and next to
busy neighbours.

Each run is a fresh ``qrnn train --quiet --threads N`` process (run directory in a temporary
folder), timed from start to exit: import, data, both models' training, plots and checkpoints. A
neighbour is another process that keeps one core busy (``--neighbour spin``: a pure-Python
loop; ``numpy``: 512 x 512 products on one BLAS thread, which also loads caches and memory),
started before the run and stopped after it. Conditions alternate within each round, so a
slow spell of a shared machine hits all of them. "others" is the CPU time the rest of the
machine used during the run (from /proc/stat, minus the run's own CPU time), in cores: about
0 when quiet, about the number of neighbours with them; a larger figure means other work
disturbed the run (``--wait-idle`` starts each run only when the machine is idle).

    python benchmarks/bench_threads.py                         # `make train`, 3 rounds
    python benchmarks/bench_threads.py --workloads qlstm4 qrnn3 --neighbours 2 --wait-idle
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

# name -> `qrnn train` arguments
WORKLOADS = {
    "default": [],  # `make train`: the default QRNN and its matched LSTM, 12 epochs
    "qlstm4": ["--model", "qlstm", "--qubits", "4", "--epochs", "20"],  # README example
    "qrnn3": ["--epochs", "3", "--baseline", "none"],  # the default QRNN alone, 3 epochs
}
# What a neighbour runs: a pure-Python loop (one core, no memory traffic), or numpy products
# of 512 x 512 matrices on one BLAS thread (one core, and the caches and memory bus).
NEIGHBOURS = {
    "spin": "while True: pass",
    "numpy": "import numpy as np\na = np.random.rand(512, 512)\nwhile True: a @ a",
}


def _busy_jiffies() -> int:
    """Non-idle CPU time of the whole machine so far, in clock ticks (/proc/stat)."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle


def wait_until_idle(limit: float = 0.15, most: float = 900.0) -> float:
    """Wait (at most ``most`` seconds) until the machine's other work uses under ``limit``
    cores over 2 s; returns what it used then."""
    tick, deadline = os.sysconf("SC_CLK_TCK"), time.monotonic() + most
    while True:
        before = _busy_jiffies()
        time.sleep(2.0)
        used = (_busy_jiffies() - before) / tick / 2.0
        if used < limit or time.monotonic() > deadline:
            return used


def run_once(
    workload: str, threads: int, neighbours: int, kind: str, folder: str
) -> tuple[float, float, float]:
    """(wall seconds, CPU cores used by other processes meanwhile, cores the run used) of
    one training run next to ``neighbours`` busy processes of ``kind``."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    neighbour = [sys.executable, "-c", NEIGHBOURS[kind]]
    spinners = [subprocess.Popen(neighbour, env=env) for _ in range(neighbours)]
    try:
        if spinners:
            time.sleep(1.0)  # let them start
        argv = ["train", *WORKLOADS[workload], "--quiet", "--output-dir", folder]
        command = [sys.executable, "-m", "qrnn", *argv, "--threads", str(threads)]
        before_busy, before_self = _busy_jiffies(), os.times()
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        after_busy, after_self = _busy_jiffies(), os.times()
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    tick = os.sysconf("SC_CLK_TCK")
    own = (after_self.children_user - before_self.children_user) + (
        after_self.children_system - before_self.children_system
    )
    others = max((after_busy - before_busy) / tick - own, 0.0) / wall
    return wall, others, own / wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS), default=["default"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--neighbours", type=int, default=1, help="busy processes (1)")
    parser.add_argument("--neighbour", choices=sorted(NEIGHBOURS), default="spin")
    parser.add_argument(
        "--wait-idle", action="store_true", help="start each run when the machine is idle"
    )
    args = parser.parse_args(argv)
    conditions = [(n, busy) for busy in (False, True) for n in args.threads]
    results: dict[tuple[str, int, bool], list[tuple[float, float, float]]] = {}
    print(f"{os.cpu_count()} CPUs; load average at start {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for round_ in range(args.rounds):
            for workload in args.workloads:
                # alternate the order each round: no condition always runs first
                order = conditions if round_ % 2 == 0 else conditions[::-1]
                for threads, busy in order:
                    if args.wait_idle:
                        wait_until_idle()
                    count = args.neighbours if busy else 0
                    wall, others, own = run_once(workload, threads, count, args.neighbour, folder)
                    results.setdefault((workload, threads, busy), []).append((wall, others, own))
                    load = f"{count} {args.neighbour}" if busy else "quiet"
                    print(
                        f"round {round_} {workload:8s} {threads} thread(s) {load:9s} "
                        f"{wall:7.1f} s  others {others:.2f} cores, run {own:.2f} cores",
                        flush=True,
                    )
    print("\n| workload | threads | load | median s | runs (s) | others (cores) | run (cores) |")
    print("|---|---|---|---|---|---|---|")
    for (workload, threads, busy), values in results.items():
        walls = [w for w, _, _ in values]
        load = f"{args.neighbours} {args.neighbour}" if busy else "quiet"
        print(
            f"| {workload} | {threads} | {load} | "
            f"{statistics.median(walls):.1f} | {', '.join(f'{w:.1f}' for w in walls)} | "
            f"{', '.join(f'{o:.2f}' for _, o, _ in values)} | "
            f"{', '.join(f'{c:.2f}' for _, _, c in values)} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
