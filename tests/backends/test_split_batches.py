"""Large batches over Dask workers: the Aer backend's executor= (jobs of max_job_size) and
split_expval for the torch engine give what one process gives (same seeds, same samples)."""

from __future__ import annotations

import pytest
import torch

from circuits import ansatz
from qrnn import backends
from qrnn.backends import BackendError, split_expval

distributed = pytest.importorskip("distributed")  # the distributed extra; CI installs it

OBSERVABLES = ["IIZ", "ZZI", "XIY"]


@pytest.fixture(scope="module")
def circuit():
    return ansatz.get("hardware_efficient", n_qubits=3, reps=1)[0]


@pytest.fixture(scope="module")
def values(circuit):
    return torch.rand(
        7, circuit.num_parameters, dtype=torch.float64, generator=torch.Generator().manual_seed(3)
    )


@pytest.fixture(scope="module")
def process_client(dask_processes):
    with distributed.Client(dask_processes) as client:
        yield client


@pytest.mark.parametrize("shots", [None, 300])
def test_aer_split_over_worker_processes_equals_one_process(circuit, values, process_client, shots):
    one = backends.get("aer", device="iontrap-10q", shots=shots, seed=11)
    split = backends.get(
        "aer", device="iontrap-10q", shots=shots, seed=11, executor=process_client, max_job_size=3
    )
    expected = one.expval(circuit, values, OBSERVABLES)
    assert torch.equal(split.expval(circuit, values, OBSERVABLES), expected)
    if shots is not None:  # the samples are the seed's: another seed gives others
        other = backends.get("aer", device="iontrap-10q", shots=shots, seed=12)
        assert not torch.equal(other.expval(circuit, values, OBSERVABLES), expected)


def test_aer_split_counts_equal_one_process(circuit, values, dask_client):
    measured = circuit.measure_all(inplace=False)
    one = backends.get("aer", device="iontrap-10q", seed=4).counts(measured, values, 100)
    split = backends.get("aer", device="iontrap-10q", seed=4, executor=dask_client, max_job_size=2)
    assert split.counts(measured, values, 100) == one


def test_torch_noisy_evaluation_split_over_workers_equals_the_unsplit_one(
    circuit, values, dask_client
):
    exact = backends.get("torch", device="iontrap-10q").expval(circuit, values, OBSERVABLES)
    split = split_expval(
        circuit, values, OBSERVABLES, executor=dask_client, max_job_size=3, device="iontrap-10q"
    )
    torch.testing.assert_close(split, exact, atol=1e-12, rtol=0)


def test_torch_sampled_split_is_the_same_on_workers_as_in_one_process(circuit, values, dask_client):
    options = {"max_job_size": 2, "device": "iontrap-10q", "shots": 200, "seed": 9}
    here = split_expval(circuit, values, OBSERVABLES, **options)
    there = split_expval(circuit, values, OBSERVABLES, executor=dask_client, **options)
    assert torch.equal(here, there)
    elsewhere = split_expval(circuit, values, OBSERVABLES, **{**options, "seed": 10})
    assert not torch.equal(here, elsewhere)


def test_bad_executor_arguments(circuit, values):
    with pytest.raises(BackendError, match=r"executor must be a Dask distributed\.Client"):
        backends.get("aer", executor=object())
    with pytest.raises(BackendError, match="give executor= too"):
        backends.get("aer", max_job_size=4)
    with pytest.raises(BackendError, match="max_job_size must be None or an int >= 1"):
        backends.get("aer", executor=distributed.Client, max_job_size=0)
    with pytest.raises(ValueError, match="max_job_size must be an int >= 1"):
        split_expval(circuit, values, OBSERVABLES, max_job_size=0)
    with pytest.raises(BackendError, match="executor must be"):
        split_expval(circuit, values, OBSERVABLES, executor="tcp://127.0.0.1:8786")
