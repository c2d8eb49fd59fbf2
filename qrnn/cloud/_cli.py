"""``qrnn submit`` and ``qrnn jobs``: the command line of :mod:`qrnn.cloud`.

Registered in ``qrnn.cli`` by :func:`add_commands`; importing this module costs no torch or
qiskit (the commands import them when they run).
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys

from qrnn.cloud import _provider

__all__ = ["add_commands"]

_STATUS_CHOICES = ("pending", "queued", "running", "done", "failed", "cancelled", "unknown")


def _error(command: str, error: BaseException) -> int:
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    print(f"qrnn {command}: error: {message}", file=sys.stderr)
    return 2


def _user_errors() -> tuple[type[BaseException], ...]:
    from qrnn.cloud import CloudError

    return (CloudError, ValueError, TypeError, LookupError, ImportError, FileNotFoundError)


def _when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _cost_line(cost: dict | None) -> str:
    if not cost:
        return "cost: not estimated"
    usd = "price unverified" if cost.get("usd") is None else f"${cost['usd']:.2f}"
    seconds = cost.get("machine_seconds")
    time_text = "" if seconds is None else f", machine time about {seconds:.3g} s"
    return f"cost: {usd}{time_text} ({cost['basis']}; source: {cost['source']}, {cost['date']})"


def _result_lines(result: dict, top: int = 8) -> list[str]:
    lines = []
    if "counts" in result:
        for index, counts in enumerate(result["counts"]):
            ranked = sorted(counts.items(), key=lambda item: -item[1])
            shown = ", ".join(f"{bits}: {n}" for bits, n in ranked[:top])
            more = f", ... ({len(ranked) - top} more)" if len(ranked) > top else ""
            lines.append(f"  circuit {index} counts: {shown}{more}")
    else:
        for index, (values, stds) in enumerate(zip(result["expvals"], result["stds"], strict=True)):
            pairs = ", ".join(
                f"{v:.4f}" + ("" if s is None else f" ± {s:.4f}")
                for v, s in zip(values, stds, strict=True)
            )
            lines.append(f"  circuit {index} expectation values: {pairs}")
    return lines


# ----------------------------------------------------------------------------- submit


def _cmd_submit(args: argparse.Namespace) -> int:
    """Check, transpile, record and submit one circuit (or only show it: --dry-run)."""
    from pathlib import Path

    import qrnn.cloud as cloud
    from qrnn.run import load_circuit, parse_values

    if Path(args.circuit).is_dir():
        return _submit_run_dir(args)
    try:
        circuit, source = load_circuit(args.circuit, qubits=args.qubits, reps=args.reps)
        values = None
        if circuit.num_parameters:
            if args.values is not None:
                values = parse_values(args.values, circuit).tolist()
            else:
                import numpy as np

                rng = np.random.default_rng(args.seed)
                values = rng.uniform(0.0, 2 * np.pi, circuit.num_parameters).tolist()
        options = {
            "provider": args.provider,
            "backend": args.backend,
            "shots": args.shots,
            "observables": args.observables.split(",") if args.observables else None,
            "parameter_values": values,
        }
        if args.dry_run:
            return _print_dry_run(cloud.dry_run(circuit, **options), source)
        handle = cloud.submit(circuit, source=source, **options)
        job = handle.job()
        print(f"submitted job {job.id} ({job.provider} {job.backend}, vendor id {job.vendor_id})")
        print(_cost_line(job.cost))
        print(f"recorded in {handle.store_path}")
        if handle.local or args.wait:
            # (a local simulator's job ends with this process: wait for it here)
            result = handle.result()
            print("result:")
            print("\n".join(_result_lines(result)))
        else:
            print(f"follow it with: qrnn jobs status {job.id}; qrnn jobs fetch {job.id}")
    except KeyboardInterrupt:
        print("qrnn submit: interrupted; `qrnn jobs recover` resolves a job left pending")
        return 130
    except _user_errors() as error:
        return _error("submit", error)
    return 0


def _submit_run_dir(args: argparse.Namespace) -> int:
    """A trained run's quantum model scored on the cloud backend (``qrnn.cloud.submit_run``):
    returns once the first round of jobs is submitted, unless --wait (or a local simulator,
    whose jobs end with this process)."""
    from qrnn.cloud import submit_run
    from qrnn.cloud._evaluation_dry import dry_run_run

    given = [flag for flag in ("observables", "values", "qubits", "reps") if getattr(args, flag)]
    if given:
        return _error("submit", ValueError(f"--{given[0]} applies to circuits, not RUN_DIR"))
    try:
        if args.dry_run:
            return _print_run_dry_run(
                dry_run_run(
                    args.circuit,
                    provider=args.provider,
                    backend=args.backend,
                    shots=args.shots,
                    seed=args.seed,
                ),
                args.circuit,
                args.shots,
            )
        progress = submit_run(
            args.circuit,
            provider=args.provider,
            backend=args.backend,
            shots=args.shots,
            seed=args.seed,
            wait=args.wait,
            echo=lambda line: print(line, flush=True),
        )
    except KeyboardInterrupt:
        print("qrnn submit: interrupted; the jobs sent so far are in the store (qrnn jobs list)")
        return 130
    except _user_errors() as error:
        return _error("submit", error)
    _print_progress(progress)
    return 0


def _print_progress(progress) -> None:
    """One evaluation's state: the metrics once done, else what was sent and what to do."""
    from qrnn.runs import format_comparison

    evaluation = progress.evaluation
    where = f"{evaluation.provider} {evaluation.backend}, {evaluation.shots} shots"
    if progress.submitted:
        usd = "price unverified" if progress.cost is None else f"${progress.cost:.2f}"
        print(f"submitted {len(progress.submitted)} jobs (estimated cost {usd})")
    if progress.done:
        print(f"evaluation {evaluation.id} ({where}): done after {evaluation.rounds} rounds, "
              f"{evaluation.jobs} jobs")  # fmt: skip
        for split in ("val", "test"):
            if split in evaluation.metrics["model"]["metrics"]:
                print(format_comparison(evaluation.metrics, split=split))
        print("every job is recorded in the job store: qrnn jobs list")
        return
    print(f"evaluation {evaluation.id} ({where}): round {evaluation.rounds}, waiting for "
          f"{len(progress.waiting)} jobs")  # fmt: skip
    print(f"next: qrnn jobs fetch {evaluation.id}  (fetches the finished jobs and submits the "
          "next time step's circuits; --wait goes on to the metrics)")  # fmt: skip


def _print_run_dry_run(plan, run_dir: str, shots: int) -> int:
    from qrnn.runs import format_comparison

    where = f"{plan.provider} {plan.backend}"
    print(f"dry run: {run_dir} scored on {where}: {plan.executions} circuits of {shots} "
          f"shots ({len(plan.circuits)} distinct); nothing submitted")  # fmt: skip
    for item in plan.circuits:
        stats = item["plan"].stats[0]
        gates = ", ".join(f"{name}: {n}" for name, n in sorted(stats["gates"].items()))
        print(f"{item['name']}: run {item['executions']} times; {stats['two_qubit_gates']} "
              f"two-qubit gates, depth {stats['depth']} ({gates})")  # fmt: skip
    cost = plan.circuits[0]["plan"].cost
    usd = "price unverified" if plan.usd is None else f"${plan.usd:.2f}"
    seconds = plan.machine_seconds
    time_text = "" if seconds is None else f", machine time about {seconds:.3g} s"
    print(f"cost: {usd}{time_text} for {plan.executions} circuits, each priced as a job "
          f"({cost['basis']}; source: {cost['source']}, {cost['date']})")  # fmt: skip
    if cost.get("note"):
        print(f"  note: {cost['note']}")
    print(f"expected metrics on {plan.expected['simulator']}:")
    for split in ("val", "test"):
        if split in plan.expected["metrics"]["model"]["metrics"]:
            print(format_comparison(plan.expected["metrics"], split=split))
    for item in plan.circuits:
        print(f"--- OpenQASM 3 of {item['name']} (inputs at a generic angle) ---")
        print(item["plan"].qasm3[0].rstrip())
    return 0


def _print_dry_run(plan, source: str) -> int:
    info = plan.backend_info
    kind = "local simulator" if info.local else "simulator" if info.simulator else "QPU"
    print(f"dry run: {source} on {plan.provider} {plan.backend} ({kind}, {info.num_qubits} "
          f"qubits, at most {info.max_shots} shots); nothing submitted")  # fmt: skip
    for index, stats in enumerate(plan.stats):
        gates = ", ".join(f"{name}: {n}" for name, n in sorted(stats["gates"].items()))
        print(f"circuit {index}: {stats['two_qubit_gates']} two-qubit gates, depth "
              f"{stats['depth']} ({gates})")  # fmt: skip
    print(_cost_line(plan.cost))
    if plan.cost.get("note"):
        print(f"  note: {plan.cost['note']}")
    if plan.expected is None:
        print("expected result: no simulator of this machine")
    else:
        print(f"expected result on {plan.expected['simulator']}:")
        print("\n".join(_result_lines(plan.expected)))
    for index, text in enumerate(plan.qasm3):
        print(f"--- OpenQASM 3 of circuit {index} ---")
        print(text.rstrip())
    return 0


# ----------------------------------------------------------------------------- jobs


def _store():
    from qrnn.cloud import JobStore

    return JobStore()


def _cmd_jobs(args: argparse.Namespace) -> int:
    """``qrnn jobs ACTION``: list, show, status, fetch, cancel, recover."""
    from qrnn.cloud import _submit

    action = args.action
    try:
        with _store() as store:
            if action == "list":
                jobs = store.list(status=args.status, limit=args.limit)
                if not jobs:
                    print(f"no jobs in {store.path}")
                for job in jobs:
                    print(f"{job.id}  {job.status:<9}  {job.provider:<6} {job.backend:<20} "
                          f"{job.shots:>7} shots  {_when(job.created_at)}")  # fmt: skip
            elif action == "show":
                job = store.get(args.job_id)
                _print_job(job, args.json)
            elif action == "status":
                job = _submit.refresh(store, args.job_id)
                print(f"{job.id}: {job.status}" + (f" ({job.error})" if job.error else ""))
            elif action == "fetch" and _evaluation(args.job_id, store):
                from qrnn.cloud import fetch_run

                _print_progress(
                    fetch_run(args.job_id, wait=args.wait, timeout=args.timeout, store=store.path)
                )
            elif action == "fetch":
                result = _submit.fetch(store, args.job_id, timeout=args.timeout)
                job = store.get(args.job_id)
                print(f"{job.id}: done ({job.provider} {job.backend}, {job.shots} shots)")
                print("\n".join(_result_lines(result)))
            elif action == "cancel":
                job = _submit.cancel(store, args.job_id)
                print(f"{job.id}: {job.status}")
            else:  # recover
                changed = _submit.recover(store)
                if not changed:
                    print("no pending jobs: nothing to recover")
                for job in changed:
                    found = f"found at the vendor as {job.vendor_id}" if job.vendor_id else ""
                    why = job.history[-1][2] if job.status == "pending" else job.error
                    print(f"{job.id}: {job.status} {found or why or ''}".rstrip())
    except KeyboardInterrupt:
        print(f"qrnn jobs {action}: interrupted", file=sys.stderr)
        return 130
    except TimeoutError as error:
        return _error(f"jobs {action}", error)
    except _user_errors() as error:
        return _error(f"jobs {action}", error)
    return 0


def _evaluation(job_id: str, store) -> bool:
    from qrnn.cloud._evaluation import find_evaluation

    return find_evaluation(job_id, store.path) is not None


def _print_job(job, as_json: bool) -> None:
    from dataclasses import asdict

    if as_json:
        print(json.dumps(asdict(job), indent=2))
        return
    print(f"job {job.id}")
    print(f"  provider {job.provider}, backend {job.backend}, {job.kind}, {job.shots} shots")
    print(f"  status {job.status}" + (f": {job.error}" if job.error else ""))
    print(f"  vendor id {job.vendor_id or '-'}")
    print(f"  source {job.source or '-'}")
    print("  " + _cost_line(job.cost))
    if job.observables:
        print(f"  observables (on the backend's qubits): {job.observables}")
    if job.parameter_values:
        print(f"  parameter values: {job.parameter_values}")
    print("  history:")
    for at, status, detail in job.history:
        print(f"    {_when(at)}  {status}" + (f"  ({detail})" if detail else ""))
    if job.result is not None:
        print("  result:")
        print("\n".join("  " + line for line in _result_lines(job.result)))


# ----------------------------------------------------------------------------- parsers


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``submit`` and ``jobs`` to the ``qrnn`` command's sub-commands."""
    providers = ", ".join(_provider.names())
    submit = commands.add_parser(
        "submit",
        help="submit a circuit to IBM Quantum, IonQ or Amazon Braket (recorded in the job store)",
        description="Check CIRCUIT against the backend (width, shots), transpile it to the "
        "backend's gates, record it in the job store ($QRNN_HOME/jobs.sqlite, default "
        "~/.qrnn) and submit it once. Credentials come from each vendor SDK's own "
        "configuration or environment variables, never from qrnn. Jobs on a local simulator "
        "(IBM fake_* backends, Braket's local simulator) are waited for, since they end "
        "with this process; others are followed with qrnn jobs.",
    )
    submit.add_argument(
        "circuit",
        metavar="CIRCUIT",
        help="an OpenQASM 3 file (.qasm), a QPY file (.qpy), a template name (as qrnn run), "
        "or a run directory of qrnn train: its model's val and test windows are scored on "
        "the backend and compared with its classical baseline, in rounds (one per time "
        "step): this submits the first and prints an evaluation id for qrnn jobs fetch",
    )
    submit.add_argument(
        "--provider", required=True, choices=_provider.names(), help=f"cloud: {providers}"
    )
    submit.add_argument(
        "--backend",
        required=True,
        help="the provider's backend: ibm: fake_manila, fake_brisbane, ... (offline local "
        "testing mode) or a real machine such as ibm_brisbane; ionq: ionq_simulator, "
        "qpu.aria-1, qpu.forte-1; braket: local (offline simulator) or a device ARN",
    )
    submit.add_argument(
        "--shots", type=int, default=1000, help="samples per circuit (default: 1000)"
    )
    submit.add_argument(
        "--observables",
        help="comma-separated Pauli strings (Z0,Z0Z1 or full labels): expectation values "
        "instead of counts (default: counts of every qubit)",
    )
    submit.add_argument(
        "--values",
        help="parameter values in circuit.parameters order, comma-separated (default: random "
        "angles from --seed)",
    )
    submit.add_argument(
        "--seed", type=int, default=0, help="seeds random parameter values (default: 0)"
    )
    submit.add_argument("--qubits", type=int, help="template width (default: 10)")
    submit.add_argument("--reps", type=int, help="template depth (default: the template's)")
    submit.add_argument(
        "--dry-run",
        action="store_true",
        help="show the transpiled circuit's statistics, its OpenQASM 3, the estimated cost "
        "and machine time and the result simulated for the same machine (a RUN_DIR: for "
        "every circuit of its model, and the metrics); submit nothing, write nothing, need "
        "no credentials",
    )
    submit.add_argument(
        "--wait",
        action="store_true",
        help="wait for the results here (a RUN_DIR: every round until the metrics are in); "
        "local simulators are always waited for",
    )
    submit.set_defaults(handler=_cmd_submit)

    jobs = commands.add_parser(
        "jobs",
        help="list, show, follow, fetch, cancel and recover submitted jobs",
        description="The job store ($QRNN_HOME/jobs.sqlite, default ~/.qrnn) records every "
        "submission. A job id may be shortened to a unique prefix of 4 or more characters.",
    )
    actions = jobs.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the jobs, newest first")
    listing.add_argument(
        "--status", choices=_STATUS_CHOICES, help="only jobs of this status (default: all)"
    )
    listing.add_argument("--limit", type=int, help="at most this many (default: all)")
    show = actions.add_parser("show", help="everything recorded about one job")
    show.add_argument("job_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print the record as JSON")
    status = actions.add_parser("status", help="ask the vendor for a job's status")
    status.add_argument("job_id", metavar="ID")
    fetch = actions.add_parser(
        "fetch",
        help="wait for a job, fetch and record its result; for an evaluation id (qrnn submit "
        "RUN_DIR), fetch its finished jobs and submit the next round",
    )
    fetch.add_argument("job_id", metavar="ID")
    fetch.add_argument(
        "--timeout", type=float, help="seconds to wait for each job (default: no limit)"
    )
    fetch.add_argument(
        "--wait",
        action="store_true",
        help="an evaluation: go on round by round until its metrics are in",
    )
    cancel = actions.add_parser("cancel", help="ask the vendor to cancel a job")
    cancel.add_argument("job_id", metavar="ID")
    actions.add_parser(
        "recover",
        help="resolve jobs left pending by a process killed while submitting: find them at "
        "the vendor by their tag, or mark them unknown with the time window to look for",
    )
    jobs.set_defaults(handler=_cmd_jobs)
