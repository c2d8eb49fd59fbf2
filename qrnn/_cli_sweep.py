"""``qrnn sweep SWEEP_FILE``: run a sweep's trials on Dask and print its table.

Registered by ``qrnn.cli``; importing it needs neither torch nor Dask.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_sweep_command"]


def add_sweep_command(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="run a grid or random search of run configs on Dask; gather one table",
        description="Train every trial of SWEEP_FILE (RunConfig keys searched by grid or at "
        "random, with seeds; see qrnn.sweeps) as an ordinary run directory under the sweep's "
        "folder, on a local Dask cluster or an existing one; trials that finished before are "
        "skipped, unfinished ones continued. Writes results.csv, results.md (with the "
        "persistence and ridge references) and results.png into the sweep folder. Exit "
        "status 1 when a trial failed (the others still ran).",
    )
    sweep.add_argument(
        "sweep_file", metavar="SWEEP_FILE", help="a sweep file (.toml, .yaml or .json)"
    )
    sweep.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a "
        "local cluster made for this sweep)",
    )
    sweep.add_argument(
        "--workers",
        type=int,
        help="worker processes of the local cluster; each trial gets cores / workers torch "
        "threads (default: one per core)",
    )
    sweep.add_argument(
        "--connect-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long to try reaching --scheduler (default: 5)",
    )
    sweep.add_argument("--quiet", action="store_true", help="no progress bar or status lines")
    sweep.set_defaults(handler=_cmd_sweep)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from qrnn.sweeps import SweepError, sweep

    try:
        result = sweep(
            args.sweep_file,
            scheduler=args.scheduler,
            workers=args.workers,
            connect_timeout=args.connect_timeout,
            progress=not args.quiet,
            echo=None if args.quiet else print,
        )
    except KeyboardInterrupt:
        print("qrnn sweep: interrupted; run it again to continue", file=sys.stderr)
        return 130
    except (SweepError, FileNotFoundError) as error:
        print(f"qrnn sweep: error: {error}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(result.markdown.read_text(), end="")
    return 1 if result.failed else 0
