"""qrnn's Qiskit primitives answer the PUBs of Qiskit's reference primitives.

Exact values are checked against ``StatevectorEstimator`` (1e-8), samples against
``StatevectorSampler`` (4 standard errors), noisy values against Aer.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.circuit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit.library import real_amplitudes
from qiskit.primitives import (
    BaseEstimatorV2,
    BaseSamplerV2,
    StatevectorEstimator,
    StatevectorSampler,
)
from qiskit.primitives.containers import BindingsArray, BitArray
from qiskit.primitives.containers.estimator_pub import EstimatorPub
from qiskit.quantum_info import Pauli, SparseObservable, SparsePauliOp, Statevector
from qiskit_aer.noise import NoiseModel, ReadoutError

from qrnn import backends
from qrnn.interfaces.qiskit_primitives import EstimatorV2, SamplerV2


def ansatz(n_qubits=3, reps=1) -> QuantumCircuit:
    return real_amplitudes(n_qubits, reps=reps).decompose()


def random_values(shape, circuit, seed=0):
    return np.random.default_rng(seed).uniform(-np.pi, np.pi, (*shape, circuit.num_parameters))


def estimator_pubs():
    """Several PUBs on two circuits: broadcast bindings, observables arrays, projectors,
    a circuit without parameters, bindings keyed by parameter name."""
    circuit = ansatz()
    fixed = QuantumCircuit(3)
    fixed.h(0)
    fixed.cx(0, 2)
    fixed.ry(0.4, 1)
    observables = [
        [SparsePauliOp(["XXI", "IYZ"], [0.5, -1.5])],
        [Pauli("ZZZ")],
        ["IIX"],
    ]  # shape (3, 1)
    projector = SparsePauliOp.from_sparse_observable(SparseObservable("0+1"))
    by_name = {tuple(p.name for p in circuit.parameters): random_values((4,), circuit, 3)}
    return [
        (circuit, observables, random_values((5,), circuit, 1)),  # (3, 1) x (5,) -> (3, 5)
        (circuit, ["ZII", "IZI"], random_values((2, 1), circuit, 2)),  # (2,) x (2, 1) -> (2, 2)
        (circuit, "XYZ", random_values((), circuit, 4)),  # one binding -> ()
        (circuit, [projector, "YYI", "ZIZ", "XIZ"], by_name),  # (4,) x (4,) -> (4,)
        (fixed, [["ZIZ"], ["XIX"]]),  # (2, 1)
        EstimatorPub.coerce((circuit, "IZZ", random_values((3,), circuit, 5))),
    ]


def test_the_primitives_are_qiskit_primitives():
    assert isinstance(EstimatorV2(), BaseEstimatorV2)
    assert isinstance(SamplerV2(), BaseSamplerV2)


def test_estimator_answers_the_pubs_of_statevector_estimator():
    pubs = estimator_pubs()
    expected = StatevectorEstimator().run(pubs).result()
    result = EstimatorV2().run(pubs).result()
    assert len(result) == len(pubs)
    assert result.metadata == {"version": 2}
    for ours, theirs in zip(result, expected, strict=True):
        assert ours.data.evs.shape == theirs.data.evs.shape == ours.data.shape
        np.testing.assert_allclose(ours.data.evs, theirs.data.evs, atol=1e-8, rtol=0)
        np.testing.assert_array_equal(ours.data.stds, 0.0)
        assert ours.metadata["target_precision"] == 0.0


def test_pubs_on_one_circuit_share_one_engine_call(monkeypatch):
    """What EstimatorQNN sends: one PUB per observable, the same bindings in each; the engine
    runs each distinct binding once against all observables."""
    estimator = EstimatorV2()
    calls = []
    expval = estimator.backend.expval
    monkeypatch.setattr(
        estimator.backend,
        "expval",
        lambda c, v, o: (calls.append((v.shape, len(o))), expval(c, v, o))[1],
    )
    circuit = ansatz()
    values = random_values((6,), circuit)
    labels = ["ZII", "IZI", "IIZ", "XXX"]
    pubs = [(circuit, label, values) for label in labels]
    pubs += [(circuit, "ZII", values[k]) for k in range(6)]  # single bindings seen before
    result = estimator.run(pubs).result()
    assert calls == [((6, circuit.num_parameters), 4)]
    expected = StatevectorEstimator().run(pubs).result()
    for ours, theirs in zip(result, expected, strict=True):
        np.testing.assert_allclose(ours.data.evs, theirs.data.evs, atol=1e-8, rtol=0)


def test_pubs_whose_cross_product_would_be_wasteful_and_large_run_one_by_one(monkeypatch):
    from qrnn.interfaces import qiskit_primitives

    monkeypatch.setattr(qiskit_primitives, "_SHARED_CALL_BUDGET", 0)  # "large" from now on
    estimator = EstimatorV2()
    calls = []
    expval = estimator.backend.expval

    def spy(circuit, values, observables):
        calls.append((values.shape[0], len(observables)))
        return expval(circuit, values, observables)

    monkeypatch.setattr(estimator.backend, "expval", spy)
    circuit = ansatz()
    labels = ["ZII", "IZI", "IIZ", "XXX", "YIY"]
    pubs = [(circuit, label, random_values((), circuit, k)) for k, label in enumerate(labels)]
    result = estimator.run(pubs).result()
    assert calls == [(1, 1)] * 5  # together: 5 x 5 values for the 5 asked for
    expected = StatevectorEstimator().run(pubs).result()
    for ours, theirs in zip(result, expected, strict=True):
        np.testing.assert_allclose(ours.data.evs, theirs.data.evs, atol=1e-8, rtol=0)


def test_precision_adds_gaussian_noise_of_that_standard_deviation():
    circuit = ansatz()
    values = np.repeat(random_values((1,), circuit), 2000, axis=0)
    exact = EstimatorV2().run([(circuit, "ZZI", values)]).result()[0].data.evs
    noisy = EstimatorV2(seed=7).run([(circuit, "ZZI", values)], precision=0.05).result()[0]
    residual = noisy.data.evs - exact
    assert abs(residual.mean()) < 4 * 0.05 / np.sqrt(2000)
    assert residual.std() == pytest.approx(0.05, rel=4 / np.sqrt(2 * 2000))
    np.testing.assert_array_equal(noisy.data.stds, 0.05)
    assert noisy.metadata["target_precision"] == 0.05
    again = EstimatorV2(seed=7).run([(circuit, "ZZI", values)], precision=0.05).result()[0]
    np.testing.assert_array_equal(again.data.evs, noisy.data.evs)
    # a PUB's own precision wins over run's, run's over the default
    pubs = [(circuit, "ZZI", values[:3], 0.0), (circuit, "ZZI", values[:3])]
    result = EstimatorV2(default_precision=0.1).run(pubs).result()
    assert [r.metadata["target_precision"] for r in result] == [0.0, 0.1]
    np.testing.assert_allclose(result[0].data.evs, exact[:3], atol=1e-12)


def test_device_noise_gives_what_aer_gives():
    circuit = ansatz(reps=2)
    values = random_values((3,), circuit)
    observables = ["ZZI", "IXI", "YIZ"]
    result = EstimatorV2(device="iontrap-10q").run([(circuit, observables, values[:, None])])
    aer = backends.get("aer", device="iontrap-10q").expval(circuit, values, observables)
    np.testing.assert_allclose(result.result()[0].data.evs, aer.numpy(), atol=1e-6)


def measured_circuit() -> QuantumCircuit:
    """Two registers, one bit left unmeasured, qubits measured out of order."""
    body = ansatz()
    circuit = QuantumCircuit(QuantumRegister(3), ClassicalRegister(2, "alpha"))
    circuit.add_register(ClassicalRegister(2, "beta"))
    circuit.compose(body, inplace=True)
    circuit.measure([2, 0], [0, 1])  # alpha = (q2, q0)
    circuit.measure(1, 3)  # beta = (unmeasured, q1)
    return circuit


def test_sampler_answers_the_pubs_of_statevector_sampler_within_four_standard_errors():
    circuit = measured_circuit()
    shots = 4000
    pubs = [(circuit, random_values((2, 2), circuit, 1)), (circuit, random_values((), circuit))]
    ours = SamplerV2(seed=3).run(pubs, shots=shots).result()
    theirs = StatevectorSampler(seed=3).run(pubs, shots=shots).result()
    for mine, reference in zip(ours, theirs, strict=True):
        assert mine.metadata["shots"] == shots
        for name in ("alpha", "beta"):
            a, b = getattr(mine.data, name), getattr(reference.data, name)
            assert (a.shape, a.num_bits, a.num_shots) == (b.shape, b.num_bits, b.num_shots)
            assert a.array.shape == b.array.shape
            for index in np.ndindex(*a.shape):
                ca, cb = a.get_counts(index), b.get_counts(index)
                for key in set(ca) | set(cb):
                    pa, pb = ca.get(key, 0) / shots, cb.get(key, 0) / shots
                    p = (pa + pb) / 2
                    bound = 4 * np.sqrt(max(p * (1 - p), 1 / shots) * 2 / shots)
                    assert abs(pa - pb) <= bound, (name, index, key, pa, pb)
        assert all(k[-1] == "0" for k in mine.data.beta.get_counts())  # beta[0]: unmeasured
    # shot k of both registers is the same shot: their joint distribution is the state's
    joint = BitArray.concatenate_bits([ours[1].data.alpha, ours[1].data.beta]).get_counts()
    values = pubs[1][1]
    probabilities = Statevector(ansatz().assign_parameters(values)).probabilities([2, 0, 1])
    for outcome, p in enumerate(probabilities):
        key = format(outcome, "03b")
        f = joint.get(key[0] + "0" + key[1:], 0) / shots
        assert abs(f - p) <= 4 * np.sqrt(max(p * (1 - p), 1 / shots) / shots), (key, f, p)


def test_sampler_shots_seed_and_readout_error():
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    noise = NoiseModel()
    noise.add_all_qubit_readout_error(ReadoutError([[0.9, 0.1], [0.2, 0.8]]))
    sampler = SamplerV2(noise_model=noise, default_shots=5000, seed=1)
    counts = sampler.run([circuit]).result()[0].data.c.get_counts()
    assert sum(counts.values()) == 5000
    assert abs(counts.get("1", 0) / 5000 - 0.1) <= 4 * np.sqrt(0.1 * 0.9 / 5000)
    bound = measured_circuit().assign_parameters(np.ones(6))
    first = SamplerV2(seed=2).run([bound, (bound, None, 10)])
    second = SamplerV2(seed=2).run([bound, (bound, None, 10)])
    np.testing.assert_array_equal(
        first.result()[0].data.alpha.array, second.result()[0].data.alpha.array
    )
    assert first.result()[1].data.alpha.num_shots == 10


def test_qiskit_ml_estimator_qnn_and_torch_connector_run_on_it():
    from qiskit.circuit import ParameterVector
    from qiskit_machine_learning.connectors import TorchConnector
    from qiskit_machine_learning.neural_networks import EstimatorQNN

    x, w = ParameterVector("x", 2), ParameterVector("w", 4)
    circuit = QuantumCircuit(2)
    circuit.ry(x[0], 0)
    circuit.ry(x[1], 1)
    circuit.rx(w[0], 0)
    circuit.rz(w[1], 1)
    circuit.cx(0, 1)
    circuit.ry(w[2], 0)
    circuit.rx(2 * w[3] + 0.3, 1)
    observables = [SparsePauliOp("IZ"), SparsePauliOp(["XX", "ZI"], [0.5, -0.7])]

    def forward_backward(estimator):
        qnn = EstimatorQNN(
            circuit=circuit,
            estimator=estimator,
            observables=observables,
            input_params=list(x),
            weight_params=list(w),
            input_gradients=True,
            default_precision=0.0,
        )
        model = TorchConnector(qnn, initial_weights=np.array([0.1, 0.2, 0.3, 0.4]))
        inputs = torch.tensor([[0.3, -0.5], [1.1, 0.2], [0.0, 2.0]], requires_grad=True)
        out = model(inputs)
        (out * torch.tensor([1.0, -2.0])).sum().backward()
        return out.detach(), inputs.grad, model.weight.grad

    for ours, theirs in zip(
        forward_backward(EstimatorV2()), forward_backward(StatevectorEstimator()), strict=True
    ):
        torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)


# -- bad input --------------------------------------------------------------------------------


def test_parameter_values_that_do_not_fit_the_circuit_are_named():
    circuit = ansatz()  # 6 parameters
    with pytest.raises(
        ValueError, match=r"PUB 1: parameter values of shape \(5, 3\).*\(\.\.\., 6\)"
    ):
        EstimatorV2().run([(circuit, "ZZZ", np.zeros((2, 6))), (circuit, "ZZZ", np.zeros((5, 3)))])
    with pytest.raises(ValueError, match=r"PUB 0 gives no parameter values.*has 6 parameters"):
        EstimatorV2().run([(circuit, "ZZZ")])
    named = BindingsArray({("θ[0]", "θ[1]"): np.zeros((4, 2))})
    with pytest.raises(ValueError, match=r"shape \(4, 2\) give 2 values"):
        EstimatorV2().run([(circuit, "ZZZ", named)])
    measured = measured_circuit()
    with pytest.raises(ValueError, match=r"PUB 0: parameter values of shape \(7,\)"):
        SamplerV2().run([(measured, np.zeros(7))])
    with pytest.raises(ValueError, match=r"PUB 1 gives no parameter values"):
        SamplerV2().run([(measured, np.zeros(6)), measured])


@pytest.mark.parametrize("shots", [0, -3, 2.5, True])
def test_shots_must_be_positive_integers(shots):
    circuit = measured_circuit()
    values = np.zeros(circuit.num_parameters)
    with pytest.raises(ValueError, match=f"shots must be a positive integer, got {shots!r}"):
        SamplerV2().run([(circuit, values)], shots=shots)
    with pytest.raises(
        ValueError, match=f"shots of PUB 0 must be a positive integer, got {shots!r}"
    ):
        SamplerV2().run([(circuit, values, shots)])
    with pytest.raises(ValueError, match="default_shots must be a positive integer"):
        SamplerV2(default_shots=shots)


@pytest.mark.parametrize("precision", [-0.1, float("nan"), "0.1"])
def test_precision_must_be_a_nonnegative_number(precision):
    circuit = ansatz()
    values = np.zeros(circuit.num_parameters)
    with pytest.raises(ValueError, match=r"precision must be a real number >= 0"):
        EstimatorV2().run([(circuit, "ZZZ", values)], precision=precision)
    with pytest.raises(ValueError, match=r"precision of PUB 0 must be a real number >= 0"):
        EstimatorV2().run([(circuit, "ZZZ", values, precision)])
    with pytest.raises(ValueError, match=r"default_precision must be a real number >= 0"):
        EstimatorV2(default_precision=precision)


def test_mid_circuit_measurements_point_to_aer():
    circuit = QuantumCircuit(1, 1)
    circuit.measure(0, 0)
    circuit.x(0)
    circuit.measure(0, 0)
    with pytest.raises(backends.BackendError, match="use the 'aer' backend"):
        SamplerV2().run([circuit]).result()
