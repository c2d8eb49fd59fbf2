"""Speed of one W2 training step: qrnn's QRNN (exact Kraus simulation) against PennyLane.

W2 (see ``w2.py``): 10 qubits = 4 data + 6 hidden, batch 32, 16 steps, reset of the data
register every step; forward + backward + Adam. qrnn runs the full W2 in complex64 (float32
parameters) and complex128 (float64).

The peer is PennyLane ``default.mixed`` with the torch interface and backprop, the reset as a
channel (``QubitChannel`` with Kraus operators ``|0><0|`` and ``|0><1|``) and the batch as
parameter broadcasting. At the full size it needs gigabytes per sample and step, so it runs a
REDUCED size (default: 4 data + 3 and + 4 hidden qubits, batch 2, 3 steps) and its time is
EXTRAPOLATED to W2: linearly in batch and steps and by 4x per extra qubit (the cost law of a
density-matrix engine; the growth measured between the two reduced widths is printed as a
check). qrnn runs the same reduced problem too, so the first-step losses can be compared
(float64 on both sides, torch default dtype float64 for PennyLane, whose RZ otherwise runs in
single precision) and a same-size ratio is printed as well.

Each timed step is measured on its own, in wall time and process (CPU) time; the best step is
the headline (closest to the uncontended speed on a shared machine) and the median shows the
noise. CPU time counts every thread, so with 2 threads it can be up to twice the wall time.

    python benchmarks/bench_w2.py [--steps N] [--threads N] [--peer-hidden 3 4]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import w2


def _timed_steps(model, inputs, targets, n_steps, warmup=1):
    """Time forward + backward + Adam, step by step. Returns (best wall s, best CPU s, median
    wall s, median CPU s, first loss): on a shared machine the best of several steps is the
    closest to the uncontended speed, the median says how noisy it was."""
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses, walls, cpus = [], [], []

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    for _ in range(warmup):
        step()
    for _ in range(n_steps):
        wall, cpu = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), statistics.median(walls), statistics.median(cpus), losses[0]


class PennyLaneW2(torch.nn.Module):
    """W2 on PennyLane default.mixed (backprop, broadcasting over the batch)."""

    def __init__(self, n_data, n_hidden, weights, head):
        import pennylane as qml

        super().__init__()
        n = n_data + n_hidden
        device = qml.device("default.mixed", wires=n)
        reset = [torch.tensor([[1.0, 0.0], [0.0, 0.0]]), torch.tensor([[0.0, 1.0], [0.0, 0.0]])]

        @qml.qnode(device, interface="torch", diff_method="backprop")
        def node(x, w):  # x: (batch, steps)
            steps = x.shape[1]
            for t in range(steps):
                for q in range(n_data):
                    qml.RY(math.pi * x[:, t], wires=q)
                for layer in range(w2.REPS):
                    base = layer * 3 * n
                    for q in range(n):
                        qml.RX(w[base + 2 * q], wires=q)
                        qml.RZ(w[base + 2 * q + 1], wires=q)
                    for i in range(n):
                        qml.IsingXX(w[base + 2 * n + i], wires=[i, (i + 1) % n])
                if t < steps - 1:
                    for q in range(n_data):
                        qml.QubitChannel([k.to(w.dtype) for k in reset], wires=q)
            return [qml.expval(qml.PauliZ(q)) for q in range(n_data)]

        self.node = node
        self.weight = torch.nn.Parameter(weights.detach().clone())
        self.head = torch.nn.Linear(n_data, 1, dtype=weights.dtype)
        self.head.load_state_dict(head.state_dict())

    def forward(self, sequence):
        z = torch.stack(self.node(sequence[..., 0], self.weight), dim=-1)
        return self.head(z)


def reduced(n_hidden, batch, steps, n_steps):
    """qrnn and PennyLane on one reduced W2 from the same initial weights; returns the
    ``_timed_steps`` results of qrnn and of PennyLane."""
    torch.manual_seed(0)
    ours = w2.W2Model(n_hidden=n_hidden, dtype=torch.float64)
    inputs, targets = w2.data(batch, steps, dtype=torch.float64)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        peer = PennyLaneW2(w2.N_DATA, n_hidden, ours.qrnn.cell(0).weight, ours.head)
        peer_time = _timed_steps(peer, inputs, targets, n_steps)
    finally:
        torch.set_default_dtype(default)
    return _timed_steps(ours, inputs, targets, max(n_steps, 10)), peer_time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5, help="timed qrnn W2 steps per precision")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--peer-hidden", type=int, nargs=2, default=(3, 4), metavar="H")
    parser.add_argument("--peer-batch", type=int, default=2)
    parser.add_argument("--peer-seq", type=int, default=3, help="time steps of the reduced run")
    parser.add_argument("--peer-steps", type=int, default=3, help="timed PennyLane steps")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    print(
        f"W2 training step: {w2.N_DATA} data + {w2.N_HIDDEN} hidden qubits, batch {w2.BATCH}, "
        f"{w2.STEPS} steps, reps={w2.REPS}; {args.threads} torch threads"
    )
    results = {}
    for dtype, name in ((torch.float32, "complex64"), (torch.float64, "complex128")):
        torch.manual_seed(0)
        model = w2.W2Model(dtype=dtype)
        inputs, targets = w2.data(dtype=dtype)
        wall, cpu, median_wall, median_cpu, loss = _timed_steps(model, inputs, targets, args.steps)
        results[name] = (wall, cpu)
        print(
            f"  qrnn QRNN {name:10s}: {1 / wall:5.2f} steps/s (best of {args.steps}: "
            f"{wall:.2f} s/step wall, {cpu:.2f} CPU-s; median {median_wall:.2f} s wall, "
            f"{median_cpu:.2f} CPU-s), first loss {loss:.6f}"
        )

    print(
        f"PennyLane default.mixed, reduced: {w2.N_DATA} data + {args.peer_hidden} hidden "
        f"qubits, batch {args.peer_batch}, {args.peer_seq} steps (float64 both sides; best of "
        f"{args.peer_steps} steps)"
    )
    peer_runs = []
    for n_hidden in args.peer_hidden:
        ours, peer = reduced(n_hidden, args.peer_batch, args.peer_seq, args.peer_steps)
        peer_runs.append((n_hidden, peer[0], peer[1]))
        print(
            f"  {w2.N_DATA}+{n_hidden} qubits: PennyLane {peer[0]:8.3f} s/step wall "
            f"({peer[1]:.3f} CPU-s; median {peer[2]:.3f} s), qrnn {ours[0]:.4f} s/step "
            f"({ours[1]:.4f} CPU-s); same-size ratio {peer[0] / ours[0]:6.1f}x wall, "
            f"{peer[1] / ours[1]:6.1f}x CPU"
        )
        print(
            f"    first-step loss: PennyLane {peer[4]:.12f}, qrnn {ours[4]:.12f} "
            f"(difference {abs(peer[4] - ours[4]):.1e})"
        )

    # Extrapolation: linear in batch and steps; x4 per extra qubit, the cost law of a
    # density-matrix engine (2**(2n) entries per sample, every gate touches all of them). The
    # growth measured between the two reduced widths is printed as a check: at these small
    # widths fixed overheads and a shared machine's noise pull it away from 4.
    (h1, wall1, _), (h2, wall2, cpu2) = peer_runs[0], peer_runs[-1]
    scale = (w2.BATCH / args.peer_batch) * (w2.STEPS / args.peer_seq)
    law = 4.0 ** (w2.N_HIDDEN - h2)
    full_wall, full_cpu = wall2 * scale * law, cpu2 * scale * law
    measured = (wall2 / wall1) ** (1 / (h2 - h1)) if h2 != h1 else float("nan")
    print(
        f"  EXTRAPOLATED to W2 from {w2.N_DATA}+{h2}: x{scale:.1f} for batch and steps, x4 per "
        f"hidden qubit -> {full_wall:.0f} s/step wall, {full_cpu:.0f} CPU-s/step "
        f"(growth per qubit measured here: x{measured:.2f})"
    )
    for name, (wall, cpu) in results.items():
        print(
            f"  ratio qrnn {name} / PennyLane default.mixed (extrapolated): "
            f"{full_wall / wall:,.0f}x wall, {full_cpu / cpu:,.0f}x CPU"
        )
    return results


if __name__ == "__main__":
    main()
