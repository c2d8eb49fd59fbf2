"""Speed of one W1 training step: qrnn's torch engine against PennyLane default.qubit.

PennyLane runs its best path for this workload: the torch interface, backprop, and parameter
broadcasting over the batch, in complex128 (default.qubit always computes in complex128).
qrnn runs in float64/complex128 (the same arithmetic) and in float32/complex64 (torch's
default dtype, so what a model gets unless asked otherwise). 2 torch threads.

Every step is timed on its own, in rounds that interleave the three (so a slow spell of a
shared machine hits all of them). Prints steps/s from the median step (the headline: robust to
such spells) and from the fastest step (closest to an idle machine), and the ratios of each,
all measured in this one run.

    python benchmarks/bench_w1.py [--steps N] [--peer-steps N] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import w1

from qrnn import sim


class QrnnCell(torch.nn.Module):
    def __init__(self, dtype=torch.float64):
        super().__init__()
        circuit, _angles, weights = w1.circuit()
        self.program = sim.compile(circuit, w1.observables(), weight_params=weights)
        generator = torch.Generator().manual_seed(1)
        self.weight = torch.nn.Parameter(
            torch.rand(len(weights), generator=generator, dtype=dtype) * 2 * torch.pi
        )

    def prepare(self):
        return self.program.bind(self.weight).expval


class PennyLaneCell(torch.nn.Module):
    def __init__(self, dtype=torch.float64):
        import pennylane as qml

        super().__init__()
        device = qml.device("default.qubit", wires=w1.N_QUBITS)
        n, reps = w1.N_QUBITS, w1.REPS

        @qml.qnode(device, interface="torch", diff_method="backprop")
        def node(angles, weights):
            for q in range(n):
                qml.RY(angles[..., q], wires=q)
            for layer in range(reps):
                for q in range(n):
                    base = 3 * (layer * n + q)
                    qml.RX(weights[base], wires=q)
                    qml.RY(weights[base + 1], wires=q)
                    qml.RZ(weights[base + 2], wires=q)
                for q in range(n):
                    qml.CNOT(wires=[q, (q + 1) % n])
            return [qml.expval(qml.PauliZ(q)) for q in range(n)]

        self.node = node
        generator = torch.Generator().manual_seed(1)
        self.weight = torch.nn.Parameter(
            torch.rand(3 * n * reps, generator=generator, dtype=dtype) * 2 * torch.pi
        )

    def prepare(self):
        return lambda angles: torch.stack(self.node(angles, self.weight), dim=-1)


class Trainer:
    """One W1 model and its optimizer; ``step()`` runs and times one training step."""

    def __init__(self, cell, dtype):
        torch.manual_seed(0)
        self.model = w1.W1Model(cell).to(dtype)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=0.01)
        self.inputs, self.targets = w1.data(dtype=dtype)
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

    def rates(self):
        """(steps/s from the median step, steps/s from the fastest step)."""
        return 1 / statistics.median(self.times), 1 / min(self.times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed qrnn steps per round")
    parser.add_argument("--peer-steps", type=int, default=1, help="timed PennyLane steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved measurement rounds")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (W1: 2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    double = Trainer(QrnnCell(), torch.float64)
    single = Trainer(QrnnCell(), torch.float32)
    peer = Trainer(PennyLaneCell(), torch.float64)
    for trainer in (double, single, peer):
        trainer.step(timed=False)  # warm-up: plans, caches, lazy imports
    # Rounds interleave the engines, so a slow spell of a shared machine hits all of them.
    for _ in range(args.rounds):
        for trainer, n_steps in (
            (double, args.steps),
            (single, args.steps),
            (peer, args.peer_steps),
        ):
            for _ in range(n_steps):
                trainer.step()
    # Same initial weights and data: the first losses must agree (the engines compute the same).
    agreement = abs(double.losses[0] - peer.losses[0])
    peer_median, peer_best = peer.rates()
    print(
        f"W1 training step (batch {w1.BATCH}, {w1.STEPS} steps, {w1.N_QUBITS} qubits, "
        f"{args.threads} threads; {args.rounds} interleaved rounds; steps/s from the median "
        "step [from the fastest step])"
    )
    print(
        f"  PennyLane default.qubit:     {peer_median:7.3f} [{peer_best:7.3f}] steps/s "
        f"(backprop, broadcasting, complex128; {len(peer.times)} steps)"
    )
    ratios = {}
    for name, trainer in (("float64", double), ("float32", single)):
        median, best = trainer.rates()
        ratios[name] = (median / peer_median, best / peer_best)
        print(
            f"  qrnn torch engine, {name}: {median:7.2f} [{best:7.2f}] steps/s   "
            f"{median / peer_median:5.1f}x [{best / peer_best:5.1f}x] PennyLane"
        )
    print(f"  first-step loss difference (float64): {agreement:.2e}")
    return ratios


if __name__ == "__main__":
    main()
