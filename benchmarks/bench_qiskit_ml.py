"""Switching from qiskit-machine-learning: one W1 training step (benchmarks/w1.py) four ways.

1. qiskit-ML ``EstimatorQNN`` + ``TorchConnector`` on Aer's ``EstimatorV2``
   (``qiskit_aer.primitives``), with qiskit-ML's default gradient (``ParamShiftEstimatorGradient``);
2. the same qiskit-ML model on qrnn's ``EstimatorV2`` (``qrnn.interfaces.qiskit_primitives``):
   the one-line switch;
3. qrnn's ``QuantumLayer`` on the Aer backend, parameter-shift (every shifted circuit of a layer
   call in ONE Aer run: 120 circuits per sample and time step here, the 10 RZ gates before the
   last CX ring being unable to change <Z_i>);
4. qrnn's ``QuantumLayer`` on the torch engine (exact, autograd), the natural per-step loop.

All four run the same model (same circuit, initial weights and data; estimators exact: precision
0), float64, and every Aer run uses ``--threads`` OpenMP threads (qrnn's Aer backend follows
torch's thread count; Aer's estimator is given it), so no row stalls on threads another
program's core holds. qiskit-ML pays 5-15 ms per PUB, and its gradient sends one PUB per
sample, observable and shifted binding (1400 per sample and time step for W1), so a full W1 step
(32 samples x 16 time steps) takes an hour or more. Rows 1-3 are therefore timed on a reduced step
(``--*-batch`` samples, ``--*-steps`` time steps; row 3 defaults to the full step) and scaled to
W1 by (32 / batch) * (16 / steps): their cost is per circuit evaluation, i.e. per sample and time
step. Every row first runs one untimed warm-up step on one sample and time step (caches,
compilation), then ``--rounds``
timed rounds interleaved across rows (a slow spell of a shared machine hits all of them).

Before timing, the four models' outputs on the same batch are compared (they compute the same).

    python benchmarks/bench_qiskit_ml.py [--rounds N] [--aer-ml-batch B] [--aer-ml-steps T] ...
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import w1

from qrnn import QuantumLayer, backends


def initial_weights(n_weights: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.rand(n_weights, generator=generator, dtype=torch.float64) * 2 * torch.pi


class QiskitMLCell(torch.nn.Module):
    """W1's quantum cell as qiskit-ML builds it: EstimatorQNN + TorchConnector."""

    def __init__(self, estimator):
        from qiskit.quantum_info import SparsePauliOp
        from qiskit_machine_learning.connectors import TorchConnector
        from qiskit_machine_learning.neural_networks import EstimatorQNN

        super().__init__()
        circuit, angles, weights = w1.circuit()
        qnn = EstimatorQNN(
            circuit=circuit,
            estimator=estimator,
            observables=[SparsePauliOp(label) for label in w1.observables()],
            input_params=list(angles),
            weight_params=list(weights),
            input_gradients=True,  # the encoding Linear before the circuit is trained too
            default_precision=0.0,  # exact, as the other rows
        )
        self.connector = TorchConnector(qnn, initial_weights=initial_weights(len(weights)).numpy())

    def prepare(self):
        return lambda angles: self.connector(angles).to(angles.dtype)


def quantum_layer(backend) -> QuantumLayer:
    circuit, angles, weights = w1.circuit()
    layer = QuantumLayer(
        circuit, angles, weights, w1.observables(), backend=backend, dtype=torch.float64
    )
    with torch.no_grad():
        layer.weight.copy_(initial_weights(len(weights)))
    return layer


class Row:
    """One way of training W1, timed on ``batch`` samples and ``steps`` time steps."""

    def __init__(self, name: str, cell: torch.nn.Module, batch: int, steps: int, repeats: int):
        torch.manual_seed(0)  # the same classical layers in every row
        self.name, self.batch, self.steps, self.repeats = name, batch, steps, repeats
        self.model = w1.W1Model(cell).to(torch.float64)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=0.01)
        inputs, targets = w1.data()
        self.inputs, self.targets = inputs[:batch, :steps], targets[:batch]
        self.times: list[float] = []

    def step(self) -> None:
        start = time.perf_counter()
        self._train(self.inputs, self.targets)
        self.times.append(time.perf_counter() - start)

    def warm_up(self) -> None:
        """One untimed step on one sample and time step: the caches are per circuit."""
        self._train(self.inputs[:1, :1], self.targets[:1])

    def _train(self, inputs, targets) -> None:
        self.optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(self.model(inputs), targets)
        loss.backward()
        self.optimizer.step()

    @property
    def scale(self) -> float:
        """Reduced step -> full W1 step."""
        return (w1.BATCH / self.batch) * (w1.STEPS / self.steps)

    def w1_seconds(self) -> tuple[float, float]:
        """(W1 step seconds from the median timed step, from the fastest), scaled."""
        return statistics.median(self.times) * self.scale, min(self.times) * self.scale


def forward_agreement(cells: dict[str, torch.nn.Module]) -> float:
    """Largest difference between the cells' outputs on one batch of angles."""
    angles = torch.rand(2, w1.N_QUBITS, generator=torch.Generator().manual_seed(2)).double()
    with torch.no_grad():
        outputs = [cell.prepare()(angles) for cell in cells.values()]
    return max(float((out - outputs[0]).abs().max()) for out in outputs[1:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="interleaved timed rounds")
    parser.add_argument("--aer-ml-batch", type=int, default=1, help="row 1: samples")
    parser.add_argument("--aer-ml-steps", type=int, default=1, help="row 1: time steps")
    parser.add_argument("--qrnn-ml-batch", type=int, default=2, help="row 2: samples")
    parser.add_argument("--qrnn-ml-steps", type=int, default=2, help="row 2: time steps")
    parser.add_argument("--aer-batch", type=int, default=w1.BATCH, help="row 3: samples")
    parser.add_argument("--aer-steps", type=int, default=w1.STEPS, help="row 3: time steps")
    parser.add_argument("--torch-repeats", type=int, default=10, help="row 4: steps per round")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from qiskit_aer.primitives import EstimatorV2 as AerEstimator

    from qrnn.interfaces.qiskit_primitives import EstimatorV2

    cells = {
        "aer_ml": QiskitMLCell(
            AerEstimator(options={"run_options": {"max_parallel_threads": args.threads}})
        ),
        "qrnn_ml": QiskitMLCell(EstimatorV2()),
        "aer_shift": quantum_layer(backends.get("aer")),
        "torch": quantum_layer("torch"),
    }
    agreement = forward_agreement(cells)
    rows = {
        "aer_ml": Row(
            "qiskit-ML EstimatorQNN, Aer EstimatorV2", cells["aer_ml"], args.aer_ml_batch,
            args.aer_ml_steps, 1,
        ),
        "qrnn_ml": Row(
            "qiskit-ML EstimatorQNN, qrnn EstimatorV2", cells["qrnn_ml"], args.qrnn_ml_batch,
            args.qrnn_ml_steps, 1,
        ),
        "aer_shift": Row(
            "qrnn QuantumLayer, Aer, parameter-shift", cells["aer_shift"], args.aer_batch,
            args.aer_steps, 1,
        ),
        "torch": Row(
            "qrnn QuantumLayer, torch engine", cells["torch"], w1.BATCH, w1.STEPS,
            args.torch_repeats,
        ),
    }  # fmt: skip
    for row in rows.values():
        row.warm_up()
    for _ in range(args.rounds):
        for row in rows.values():
            for _ in range(row.repeats):
                row.step()
    print(
        f"W1 training step (batch {w1.BATCH}, {w1.STEPS} time steps, {w1.N_QUBITS} qubits, "
        f"float64, {args.threads} torch thread(s), {args.rounds} interleaved round(s)); seconds "
        "per W1 step from the median timed step [from the fastest]"
    )
    base_median, base_best = rows["aer_ml"].w1_seconds()
    for row in rows.values():
        median, best = row.w1_seconds()
        reduced = "" if row.scale == 1 else f", timed on {row.batch} x {row.steps}, scaled"
        print(
            f"  {row.name:42s} {median:10.2f} [{best:10.2f}] s  {1 / median:9.5f} steps/s  "
            f"{base_median / median:8.1f}x [{base_best / best:8.1f}x] row 1"
            f"  ({len(row.times)} steps{reduced})"
        )
    ratios = {
        "qrnn_estimator_vs_aer_estimator": base_median / rows["qrnn_ml"].w1_seconds()[0],
        "qrnn_aer_parameter_shift_vs_qiskit_ml_aer": base_median
        / rows["aer_shift"].w1_seconds()[0],
        "quantum_layer_vs_qiskit_ml_aer": base_median / rows["torch"].w1_seconds()[0],
        "quantum_layer_vs_qiskit_ml_qrnn": rows["qrnn_ml"].w1_seconds()[0]
        / rows["torch"].w1_seconds()[0],
    }
    print(
        f"  parameter-shift on Aer, qrnn vs qiskit-ML: {ratios[list(ratios)[1]]:.1f}x (target 100x)"
    )
    print(f"  largest forward difference between the four: {agreement:.1e}")
    return ratios


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
