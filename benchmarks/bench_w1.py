"""Speed of one W1 training step: qrnn's torch engine against PennyLane default.qubit.

PennyLane runs its best path for this workload: the torch interface, backprop, and parameter
broadcasting over the batch, in complex128 (default.qubit always computes in complex128).
qrnn runs in float64/complex128 (the same arithmetic) and in float32/complex64 (torch's
default dtype, so what a model gets unless asked otherwise). 2 torch threads. Prints steps/s
of each and the ratios, measured in this one run.

    python benchmarks/bench_w1.py [--steps N] [--peer-steps N]
"""

from __future__ import annotations

import argparse
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
        n, layers = w1.N_QUBITS, w1.N_LAYERS

        @qml.qnode(device, interface="torch", diff_method="backprop")
        def node(angles, weights):
            for q in range(n):
                qml.RY(angles[..., q], wires=q)
            for layer in range(layers):
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
            torch.rand(3 * n * layers, generator=generator, dtype=dtype) * 2 * torch.pi
        )

    def prepare(self):
        return lambda angles: torch.stack(self.node(angles, self.weight), dim=-1)


def steps_per_second(cell, n_steps, dtype=torch.float64, warmup=1):
    torch.manual_seed(0)
    model = w1.W1Model(cell).to(dtype)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    inputs, targets = w1.data(dtype=dtype)
    losses = []

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(n_steps):
        step()
    return n_steps / (time.perf_counter() - start), losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed qrnn steps")
    parser.add_argument("--peer-steps", type=int, default=3, help="timed PennyLane steps")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (W1: 2)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    double, double_losses = steps_per_second(QrnnCell(), args.steps, torch.float64)
    single, _ = steps_per_second(QrnnCell(), args.steps, torch.float32)
    peer, peer_losses = steps_per_second(PennyLaneCell(), args.peer_steps, torch.float64)
    # Same initial weights and data: the first losses must agree (the engines compute the same).
    agreement = abs(double_losses[0] - peer_losses[0])
    print(
        f"W1 training step (batch {w1.BATCH}, {w1.STEPS} steps, {w1.N_QUBITS} qubits, "
        f"{args.threads} threads)"
    )
    print(
        f"  PennyLane default.qubit:       {peer:8.3f} steps/s (backprop, broadcasting, complex128)"
    )
    print(
        f"  qrnn torch engine, float64:    {double:8.2f} steps/s   {double / peer:6.1f}x PennyLane"
    )
    print(
        f"  qrnn torch engine, float32:    {single:8.2f} steps/s   {single / peer:6.1f}x PennyLane"
    )
    print(f"  first-step loss difference (float64): {agreement:.2e}")
    return double / peer, single / peer


if __name__ == "__main__":
    main()
