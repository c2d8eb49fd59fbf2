"""A dry run of a run directory's evaluation on a cloud backend: what :func:`submit_run` would
send and cost, and the metrics simulated for the same machine; nothing is sent or written.

The model's circuits are its ``QuantumLayer``\\ s' (one per gate of a QLSTM/QGRU cell), with
the trained weights and the inputs at a generic angle; each is prepared as a job would be
(:func:`qrnn.cloud.dry_run`: transpiled statistics, OpenQASM 3, the price of one circuit). Each
gate circuit runs once per time step of every val and test window (times its measurement
bases where the vendor returns counts only), and the price is that many single-circuit jobs
(Braket's tasks and IonQ's jobs are priced so; IBM bills per second of machine time, which
grows with the circuits the same way).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from qrnn.cloud import _provider
from qrnn.cloud._errors import SubmitInputError
from qrnn.cloud._evaluation import TRAINED_ON_A_SIMULATOR

__all__ = ["RunDryRun", "dry_run_run"]

_GENERIC_ANGLE = 0.737  # inputs of the shown circuits: no gate simplifies away at this angle


@dataclass(frozen=True)
class RunDryRun:
    """What scoring a run on a cloud backend would send and cost (nothing was sent).

    Attributes:
        provider, backend: where it would go.
        circuits: per distinct circuit of the model: ``{"name", "executions", "plan"}``, the
            plan a :class:`qrnn.cloud.DryRun` of one execution (statistics, OpenQASM 3, cost).
        executions: circuits run in all (every window, step, gate and measurement basis).
        usd: the estimated price (None where a price is unverified).
        machine_seconds: the estimated machine time (None where not known).
        expected: the metrics simulated for the same machine (``metrics.json``'s structure)
            and ``"simulator"``: what produced them; None where no simulator matches.
    """

    provider: str
    backend: str
    circuits: list[dict]
    executions: int
    usd: float | None
    machine_seconds: float | None
    expected: dict | None


# models whose circuits are memory cells, not QuantumLayers: refused before any simulation
_MEMORY_MODELS = ("qrnn", "qreservoir")
_NOT_PRICED = (
    "the model of {run_dir} has no QuantumLayer circuits to price (QRNN and QReservoir memory "
    "cells are not priced by a dry run)"
)


def dry_run_run(
    run_dir: str | Path, *, provider: str, backend: str, shots: int, seed: int = 0
) -> RunDryRun:
    """Check and price scoring ``run_dir`` on ``backend`` (see the module); no credentials.

    Raises:
        the errors of :func:`qrnn.cloud.submit_run`, before any simulation.
    """
    from qrnn import cloud
    from qrnn.backends._measurement import measurement_plan, rotate_into
    from qrnn.layer import QuantumLayer
    from qrnn.runs import evaluate_run, load_data, read_run_config, read_run_state
    from qrnn.sim import parse_observables

    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise SubmitInputError(f"shots must be a whole number >= 1, got {shots!r}")
    run_dir = Path(run_dir).resolve()
    model = read_run_config(run_dir).model
    if model in _MEMORY_MODELS:
        raise SubmitInputError(_NOT_PRICED.format(run_dir=run_dir))
    state = read_run_state(run_dir)
    if state["state"] != "finished":
        from qrnn import _rundir

        raise cloud.CloudError(_rundir.unfinished_message(run_dir, state))
    vendor = _provider.get(provider)
    info = vendor.backend(backend, offline=True)
    simulator, options = _simulator(vendor, info, backend, shots)
    with tempfile.TemporaryDirectory() as scratch:
        if options is not None:  # a simulator of the machine behind the cloud protocol
            options = {**options, "store": str(Path(scratch) / "jobs.sqlite")}
        result = evaluate_run(
            run_dir,
            overrides=TRAINED_ON_A_SIMULATOR,
            backend=simulator["backend"],
            device=simulator["device"],
            shots=shots,
            seed=seed,
            backend_options=options,
        )
    layers = [m for m in result.model.modules() if isinstance(m, QuantumLayer)]
    if not layers:
        raise SubmitInputError(_NOT_PRICED.format(run_dir=run_dir))
    data = load_data(read_run_config(run_dir))
    runs = sum(len(split.inputs) * split.inputs.shape[1] for split in (data.val, data.test))
    circuits, executions = [], 0
    usd: float | None = 0.0
    seconds: float | None = 0.0
    for index, layer in enumerate(layers):
        weights = dict(zip(layer.weight_params, layer.weight.detach().tolist(), strict=True))
        values = [weights.get(p, _GENERIC_ANGLE) for p in layer.circuit.parameters]
        bound = layer.circuit.assign_parameters(values)
        operators = parse_observables(layer.observables, bound.num_qubits)
        if vendor.expectation_values:
            labels = sorted(
                {p.to_label() for op in operators for p in op.paulis if set(p.to_label()) != {"I"}}
            )
            plan = cloud.dry_run(
                bound, provider=provider, backend=backend, shots=shots, observables=labels
            )
            bases = 1
        else:  # counts only: one circuit per measurement basis
            bases_list = measurement_plan(operators).bases
            bases = len(bases_list)
            plan = cloud.dry_run(
                rotate_into(bound, bases_list[0], measure=True),
                provider=provider,
                backend=backend,
                shots=shots,
            )
        executions += runs * bases
        usd = (
            None
            if usd is None or plan.cost["usd"] is None
            else usd + runs * bases * plan.cost["usd"]
        )
        per = plan.cost.get("machine_seconds")
        seconds = None if seconds is None or per is None else seconds + runs * bases * per
        circuits.append({"name": f"circuit {index} ({_path(result.model, layer)})",
                         "executions": runs * bases, "plan": plan})  # fmt: skip
    expected = {"metrics": result.metrics, "simulator": simulator["label"]}
    return RunDryRun(provider, backend, circuits, executions, usd, seconds, expected)


def _simulator(vendor, info, backend: str, shots: int) -> tuple[dict, dict | None]:
    """Where the same machine is simulated: its qrnn preset (the torch engine, its noise),
    or IBM's offline snapshot of it through the cloud protocol (in a scratch store)."""
    if info.preset is not None:
        return {"backend": "torch", "device": info.preset,
                "label": f"qrnn device preset {info.preset} (its noise)"}, None  # fmt: skip
    fake = backend if backend.startswith("fake_") else "fake_" + backend.removeprefix("ibm_")
    return {"backend": f"cloud:{vendor.name}:{fake}", "device": None,
            "label": f"{fake} (qiskit-ibm-runtime local testing mode)"}, {}  # fmt: skip


def _path(model, layer) -> str:
    return next((name for name, module in model.named_modules() if module is layer), "?")
