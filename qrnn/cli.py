"""The ``qrnn`` command.

Each sub-command lives in a small function registered in ``_build_parser``; heavy imports
happen inside the command so that ``qrnn --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from qrnn._version import __version__


def _cmd_demo(args: argparse.Namespace) -> int:
    """Simulate and differentiate a 10-qubit circuit with the torch engine."""
    import time

    import torch

    from circuits import ansatz, encoding
    from qrnn import sim

    torch.manual_seed(args.seed)
    n_qubits = args.qubits
    circuit, inputs = encoding.angle_encoding(n_qubits)
    body, weights = ansatz.hardware_efficient(n_qubits, n_layers=2)
    circuit.compose(body, inplace=True)
    observables = ["I" * (n_qubits - 1 - q) + "Z" + "I" * q for q in range(n_qubits)]
    values = torch.rand(args.batch, circuit.num_parameters, dtype=torch.float64) * torch.pi
    values.requires_grad_(True)
    program = sim.compile(circuit, observables)
    start = time.perf_counter()
    expectations = program.expval(values)
    expectations.sum().backward()
    elapsed = time.perf_counter() - start
    print(f"qrnn {__version__}: {n_qubits}-qubit circuit, {circuit.num_parameters} parameters")
    print(f"<Z_q> of sample 0: {[round(v, 4) for v in expectations[0].tolist()]}")
    print(f"gradient norm over the batch of {args.batch}: {values.grad.norm().item():.6f}")
    print(f"forward + backward: {elapsed * 1e3:.1f} ms")
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qrnn",
        description="Quantum recurrent neural networks on simulated trapped-ion devices.",
    )
    parser.add_argument("--version", action="version", version=f"qrnn {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="simulate and differentiate a 10-qubit circuit")
    demo.add_argument("--qubits", type=int, default=10)
    demo.add_argument("--batch", type=int, default=32)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
