"""The ``qrnn`` command.

Each sub-command lives in a small function registered in ``_build_parser``; heavy imports
happen inside the command so that ``qrnn --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from qrnn import _names
from qrnn._cli_sweep import add_sweep_command
from qrnn._version import __version__


def _cmd_demo(args: argparse.Namespace) -> int:
    """Simulate and differentiate a 10-qubit circuit with the torch engine."""
    import time

    import torch

    from circuits import ansatz, encoding
    from qrnn import sim

    torch.manual_seed(args.seed)
    n_qubits = args.qubits
    circuit, _inputs = encoding.angle_encoding(n_qubits)
    body, _weights = ansatz.hardware_efficient(n_qubits, reps=2)
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


# ----------------------------------------------------------------------------- train / evaluate


def _column_spec(text: str) -> str | int | list[str | int]:
    """``--column``: a bare integer is a 0-based index, anything else a header name; a
    comma-separated list is several columns; a name in double quotes is always a name (a header
    that is itself a number, or one holding a comma)."""
    import re

    field = re.compile(r'\s*(?:"([^"]*)"|([^,"]*?))\s*(,|\Z)')
    columns: list[str | int] = []
    position = 0
    while True:
        match = field.match(text, position)
        if match is None:
            raise argparse.ArgumentTypeError(
                f'cannot read {text!r} as columns: a name, an index, a "quoted name" or a '
                f"comma-separated list of them"
            )
        quoted, bare, comma = match.groups()
        name = quoted if quoted is not None else bare
        if not name:
            raise argparse.ArgumentTypeError(f"empty column name in {text!r}")
        is_index = quoted is None and re.fullmatch(r"[+-]?[0-9]+", name)
        columns.append(int(name) if is_index else name)
        if not comma:
            break
        position = match.end()
    return columns[0] if len(columns) == 1 else columns


# `qrnn train` flag -> RunConfig key; a flag overrides the config file only when given.
_TRAIN_FLAGS = {
    "model": ("--model", str, "model to train"),
    "dataset": ("--dataset", str, "built-in series"),
    "csv": ("--csv", str, "your own series: a CSV file (overrides --dataset)"),
    "column": (
        "--column",
        _column_spec,
        "value column(s) of the CSV file: a header name, a 0-based index (a bare integer is "
        "always an index) or a comma-separated list for a multivariate series; double quotes "
        "make a name of a number: --column '\"2020\"'. Default: the one column of numbers "
        "that is not an index or time (named t, time, date, index, step, ...; or holding "
        "strictly increasing integers or dates)",
    ),
    "qubits": ("--qubits", int, "qubits of a quantum model"),
    "reps": ("--reps", int, "circuit depth (ansatz repetitions) of a quantum model"),
    "ansatz": ("--ansatz", str, "ansatz of a quantum model"),
    "backend": ("--backend", str, "executor of a quantum model"),
    "device": (
        "--device",
        str,
        "train and score a quantum model on this simulated ion-trap device (native gates, its "
        "noise), a device file or preset (default: none, noise-free)",
    ),
    "shots": (
        "--shots",
        int,
        "samples per circuit, within the device's limits: the shot budget of every forward "
        "and gradient evaluation (default: none, exact expectation values)",
    ),
    "gradient": (
        "--gradient",
        str,
        "how a run on a device, with shots or on a backend without autograd (aer) "
        "differentiates the quantum part; backprop is autograd through the exact simulation "
        "(default: backprop without --shots on the torch backend, else parameter-shift)",
    ),
    "hidden_size": ("--hidden-size", int, "hidden size of the model"),
    "baseline": ("--baseline", str, "classical baseline matched to the model's size"),
    "epochs": ("--epochs", int, "training epochs"),
    "batch_size": ("--batch-size", int, "windows per optimizer step"),
    "lr": ("--lr", float, "learning rate"),
    "optimizer": ("--optimizer", str, "optimizer"),
    "loss": ("--loss", str, "training loss (on the scaled series)"),
    "patience": ("--patience", int, "early-stopping patience in epochs (default: none)"),
    "window": ("--window", int, "input window length"),
    "seed": ("--seed", int, "seed for initialisation and shuffling"),
    "output_dir": ("--output-dir", str, "folder that holds run directories"),
    "name": ("--name", str, "run directory name (default: timestamp and model)"),
}
# What a flag's help lists as its choices (the registries themselves need torch or qiskit).
_TRAIN_CHOICES = {
    "model": _names.MODELS,
    "dataset": _names.DATASETS,
    "ansatz": _names.ANSATZE,
    "backend": _names.BACKENDS,
    "device": _names.device_names(),
    "gradient": _names.GRADIENTS,
    "baseline": (*_names.BASELINES, "none"),
    "optimizer": _names.OPTIMIZERS,
    "loss": _names.LOSSES,
}


class _RenamedFlag(argparse.Action):
    """A flag renamed in this release: still accepted (one release), with a warning."""

    def __init__(self, option_strings, dest, new_flag: str, **kwargs):
        self.new_flag = new_flag
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(
            f"qrnn: warning: {option_string} is deprecated and will be removed; use "
            f"{self.new_flag}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, values)


def _add_renamed_flag(parser, old: str, new: str, dest: str, kind, **options) -> None:
    parser.add_argument(
        old, dest=dest, type=kind, action=_RenamedFlag, new_flag=new, help=argparse.SUPPRESS,
        **options,
    )  # fmt: skip


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _add_threads_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="torch CPU threads (default: 1, or OMP_NUM_THREADS when set). The models' "
        "tensor operations are small: a second thread gains little on an idle machine and "
        "stalls every operation when another program holds a core",
    )


def _use_threads(threads: int | None) -> None:
    """Set torch's intra-op threads for a command that runs models (see ``--threads``)."""
    import os

    if threads is None and os.environ.get("OMP_NUM_THREADS"):
        return  # torch already follows the user's setting
    import torch

    torch.set_num_threads(threads or 1)


def _user_error(command: str, error: BaseException) -> int:
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    print(f"qrnn {command}: error: {message}", file=sys.stderr)
    return 2


def _cmd_train(args: argparse.Namespace) -> int:
    """Train a model and its parameter-matched classical baseline; write a run directory. With
    --resume: continue a run that did not finish, as its config.json says."""
    from qrnn.config import RunConfig, load_config
    from qrnn.runs import format_comparison, read_run_config, resume_run, train_run

    overrides = {key: getattr(args, key) for key in _TRAIN_FLAGS if hasattr(args, key)}
    options = {"progress": not args.quiet, "echo": None if args.quiet else print}
    try:
        if args.resume is not None:
            given = [_TRAIN_FLAGS[key][0] for key in overrides]
            given += ["--config"] * (args.config is not None) + ["--overwrite"] * args.overwrite
            if given:
                raise ValueError(
                    f"--resume continues {args.resume} as its config.json says: no "
                    f"{', '.join(given)} (the only other options are --quiet and --threads)"
                )
            result = resume_run(args.resume, **options)
            config = read_run_config(result.run_dir)
        else:
            if args.config is not None:
                config = load_config(args.config, overrides)
            else:
                config = RunConfig.from_mapping(overrides)
            result = train_run(config, overwrite=args.overwrite, **options)
    except KeyboardInterrupt as error:  # one line, not a traceback; the shell's status 130
        notes = "".join(f"; {note}" for note in getattr(error, "__notes__", ()))
        print(f"qrnn train: interrupted{notes}", file=sys.stderr)
        return 130
    except (ValueError, TypeError, LookupError, FileNotFoundError) as error:  # Lookup: --column
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        notes = getattr(error, "__notes__", [])  # a failed run: where it is, how to resume
        print(f"qrnn train: error: {'; '.join([str(message), *notes])}", file=sys.stderr)
        return 2
    print(format_comparison(result.metrics))
    if result.metrics["baseline"] is None and not args.quiet:
        print(f"(no baseline: baseline={config.baseline!r}, model={config.model!r})")
    print(f"run directory: {result.run_dir}")
    return 0


def _metric_differences(saved: dict, scored: dict) -> list[str]:
    import math

    differences = []
    for role in ("model", "baseline"):
        if not saved.get(role):
            continue
        for split, values in saved[role]["metrics"].items():
            for metric, value in values.items():
                now = scored[role]["metrics"][split][metric]
                same = (math.isnan(value) and math.isnan(now)) or math.isclose(
                    value, now, rel_tol=1e-9, abs_tol=1e-12
                )
                if not same:
                    differences.append(f"{role} {split} {metric}: saved {value!r}, now {now!r}")
    return differences


def _cmd_evaluate(args: argparse.Namespace) -> int:
    """Rebuild a run's model from its config, load its checkpoint and re-score it, as trained
    or (--device, --shots, --backend) on a simulated ion-trap device."""
    import json
    from pathlib import Path

    from qrnn.runs import evaluate_run, format_comparison, read_run_config

    execution = {"backend": args.backend, "device": args.device, "shots": args.shots}
    on_device = any(value is not None for value in execution.values())
    if on_device:
        execution["seed"] = args.seed
        execution["progress"] = not args.quiet  # windows scored, on stderr
        if not args.quiet:
            execution["echo"] = lambda line: print(line, flush=True)  # before a long scoring
    try:
        result = evaluate_run(args.run_dir, **execution)
    except KeyboardInterrupt:  # one line, not a traceback; the shell's status 130
        print("qrnn evaluate: interrupted", file=sys.stderr)
        return 130
    except (ValueError, TypeError, LookupError, FileNotFoundError) as error:
        return _user_error("evaluate", error)
    for split in ("val", "test"):
        if split in result.metrics["model"]["metrics"]:
            print(format_comparison(result.metrics, split=split))
    saved_path = Path(args.run_dir) / "metrics.json"
    if on_device or not saved_path.is_file():
        return 0
    shots = read_run_config(args.run_dir).shots
    if shots is not None:  # a fresh draw of shot noise cannot reproduce the saved scores
        print(f"sampled scores ({shots} shots, as trained): not compared with {saved_path}")
        return 0
    differences = _metric_differences(json.loads(saved_path.read_text()), result.metrics)
    if differences:
        print("the re-scored metrics differ from metrics.json:\n  " + "\n  ".join(differences))
        return 1
    print(f"matches {saved_path}")
    return 0


def _cmd_devices(args: argparse.Namespace) -> int:
    """List the device presets with key figures, or show one device's figures and sources."""
    from qrnn import devices

    if args.report:
        return _devices_report(args.device)
    if args.device is None:
        print("presets (default iontrap-10q; 'depol' = depolarizing parameter per gate):")
        for name in devices.names():
            print("  " + devices.get(name).describe())
        print("details and sources: qrnn devices NAME (a preset name or a .toml device file)")
        return 0
    try:
        device = devices.get(args.device)
    except (ValueError, TypeError, KeyError) as error:
        print(f"qrnn devices: error: {error}", file=sys.stderr)
        return 2
    print(device.describe())
    if device.description:
        print(device.description)
    for key, source in device.sources.items():
        flag = " [not published: chosen]" if key in device.unpublished else ""
        print(f"  {key} = {getattr(device, key)!r}{flag}\n      source: {source}")
    return 0


def _devices_report(name: str | None) -> int:
    """``qrnn devices [NAME] --report``: one step of the default model on one or every preset."""
    from qrnn import devices
    from qrnn.devices import default_cell, step_cost

    try:
        chosen = (
            [devices.get(name)] if name is not None else [devices.get(n) for n in devices.names()]
        )
    except (ValueError, TypeError, KeyError) as error:
        return _user_error("devices", error)
    cell = default_cell()
    print(
        f"one step of the default model (qrnn: {len(cell.data_qubits)} data + "
        f"{len(cell.hidden_qubits)} hidden qubits, ion_native, reps 2; its {len(cell.data_qubits)} "
        "data qubits measured and reset): native two-qubit gates, estimated fidelity (product "
        "of the gates' average fidelities) and time per shot"
    )
    for device in chosen:
        cost = step_cost(device, cell)
        refused = cost.resets and not device.mid_circuit_reset
        print("  " + cost.line() + ("  (no mid-circuit reset: cannot run it)" if refused else ""))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    """Run one circuit on a simulated ion-trap device; print counts, expectation values, time."""
    import json

    from qrnn.backends import GPUUnavailableError
    from qrnn.run import execute, format_result, prepare

    try:
        plan = prepare(
            args.circuit,
            device=args.device,
            shots=args.shots,
            observables=args.observables,
            values=args.values,
            seed=args.seed,
            qubits=args.qubits,
            reps=args.reps,
            backend=args.backend,
            gpu=args.gpu,
        )
        result = execute(plan)
    except (ValueError, TypeError, KeyError, GPUUnavailableError) as error:
        return _user_error("run", error)
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_result(result, args.top))
    return 0


def _add_run_command(commands: argparse._SubParsersAction) -> None:
    presets = ", ".join(_names.device_names())
    run = commands.add_parser(
        "run",
        help="run a circuit on a simulated ion-trap device (counts, expectation values, time)",
        description="Transpile CIRCUIT to the device's native gates and run it with the "
        "device's noise: counts (with --shots, when the circuit measures or no observables "
        "are given), expectation values (default <Z_q> per qubit; exact without --shots, else "
        "with their standard error), native gate counts and the estimated time per shot.",
    )
    run.add_argument(
        "circuit",
        metavar="CIRCUIT",
        help="an OpenQASM 3 file (.qasm), a QPY file (.qpy) or a template: "
        + ", ".join(_names.template_names()),
    )
    run.add_argument(
        "--device",
        default=_names.DEFAULT_DEVICE,
        help=f"device file or preset: {presets} (default: {_names.DEFAULT_DEVICE})",
    )
    run.add_argument("--shots", type=int, help="samples (default: exact expectation values)")
    run.add_argument(
        "--observables",
        help="comma-separated Pauli strings: Z0,Z1,Z0Z1 or full labels like IZZ (default: Z "
        "of each qubit)",
    )
    run.add_argument(
        "--values",
        help="parameter values in circuit.parameters order, comma-separated (pi/2 works; "
        "write --values=-0.5,1 when the first is negative; default: random angles from --seed)",
    )
    run.add_argument(
        "--seed", type=int, default=0, help="seeds random angles and sampling (default: 0)"
    )
    run.add_argument("--qubits", type=int, help="template width (default: 10)")
    run.add_argument(
        "--reps", type=int, help="template depth: ansatz repetitions (default: the template's)"
    )
    _add_renamed_flag(run, "--layers", "--reps", "reps", int)
    run.add_argument(
        "--backend",
        choices=_names.RUN_BACKENDS,
        default="aer",
        help=f"executor: {', '.join(_names.RUN_BACKENDS)} (default: aer)",
    )
    run.add_argument("--gpu", action="store_true", help="run on a CUDA GPU (no CPU fallback)")
    run.add_argument(
        "--top", type=int, default=16, help="outcomes of the counts shown (default: 16)"
    )
    run.add_argument("--json", action="store_true", help="print the result as JSON")
    run.set_defaults(handler=_cmd_run)


def _model_default(key: str) -> str:
    """A model option's default as help shows it: the default model's value, then the
    families that differ, e.g. ``4; esn: 100; gru, lstm: 16``."""
    values = {name: d[key] for name, d in _names.MODEL_DEFAULTS.items() if key in d}
    main = values.get(_names.DEFAULT_MODEL, next(iter(values.values())))
    others: dict[object, list[str]] = {}
    for name, value in values.items():
        if value != main:
            others.setdefault(value, []).append(name)
    return "; ".join([str(main), *(f"{', '.join(n)}: {v}" for v, n in others.items())])


def _train_help(key: str, text: str, default: object) -> str:
    """``text``, the flag's choices and its default (RunConfig's, or the model's own)."""
    if key in _TRAIN_CHOICES:  # the choices, before a default said in words
        head, said, default_words = text.partition(" (default")
        text = f"{head}: {', '.join(_TRAIN_CHOICES[key])}{said}{default_words}"
    if "(default" in text:  # a default said in words
        return text
    if any(key in options for options in _names.MODEL_DEFAULTS.values()):
        return f"{text} (default: {_model_default(key)})"
    return text if default is None else f"{text} (default: {default})"


def _add_train_commands(commands: argparse._SubParsersAction) -> None:
    from qrnn.config import RunConfig  # plain data: no torch

    defaults = RunConfig()
    train = commands.add_parser(
        "train",
        help="train a model and a parameter-matched LSTM; write a run directory",
        description="Train a model on a time series and compare it with a classical baseline "
        "of the same trainable size. Flags override the config file's keys.",
    )
    train.add_argument(
        "--config",
        metavar="FILE",
        help="run config (.toml, .yaml or .json) with any key of qrnn.config.RunConfig",
    )
    for key, (flag, kind, text) in _TRAIN_FLAGS.items():
        help_text = _train_help(key, text, getattr(defaults, key))
        train.add_argument(flag, dest=key, type=kind, default=argparse.SUPPRESS, help=help_text)
    _add_renamed_flag(train, "--layers", "--reps", "reps", int, default=argparse.SUPPRESS)
    train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue a run that did not finish (killed, interrupted, failed) from its last "
        "checkpoint, as its config.json says (no other option but --quiet and --threads)",
    )
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing run directory of the same --name (not one being trained)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar or status lines")
    _add_threads_flag(train)
    train.set_defaults(handler=_cmd_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="re-score a saved run, as trained or on a noisy ion-trap device",
        description="Rebuild the model of RUN_DIR from its config.json, load its checkpoint "
        "and print its val and test metrics. Without --device, --shots or --backend: exit "
        "status 1 if they differ from the saved metrics.json. With them: the quantum model "
        "runs transpiled to the device's native gates, with its noise and shots (the "
        "classical baseline is scored as trained), no comparison is made and nothing is "
        "written into RUN_DIR.",
    )
    evaluate.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by qrnn train")
    evaluate.add_argument(
        "--device",
        help=f"ion-trap device file or preset: {', '.join(_names.device_names())} (default: "
        "the run's own, as trained; ideal: noise-free)",
    )
    evaluate.add_argument(
        "--shots", type=int, help="samples per circuit (default: exact expectation values)"
    )
    evaluate.add_argument(
        "--backend",
        choices=("aer", "torch"),
        help="executor of the quantum model: aer, torch (default: as trained; with --device "
        "or --shots: torch, whose shots are sampled from its exact distributions; aer is the "
        "independent path)",
    )
    evaluate.add_argument(
        "--seed", type=int, default=0, help="seeds the shot sampling (default: 0)"
    )
    evaluate.add_argument(
        "--quiet", action="store_true", help="no progress bar or status line (--device)"
    )
    _add_threads_flag(evaluate)
    evaluate.set_defaults(handler=_cmd_evaluate)


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps help lines at spaces only: names such as ``ionq-aria-1`` stay whole."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` with qrnn's help layout; sub-command parsers are of this class."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="qrnn",
        description="Quantum recurrent neural networks on simulated trapped-ion devices.",
    )
    parser.add_argument("--version", action="version", version=f"qrnn {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", help="simulate and differentiate a 10-qubit circuit")
    demo.add_argument("--qubits", type=int, default=10, help="circuit width (default: 10)")
    demo.add_argument("--batch", type=int, default=32, help="samples per batch (default: 32)")
    demo.add_argument("--seed", type=int, default=0, help="seeds the angles (default: 0)")
    demo.set_defaults(handler=_cmd_demo)
    _add_train_commands(commands)
    _add_run_command(commands)
    from qrnn.cloud._cli import add_commands as add_cloud_commands  # submit, jobs

    add_cloud_commands(commands)
    devices = commands.add_parser(
        "devices",
        help="list the simulated ion-trap devices and their key figures",
        description="Without NAME: one line per preset. With NAME: every figure and its source.",
    )
    devices.add_argument(
        "device",
        nargs="?",
        metavar="NAME",
        help=f"device file or preset: {', '.join(_names.device_names())}",
    )
    devices.add_argument(
        "--report",
        action="store_true",
        help="what one time step of the default model costs on NAME (or every preset): native "
        "two-qubit gates, estimated fidelity, duration",
    )
    devices.set_defaults(handler=_cmd_devices)
    add_sweep_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if "threads" in args:
        _use_threads(args.threads)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
