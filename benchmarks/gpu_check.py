"""One short check for a machine with an NVIDIA GPU: the torch engine on CUDA.

Prints throughput on the accelerator and the largest difference from the same computation
on the CPU (float64 there), for:

- the complex matrix-product rate of the device (the bound's unit, as ``bench_suite.py``);
- W1's circuit, expectation values forward at several batch sizes (the engine alone);
- every row of the speed suite (``suite.py``): the training step of the recurrent shell as a
  user writes it (``layer(angles)`` at every time step), float32 and float64, at batch 32
  (the suite's) and larger batches;
- W1 on the ``iontrap-10q`` device, exact noisy engine (``bench_noise.py``'s workload):
  expectation values forward and forward + backward, samples per second;
- W2 (``w2.py``, the quantum-memory QRNN, 4 data + 6 hidden qubits): training steps (a
  10-qubit density matrix is 16 MiB per sample in complex128, so its batches stay small);
- W2 under the ``iontrap-10q`` device's noise (``to_backend(model, "torch", device=...)``:
  the exact noisy engine through the QRNN's markers), training steps at W2's full size and,
  against the CPU's float64 first loss and gradients, at ``bench_noise.py``'s small size
  (2 + 3 qubits).

Each section runs on its own; one that fails prints its traceback and the rest still run.
``--json PATH`` also writes the rows there.

    python benchmarks/gpu_check.py                # needs CUDA; says so and exits 2 without
    python benchmarks/gpu_check.py --device cpu   # dry run of the same script on the CPU
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite
import w1
import w2
from bench_suite import Shell

from qrnn import QuantumLayer, sim

CPU = torch.device("cpu")


def _synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_seconds(function, repeats, device):
    """Median wall time of ``function()`` after one warm-up call (plans, kernels, caches)."""
    result = function()
    _synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def gemm_rates(device, size=1024, batch=1024):
    """Complex multiply-adds per second of ``(size, size) @ (size, batch)`` on ``device``."""
    rows = []
    for dtype in (torch.complex64, torch.complex128):
        matrix = torch.randn(size, size, dtype=dtype, device=device)
        state = torch.randn(size, batch, dtype=dtype, device=device)
        seconds, _ = _median_seconds(lambda m=matrix, s=state: m @ s, 20, device)
        rate = size * size * batch / seconds
        rows.append(("complex GEMM", str(dtype).split(".")[1], batch, rate / 1e9, float("nan")))
    return rows  # "per second" column in G multiply-adds


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
            seconds, result = _median_seconds(
                lambda b=bound, x=inputs: b.expval(x), repeats, device
            )
            error = (result.double().cpu() - reference).abs().max().item()
            rows.append(("W1 expval", str(dtype).split(".")[1], batch, batch / seconds, error))
    return rows


def _training_step(model, inputs, targets):
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def step():
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def _gradients(model):
    return torch.cat([p.grad.flatten() for p in model.parameters()]).double().cpu()


def _first_step(build, inputs, targets, where, dtype):
    """The first training step's loss and gradients (before Adam moves the weights)."""
    model = build().to(device=where, dtype=dtype)
    step = _training_step(model, inputs.to(where, dtype), targets.to(where, dtype))
    return step().double().item(), _gradients(model)


def _training_rows(workload, build, inputs, targets, reference, device, repeats):
    """Steps/s of ``build()``'s training step on ``device`` in float32 and float64, and the
    first step's largest distance from ``reference`` (the CPU's float64 first loss and
    gradients, ``_first_step``; None: not compared, NaN)."""
    rows = []
    for dtype in (torch.float32, torch.float64):
        model = build().to(device=device, dtype=dtype)
        step = _training_step(model, inputs.to(device, dtype), targets.to(device, dtype))
        first = step().double().item()
        error = float("nan")
        if reference is not None:
            loss, gradients = reference
            error = max(abs(first - loss), (_gradients(model) - gradients).abs().max().item())
        seconds, _ = _median_seconds(step, repeats, device)
        name = str(dtype).split(".")[1]
        rows.append((workload, name, len(inputs), 1 / seconds, error))
        print(*rows[-1], flush=True)
    return rows


def suite_rows(device, batches, repeats, names):
    rows = []
    for shape in suite.shapes(names):

        def build(shape=shape):
            torch.manual_seed(0)
            layer = QuantumLayer(
                shape.circuit, shape.inputs, shape.weights, shape.observables, dtype=torch.float64
            )
            return Shell(shape, layer)

        for batch in batches:
            inputs, targets = w2.data(batch=batch, steps=suite.STEPS, dtype=torch.float64)
            # the CPU reference at the suite's batch only: the same code path, and at 14
            # qubits a batch of 1024 would take minutes there
            reference = None
            if batch <= suite.BATCH:
                reference = _first_step(build, inputs, targets, CPU, torch.float64)
            rows += _training_rows(shape.name, build, inputs, targets, reference, device, repeats)
    return rows


def w2_training(device, batches, repeats):
    rows = []
    for batch in batches:
        inputs, targets = w2.data(batch=batch, dtype=torch.float64)

        def build():
            torch.manual_seed(0)
            return w2.W2Model(dtype=torch.float64)

        reference = _first_step(build, inputs, targets, CPU, torch.float64)
        rows += _training_rows("W2 train step", build, inputs, targets, reference, device, repeats)
    return rows


def noisy_w2(device, sizes, repeats):
    """Training steps of W2 on ``iontrap-10q`` (exact noisy engine); ``sizes`` are
    ``(n_data, n_hidden, batch, steps)``. The CPU reference runs at 5 qubits or fewer only."""
    from bench_noise import DEVICE

    from qrnn import devices
    from qrnn.models import to_backend

    rows = []
    for n_data, n_hidden, batch, steps in sizes:
        inputs, targets = w2.data(batch=batch, steps=steps, dtype=torch.float64)
        noisy_device = devices.get(DEVICE, n_qubits=n_data + n_hidden)

        def build(n_data=n_data, n_hidden=n_hidden, noisy_device=noisy_device):
            torch.manual_seed(0)
            model = w2.W2Model(n_data, n_hidden, dtype=torch.float64)
            return to_backend(model, "torch", device=noisy_device)

        reference = None
        if n_data + n_hidden <= 5:
            reference = _first_step(build, inputs, targets, CPU, torch.float64)
        label = f"noisy W2 {n_data}+{n_hidden} x{steps}"
        rows += _training_rows(label, build, inputs, targets, reference, device, repeats)
        if device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(device) / 2**30
            print(f"# {label} batch {batch}: peak GPU memory so far {peak:.2f} GiB", flush=True)
    return rows


def noisy_forward(device, batches, repeats):
    """W1 on ``iontrap-10q`` (native gates, the device's noise: the exact noisy engine),
    weights bound once, forward and forward + backward, against the CPU in float64."""
    from bench_noise import Workload

    rows = []
    for batch in batches:
        work = Workload(10, batch)
        weights = work.values[0, work.weight_columns]
        inputs = work.values[:, work.input_columns]
        with torch.no_grad():
            reference = work.program.bind(weights).expval(inputs)
        for dtype in (torch.float32, torch.float64):
            weight = weights.to(device, dtype).requires_grad_()
            values = inputs.to(device, dtype)

            def forward(weight=weight, values=values, program=work.program):
                with torch.no_grad():
                    return program.bind(weight).expval(values)

            def forward_backward(weight=weight, values=values, program=work.program):
                out = program.bind(weight).expval(values)
                out.sum().backward()
                return out.detach()

            name = str(dtype).split(".")[1]
            for label, function in (("noisy fwd", forward), ("noisy fwd+bwd", forward_backward)):
                seconds, result = _median_seconds(function, repeats, device)
                error = (result.double().cpu() - reference).abs().max().item()
                rows.append((f"W1 {label}", name, batch, batch / seconds, error))
                print(*rows[-1], flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu for a dry run")
    parser.add_argument("--batches", default="32,1024,8192", help="W1 expval batch sizes")
    parser.add_argument("--train-batches", default="32,1024", help="training batch sizes")
    parser.add_argument("--w2-batches", default="32,64", help="W2 training batch sizes")
    parser.add_argument("--noisy-batches", default="32,256", help="noisy W1 batch sizes")
    parser.add_argument(
        "--noisy-w2",
        default="2+3:8:4,4+6:8:16,4+6:32:16",
        help="noisy W2 sizes, data+hidden:batch:steps, comma separated",
    )
    parser.add_argument("--rows", nargs="*", default=None, help="suite rows (default: all)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
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
    train_batches = [int(b) for b in args.train_batches.split(",")]
    w2_batches = [int(b) for b in args.w2_batches.split(",")]
    noisy_batches = [int(b) for b in args.noisy_batches.split(",")]
    noisy_w2_sizes = [
        tuple(int(n) for n in size.replace("+", ":").split(":"))
        for size in args.noisy_w2.split(",")
    ]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"gpu_check on {name}; torch {torch.__version__}", flush=True)
    sections = [
        ("gemm", lambda: gemm_rates(device)),
        ("w1 forward", lambda: w1_forward(device, batches, args.repeats)),
        ("w2", lambda: w2_training(device, w2_batches, args.repeats)),
        ("noisy", lambda: noisy_forward(device, noisy_batches, args.repeats)),
        ("noisy w2", lambda: noisy_w2(device, noisy_w2_sizes, args.repeats)),
        ("suite", lambda: suite_rows(device, train_batches, args.repeats, args.rows)),
    ]
    rows, failed = [], []
    for section, run in sections:
        start = time.perf_counter()
        try:
            rows += run()
        except Exception:  # a failing section must not hide the others' figures
            traceback.print_exc()
            failed.append(section)
        print(f"# {section}: {time.perf_counter() - start:.1f} s", flush=True)
    print(f"{'workload':<16} {'precision':<10} {'batch':>6} {'per second':>12} {'max |diff|':>11}")
    for workload, precision, batch, rate, error in rows:
        print(f"{workload:<16} {precision:<10} {batch:>6} {rate:>12.2f} {error:>11.2e}")
    if device.type == "cuda":
        print(f"# peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")
    if args.json is not None:
        fields = ("workload", "precision", "batch", "per_second", "max_difference")
        payload = {"device": name, "torch": torch.__version__, "failed": failed}
        payload["rows"] = [dict(zip(fields, row, strict=True)) for row in rows]
        args.json.write_text(json.dumps(payload, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
