"""Speed suite: one recurrent training step on circuits of many shapes, qrnn against PennyLane.

Each row (``suite.py``) trains the same recurrent shell around a different circuit. qrnn runs
it as a user writes it, ``layer(angles)`` at every time step (the natural loop), in float64
and float32, and through ``layer.prepare()`` (float64) to show what the natural loop costs.
The peer is PennyLane ``default.qubit`` with the torch interface, backprop and parameter
broadcasting over the batch (its best path; complex128), running the same circuit translated
by ``circuits.interop.to_pennylane``. All start from the same weights and data, so their
first losses agree (printed; float64 to 1e-10 or the row fails).

Steps are timed one by one in rounds that interleave the engines, so a slow spell of a shared
machine hits all of them; steps/s come from the median step. The bound is the engine's own:
the complex multiply-adds of one training step (forward, and backward at twice the forward)
at this machine's complex GEMM rate, measured in the same run (``gemm_rate``).

    python benchmarks/bench_suite.py                       # every row
    python benchmarks/bench_suite.py --rows w1-10 ion-all  # some rows (name or name-size)
    python benchmarks/bench_suite.py --tensorcircuit /path/to/env/bin/python

``--tensorcircuit`` runs ``peer_tensorcircuit.py`` with that interpreter (an environment with
tensorcircuit-ng and JAX, never a dependency of qrnn) on the same rows, after the torch rows.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite

from qrnn import QuantumLayer

HERE = Path(__file__).resolve().parent


class Shell(torch.nn.Module):
    """The recurrent shell of ``suite.py`` around ``cell`` (``(B, n_inputs) -> (B, n_qubits)``).

    ``natural=True`` calls ``cell(angles)`` at every step; ``False`` takes ``cell.prepare()``
    once per forward (qrnn's explicit form)."""

    def __init__(self, shape: suite.Shape, cell: torch.nn.Module, natural: bool = True):
        super().__init__()
        self.cell, self.natural = cell, natural
        self.encode = torch.nn.Linear(1 + suite.HIDDEN, len(shape.inputs))
        self.hidden = torch.nn.Linear(shape.n_qubits, suite.HIDDEN)
        self.head = torch.nn.Linear(suite.HIDDEN, 1)

    def forward(self, sequence):  # (batch, steps, 1) -> (batch, 1)
        step = self.cell if self.natural else self.cell.prepare()
        h = sequence.new_zeros(sequence.shape[0], suite.HIDDEN)
        for t in range(sequence.shape[1]):
            z = step(self.encode(torch.cat([sequence[:, t], h], dim=1)))
            h = torch.tanh(self.hidden(z))
        return self.head(h)


class PennyLaneCell(torch.nn.Module):
    """The shape's circuit on PennyLane ``default.qubit`` (torch, backprop, broadcasting)."""

    def __init__(self, shape: suite.Shape):
        import pennylane as qml

        from circuits.interop import pauli_observable, to_pennylane

        super().__init__()
        apply = to_pennylane(shape.circuit, global_phase=False)
        observables = [pauli_observable(label) for label in shape.observables]
        device = qml.device("default.qubit", wires=shape.n_qubits)

        @qml.qnode(device, interface="torch", diff_method="backprop")
        def node(values):
            apply(values)
            return [qml.expval(o) for o in observables]

        self.node = node
        self.weight = torch.nn.Parameter(torch.zeros(len(shape.weights), dtype=torch.float64))
        # columns of [weights, inputs] in circuit.parameters order
        position = {p: k for k, p in enumerate([*shape.weights, *shape.inputs])}
        self.order = torch.tensor([position[p] for p in shape.circuit.parameters])

    def forward(self, inputs):
        values = torch.cat([self.weight.expand(inputs.shape[0], -1), inputs], dim=1)
        return torch.stack(self.node(values[:, self.order]), dim=-1)


class Trainer:
    """One model and its Adam optimizer; ``step()`` runs and times one training step."""

    def __init__(self, model, state, dtype, data=None):
        self.model = model.to(dtype)
        if state is not None:
            self.model.load_state_dict(state)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=0.01)
        inputs, targets = suite.data() if data is None else data
        self.inputs = torch.as_tensor(inputs, dtype=dtype)
        self.targets = torch.as_tensor(targets, dtype=dtype)
        self.losses, self.times = [], []

    def step(self, timed=True):
        start = time.perf_counter()
        self.optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(self.model(self.inputs), self.targets)
        loss.backward()
        self.optimizer.step()
        if timed:
            self.times.append(time.perf_counter() - start)
        self.losses.append(loss.item())

    def rate(self) -> float:
        return 1 / statistics.median(self.times)


def initial_state(shape: suite.Shape) -> dict[str, torch.Tensor]:
    """Seeded float64 initial parameters of the shell (circuit weights uniform in [0, 2 pi))."""
    torch.manual_seed(0)
    layer = QuantumLayer(
        shape.circuit, shape.inputs, shape.weights, shape.observables, dtype=torch.float64
    )
    return Shell(shape, layer).to(torch.float64).state_dict()


def gemm_rate(dtype=torch.complex128, size=1024, batch=32, repeats=20) -> float:
    """Complex multiply-adds per second of ``(size, size) @ (size, batch)`` products."""
    generator = torch.Generator().manual_seed(0)
    matrix = torch.randn(size, size, dtype=dtype, generator=generator)
    state = torch.randn(size, batch, dtype=dtype, generator=generator)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        matrix @ state
        best = min(best, time.perf_counter() - start)
    return size * size * batch / best


def engine_multiply_adds(layer: QuantumLayer, batch: int) -> int:
    """Complex multiply-adds of one forward of ``layer`` on ``batch`` samples as the engine
    runs it (the engine's own count, ``qrnn.sim.Program._multiply_adds``)."""
    return layer._program._multiply_adds(batch)


def pennylane_bytes(shape: suite.Shape) -> int:
    """What PennyLane's backprop keeps for one training step: a state of ``2**n`` complex128
    amplitudes per sample for every gate of every time step (the autograd graph)."""
    gates = sum(1 for instruction in shape.circuit.data if instruction.operation.num_qubits)
    return gates * suite.STEPS * suite.BATCH * 2**shape.n_qubits * 16


def run_row(shape: suite.Shape, args) -> dict:
    state = initial_state(shape)
    peer_bytes = pennylane_bytes(shape)
    # the peer would exhaust the machine (and be killed, with the whole run): say so instead
    with_peer = peer_bytes < 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

    def qrnn_model(natural):
        layer = QuantumLayer(shape.circuit, shape.inputs, shape.weights, shape.observables)
        return Shell(shape, layer, natural)

    trainers = {
        "natural64": Trainer(qrnn_model(True), state, torch.float64),
        "natural32": Trainer(qrnn_model(True), state, torch.float32),
        "prepare64": Trainer(qrnn_model(False), state, torch.float64),
    }
    if with_peer:
        peer_model = Shell(shape, PennyLaneCell(shape))
        trainers["pennylane"] = Trainer(peer_model, state, torch.float64)
    for trainer in trainers.values():
        trainer.step(timed=False)  # warm-up: plans, caches, lazy imports
    for _ in range(args.rounds):
        for name, trainer in trainers.items():
            for _ in range(args.peer_steps if name == "pennylane" else args.steps):
                trainer.step()
    rates = {name: trainer.rate() for name, trainer in trainers.items()}
    peer, difference = math.nan, 0.0
    if with_peer:
        peer = rates["pennylane"]
        difference = abs(trainers["natural64"].losses[0] - trainers["pennylane"].losses[0])
    else:
        rates["pennylane"] = math.nan
        print(
            f"# {shape.name}: PennyLane not run, its backprop would keep about "
            f"{peer_bytes / 2**30:.0f} GiB",
            flush=True,
        )
    layer = trainers["natural64"].model.cell
    per_step = 3 * engine_multiply_adds(layer, suite.BATCH) * suite.STEPS
    return {
        "row": shape.name,
        "what": shape.what,
        "rates": rates,
        "ratio64": rates["natural64"] / peer,
        "ratio32": rates["natural32"] / peer,
        "natural_over_prepare": rates["prepare64"] / rates["natural64"],
        "loss_difference": difference,
        "first_loss64": trainers["natural64"].losses[0],
        "initial_state": {k: v.numpy() for k, v in state.items()},
        "multiply_adds": per_step,
    }


def run_w2(args) -> dict:
    """W2 (``w2.py``: the quantum-memory QRNN, 4 data + 6 hidden qubits, batch 32, 16 steps):
    qrnn's training steps in float32 and float64, and the bound of its exact channel (two
    batched products forward, three backward, ``MemoryProgram._multiply_adds``). No peer here:
    ``bench_w2.py`` compares it with PennyLane ``default.mixed``."""
    import w2

    trainers = {}
    for name, dtype in (("w2-32", torch.float32), ("w2-64", torch.float64)):
        torch.manual_seed(0)
        trainer = Trainer(w2.W2Model(dtype=dtype), None, dtype, data=w2.data(dtype=dtype))
        trainer.step(timed=False)  # warm-up
        trainers[name] = trainer
    for _ in range(args.rounds):
        for trainer in trainers.values():
            trainer.step()
    memory = trainers["w2-64"].model.qrnn.cell_l0.memory
    per_step = memory._multiply_adds(w2.BATCH) * 5 // 2 * w2.STEPS
    rates = {name: trainer.rate() for name, trainer in trainers.items()}
    return rates | {"multiply_adds": per_step}


def run_tensorcircuit(python: str, results: list[dict]) -> dict:
    """Run ``peer_tensorcircuit.py`` with ``python`` on the rows of ``results``, from the same
    initial parameters (an .npz file of ``row/name`` arrays); its last output line is JSON:
    per row ``rate64``, ``rate32`` (steps/s from the median step), ``compile64``,
    ``compile32`` (seconds of JAX compilation) and ``first_loss64``."""
    import tempfile

    import numpy as np

    with tempfile.TemporaryDirectory() as folder:
        init = Path(folder) / "init.npz"
        arrays = {
            f"{result['row']}/{name}": value
            for result in results
            for name, value in result.pop("initial_state").items()
        }
        np.savez(init, **arrays)
        rows = [result["row"] for result in results]
        command = [python, str(HERE / "peer_tensorcircuit.py"), "--init", str(init), "--rows"]
        # its progress and any error go to our stderr; its last stdout line is the result
        completed = subprocess.run([*command, *rows], check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", nargs="+", help="rows by name or name-size (default: all)")
    parser.add_argument("--steps", type=int, default=5, help="timed qrnn steps per round")
    parser.add_argument("--peer-steps", type=int, default=1, help="timed PennyLane steps/round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per row")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--tensorcircuit", metavar="PYTHON", help="interpreter with tensorcircuit")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rate64 = gemm_rate(torch.complex128)
    rate32 = gemm_rate(torch.complex64)
    print(
        f"# {time.strftime('%Y-%m-%d')}, {args.threads} threads; complex GEMM (1024 x 1024 @ "
        f"1024 x 32): {rate64 / 1e9:.1f} G multiply-adds/s complex128, {rate32 / 1e9:.1f} "
        "complex64\n"
    )
    print(
        "| row | PennyLane steps/s | qrnn f64 steps/s | x PL f64 | qrnn f32 | x PL f32 | "
        "natural / prepare | bound f64 steps/s | from bound | loss diff |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    results = []
    for shape in suite.shapes(args.rows):
        result = run_row(shape, args)
        bound = rate64 / result["multiply_adds"]
        result["bound64"] = bound
        results.append(result)
        rates = result["rates"]
        print(
            f"| {shape.name} | {rates['pennylane']:.3f} | {rates['natural64']:.2f} | "
            f"{result['ratio64']:.1f} | {rates['natural32']:.2f} | {result['ratio32']:.1f} | "
            f"{result['natural_over_prepare']:.2f} | {bound:.2f} | "
            f"{bound / rates['natural64']:.1f}x | {result['loss_difference']:.1e} |",
            flush=True,
        )
    if args.rows is None or "w2" in args.rows:
        w2_result = run_w2(args)
        # the GEMM rate measured again after W2's steps, the faster of the two kept: a rate
        # caught while another job held a core understates the bound (seen: 0.54 instead of 1.0)
        rate64 = max(rate64, gemm_rate(torch.complex128))
        rate32 = max(rate32, gemm_rate(torch.complex64))
        bound32 = rate32 / w2_result["multiply_adds"]
        bound64 = rate64 / w2_result["multiply_adds"]
        print(
            f"\nW2 (quantum-memory QRNN, exact channel): {w2_result['w2-32']:.2f} steps/s "
            f"float32 (bound {bound32:.2f}, {bound32 / w2_result['w2-32']:.1f}x from it), "
            f"{w2_result['w2-64']:.2f} steps/s float64 (bound {bound64:.2f}, "
            f"{bound64 / w2_result['w2-64']:.1f}x from it); "
            f"{w2_result['multiply_adds'] / 1e9:.1f} G complex multiply-adds per step"
        )
    failed = [r["row"] for r in results if r["loss_difference"] > 1e-10]
    if args.tensorcircuit:
        peers = run_tensorcircuit(args.tensorcircuit, results)
        print(
            "\n| row | tensorcircuit f64 steps/s | compile s | qrnn f64 / tc | tc f32 | "
            "qrnn f32 / tc |"
        )
        print("|---|---|---|---|---|---|")
        for result in results:
            peer = peers[result["row"]]
            result["tensorcircuit"] = peer
            rates = result["rates"]
            print(
                f"| {result['row']} | {peer['rate64']:.2f} | {peer['compile64']:.0f} | "
                f"{rates['natural64'] / peer['rate64']:.1f} | {peer['rate32']:.2f} | "
                f"{rates['natural32'] / peer['rate32']:.1f} |"
            )
            if abs(peer["first_loss64"] - result["first_loss64"]) > 1e-10:
                failed.append(f"{result['row']} (tensorcircuit)")
    for result in results:
        result.pop("initial_state", None)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if failed:
        print(f"float64 losses differ from PennyLane's by more than 1e-10: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
