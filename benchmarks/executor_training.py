"""Exact, noisy-exact and shot-based training of one small model: the README's table.

The same QLSTM (same seed, so the same initial weights; the same series, windows and epochs)
is trained with ``qrnn.runs.train_run`` four ways:

1. exact on the torch engine (statevector, autograd);
2. noisy-exact on a device preset: the torch engine's exact density matrix with the device's
   noise and native gates, autograd;
3. shot-based on Aer with the device's noise, ``--shots`` per circuit, parameter-shift (every
   shifted circuit of a layer call in one Aer run);
4. the same with SPSA (two circuit runs per sample instead of two per gate angle).

Printed: test MSE (original units) of the trained model and wall seconds per epoch (``fit``'s
time over the epochs), as a Markdown table. Runs go to a temporary folder.

    python benchmarks/executor_training.py [--epochs N] [--shots N] [--device NAME] ...
"""

from __future__ import annotations

import argparse
import tempfile

import torch

from qrnn.config import RunConfig
from qrnn.runs import train_run


def rows(args) -> dict[str, dict]:
    device = {"device": args.device}
    shots = {"backend": "aer", "shots": args.shots, **device}
    return {
        "exact, torch engine (autograd)": {},
        f"noisy-exact, {args.device}, torch density matrix (autograd)": device,
        f"{args.shots} shots, {args.device}, Aer, parameter-shift": {
            **shots,
            "gradient": "parameter-shift",
        },
        f"{args.shots} shots, {args.device}, Aer, SPSA": {**shots, "gradient": "spsa"},
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qlstm")
    parser.add_argument("--qubits", type=int, default=3)
    parser.add_argument("--hidden-size", type=int, default=2)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--length", type=int, default=80, help="points of the sine series")
    parser.add_argument("--window", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--shots", type=int, default=500)
    parser.add_argument("--device", default="iontrap-10q")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch (and Aer) threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    base = {
        "model": args.model,
        "qubits": args.qubits,
        "hidden_size": args.hidden_size,
        "reps": args.reps,
        "dataset": "sine",
        "dataset_options": {"length": args.length},
        "window": args.window,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "seed": args.seed,
        "baseline": "none",
    }
    print(
        f"{args.model.upper()}, {args.qubits} qubits, hidden size {args.hidden_size}, reps "
        f"{args.reps}; sine of {args.length} points, windows of {args.window}, batch "
        f"{args.batch_size}, lr {args.lr}, {args.epochs} epochs, seed {args.seed}; "
        f"{args.threads} thread(s)\n"
    )
    print("| training | test MSE | seconds per epoch |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory() as folder:
        for k, (name, keys) in enumerate(rows(args).items()):
            config = RunConfig.from_mapping(
                {**base, **keys, "output_dir": folder, "name": f"row{k}"}
            )
            result = train_run(config, progress=False, echo=None)
            mse = result.metrics["model"]["metrics"]["test"]["mse"]
            per_epoch = result.history.wall_time / result.history.epochs
            print(f"| {name} | {mse:.4f} | {per_epoch:.2f} |", flush=True)


if __name__ == "__main__":
    main()
