"""`qrnn submit` and `qrnn jobs`, end to end on IBM's local testing mode."""

from __future__ import annotations

import logging
import re
import sys

import pytest
from qiskit import QuantumCircuit, qasm3

from qrnn.cli import main
from qrnn.cloud.jobs import default_path

TOKENS = {
    "QISKIT_IBM_TOKEN": "ibm-token-5f1e9c0d7a3b",
    "QISKIT_IONQ_API_TOKEN": "ionq-token-0c8d2e4f6a1b",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-93b7c1d5e2f4",
}


@pytest.fixture
def bell_file(tmp_path):
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    path = tmp_path / "bell.qasm"
    path.write_text(qasm3.dumps(circuit))
    return path


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_submit_then_follow_the_job_with_qrnn_jobs(capsys, bell_file):
    code, out, err = _run(
        capsys, "submit", bell_file, "--provider", "ibm", "--backend", "fake_manila",
        "--shots", "300",
    )  # fmt: skip
    assert code == 0, err
    job_id = re.search(r"submitted job ([0-9a-f-]{36})", out).group(1)
    assert "result:" in out and "circuit 0 counts: " in out
    assert "cost: $0.00" in out
    code, out, _ = _run(capsys, "jobs", "list")
    assert code == 0 and job_id in out and "done" in out
    code, out, _ = _run(capsys, "jobs", "show", job_id[:8])
    assert code == 0 and f"job {job_id}" in out and "history:" in out and "pending" in out
    assert "(written before submitting)" in out and "result fetched" in out
    code, out, _ = _run(capsys, "jobs", "status", job_id)
    assert code == 0 and out.strip() == f"{job_id}: done"
    code, out, _ = _run(capsys, "jobs", "fetch", job_id)  # from the store: no vendor call
    counts = dict(re.findall(r"(\d\d): (\d+)", out))
    assert sum(map(int, counts.values())) == 300


def test_dry_run_shows_what_would_be_sent_and_writes_nothing(capsys, bell_file):
    code, out, err = _run(
        capsys, "submit", bell_file, "--provider", "ibm", "--backend", "fake_manila",
        "--shots", "200", "--observables", "ZZ,XX", "--dry-run",
    )  # fmt: skip
    assert code == 0, err
    assert "dry run:" in out and "nothing submitted" in out
    assert re.search(r"circuit 0: 1 two-qubit gates, depth \d+", out)
    assert "--- OpenQASM 3 of circuit 0 ---" in out and "OPENQASM 3.0;" in out
    assert "cost: $0.00, machine time about" in out
    assert re.search(r"expected result on fake_manila .*\n  circuit 0 expectation values: ", out)
    assert not default_path().exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--backend", "fake_nowhere"],
            r"unknown ibm backend 'fake_nowhere'; known: .*fake_manila",
        ),
        (["--backend", "fake_manila", "--shots", "0"], r"shots must be a whole number >= 1"),
        (["--backend", "fake_manila", "--qubits", "6"], r"uses 6 qubits but ibm backend"),
    ],
)
def test_submit_refuses_bad_input_with_a_clear_message(capsys, argv, message):
    code, _, err = _run(capsys, "submit", "hardware_efficient", "--provider", "ibm", *argv)
    assert code == 2 and re.search(message, err), err
    assert not default_path().exists()


def test_an_unknown_provider_lists_the_known_ones(capsys):
    with pytest.raises(SystemExit):
        main(["submit", "bell.qasm", "--provider", "dwave", "--backend", "x"])
    assert "(choose from 'braket', 'ibm', 'ionq')" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("provider", "module", "backend"),
    [
        ("ionq", "qiskit_ionq", "qpu.aria-1"),
        ("braket", "braket.circuits", "local"),
        ("ibm", "qiskit_ibm_runtime", "fake_manila"),
    ],
)
def test_a_missing_sdk_is_named_with_the_pip_command_that_installs_it(
    capsys, monkeypatch, bell_file, provider, module, backend
):
    monkeypatch.setitem(sys.modules, module, None)  # as without the extra: its import fails
    code, out, err = _run(capsys, "submit", bell_file, "--provider", provider, "--backend",
                          backend, "--shots", "10")  # fmt: skip
    assert code == 2 and f'pip install "qrnn-iontrap[{provider}]"' in err, err
    assert f"provider {provider!r} needs the {module.split('.')[0]} package" in err and out == ""
    assert not default_path().exists()  # nothing written


def test_jobs_without_a_store_or_with_an_unknown_id(capsys, bell_file):
    code, _, err = _run(capsys, "jobs", "list")
    assert code == 2 and "no job store at" in err
    _run(capsys, "submit", bell_file, "--provider", "ibm", "--backend", "fake_manila",
         "--shots", "10")  # fmt: skip
    code, _, err = _run(capsys, "jobs", "show", "0000dead")
    assert code == 2 and "no job '0000dead'" in err and "recent jobs: " in err


def test_no_token_reaches_the_store_the_logs_or_the_output(capsys, caplog, monkeypatch, bell_file):
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    outputs = []
    for argv in (
        ["submit", bell_file, "--provider", "ibm", "--backend", "fake_manila", "--shots", "20"],
        ["submit", bell_file, "--provider", "ibm", "--backend", "fake_manila", "--dry-run"],
        ["jobs", "list"],
        ["jobs", "recover"],
    ):
        outputs.extend(_run(capsys, *argv)[1:])
    (job_id,) = re.findall(r"^([0-9a-f-]{36}) ", outputs[4], re.MULTILINE)
    outputs.extend(_run(capsys, "jobs", "show", job_id, "--json")[1:])
    stored = b"".join(
        path.read_bytes() for path in default_path().parent.rglob("*") if path.is_file()
    )
    for value in TOKENS.values():
        assert value not in "".join(outputs) and value not in caplog.text
        assert value.encode() not in stored


def test_a_run_directory_on_a_local_simulator_is_scored_to_the_end(capsys, tiny_run):
    from qrnn.cloud import JobStore

    code, out, err = _run(
        capsys, "submit", tiny_run, "--provider", "braket", "--backend", "local", "--shots", "200"
    )
    assert code == 0, err
    assert "qlstm scored without a device (noise-free) with 200 shots (cloud:braket:local" in out
    assert re.search(r"evaluation [0-9a-f-]{36} \(braket local, 200 shots\): done after \d+ ", out)
    assert re.search(r"test metrics .*\n.*\nqlstm +\d+ +[\d.]+", out)
    with JobStore(default_path()) as store:
        jobs = store.list()
    assert jobs and all(job.status == "done" and job.provider == "braket" for job in jobs)


def test_a_dry_run_of_a_run_directory_prices_every_circuit_and_sends_nothing(capsys, tiny_run):
    from qrnn.runs import load_data, read_run_config

    forte = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
    code, out, err = _run(capsys, "submit", tiny_run, "--provider", "braket", "--backend", forte,
                          "--shots", "100", "--dry-run")  # fmt: skip
    assert code == 0, err
    data = load_data(read_run_config(tiny_run))
    windows = len(data.val.inputs) + len(data.test.inputs)
    executions = windows * 2 * 4  # every window's 2 steps through the QLSTM's 4 gate circuits
    assert f"{executions} circuits of 100 shots (4 distinct); nothing submitted" in out
    assert len(re.findall(rf"run {windows * 2} times; 1 two-qubit gates, depth \d+", out)) == 4
    assert f"cost: ${executions * (0.30 + 100 * 0.08):.2f}, machine time about" in out
    assert "expected metrics on qrnn device preset ionq-forte-1" in out
    assert re.search(r"test metrics .*\n.*\nqlstm +\d+ +[\d.]+", out)
    assert out.count("OPENQASM 3.0;") == 4
    assert not default_path().parent.exists()  # no store, no record


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--shots", "0"], r"shots must be a whole number >= 1, got 0"),
        (["--backend", "nowhere"], r"unknown braket backend 'nowhere'; known: local"),
        (["--values", "1,2"], r"--values applies to circuits, not RUN_DIR"),
    ],
)
def test_a_run_directory_with_bad_options_is_refused_before_anything(
    capsys, tiny_run, argv, message
):
    options = {"--backend": "local", "--shots": "10"}
    for flag, value in zip(argv[::2], argv[1::2], strict=True):
        options[flag] = value
    flat = [item for pair in options.items() for item in pair]
    code, _, err = _run(capsys, "submit", tiny_run, "--provider", "braket", *flat)
    assert code == 2 and re.search(message, err), err
    assert not default_path().parent.exists()  # no store, no evaluation record


def test_fetching_an_unknown_evaluation_or_a_folder_that_is_no_run(capsys, tmp_path, bell_file):
    code, _, err = _run(capsys, "submit", tmp_path, "--provider", "braket", "--backend", "local")
    assert code == 2 and "is not a run directory: no config.json" in err
    _run(capsys, "submit", bell_file, "--provider", "braket", "--backend", "local", "--shots", "5")
    code, _, err = _run(capsys, "jobs", "fetch", "0000dead")
    assert code == 2 and "no job '0000dead'" in err


def test_a_run_trained_under_device_noise_is_scored_on_the_cloud_machine_instead(capsys, tmp_path):
    """A run trained on a simulated device is rebuilt noise-free and sent to the cloud
    backend, whose machine stands in for the simulated one (dry run and real submission)."""
    import json

    from qrnn.cli import main

    config = tmp_path / "noisy.json"
    noisy = {"dataset": "sine", "dataset_options": {"length": 12}, "window": 2, "epochs": 1}
    noisy |= {"model": "qlstm", "qubits": 2, "reps": 1, "name": "noisy", "batch_size": 32}
    noisy |= {"device": "iontrap-10q"}
    config.write_text(json.dumps(noisy))
    assert main(["train", "--config", str(config), "--quiet", "--output-dir", str(tmp_path)]) == 0
    run = tmp_path / "noisy"
    code, out, err = _run(capsys, "submit", run, "--provider", "braket", "--backend", "local",
                          "--shots", "100")  # fmt: skip
    assert code == 0, err
    assert "qlstm scored without a device (noise-free) with 100 shots (cloud:braket:local" in out
    forte = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
    code, out, err = _run(capsys, "submit", run, "--provider", "braket", "--backend", forte,
                          "--shots", "100", "--dry-run")  # fmt: skip
    assert code == 0, err
    assert "ionq-forte-1" in out


def test_a_dry_run_of_a_memory_model_is_refused_before_any_simulation(
    capsys, tmp_path, monkeypatch
):
    import json

    import qrnn.runs
    from qrnn.cli import main

    config = tmp_path / "memory.json"
    memory = {"dataset": "sine", "dataset_options": {"length": 12}, "window": 2, "epochs": 1}
    memory |= {"model": "qrnn", "qubits": 3, "hidden_size": 1, "reps": 1, "name": "memory"}
    config.write_text(json.dumps(memory))
    assert main(["train", "--config", str(config), "--quiet", "--output-dir", str(tmp_path)]) == 0

    def simulated(*args, **kwargs):
        raise AssertionError("the dry run simulated before refusing")

    monkeypatch.setattr(qrnn.runs, "evaluate_run", simulated)
    forte = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
    code, _, err = _run(capsys, "submit", tmp_path / "memory", "--provider", "braket",
                        "--backend", forte, "--shots", "100", "--dry-run")  # fmt: skip
    assert code == 2 and "QRNN and QReservoir memory cells are not priced" in err, err
