"""One short check for a machine with an NVIDIA GPU: the torch engine on CUDA, Aer on GPU.

For the reference workloads at several batch sizes it prints throughput on the accelerator
and the largest difference from the same computation on the CPU:

- W1 (10-qubit circuit cell): expectation values forward, and full training steps;
- W2 (quantum-memory QRNN, 4 data + 6 hidden qubits): training steps, when qrnn.models.QRNN
  is importable;
- Aer with ``device="GPU"`` (qiskit-aer-gpu), when it is installed: the W1 circuit with all
  bindings of a batch in one run.

    python benchmarks/gpu_check.py                # needs CUDA; says so and exits 2 without
    python benchmarks/gpu_check.py --device cpu   # dry run of the same script on the CPU
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from qiskit.quantum_info import SparsePauliOp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import w1

from qrnn import sim


def _timed(function, repeats, device):
    function()  # warm-up: compile, allocate, load kernels
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        result = function()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / repeats, result


def w1_forward(device, batches, repeats):
    circuit, _angles, weights = w1.circuit()
    program = sim.compile(circuit, w1.observables(), weight_params=weights)
    generator = torch.Generator().manual_seed(0)
    rows = []
    for dtype in (torch.float32, torch.float64):
        weight = torch.rand(len(weights), generator=generator, dtype=torch.float64) * 6.28
        for batch in batches:
            angles = torch.rand(batch, w1.N_QUBITS, generator=generator, dtype=torch.float64)
            reference = program.bind(weight).expval(angles)  # CPU, complex128
            bound = program.bind(weight.to(device, dtype))
            inputs = angles.to(device, dtype)
            seconds, result = _timed(lambda b=bound, x=inputs: b.expval(x), repeats, device)
            error = (result.double().cpu() - reference).abs().max().item()
            rows.append(("W1 expval", str(dtype).split(".")[1], batch, batch / seconds, error))
    return rows


def _sine_windows(batch, dtype):
    generator = torch.Generator().manual_seed(batch)
    time_axis = torch.arange(w1.STEPS + 1, dtype=torch.float64) * 0.4
    phases = 6 * torch.rand(batch, 1, generator=generator, dtype=torch.float64)
    windows = torch.sin(time_axis[None] + phases).to(dtype)
    return windows[:, : w1.STEPS, None], windows[:, w1.STEPS, None]


def _training_step(model, inputs, targets):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def w1_training(device, batches, repeats):
    from bench_w1 import QrnnCell

    rows = []
    for dtype in (torch.float32, torch.float64):
        for batch in batches:
            inputs, targets = _sine_windows(batch, dtype)
            first_losses = []
            for where in (torch.device("cpu"), device):
                torch.manual_seed(0)
                model = w1.W1Model(QrnnCell()).to(device=where, dtype=dtype)
                step = _training_step(model, inputs.to(where), targets.to(where))
                first_losses.append(step().double().item())
            seconds, _ = _timed(step, repeats, device)
            error = abs(first_losses[0] - first_losses[1])
            rows.append(("W1 train step", str(dtype).split(".")[1], batch, 1 / seconds, error))
    return rows


def w2_training(device, batches, repeats):
    try:
        from qrnn.models import QRNN
    except ImportError:
        return [("W2 train step", "QRNN missing", 0, float("nan"), float("nan"))]
    rows = []
    for dtype in (torch.float32, torch.float64):
        for batch in batches:
            inputs, targets = _sine_windows(batch, dtype)
            first_losses = []
            for where in (torch.device("cpu"), device):
                torch.manual_seed(0)
                model = _W2Model(QRNN(1, n_qubits=10, batch_first=True)).to(where, dtype)
                step = _training_step(model, inputs.to(where), targets.to(where))
                first_losses.append(step().double().item())
            seconds, _ = _timed(step, repeats, device)
            error = abs(first_losses[0] - first_losses[1])
            rows.append(("W2 train step", str(dtype).split(".")[1], batch, 1 / seconds, error))
    return rows


class _W2Model(torch.nn.Module):
    """QRNN with quantum memory, Linear(data register <Z> -> 1) on the last step."""

    def __init__(self, recurrent):
        super().__init__()
        self.recurrent = recurrent
        self.head = torch.nn.Linear(recurrent.hidden_size, 1)

    def forward(self, inputs):
        output, _ = self.recurrent(inputs)
        return self.head(output[:, -1])


def aer_gpu(batches):
    try:
        from qiskit_aer import AerSimulator
    except ImportError:
        return [("Aer GPU", "qiskit-aer missing", 0, float("nan"), float("nan"))]
    if "GPU" not in AerSimulator().available_devices():
        return [("Aer GPU", "no GPU build (pip install qiskit-aer-gpu)", 0, 0.0, float("nan"))]
    circuit = w1.circuit()[0]
    program = sim.compile(circuit, w1.observables())
    measured = circuit.copy()
    for q, label in enumerate(w1.observables()):
        measured.save_expectation_value(SparsePauliOp(label), range(w1.N_QUBITS), label=f"z{q}")
    rows = []
    generator = torch.Generator().manual_seed(0)
    for precision in ("single", "double"):
        simulator = AerSimulator(
            method="statevector", device="GPU", precision=precision, batched_shots_gpu=True
        )
        for batch in batches:
            values = torch.rand(batch, circuit.num_parameters, generator=generator) * 6.28
            binds = {p: values[:, i].tolist() for i, p in enumerate(circuit.parameters)}
            start = time.perf_counter()
            result = simulator.run(measured, parameter_binds=[binds]).result()
            seconds = time.perf_counter() - start
            aer = torch.tensor(
                [[result.data(k)[f"z{q}"] for q in range(w1.N_QUBITS)] for k in range(batch)]
            )
            error = (aer - program.expval(values.double())).abs().max().item()
            rows.append(("Aer GPU expval", precision, batch, batch / seconds, error))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu for a dry run")
    parser.add_argument("--batches", default="32,256,1024", help="comma-separated batch sizes")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(
            "gpu_check needs a CUDA GPU and a CUDA build of torch; none is available here. "
            "Run it on a GPU machine, or pass --device cpu for a dry run.",
            file=sys.stderr,
        )
        return 2
    batches = [int(b) for b in args.batches.split(",")]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"gpu_check on {name}; torch {torch.__version__}")
    rows = w1_forward(device, batches, args.repeats)
    rows += w1_training(device, batches[:2], args.repeats)
    rows += w2_training(device, batches[:2], args.repeats)
    rows += aer_gpu(batches)
    print(f"{'workload':<16} {'precision':<10} {'batch':>6} {'per second':>12} {'max |diff|':>11}")
    for workload, precision, batch, rate, error in rows:
        print(f"{workload:<16} {precision:<10} {batch:>6} {rate:>12.2f} {error:>11.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
