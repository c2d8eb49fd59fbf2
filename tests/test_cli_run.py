"""``qrnn run``: a circuit file or template on a simulated ion-trap device.

References are independent of the command: ``qiskit.quantum_info`` for noiseless runs, and Aer's
density-matrix method with the device's ``NoiseModel`` on the device's own transpilation (readout
error by brute force, ``references.measured_pauli``) for noisy ones.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister, qpy
from qiskit.circuit import Gate, Parameter
from qiskit.quantum_info import DensityMatrix, SparsePauliOp, Statevector
from qiskit_aer import AerSimulator
from references import address_space_limit, measured_pauli

from circuits import ansatz
from qrnn import devices
from qrnn.backends.aer import gpu_available
from qrnn.cli import main
from qrnn.run import (
    RunInputError,
    execute,
    format_result,
    observable_labels,
    parse_values,
    prepare,
    run,
)

# ry(theta) on q0, then an entangler and fixed rotations: X, Y and Z terms are all non-trivial.
QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[2] q;
ry(theta) q[0];
cx q[0], q[1];
rz(0.3) q[1];
rx(0.4) q[0];
h q[1];
"""

BELL = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""


def run_json(capsys, *argv: str) -> dict:
    assert main(["run", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def run_error(capsys, *argv: str) -> str:
    assert main(["run", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # failed before any result was printed
    return captured.err


def qasm_reference() -> QuantumCircuit:
    theta = Parameter("theta")
    circuit = QuantumCircuit(2)
    circuit.ry(theta, 0)
    circuit.cx(0, 1)
    circuit.rz(0.3, 1)
    circuit.rx(0.4, 0)
    circuit.h(1)
    return circuit


def noisy_reference(device, bound: QuantumCircuit, labels: list[str]) -> np.ndarray:
    """Exact measured expectation values: Aer density matrix with the device's noise."""
    runnable = device.aer_circuit(device.transpile(bound))
    runnable.save_density_matrix()
    simulator = AerSimulator(method="density_matrix", noise_model=device.noise_model())
    rho = DensityMatrix(simulator.run(runnable).result().data(0)["density_matrix"])
    confusion = dict(enumerate(device.readout_confusion()))
    return np.array([measured_pauli(rho, label, confusion) for label in labels])


def values_of(result: dict) -> list[float]:
    return list(result["parameters"]["values"].values())


# ----------------------------------------------------------------------------- files


@pytest.mark.parametrize("backend", ["aer", "torch"])
def test_qasm3_file_exact_on_the_ideal_device_equals_quantum_info(tmp_path, capsys, backend):
    path = tmp_path / "circuit.qasm"
    path.write_text(QASM3)
    labels = ["Z0", "Z1", "Z0Z1", "X0X1", "Y1", "XY"]
    result = run_json(
        capsys, str(path), "--device", "ideal", "--values", "0.7", "--backend", backend,
        "--observables", ",".join(labels),
    )  # fmt: skip
    state = Statevector(qasm_reference().assign_parameters([0.7]))
    full = ["IZ", "ZI", "ZZ", "XX", "YI", "XY"]
    expected = [state.expectation_value(SparsePauliOp(label)).real for label in full]
    got = result["expectation_values"]
    assert [e["label"] for e in got] == full and [e["observable"] for e in got] == labels
    np.testing.assert_allclose([e["value"] for e in got], expected, atol=1e-6)
    assert all(e["stderr"] is None for e in got) and result["exact"]
    assert result["counts"] is None
    assert result["parameters"] == {"source": "values", "seed": None, "values": {"theta": 0.7}}


def test_qpy_file_exact_default_observables(tmp_path, capsys):
    circuit, weights = ansatz.ion_native(3, reps=1)
    path = tmp_path / "ion.qpy"
    with path.open("wb") as file:
        qpy.dump(circuit, file)
    values = np.linspace(-1.0, 2.0, len(weights))
    # "--values=..." because the first value is negative (argparse would take it for a flag)
    listed = ",".join(map(repr, values.tolist()))
    result = run_json(capsys, str(path), "--device", "ideal", f"--values={listed}")
    state = Statevector(circuit.assign_parameters(values))
    expected = [
        state.expectation_value(SparsePauliOp(label)).real for label in ("IIZ", "IZI", "ZII")
    ]
    got = result["expectation_values"]
    assert [e["observable"] for e in got] == ["Z0", "Z1", "Z2"]  # default: <Z_q> per qubit
    np.testing.assert_allclose([e["value"] for e in got], expected, atol=1e-6)


def test_openqasm2_file_is_read_too(tmp_path, capsys):
    path = tmp_path / "legacy.qasm"
    path.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[1];\nrx(pi/3) q[0];\n')
    result = run_json(capsys, str(path), "--device", "ideal")
    assert result["circuit"]["source"].startswith("OpenQASM 2 file")
    assert result["expectation_values"][0]["value"] == pytest.approx(math.cos(math.pi / 3))


# ----------------------------------------------------------------------------- noise and shots


@pytest.mark.parametrize("backend", ["aer", "torch"])
def test_template_on_a_noisy_device_exact_equals_aer_density_matrix(capsys, backend):
    labels = ["Z0", "Z1Z2", "X0", "Y2X1"]
    result = run_json(
        capsys, "hardware_efficient", "--qubits", "3", "--reps", "1", "--device",
        "ionq-aria-1", "--observables", ",".join(labels), "--seed", "5", "--backend", backend,
    )  # fmt: skip
    circuit, _ = ansatz.hardware_efficient(3, reps=1)
    assert result["parameters"]["source"] == "seed"
    bound = circuit.assign_parameters(values_of(result))
    device = devices.get("ionq-aria-1", n_qubits=3)
    expected = noisy_reference(device, bound, [e["label"] for e in result["expectation_values"]])
    np.testing.assert_allclose(
        [e["value"] for e in result["expectation_values"]], expected, atol=1e-6
    )


@pytest.mark.parametrize("backend", ["aer", "torch"])
def test_template_with_shots_lies_within_five_sigma_of_the_exact_noisy_values(capsys, backend):
    shots = 4000
    labels = ["Z0", "Z1", "Z0Z1", "X1"]
    result = run_json(
        capsys, "brickwork", "--qubits", "2", "--reps", "2", "--device", "quantinuum-h1-1",
        "--shots", str(shots), "--observables", ",".join(labels), "--seed", "11",
        "--backend", backend,
    )  # fmt: skip
    circuit, _ = ansatz.brickwork(2, reps=2)
    bound = circuit.assign_parameters(values_of(result))
    device = devices.get("quantinuum-h1-1", n_qubits=2)
    got = result["expectation_values"]
    exact = noisy_reference(device, bound, [e["label"] for e in got])
    values = np.array([e["value"] for e in got])
    sigma = np.sqrt((1 - exact**2) / shots)
    assert np.all(np.abs(values - exact) <= 5 * sigma + 1e-12), (values, exact, sigma)
    stderr = [e["stderr"] for e in got]
    np.testing.assert_allclose(stderr, np.sqrt((1 - values**2) / shots))
    assert result["counts"] is None  # observables asked for and no measurements: no counts


def test_counts_of_a_measured_circuit_on_the_ideal_device(tmp_path, capsys):
    path = tmp_path / "bell.qasm"
    path.write_text(BELL)
    result = run_json(capsys, str(path), "--device", "ideal", "--shots", "500")
    counts = result["counts"]
    assert set(counts) <= {"00", "11"} and sum(counts.values()) == 500
    assert list(counts.values()) == sorted(counts.values(), reverse=True)
    # the measurements are final: <Z_q> of the state before them, sampled
    assert [e["observable"] for e in result["expectation_values"]] == ["Z0", "Z1"]


@pytest.mark.parametrize("backend", ["aer", "torch"])
def test_counts_with_noise_sum_to_shots_and_are_sorted(capsys, backend):
    result = run_json(
        capsys, "ion_native", "--qubits", "3", "--reps", "1", "--device", "aqt-ibex-q1",
        "--shots", "1500", "--backend", backend,
    )  # fmt: skip
    counts = result["counts"]
    assert sum(counts.values()) == 1500
    assert all(len(key) == 3 and set(key) <= {"0", "1"} for key in counts)
    assert list(counts.values()) == sorted(counts.values(), reverse=True)
    # <Z_0> from the counts agrees with the separately sampled <Z_0> within both errors
    z0_counts = sum((1 - 2 * int(key[-1])) * n for key, n in counts.items()) / 1500
    z0 = result["expectation_values"][0]
    assert abs(z0_counts - z0["value"]) <= 5 * math.sqrt(2) * max(z0["stderr"], 1e-3)


def test_counts_from_torch_follow_the_exact_distribution(tmp_path, capsys):
    path = tmp_path / "bell.qasm"
    path.write_text(BELL)
    result = run_json(
        capsys, str(path), "--device", "ideal", "--shots", "400", "--backend", "torch"
    )
    assert set(result["counts"]) <= {"00", "11"} and sum(result["counts"].values()) == 400


def test_counts_keys_follow_qiskit_register_order_on_both_backends():
    qubits, a, b = QuantumRegister(3), ClassicalRegister(1, "a"), ClassicalRegister(2, "b")
    circuit = QuantumCircuit(qubits, a, b)
    circuit.x(0)
    circuit.h(2)
    circuit.measure(0, b[1])
    circuit.measure(1, a[0])
    circuit.measure(2, b[0])
    for backend in ("aer", "torch"):
        counts = run(circuit, device="ideal", shots=200, backend=backend).counts
        assert set(counts) == {"10 0", "11 0"}, backend  # register b, then a; bit 0 rightmost


def test_mid_circuit_measurement_gives_counts_only(capsys):
    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.measure(0, 0)
    circuit.cx(0, 1)
    circuit.measure(1, 1)
    plan = prepare(circuit, device="iontrap-10q", shots=300)
    assert plan.want_counts and plan.observables == []
    result = execute(plan)
    assert sum(result.counts.values()) == 300 and result.expectations == []
    assert "expectation values: none (the circuit measures mid-circuit)" in format_result(result)


# ----------------------------------------------------------------------------- report


def test_duration_and_native_gate_counts_are_the_devices(capsys):
    argv = ["qlstm_gate", "--qubits", "3", "--reps", "1", "--device", "ionq-forte-1"]
    result = run_json(capsys, *argv, "--shots", "200")
    from circuits import cells

    circuit = cells.qlstm_gate(3, reps=1).circuit
    device = devices.get("ionq-forte-1", n_qubits=3)
    native = device.transpile(circuit.assign_parameters(values_of(result)).measure_all(False))
    assert result["duration_s"] == device.duration(native)
    expected = {k: v for k, v in native.count_ops().items() if k != "barrier"}
    assert result["native_gate_counts"] == expected
    assert set(expected) <= {"gpi", "gpi2", "ionq_zz", "rz", "measure"}
    assert result["total_duration_s"] == pytest.approx(200 * device.duration(native))

    assert main(["run", *argv, "--shots", "200", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert f"{device.duration(native) * 1e6:.3f} us per shot" in out
    assert "native gates: " in out and "ionq_zz" in out
    assert "random angles, uniform in [0, 2pi), from --seed 0" in out
    assert "top 3" in out


def test_the_same_seed_gives_the_same_report(capsys):
    argv = ["reservoir", "--qubits", "2", "--reps", "1", "--device", "iontrap-10q", "--shots"]
    first = run_json(capsys, *argv, "300", "--seed", "4")
    second = run_json(capsys, *argv, "300", "--seed", "4")
    assert first == second


def test_a_circuit_given_in_python_is_named_once_in_the_report():
    circuit = QuantumCircuit(1, name="bell")
    circuit.h(0)
    result = run(circuit, device="ideal", shots=10)
    assert result.to_dict()["circuit"]["source"] == "QuantumCircuit 'bell'"
    assert format_result(result).splitlines()[0] == "circuit: QuantumCircuit 'bell', 0 parameters"


def test_parsers_accept_the_documented_forms():
    circuit = QuantumCircuit(3)
    circuit.rx(Parameter("a"), 0)
    circuit.ry(Parameter("b"), 1)
    np.testing.assert_allclose(parse_values("pi/2, -0.5", circuit), [math.pi / 2, -0.5])
    np.testing.assert_allclose(parse_values("3*pi/4,2pi", circuit), [3 * math.pi / 4, 2 * math.pi])
    assert observable_labels("z0,Z0Z2,xyz", 3) == [("Z0", "IIZ"), ("Z0Z2", "ZIZ"), ("XYZ", "XYZ")]


# ----------------------------------------------------------------------------- bad input


def test_unknown_device(capsys):
    err = run_error(capsys, "brickwork", "--qubits", "2", "--device", "nowhere")
    assert "unknown device 'nowhere'" in err and "ionq-aria-1" in err


def test_circuit_wider_than_the_device(capsys):
    err = run_error(capsys, "brickwork", "--qubits", "13", "--device", "aqt-ibex-q1")
    assert "uses 13 qubits" in err and "only 12" in err


def test_missing_and_malformed_files(tmp_path, capsys):
    assert "not found" in run_error(capsys, str(tmp_path / "missing.qasm"))
    garbage = tmp_path / "garbage.qasm"
    garbage.write_text("this is not a program")
    assert "not a valid OpenQASM 3 program" in run_error(capsys, str(garbage))
    broken = tmp_path / "broken.qpy"
    broken.write_bytes(b"\x00\x01 not qpy")
    assert "not a readable QPY circuit file" in run_error(capsys, str(broken))
    binary = tmp_path / "binary.qasm"
    binary.write_bytes(b"\xff\xfe\x00")
    assert "not a text file" in run_error(capsys, str(binary))
    good = tmp_path / "ok.qasm"
    good.write_text(QASM3)
    assert "templates only" in run_error(capsys, str(good), "--qubits", "3")


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        (  # a statement without its semicolon: the parser stops at the next one
            'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0]\ncx q[0], q[1];\n',
            "line 5, column 1: expected ';', found 'cx'",
        ),
        ("OPENQASM 3.0;\nqubit[2 q;\n", "line 2, column 9: expected ']', found 'q'"),
        (
            'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nfoo q[0];\n',
            "line 4, column 1: gate 'foo' is not defined.",
        ),
        (
            'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh r[0];\n',
            "line 4, column 3: Undefined symbol 'r'.",
        ),
        (
            "OPENQASM 3.0;\nqubit[1] q;\nh q[0] $$;\n",
            "line 3, column 8: token recognition error at: '$$'",
        ),
        ("// only a comment\n", "the program is empty"),
        (
            'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[5];\n',
            "line 4, column 5: index 5 is out-of-range for register 'q' of size 2",
        ),
    ],
    ids=["semicolon", "bracket", "unknown-gate", "undefined", "bad-token", "empty", "qasm2"],
)
def test_an_invalid_qasm_file_names_the_line_and_the_reason(tmp_path, capsys, program, expected):
    path = tmp_path / "broken.qasm"
    path.write_text(program)
    err = run_error(capsys, str(path))
    version = "2" if program.startswith("OPENQASM 2") else "3"
    assert err == (
        f"qrnn run: error: {str(path)!r} is not a valid OpenQASM {version} program: {expected}\n"
    )


@pytest.mark.parametrize("suffix", [".qasm", ".qpy"])
def test_a_circuit_read_from_a_file_is_named_after_it(tmp_path, suffix):
    path = tmp_path / f"bell_pair{suffix}"
    if suffix == ".qasm":
        path.write_text(BELL)
    else:
        circuit = QuantumCircuit(2)  # saved without a name of its own: "circuit-<n>"
        circuit.h(0)
        with path.open("wb") as file:
            qpy.dump(circuit, file)
    result = run(str(path), device="ideal", shots=10)
    assert result.plan.circuit.name == "bell_pair"
    assert result.to_dict()["circuit"]["name"] == "bell_pair"


def test_a_qpy_file_keeps_the_name_it_was_saved_with(tmp_path):
    circuit = QuantumCircuit(1, name="my_rotation")
    circuit.rx(0.3, 0)
    path = tmp_path / "saved.qpy"
    with path.open("wb") as file:
        qpy.dump(circuit, file)
    assert prepare(str(path), device="ideal").circuit.name == "my_rotation"


@pytest.mark.parametrize(
    ("argv", "method", "size"),
    [
        ([], "density_matrix", r"4\*\*34 entries"),  # exact values with noise: a density matrix
        (["--shots", "100"], "statevector", r"2\*\*34 amplitudes"),
    ],
)
def test_a_circuit_too_large_for_aer_is_refused_before_aer_starts(capsys, argv, method, size):
    with address_space_limit():  # 2 GiB more: whatever the machine, 2**34 amplitudes do not fit
        err = run_error(
            capsys, "hardware_efficient", "--qubits", "34", "--device", "ionq-forte-1", *argv
        )
    assert len(err.splitlines()) == 1, err  # once, in one line
    assert re.match(
        rf"qrnn run: error: Aer's {method} simulation of circuit 'hardware_efficient' "
        rf"\({size}\) needs about .+; .+ is available\. Use fewer qubits: at most \d+ fit\.$",
        err,
    ), err


def test_a_circuit_too_large_for_the_torch_engine_is_refused_in_one_line(capsys):
    with address_space_limit():
        err = run_error(
            capsys, "hardware_efficient", "--qubits", "34", "--device", "ionq-forte-1",
            "--backend", "torch",
        )  # fmt: skip
    assert len(err.splitlines()) == 1, err
    assert err.startswith(
        "qrnn run: error: simulating this 34-qubit circuit as a density matrix (2**68 entries) "
        "needs about "
    )


def test_an_aer_failure_is_reported_once(caplog):
    """Aer logs a failed simulation and the backend raises it: the report keeps the error."""
    plan = prepare("hardware_efficient", qubits=18, reps=1, device="ideal")
    plan.backend.simulator.set_options(max_memory_mb=1)  # Aer now refuses the state
    with caplog.at_level("WARNING"), pytest.raises(Exception, match="Insufficient memory"):
        execute(plan)
    assert not [r for r in caplog.records if "Simulation failed" in r.getMessage()]


def test_unknown_template(capsys):
    err = run_error(capsys, "nonsense")
    assert "unknown circuit 'nonsense'" in err and "hardware_efficient" in err


@pytest.mark.parametrize(
    ("values", "message"),
    [("0.1,0.2", "--values has 2 numbers but circuit"), ("abc", "'abc' is not a number")],
)
def test_bad_values(tmp_path, capsys, values, message):
    path = tmp_path / "circuit.qasm"
    path.write_text(QASM3)
    assert message in run_error(capsys, str(path), "--values", values)


@pytest.mark.parametrize(
    ("shots", "message"), [("20000", "outside the limits"), ("0", "positive integer")]
)
def test_shots_outside_the_device_limits(capsys, shots, message):
    err = run_error(
        capsys, "brickwork", "--qubits", "2", "--device", "ionq-aria-1", "--shots", shots
    )
    assert message in err


def test_gate_that_cannot_be_translated(tmp_path, capsys):
    circuit = QuantumCircuit(2)
    circuit.append(Gate("mystery", 1, []), [0])  # opaque: no definition to translate
    path = tmp_path / "opaque.qpy"
    with path.open("wb") as file:
        qpy.dump(circuit, file)
    assert "cannot translate" in run_error(capsys, str(path), "--device", "ionq-aria-1")


@pytest.mark.parametrize(
    ("observables", "message"),
    [("Z5", "names qubit 5"), ("ZZZ", "has 3 characters"), ("Q0", "not a Pauli string")],
)
def test_bad_observables(capsys, observables, message):
    err = run_error(capsys, "brickwork", "--qubits", "2", "--observables", observables)
    assert message in err


def test_mid_circuit_measurement_errors(tmp_path, capsys):
    path = tmp_path / "mid.qasm"
    path.write_text(
        'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\n'
        "h q[0];\nc[0] = measure q[0];\ncx q[0], q[1];\nc[1] = measure q[1];\n"
    )
    unsupported = run_error(capsys, str(path), "--device", "ionq-aria-1", "--shots", "100")
    assert "does not support mid-circuit measurement" in unsupported
    assert "give --shots" in run_error(capsys, str(path), "--device", "iontrap-10q")
    err = run_error(capsys, str(path), "--shots", "100", "--observables", "Z0")
    assert "leave out --observables" in err
    with pytest.raises(RunInputError, match="--backend aer"):
        prepare(str(path), shots=100, backend="torch")


@pytest.mark.skipif(gpu_available(), reason="this machine has an Aer GPU")
def test_gpu_without_a_gpu_is_an_error_not_a_fallback(capsys):
    err = run_error(capsys, "brickwork", "--qubits", "2", "--shots", "100", "--gpu")
    assert "gpu=True" in err and "qiskit-aer-gpu" in err


def test_layers_is_the_deprecated_name_of_reps(capsys):
    assert main(["run", "brickwork", "--qubits", "2", "--layers", "1", "--json"]) == 0
    captured = capsys.readouterr()
    assert "--layers is deprecated and will be removed; use --reps" in captured.err
    assert json.loads(captured.out)["circuit"]["source"] == "template brickwork (2 qubits, reps 1)"
