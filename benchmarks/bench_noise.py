"""Speed of the noisy exact engine: W1's circuit on the ``iontrap-10q`` device model.

The W1 cell (``w1.py``: RY angle encoding, two hardware-efficient layers, <Z_q> of all
qubits) transpiled to the device's native gates (92 one-qubit and 20 two-qubit gates, each
followed by its depolarizing and thermal-relaxation error; readout error in the expectation
values), batch 32, float64/complex128 everywhere:

* **forward**: qrnn's torch engine as a model calls it (``Program.bind(weights)`` once, then
  ``expval(inputs)`` on the batch: weight-only work hoisted, timed together) and as a
  one-shot ``qrnn.sim.expval`` with every parameter given per sample (nothing hoisted),
  against Aer's density-matrix method through ``qrnn.backends.get("aer", device=...)``
  (32 bound circuits in one Aer call);
* **forward + backward**: qrnn's torch engine, gradients to the weights and the inputs by
  autograd (Aer has none: parameter shift would cost 2 x 70 more forwards);
* **PennyLane** ``default.mixed`` (``qrnn.backends.get("pennylane:default.mixed",
  device=...)``, backprop) at a size it holds in reasonable time: the same cell on 6 qubits of
  the same device, batch 8, against qrnn on that size.

Each row prints the largest difference between the executors' values. Timings interleave
the executors in rounds and report the median; torch and Aer get the same number of threads
(``--threads``, default 2).

    python benchmarks/bench_noise.py [--rounds N] [--threads N] [--skip-pennylane]
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

from qrnn import backends, devices, sim

DEVICE = "iontrap-10q"


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


class Workload:
    """The W1 cell on ``n_qubits`` of the device: its native runnable circuit, the weight
    and input parameters, and one batch of values."""

    def __init__(self, n_qubits: int, batch: int, seed: int = 0):
        self.device = devices.get(DEVICE, n_qubits=n_qubits)
        self.circuit, angles, weights = w1.circuit(n_qubits)
        self.observables = w1.observables(n_qubits)
        torch_backend = backends.get("torch", device=self.device)
        self.runnable = torch_backend.executable(self.circuit)
        self.noise_model = self.device.noise_model()
        generator = torch.Generator().manual_seed(seed)
        self.weights = torch.rand(len(weights), generator=generator, dtype=torch.float64) * 6
        self.inputs = torch.rand(batch, len(angles), generator=generator, dtype=torch.float64)
        self.inputs = self.inputs * 3
        # values in circuit.parameters order (weights w[...] sort before angles x[...])
        assert list(self.circuit.parameters) == [*weights, *angles]
        self.values = torch.cat([self.weights.expand(batch, -1), self.inputs], dim=1)
        names = {p.name for p in weights}
        self.weight_params = [p for p in self.runnable.parameters if p.name in names]
        self.input_params = [p for p in self.runnable.parameters if p.name not in names]
        by_name = {p.name: j for j, p in enumerate(self.circuit.parameters)}
        self.weight_columns = [by_name[p.name] for p in self.weight_params]
        self.input_columns = [by_name[p.name] for p in self.input_params]
        self.program = sim.compile(
            self.runnable,
            self.observables,
            noise_model=self.noise_model,
            weight_params=self.weight_params,
            input_params=self.input_params,
        )

    def qrnn_forward(self):
        weights = self.values[0, self.weight_columns]
        with torch.no_grad():
            return self.program.bind(weights).expval(self.values[:, self.input_columns])

    def qrnn_one_shot(self):
        runnable_values = self.values[:, [self._column(p) for p in self.runnable.parameters]]
        with torch.no_grad():
            return sim.expval(
                self.runnable, runnable_values, self.observables, noise_model=self.noise_model
            )

    def _column(self, parameter):
        return [p.name for p in self.circuit.parameters].index(parameter.name)

    def qrnn_forward_backward(self):
        weights = self.values[0, self.weight_columns].clone().requires_grad_()
        inputs = self.values[:, self.input_columns].clone().requires_grad_()
        out = self.program.bind(weights).expval(inputs)
        out.sum().backward()
        return out.detach()

    def backend(self, name):
        return backends.get(name, device=self.device)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--skip-pennylane", action="store_true")
    parser.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch and Aer threads (default 2; use 1 on a "
        "machine shared with other work, where 2 threads wait on each other)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    work = Workload(w1.N_QUBITS, w1.BATCH)
    aer = work.backend("aer")
    aer.simulator.set_options(max_parallel_threads=args.threads)
    plan = work.program._noisy
    print(
        f"W1 on {DEVICE}: {work.runnable.num_qubits} qubits, {len(work.runnable.data)} native "
        f"instructions, batch {w1.BATCH}, float64; the engine's plan: {len(plan.blocks)} fused "
        f"blocks of {sorted({len(b.qubits) for b in plan.blocks})} qubits, "
        f"{'a product state meets the observables evolved back' if plan.cut == 0 else ''}"
    )
    times = {key: [] for key in ("torch", "one-shot", "fwd+bwd", "aer")}
    outputs = {}
    for _ in range(args.rounds):
        for key, run in (
            ("torch", work.qrnn_forward),
            ("one-shot", work.qrnn_one_shot),
            ("fwd+bwd", work.qrnn_forward_backward),
            ("aer", lambda: aer.expval(work.circuit, work.values, work.observables)),
        ):
            seconds, outputs[key] = timed(run)
            times[key].append(seconds)
    median = {key: statistics.median(values) for key, values in times.items()}
    reference = outputs["aer"].double()
    print(f"{'row':48s} {'seconds':>9s} {'x Aer':>7s} {'max |diff| vs Aer':>18s}")
    rows = [
        ("qrnn torch forward (bind + expval)", "torch"),
        ("qrnn torch forward, one-shot sim.expval", "one-shot"),
        ("qrnn torch forward + backward", "fwd+bwd"),
        ("Aer density_matrix forward", "aer"),
    ]
    for label, key in rows:
        difference = float((outputs[key].double() - reference).abs().max())
        ratio = median["aer"] / median[key]
        print(f"{label:48s} {median[key]:9.3f} {ratio:7.1f} {difference:18.2e}")

    if not args.skip_pennylane:
        small = Workload(6, 8)
        pennylane = small.backend("pennylane:default.mixed")
        pl_times, torch_times = [], []
        for _ in range(args.rounds):
            seconds, pl_out = timed(
                lambda: pennylane.expval(small.circuit, small.values, small.observables)
            )
            pl_times.append(seconds)
            seconds, torch_out = timed(small.qrnn_forward)
            torch_times.append(seconds)
        pl, qr = statistics.median(pl_times), statistics.median(torch_times)
        difference = float((torch_out - pl_out.double()).abs().max())
        print(
            f"PennyLane default.mixed, the same cell on 6 qubits, batch 8: {pl:.3f} s; qrnn "
            f"torch {qr:.4f} s ({pl / qr:.0f}x); max |diff| {difference:.2e}"
        )

    # Rows of the default run's noisy evaluation (torch vs Aer) and of a noisy W2 training
    # step belong here (issue 13); they are added with those features.


if __name__ == "__main__":
    main()
