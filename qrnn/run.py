"""``qrnn run``: one circuit on a simulated ion-trap device, reported as the machine would.

Two steps, so that every input is checked before any simulation starts::

    plan = qrnn.run.prepare("hardware_efficient", device="ionq-aria-1", shots=1000, qubits=3)
    result = qrnn.run.execute(plan)
    print(qrnn.run.format_result(result))      # or json.dumps(result.to_dict())

``prepare`` loads the circuit (an OpenQASM 3 or 2 file, a QPY file, or a template name from
:func:`template_names`), binds its parameters (given values, or random angles from a seed),
sizes the device to the circuit, checks the shot count against the device's limits, parses the
observables, builds the backend (a GPU that is not there fails here) and transpiles the
circuit to the device's native gates. ``execute`` then runs it:

* counts (``shots`` given, and the circuit measures or no observables were asked for): the
  circuit as written, or with every qubit measured at the end, sampled with the device's noise
  and readout error;
* expectation values of Pauli observables (default ``<Z_q>`` for every qubit) through
  ``qrnn.backends`` with the same device: exact without shots, sampled with shots, each with
  the standard error of its mean, ``sqrt((1 - m^2) / shots)`` for a Pauli string (outcomes
  are +-1);
* the native gate counts and ``device.duration`` of the measured, transpiled circuit.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from qiskit.circuit import QuantumCircuit

from circuits._checks import renamed_keywords

__all__ = [
    "BACKENDS",
    "DEFAULT_DEVICE",
    "CircuitResult",
    "Expectation",
    "RunInputError",
    "RunPlan",
    "execute",
    "format_result",
    "load_circuit",
    "observable_labels",
    "parse_values",
    "prepare",
    "run",
    "template_names",
]

DEFAULT_DEVICE = "iontrap-10q"
BACKENDS = ("aer", "torch")
_CELL_TEMPLATES = ("qlstm_gate", "qrnn_step", "reservoir")
_FILE_SUFFIXES = (".qasm", ".qasm3", ".qasm2", ".qpy")
_UNNAMED = re.compile(r"^circuit-\d+$")  # the name Qiskit gives a circuit made without one
_PAULI_LABEL = re.compile(r"^[IXYZ]+$")
_SPARSE_PAULI = re.compile(r"^(?:[IXYZ]\d+)+$")
_SPARSE_FACTOR = re.compile(r"([IXYZ])(\d+)")
# "pi", "-pi/2", "3*pi/4", "0.5pi": angles are often written in units of pi.
_PI_MULTIPLE = re.compile(
    r"^(?P<sign>[+-]?)(?P<factor>(?:\d+(?:\.\d*)?|\.\d+)?)\*?pi(?:/(?P<divisor>\d+(?:\.\d*)?))?$"
)


class RunInputError(ValueError):
    """Bad input to ``qrnn run``: the message names the bad value and what was expected."""


@dataclass(frozen=True)
class Expectation:
    """One expectation value.

    Attributes:
        name: the observable as the user wrote it (upper case), e.g. ``"Z0"`` or ``"ZZI"``.
        label: the full Qiskit Pauli label (rightmost character = qubit 0).
        value: the estimate (exact without shots, readout error included).
        stderr: standard error of the estimate from ``shots`` samples; None when exact.
    """

    name: str
    label: str
    value: float
    stderr: float | None


@dataclass(frozen=True)
class RunPlan:
    """A checked run, ready for :func:`execute`; built by :func:`prepare`.

    Attributes:
        circuit: the circuit as loaded, parameters unbound.
        source: what the circuit came from, in words.
        device: the ``IonTrapDevice``, sized to the circuit's width.
        values: ``(n_params,)`` float64 angles in ``circuit.parameters`` order.
        parameter_source: ``"none"``, ``"values"`` or ``"seed"``.
        seed: seeds the random angles (``parameter_source == "seed"``) and the sampling.
        shots: samples, or None for exact expectation values.
        observables: ``(name, label)`` per observable; empty when only counts are wanted.
        observables_given: whether the user chose the observables.
        backend_name: ``"aer"`` or ``"torch"``.
        gpu: whether the run uses a GPU.
        backend: the ``qrnn.backends.Backend`` that computes expectation values.
        executed: the bound circuit with its measurements (``measure_all`` added when the
            circuit had none): what the machine runs per shot.
        native: ``device.transpile(executed)``: native gates only.
        want_counts: whether :func:`execute` samples counts.
    """

    circuit: QuantumCircuit
    source: str
    device: object
    values: np.ndarray
    parameter_source: str
    seed: int
    shots: int | None
    observables: list[tuple[str, str]]
    observables_given: bool
    backend_name: str
    gpu: bool
    backend: object
    executed: QuantumCircuit
    native: QuantumCircuit
    want_counts: bool


@dataclass(frozen=True)
class CircuitResult:
    """What :func:`execute` measured and estimated.

    Attributes:
        plan: the :class:`RunPlan` that was run.
        native_gate_counts: native instruction name -> count in ``plan.native`` (barriers
            left out; ``rz`` is virtual: no time, no error).
        duration: ``plan.device.duration(plan.native)``, seconds per shot.
        counts: outcome bitstring (Qiskit order: clbit 0 rightmost, registers separated by
            spaces) -> count, most frequent first; None when no counts were sampled.
        expectations: one :class:`Expectation` per observable, in the order asked.
    """

    plan: RunPlan
    native_gate_counts: dict[str, int]
    duration: float
    counts: dict[str, int] | None
    expectations: list[Expectation] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-serialisable summary (what ``qrnn run --json`` prints)."""
        plan = self.plan
        names = [p.name for p in plan.circuit.parameters]
        return {
            "circuit": {
                "name": plan.circuit.name,
                "source": plan.source,
                "num_qubits": plan.circuit.num_qubits,
                "num_parameters": plan.circuit.num_parameters,
            },
            "parameters": {
                "source": plan.parameter_source,
                "seed": plan.seed if plan.parameter_source == "seed" else None,
                "values": dict(zip(names, plan.values.tolist(), strict=True)),
            },
            "device": {
                "name": plan.device.name,
                "n_qubits": plan.device.n_qubits,
                "max_qubits": plan.device.max_qubits,
                "gate_set": plan.device.gate_set,
                "native_gates": list(plan.device.native_gates),
            },
            "backend": plan.backend_name,
            "gpu": plan.gpu,
            "shots": plan.shots,
            "seed": plan.seed,
            "native_gate_counts": self.native_gate_counts,
            "duration_s": self.duration,
            "total_duration_s": None if plan.shots is None else self.duration * plan.shots,
            "counts": self.counts,
            "expectation_values": [
                {"observable": e.name, "label": e.label, "value": e.value, "stderr": e.stderr}
                for e in self.expectations
            ],
            "exact": plan.shots is None,
        }


# ----------------------------------------------------------------------------- loading


def template_names() -> list[str]:
    """Circuit templates ``qrnn run`` builds by name: the ansätze and the model cells."""
    from circuits import ansatz

    return sorted([*ansatz.names(), *_CELL_TEMPLATES])


@renamed_keywords(layers="reps")
def load_circuit(
    source: str | Path, *, qubits: int | None = None, reps: int | None = None
) -> tuple[QuantumCircuit, str]:
    """A circuit from a file or a template name, and where it came from in words.

    Args:
        source: an OpenQASM 3 file (``.qasm``, ``.qasm3``; a program that starts with
            ``OPENQASM 2`` is read as OpenQASM 2), a QPY file (``.qpy``, one circuit), or a
            name from :func:`template_names`.
        qubits: template width (default: the template's, 10 qubits); templates only.
            ``qrnn_step`` puts ``max(1, 2 * qubits // 5)`` qubits in its data register.
        reps: circuit depth of a template (ansatz repetitions; the reservoir's layers of
            dynamics); templates only.

    Raises:
        RunInputError: a missing, unreadable or malformed file, an unknown template, or
            ``qubits``/``reps`` given with a file or out of range.
    """
    path = Path(source)
    text = str(source)
    looks_like_file = (
        path.suffix.lower() in _FILE_SUFFIXES or "/" in text or "\\" in text or path.exists()
    )
    if not looks_like_file:
        return _template(text, qubits, reps)
    if qubits is not None or reps is not None:
        raise RunInputError(
            f"--qubits and --reps apply to templates only; {text!r} is a circuit file"
        )
    if not path.exists():
        raise RunInputError(f"circuit file {text!r} not found")
    if not path.is_file():
        raise RunInputError(f"{text!r} is not a file; expected a .qasm or .qpy circuit file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RunInputError(f"cannot read circuit file {text!r}: {error}") from None
    if path.suffix.lower() == ".qpy" or data.startswith(b"QISKIT"):
        circuit = _read_qpy(path, text)
        kind = "QPY file"
    else:
        circuit, kind = _read_qasm(data, text)
    if circuit.num_qubits == 0:
        raise RunInputError(f"circuit file {text!r} declares no qubits")
    if kind != "QPY file" or _UNNAMED.match(circuit.name):
        circuit.name = path.stem  # a QPY file keeps the name it was saved with
    return circuit, f"{kind} {text}"


def _read_qpy(path: Path, text: str) -> QuantumCircuit:
    from circuits.interop import load_qpy

    try:
        return load_qpy(path)
    except Exception as error:  # QPY readers raise several types for a corrupt file
        raise RunInputError(
            f"{text!r} is not a readable QPY circuit file ({type(error).__name__}: {error})"
        ) from None


def _read_qasm(data: bytes, text: str) -> tuple[QuantumCircuit, str]:
    try:
        program = data.decode("utf-8")
    except UnicodeDecodeError:
        raise RunInputError(
            f"{text!r} is not a text file; expected an OpenQASM 3 program (or a .qpy file)"
        ) from None
    header = re.search(r"^\s*OPENQASM\s+(\d+)", _strip_qasm_comments(program), re.MULTILINE)
    version = header.group(1) if header else "3"
    from circuits.interop import QASMError, from_qasm2, from_qasm3

    try:
        if version == "2":
            return from_qasm2(program), "OpenQASM 2 file"
        return from_qasm3(program), "OpenQASM 3 file"
    except QASMError as error:
        raise RunInputError(
            f"{text!r} is not a valid OpenQASM {version} program: {error}"
        ) from None


def _strip_qasm_comments(program: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/", "", program, flags=re.DOTALL)


def _template(name: str, qubits: int | None, reps: int | None) -> tuple[QuantumCircuit, str]:
    from circuits import ansatz, cells

    if name not in template_names():
        raise RunInputError(
            f"unknown circuit {name!r}: not a file and not a template; templates: "
            f"{', '.join(template_names())} (or a .qasm / .qpy file)"
        )
    for option, value in (("--qubits", qubits), ("--reps", reps)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise RunInputError(f"{option} must be an integer, got {value!r}")
        if value is not None and value < 1:
            raise RunInputError(f"{option} must be >= 1, got {value}")
    options: dict[str, int] = {} if reps is None else {"reps": reps}
    try:
        if name == "qrnn_step":
            if qubits is not None:
                if qubits < 2:
                    raise RunInputError(
                        f"template 'qrnn_step' needs --qubits >= 2 (data + hidden), got {qubits}"
                    )
                n_data = max(1, 2 * qubits // 5)
                options.update(n_data=n_data, n_hidden=qubits - n_data)
            circuit = cells.qrnn_step(**options).circuit
        else:
            if qubits is not None:
                options["n_qubits"] = qubits
            if name in ansatz.names():
                circuit, _ = ansatz.get(name, **options)
            elif name == "qlstm_gate":
                circuit = cells.qlstm_gate(**options).circuit
            else:
                circuit = cells.reservoir(**options).circuit
    except RunInputError:
        raise
    except (ValueError, TypeError) as error:
        raise RunInputError(f"template {name!r}: {error}") from None
    reps_text = "" if reps is None else f", reps {reps}"
    return circuit, f"template {name} ({circuit.num_qubits} qubits{reps_text})"


# ----------------------------------------------------------------------------- parsing


def parse_values(values: str | Sequence[float], circuit: QuantumCircuit) -> np.ndarray:
    """Parameter values for ``circuit``, ``(n_params,)`` float64 in ``circuit.parameters`` order.

    Args:
        values: comma-separated numbers (``"0.1,-0.5,pi/2"``: ``pi``, ``-pi/2``,
            ``3*pi/4`` are accepted) or a sequence of floats.

    Raises:
        RunInputError: a token that is not a number, a non-finite value, or a count that
            differs from ``circuit.num_parameters``.
    """
    if isinstance(values, str):
        tokens = [token.strip() for token in values.split(",")] if values.strip() else []
        numbers = [_number(token) for token in tokens]
    else:
        try:
            numbers = [float(v) for v in values]
        except (TypeError, ValueError):
            raise RunInputError(f"values must be numbers, got {values!r}") from None
    for number in numbers:
        if not math.isfinite(number):
            raise RunInputError(f"--values entry {number!r} is not a finite angle")
    width = circuit.num_parameters
    if len(numbers) != width:
        names = [p.name for p in circuit.parameters]
        shown = ", ".join(names[:6]) + (", ..." if width > 6 else "")
        raise RunInputError(
            f"--values has {len(numbers)} numbers but circuit {circuit.name!r} has {width} "
            f"parameters" + (f" ({shown}, in this order)" if width else "")
        )
    return np.array(numbers, dtype=np.float64)


def _number(token: str) -> float:
    try:
        return float(token)
    except ValueError:
        pass
    match = _PI_MULTIPLE.match(token.replace(" ", "").lower())
    if not token or match is None:
        raise RunInputError(
            f"--values entry {token!r} is not a number; expected comma-separated floats "
            "(pi, -pi/2, 3*pi/4 also work)"
        )
    factor = float(match["factor"]) if match["factor"] else 1.0
    divisor = float(match["divisor"]) if match["divisor"] else 1.0
    if divisor == 0:
        raise RunInputError(f"--values entry {token!r} divides by zero")
    return (-1.0 if match["sign"] == "-" else 1.0) * factor * math.pi / divisor


def observable_labels(observables: str | Sequence[str], n_qubits: int) -> list[tuple[str, str]]:
    """``(name, full Pauli label)`` per observable written as on the command line (the labels
    then go through the one parser, ``qrnn.sim.parse_observables``, like every observable).

    Args:
        observables: comma-separated (or a sequence of) Pauli strings, each either a full
            Qiskit label of ``n_qubits`` characters (``"IZZ"``: rightmost = qubit 0) or a
            sparse one naming qubits (``"Z0"``, ``"Z0Z1"``, ``"X2Y0"``); case-insensitive.
        n_qubits: the circuit's width.

    Raises:
        RunInputError: an empty list, an unknown letter, a wrong label length, a qubit out
            of range or named twice.
    """
    tokens = observables.split(",") if isinstance(observables, str) else list(observables)
    tokens = [str(token).strip().upper() for token in tokens]
    if not tokens or any(not token for token in tokens):
        raise RunInputError(
            f"--observables {observables!r} has an empty entry; expected comma-separated "
            "Pauli strings such as Z0,Z1,Z0Z1 or full labels such as IZZ"
        )
    parsed = []
    for token in tokens:
        if _PAULI_LABEL.match(token):
            if len(token) != n_qubits:
                raise RunInputError(
                    f"observable {token!r} has {len(token)} characters but the circuit has "
                    f"{n_qubits} qubits; write a full label of {n_qubits} characters (rightmost "
                    "= qubit 0) or a sparse one such as Z0Z1"
                )
            parsed.append((token, token))
        elif _SPARSE_PAULI.match(token):
            chars = ["I"] * n_qubits
            seen: set[int] = set()
            for letter, digits in _SPARSE_FACTOR.findall(token):
                qubit = int(digits)
                if qubit >= n_qubits:
                    raise RunInputError(
                        f"observable {token!r} names qubit {qubit}; the circuit has qubits "
                        f"0 to {n_qubits - 1}"
                    )
                if qubit in seen:
                    raise RunInputError(f"observable {token!r} names qubit {qubit} twice")
                seen.add(qubit)
                chars[n_qubits - 1 - qubit] = letter
            parsed.append((token, "".join(chars)))
        else:
            raise RunInputError(
                f"observable {token!r} is not a Pauli string; expected letters I, X, Y, Z as a "
                f"full label of {n_qubits} characters (e.g. {'Z' * min(n_qubits, 2):I>{n_qubits}})"
                " or with qubit numbers (e.g. Z0, Z0Z1, X1)"
            )
    return parsed


def _default_observables(n_qubits: int) -> list[tuple[str, str]]:
    return [(f"Z{q}", "I" * (n_qubits - 1 - q) + "Z" + "I" * q) for q in range(n_qubits)]


# ----------------------------------------------------------------------------- prepare / execute


@renamed_keywords(layers="reps")
def prepare(
    circuit: str | Path | QuantumCircuit,
    *,
    device: str | Path | object = DEFAULT_DEVICE,
    shots: int | None = None,
    observables: str | Sequence[str] | None = None,
    values: str | Sequence[float] | None = None,
    seed: int = 0,
    qubits: int | None = None,
    reps: int | None = None,
    backend: str = "aer",
    gpu: bool = False,
) -> RunPlan:
    """Check every input and transpile; no simulation yet (see :func:`execute`).

    Args:
        circuit: a ``QuantumCircuit``, a circuit file or a template name (:func:`load_circuit`).
        device: a preset name (``qrnn.devices.names()``), a device file or an
            ``IonTrapDevice``; it is sized to the circuit's width (up to the machine's).
        shots: samples per circuit, within the device's limits; None for exact values.
        observables: Pauli strings (:func:`observable_labels`); None: ``<Z_q>`` for every
            qubit, and counts as well when ``shots`` is given.
        values: the circuit's parameter values (:func:`parse_values`); None: random angles,
            uniform in ``[0, 2 pi)``, from ``seed``.
        seed: seeds the random angles and the sampling.
        qubits, reps: template size and depth (templates only; ``layers=`` is a deprecated
            alias of ``reps=``).
        backend: ``"aer"`` (default) or ``"torch"`` (the ``qrnn.sim`` engine).
        gpu: run on a CUDA GPU; an error, never a CPU fallback, when there is none.

    Raises:
        RunInputError, qrnn.devices.UnknownDeviceError, qrnn.devices.DeviceFileError,
        qrnn.backends.BackendError: bad input, with a message that names it.
        qrnn.backends.GPUUnavailableError: ``gpu=True`` where no GPU can be used.
    """
    from qrnn import backends, devices

    if backend not in BACKENDS:
        raise RunInputError(f"unknown backend {backend!r}; expected one of {list(BACKENDS)}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise RunInputError(f"seed must be an integer, got {seed!r}")
    if not isinstance(gpu, bool):
        raise RunInputError(f"gpu must be True or False, got {gpu!r}")
    machine = devices.get(device)  # unknown names fail here, listing the presets

    if isinstance(circuit, QuantumCircuit):
        if qubits is not None or reps is not None:
            raise RunInputError("qubits and reps apply to templates only")
        source = f"QuantumCircuit {circuit.name!r}"
    else:
        circuit, source = load_circuit(circuit, qubits=qubits, reps=reps)
    width = circuit.num_qubits
    if width > machine.max_qubits:
        raise RunInputError(
            f"circuit {circuit.name!r} uses {width} qubits but device {machine.name!r} has "
            f"only {machine.max_qubits}"
        )
    machine = machine.with_qubits(max(width, 1))

    if values is not None:
        angles, parameter_source = parse_values(values, circuit), "values"
    elif circuit.num_parameters:
        rng = np.random.default_rng(seed)
        angles, parameter_source = rng.uniform(0.0, 2 * math.pi, circuit.num_parameters), "seed"
    else:
        angles, parameter_source = np.zeros(0), "none"

    measures = any(i.operation.name == "measure" for i in circuit.data)
    stripped = circuit.remove_final_measurements(inplace=False) if measures else circuit
    mid_circuit = any(i.operation.name == "measure" for i in stripped.data)
    observables_given = observables is not None
    parsed = observable_labels(observables, width) if observables_given else []
    if mid_circuit and observables_given:
        raise RunInputError(
            f"circuit {circuit.name!r} measures qubits mid-circuit, so it has no single final "
            "state to take expectation values of; leave out --observables to get counts"
        )
    if mid_circuit and shots is None:
        raise RunInputError(
            f"circuit {circuit.name!r} measures qubits mid-circuit; its outcomes are random, "
            "so give --shots"
        )
    if not observables_given and not mid_circuit:
        parsed = _default_observables(width)
    want_counts = shots is not None and (measures or not observables_given)
    if want_counts and backend == "torch" and mid_circuit:
        raise RunInputError(
            "--backend torch samples counts from final measurements only; this circuit "
            "measures mid-circuit: use --backend aer"
        )

    if backend == "aer":
        executor = backends.get("aer", device=machine, shots=shots, gpu=gpu, seed=seed)
        if not gpu:  # (Aer on a GPU measures its own memory)
            exact = shots is None and bool(parsed)
            _check_aer_memory(circuit, executor.noise_model, exact)
    else:
        if gpu:
            import torch

            if not torch.cuda.is_available():
                raise backends.GPUUnavailableError(
                    "--gpu with --backend torch needs a CUDA build of PyTorch and an NVIDIA GPU "
                    "(torch.cuda.is_available() is False); install torch for CUDA from "
                    "https://pytorch.org or leave out --gpu"
                )
        executor = backends.get("torch", device=machine, shots=shots, seed=seed)

    bound = circuit.assign_parameters(angles.tolist()) if circuit.num_parameters else circuit
    executed = bound if measures else bound.measure_all(inplace=False)
    native = machine.transpile(executed)  # untranslatable gates fail here
    return RunPlan(
        circuit=circuit,
        source=source,
        device=machine,
        values=angles,
        parameter_source=parameter_source,
        seed=seed,
        shots=shots,
        observables=parsed,
        observables_given=observables_given,
        backend_name=backend,
        gpu=gpu,
        backend=executor,
        executed=executed,
        native=native,
        want_counts=want_counts,
    )


def _check_aer_memory(circuit: QuantumCircuit, noise_model, exact: bool) -> None:
    """Refuse before Aer starts a circuit whose state would not fit: a density matrix (16
    bytes for each of ``4**n`` entries) for exact values with noise or resets, else at least
    a statevector (``2**n``; with shots Aer may choose either)."""
    from qrnn import sim

    noisy = noise_model is not None and sim.NoiseReader(noise_model).has_quantum_errors
    resets = any(i.operation.name == "reset" for i in circuit.data)
    density = exact and (noisy or resets)
    method, entries = ("density_matrix", 4) if density else ("statevector", 2)
    n = circuit.num_qubits
    sim.check_memory(
        f"Aer's {method} simulation of circuit {circuit.name!r} ({entries}**{n} "
        f"{'entries' if density else 'amplitudes'})",
        lambda k: 16 * entries**k,
        n,
    )


def execute(plan: RunPlan) -> CircuitResult:
    """Run a :class:`RunPlan`: counts and/or expectation values, gate counts, duration."""
    gate_counts = {
        name: int(count) for name, count in plan.native.count_ops().items() if name != "barrier"
    }
    duration = plan.device.duration(plan.native)
    counts = None
    with _aer_failure_reported_once():
        if plan.want_counts:
            (counts,) = plan.backend.counts(plan.executed, None, plan.shots)
        expectations = _expectations(plan) if plan.observables else []
    return CircuitResult(
        plan=plan,
        native_gate_counts=gate_counts,
        duration=duration,
        counts=counts,
        expectations=expectations,
    )


@contextlib.contextmanager
def _aer_failure_reported_once():
    """Aer logs a failed simulation as a warning, and the backend raises the same status as
    its error: keep the error only."""
    logger = logging.getLogger("qiskit_aer.backends.aerbackend")

    def keep(record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Simulation failed")

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


def run(circuit: str | Path | QuantumCircuit, **options) -> CircuitResult:
    """``execute(prepare(circuit, **options))``; see :func:`prepare` for the options."""
    return execute(prepare(circuit, **options))


def _expectations(plan: RunPlan) -> list[Expectation]:
    import torch

    # The bound circuit, as hardware receives it: the device's compiler merges rotations with
    # numeric angles, so a bound circuit has fewer native gates (and less noise) than the
    # symbolic one; this is the circuit whose gate counts and duration are reported.
    circuit = plan.executed.remove_final_measurements(inplace=False)
    where = torch.device("cuda") if plan.gpu else torch.device("cpu")
    no_values = torch.zeros(1, 0, dtype=torch.float64, device=where)
    labels = [label for _, label in plan.observables]
    with torch.no_grad():
        estimates = plan.backend.expval(circuit, no_values, labels)[0]
    result = []
    for (name, label), value in zip(plan.observables, estimates.cpu().tolist(), strict=True):
        stderr = None
        if plan.shots is not None:
            # one shot of a Pauli string is +-1: variance 1 - <P>^2 (0 for the identity)
            stderr = 0.0 if set(label) == {"I"} else math.sqrt(max(0.0, 1 - value**2) / plan.shots)
        result.append(Expectation(name=name, label=label, value=float(value), stderr=stderr))
    return result


# ----------------------------------------------------------------------------- output


def format_result(result: CircuitResult, top: int = 16) -> str:
    """The human-readable report ``qrnn run`` prints; ``top`` most frequent outcomes shown."""
    plan = result.plan
    device = plan.device
    lines = [f"circuit: {plan.source}, {plan.circuit.num_parameters} parameters"]
    names = [p.name for p in plan.circuit.parameters]
    if plan.parameter_source == "values":
        lines.append(f"parameters: {len(names)} values from --values")
    elif plan.parameter_source == "seed":
        lines.append(
            f"parameters: {len(names)} random angles, uniform in [0, 2pi), from --seed {plan.seed}"
        )
    if names:
        shown = ", ".join(f"{n}={v:.6g}" for n, v in zip(names[:8], plan.values, strict=False))
        lines.append(f"  {shown}{', ...' if len(names) > 8 else ''}")
    where = "GPU" if plan.gpu else "CPU"
    mode = "exact" if plan.shots is None else f"{plan.shots} shots (seed {plan.seed})"
    lines.append(
        f"device: {device.name} ({device.n_qubits} of {device.max_qubits} qubits, native "
        f"{', '.join(device.native_gates)})  backend: {plan.backend_name} ({where})  {mode}"
    )
    gates = ", ".join(f"{name} {count}" for name, count in result.native_gate_counts.items())
    lines.append(f"native gates: {gates or 'none'}  (rz is virtual: no time, no error)")
    duration = f"estimated duration on the machine: {result.duration * 1e6:.3f} us per shot"
    if plan.shots is not None:
        duration += f", {result.duration * plan.shots:.6g} s for {plan.shots} shots"
    lines.append(duration + " (gates and measurement; no transport, cooling or latency)")
    if result.counts is not None:
        shown = list(result.counts.items())[: max(top, 0)]
        lines.append(
            f"counts ({len(result.counts)} distinct outcomes of {plan.shots} shots, "
            f"top {len(shown)}; clbit 0 rightmost):"
        )
        width = max((len(key) for key, _ in shown), default=0)
        for key, count in shown:
            lines.append(f"  {key:<{width}}  {count:>8}  {count / plan.shots:.4f}")
    if result.expectations:
        if plan.shots is None:
            lines.append("expectation values (exact, readout error included):")
        else:
            separate = ", sampled apart from the counts" if result.counts is not None else ""
            lines.append(
                f"expectation values ({plan.shots} shots per measurement basis{separate}; "
                "+- standard error sqrt((1 - m^2) / shots)):"
            )
        width = max(len(e.name) for e in result.expectations)
        for e in result.expectations:
            value = f"{e.value: .6f}" if e.stderr is None else f"{e.value: .4f} +- {e.stderr:.4f}"
            lines.append(f"  <{e.name}>{'':<{width - len(e.name)}}  {e.label}  {value}")
    elif plan.want_counts and not plan.observables:
        lines.append("expectation values: none (the circuit measures mid-circuit)")
    return "\n".join(lines)
