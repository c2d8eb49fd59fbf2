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
  autograd (Aer has none: parameter shift would cost 2 x 70 more forwards); and a
  ``QuantumLayer``'s training step on the device backend: the weights bound once
  (``Backend.bind``) against a copy of them in every row of the values (the layer's path
  before, where every sample's weight blocks were built and differentiated apart);
* **PennyLane** ``default.mixed`` (``qrnn.backends.get("pennylane:default.mixed",
  device=...)``, backprop) at a size it holds in reasonable time: the same cell on 6 qubits of
  the same device, batch 8, against qrnn on that size.

Each row prints the largest difference between the executors' values. Timings interleave
the executors in rounds and report the median; torch and Aer get the same number of threads
(``--threads``, default 2).

* **a noisy W2 training step**: a small W2 (its ansatz in a QRNN, 2 data + 3 hidden qubits,
  batch 8, 4 steps) on 5 qubits of the device, forward + backward: qrnn's torch engine
  (autograd) against Aer (exact values at the markers, parameter-shift gradients); and
  the same at W2's full width (4 data + 6 hidden qubits, all of the device), qrnn's torch
  engine alone, ``--w2-batch`` windows of ``--w2-steps`` steps, with its peak memory;
* **the default run's noisy evaluation** (``qrnn evaluate RUN --device iontrap-10q --shots
  1000``): the model ``qrnn train`` builds by default (a QRNN, 4 data + 6 hidden qubits,
  windows of 4; weights as initialised with seed 0, or a run's checkpoint with ``--run``) moved
  to the device with 1000 shots, on the torch engine and on Aer, in ``--windows`` interleaved
  rounds (default 8; Aer takes tens of seconds per window): round r times Aer predicting test
  window r and the torch engine predicting the batch of 16 test windows that holds it (``qrnn
  evaluate``'s batch); the median of the rounds' per-window ratios is reported with their
  range. The torch engine's compilation and weight binding (once per evaluation) are done
  before the rounds; Aer's timing includes its transpilation, a few seconds of each window's.
  The torch engine also scores all validation and test windows, as ``qrnn evaluate`` does
  (``--skip-all-windows``: not); ``--aer-final-state`` also times Aer as the forecaster ran
  before it read outputs only (the final state made too). The shot predictions of the two
  differ by shot noise only: printed beside the spread the shots alone give (the torch
  engine's exact predictions against its sampled ones).

    python benchmarks/bench_noise.py [--rounds N] [--threads N] [--skip-pennylane]
        [--skip-w1] [--skip-w2] [--skip-evaluation] [--windows N] [--aer-final-state]
        [--skip-all-windows] [--run RUN] [--w2-batch N] [--w2-steps N]
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
EVALUATION_BATCH = 16  # windows per forward in ``qrnn evaluate``'s scoring


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
        self.angle_params, self.weight_param_list = list(angles), list(weights)
        self.observables = w1.observables(n_qubits)
        torch_backend = backends.get("torch", device=self.device)
        self.torch_backend = torch_backend
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

    def layer_step(self, rows: bool = False):
        """A ``QuantumLayer``'s forward + backward on the device through the torch backend:
        the weights bound once (``Backend.bind``, what the layer does now) or, with ``rows``,
        a copy of them in every row of the values (``Backend.expval``, what it did before)."""
        weights = self.weights.clone().requires_grad_()
        inputs = self.inputs.clone().requires_grad_()
        backend = self.torch_backend
        if rows:
            values = torch.cat([weights.expand(len(inputs), -1), inputs], dim=1)
            out = backend.expval(self.circuit, values, self.observables)
        else:
            params = (self.weight_param_list, self.angle_params)
            out = backend.bind(self.circuit, self.observables, *params, weights)(inputs)
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
    parser.add_argument("--skip-w1", action="store_true", help="only the evaluation rows")
    parser.add_argument("--skip-evaluation", action="store_true")
    parser.add_argument("--skip-w2", action="store_true")
    parser.add_argument(
        "--windows",
        type=int,
        default=8,
        help="evaluation rounds: test windows both engines predict, one per round (default 8; "
        "Aer takes tens of seconds per window)",
    )
    parser.add_argument(
        "--aer-final-state",
        action="store_true",
        help="also time Aer making the final state each round, as before the Forecaster read "
        "outputs only",
    )
    parser.add_argument(
        "--skip-all-windows",
        action="store_true",
        help="no torch scoring of all validation and test windows",
    )
    parser.add_argument("--run", help="a run directory of the default model (default: seed 0)")
    parser.add_argument(
        "--w2-batch", type=int, default=8, help="windows of the full-width W2 step (default 8)"
    )
    parser.add_argument(
        "--w2-steps", type=int, default=4, help="steps of the full-width W2 step (default 4)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.skip_w1:
        w1_rows(args)
    if not args.skip_w2:
        w2_rows(args)
        w2_full_row(args)
    if not args.skip_evaluation:
        evaluation_rows(args)


def w2_rows(args):
    """A noisy training step (forward + backward) of a small W2: the quantum-memory QRNN with
    W2's ansatz, 2 data + 3 hidden qubits, batch 8, 4 steps, on 5 qubits of the device.
    qrnn's torch engine (exact noisy values, autograd through the density matrices, one pass
    per sequence) against Aer (exact noisy values at the markers, parameter-shift gradients);
    the gradients' largest difference is printed."""
    import w2

    from qrnn.models import to_backend

    device = devices.get(DEVICE, n_qubits=5)
    inputs, targets = w2.data(batch=8, steps=4, dtype=torch.float64)

    models = {}
    for name in ("torch", "aer"):
        torch.manual_seed(0)
        models[name] = to_backend(w2.W2Model(2, 3, dtype=torch.float64), name, device=device)
    models["aer"].qrnn.cell_l0._backend.simulator.set_options(max_parallel_threads=args.threads)

    def step(name):
        model = models[name]
        model.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        return torch.cat([p.grad.flatten() for p in model.parameters()])

    times = {"torch": [], "aer": []}
    grads = {name: step(name) for name in times}  # the first: transpiling, compiling
    for _ in range(args.rounds):
        for name in times:
            seconds, grads[name] = timed(lambda n=name: step(n))
            times[name].append(seconds)
    median = {key: statistics.median(values) for key, values in times.items()}
    difference = float((grads["torch"] - grads["aer"]).abs().max())
    print(
        f"\nA noisy W2 training step (QRNN, 2 data + 3 hidden qubits, batch 8, 4 steps, "
        f"{DEVICE}): qrnn torch {median['torch']:.2f} s (autograd), Aer {median['aer']:.2f} s "
        f"(parameter shift): {median['aer'] / median['torch']:.1f}x; max |gradient diff| "
        f"{difference:.2e}"
    )


def w2_full_row(args):
    """A noisy training step of W2 at its full width (4 data + 6 hidden qubits, all of
    ``iontrap-10q``) on qrnn's torch engine, ``--w2-batch`` windows of ``--w2-steps`` steps
    (W2 itself: 32 and 16), with the process's peak memory growth over the step. Run in a
    fresh process, so that the peak is the step's own."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        times, peak = pool.apply(
            _w2_full_steps, (args.threads, args.w2_batch, args.w2_steps, args.rounds)
        )
    print(
        f"A noisy W2 training step at full width (QRNN, 4 data + 6 hidden qubits, batch "
        f"{args.w2_batch}, {args.w2_steps} steps, {DEVICE}, float64): qrnn torch "
        f"{statistics.median(times):.2f} s (autograd; the first, compiling, not counted); peak "
        f"memory {peak / 2**20:.0f} MiB above the process before it"
    )


def _w2_full_steps(threads, batch, steps, rounds):
    import resource

    import w2

    from qrnn.models import to_backend

    torch.set_num_threads(threads)
    inputs, targets = w2.data(batch=batch, steps=steps, dtype=torch.float64)
    torch.manual_seed(0)
    model = to_backend(w2.W2Model(dtype=torch.float64), "torch", device=DEVICE)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # (KiB on Linux)

    def step():
        model.zero_grad()
        torch.nn.functional.mse_loss(model(inputs), targets).backward()

    step()
    times = [timed(step)[0] for _ in range(rounds)]
    return times, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before


def w1_rows(args):
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
    times = {key: [] for key in ("torch", "one-shot", "fwd+bwd", "layer", "rows", "aer")}
    outputs = {}
    for _ in range(args.rounds):
        for key, run in (
            ("torch", work.qrnn_forward),
            ("one-shot", work.qrnn_one_shot),
            ("fwd+bwd", work.qrnn_forward_backward),
            ("layer", work.layer_step),
            ("rows", lambda: work.layer_step(rows=True)),
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
        ("training step: QuantumLayer, weights bound", "layer"),
        ("training step: weights in every row (before)", "rows"),
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


def default_model(run=None):
    """The model and data of ``qrnn train``'s defaults: a run's checkpoint, or seed 0."""
    from qrnn.config import RunConfig
    from qrnn.runs import build_model, load_data, read_run_config
    from qrnn.train import load_weights

    config = RunConfig() if run is None else read_run_config(run)
    data = load_data(config)
    torch.manual_seed(0)
    model = build_model(config, data)
    if run is not None:
        load_weights(model, run)
    return model, data


def with_final_state(forecaster, windows):
    """The forecaster's prediction as it ran before it read outputs only: the recurrent
    module also makes its final state (on Aer: one more density-matrix simulation)."""
    with torch.no_grad():
        output, _state = forecaster.recurrent(windows)
        return forecaster.head(output[:, -1])


def evaluation_rows(args):
    """The default run's noisy evaluation, torch engine vs Aer, on the same windows, in
    interleaved rounds: round r times Aer predicting test window r and the torch engine
    predicting the batch of ``EVALUATION_BATCH`` test windows that holds it (what ``qrnn
    evaluate`` runs); the round's ratio is per window. The median ratio is reported."""
    from qrnn.models import to_backend
    from qrnn.train import evaluate, predict

    shots = 1000
    test = default_model(args.run)[1].test.inputs
    if args.windows > len(test):
        raise SystemExit(f"--windows {args.windows}: the test split has {len(test)} windows")

    def on(backend, **options):
        model, data = default_model(args.run)
        return to_backend(model, backend, device=DEVICE, **options), data

    torch_model, data = on("torch", shots=shots, seed=0)
    aer_model, _ = on("aer", shots=shots, seed=1)
    aer_model.recurrent.cell_l0._backend.simulator.set_options(max_parallel_threads=args.threads)
    exact_model, _ = on("torch")
    batch = min(EVALUATION_BATCH, len(test))
    predict(torch_model, test[:batch])  # compiling and binding, once per evaluation
    seconds = {"torch": [], "aer": [], "aer, final state": []}  # per window
    ratios, final_ratios, on_torch, on_aer = [], [], [], []
    for r in range(args.windows):
        first = min(r // batch * batch, len(test) - batch)
        windows = test[first : first + batch]
        elapsed, predictions = timed(lambda w=windows: predict(torch_model, w))
        seconds["torch"].append(elapsed / batch)
        on_torch.append(predictions[r - first])
        elapsed, predictions = timed(lambda w=test[r : r + 1]: predict(aer_model, w))
        seconds["aer"].append(elapsed)
        on_aer.append(predictions[0])
        ratios.append(seconds["aer"][-1] / seconds["torch"][-1])
        if args.aer_final_state:
            elapsed, _ = timed(lambda w=test[r : r + 1]: with_final_state(aer_model, w))
            seconds["aer, final state"].append(elapsed)
            final_ratios.append(elapsed / seconds["torch"][-1])
    on_torch, on_aer = torch.stack(on_torch), torch.stack(on_aer)
    exact = predict(exact_model, test[: args.windows])
    median = {key: statistics.median(values) for key, values in seconds.items() if values}
    shot_noise = float((on_torch - exact).abs().max())
    difference = float((on_torch - on_aer).abs().max())
    print(
        f"\nThe default run's noisy evaluation ({DEVICE}, {shots} shots, windows of "
        f"{test.shape[1]} steps), {args.windows} rounds, per window (median):"
    )
    print(f"  Aer (prefix circuit per step, transpiling included)  {median['aer']:8.3f} s")
    print(f"  qrnn torch (one pass per window, batches of {batch})     {median['torch']:8.3f} s")
    print(
        f"  ratio per round: median {statistics.median(ratios):.1f}x Aer (range "
        f"{min(ratios):.1f}-{max(ratios):.1f}x)"
    )
    if final_ratios:
        print(
            f"  Aer also making the final state (the Forecaster's path before it read outputs "
            f"only) {median['aer, final state']:.3f} s: median "
            f"{statistics.median(final_ratios):.1f}x (range {min(final_ratios):.1f}-"
            f"{max(final_ratios):.1f}x)"
        )
    print(
        f"  max |torch - Aer| prediction {difference:.3g} (shots alone: max |sampled - exact| "
        f"{shot_noise:.3g} on torch)"
    )
    if args.skip_all_windows:
        return
    elapsed, scores = timed(lambda: evaluate(torch_model, data, ("val", "test"), batch_size=batch))
    total = len(data.val.inputs) + len(data.test.inputs)
    print(
        f"  qrnn torch, all {total} validation and test windows (qrnn evaluate's scoring): "
        f"{elapsed:.1f} s; test MSE {scores['test']['mse']:.4g}; per window "
        f"{median['aer'] / (elapsed / total):.1f}x Aer's median"
    )


if __name__ == "__main__":
    main()
