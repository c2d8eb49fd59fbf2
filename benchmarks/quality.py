"""Forecasting quality: quantum recurrent models next to parameter-matched classical ones.

Every model is trained the same way (``qrnn.fit``: Adam, the same epochs, batch size, window
and split) on each series, for several seeds, and scored by test MSE in the series' original
units. Each classical baseline (LSTM, GRU, ESN) is sized by ``match_parameters`` to the
trainable parameter count of the default quantum model (QRNN), so the comparison is at
equal size. Noiseless, exact simulation (the torch engine).

    python benchmarks/quality.py                       # the README table (takes a while)
    python benchmarks/quality.py --epochs 2 --seeds 1 --datasets sine   # a quick look

Writes a Markdown table (mean and standard deviation over seeds) to --out and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from qrnn import data as qdata
from qrnn import models
from qrnn.train import fit

QUANTUM = ["qlstm", "qgru", "qrnn", "qreservoir"]
CLASSICAL = ["lstm", "gru", "esn"]
DATASETS = ["sine", "damped_oscillator", "narma5", "mackey_glass", "airline"]


def build(name: str, reference: torch.nn.Module | None, options: dict) -> torch.nn.Module:
    if name in QUANTUM:
        return models.build(name, input_size=1, output_size=1, **options)
    return models.match_parameters(reference, family=name, input_size=1, output_size=1)


def run(args) -> dict:
    results: dict = {}
    quantum_options = {"n_qubits": args.qubits, "reps": args.reps}
    for dataset in args.datasets:
        data = qdata.prepare(qdata.load(dataset), window=args.window)
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            reference = models.build("qrnn", input_size=1, output_size=1, **quantum_options)
            for name in args.models:
                torch.manual_seed(seed)
                model = build(name, reference, quantum_options)
                start = time.perf_counter()
                history = fit(
                    model,
                    data,
                    epochs=args.epochs,
                    batch_size=args.batch_size,
                    lr=args.lr,
                    seed=seed,
                    progress=False,
                )
                seconds = time.perf_counter() - start
                entry = results.setdefault(dataset, {}).setdefault(
                    name, {"mse": [], "parameters": models.count_parameters(model), "seconds": []}
                )
                entry["mse"].append(history.metrics["test"]["mse"])
                entry["seconds"].append(seconds)
                print(
                    f"{dataset:<18} {name:<11} seed {seed}: test MSE "
                    f"{history.metrics['test']['mse']:.4g} ({seconds:.0f} s)",
                    flush=True,
                )
    return results


def table(results: dict, args) -> str:
    names = args.models
    lines = [
        f"Test MSE (original units), mean ± std over {args.seeds} seeds; {args.epochs} epochs, "
        f"window {args.window}, batch {args.batch_size}, Adam lr {args.lr}; quantum models on "
        f"{args.qubits} qubits, reps={args.reps} (ansatz repetitions), exact simulation.",
        "",
        "| series | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    first = next(iter(results.values()))
    lines.insert(
        2,
        "Trainable parameters: "
        + ", ".join(f"{n} {first[n]['parameters']}" for n in names if n in first)
        + "\n",
    )
    for dataset, row in results.items():
        cells = []
        best = min(statistics.mean(row[n]["mse"]) for n in names if n in row)
        for n in names:
            values = row[n]["mse"]
            mean = statistics.mean(values)
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            text = f"{mean:.3g} ± {spread:.2g}"
            cells.append(f"**{text}**" if mean == best else text)
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--models", nargs="+", default=QUANTUM + CLASSICAL)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--qubits", type=int, default=10)
    parser.add_argument("--reps", type=int, default=2, help="ansatz repetitions (circuit depth)")
    parser.add_argument("--out", default="benchmarks/results/quality.md")
    parser.add_argument(
        "--merge", nargs="+", metavar="JSON", help="only build the table from earlier results"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.models) - set(QUANTUM + CLASSICAL))
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {QUANTUM + CLASSICAL}")
    if args.merge:  # e.g. the halves of a run split over two processes
        results = {}
        for path in args.merge:
            results.update(json.loads(Path(path).read_text()))
    else:
        results = run(args)
    text = table(results, args)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for path, content in ((out, text), (out.with_suffix(".json"), json.dumps(results, indent=1))):
        with tempfile.NamedTemporaryFile("w", dir=out.parent, delete=False) as handle:
            handle.write(content)
        os.replace(handle.name, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
