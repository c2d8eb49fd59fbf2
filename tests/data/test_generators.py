"""Synthetic series: determinism by seed, and each checked against an independent reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
from scipy.integrate import solve_ivp

from qrnn.data import Series, UnknownSeriesError, load, names

SYNTHETIC = [
    "sine",
    "damped_oscillator",
    "bessel_j2",
    "narma5",
    "narma10",
    "mackey_glass",
    "lorenz63",
]


def test_names_lists_generators_and_shipped_series():
    assert names() == sorted(names())
    assert set(SYNTHETIC) | {"airline", "sunspots"} == set(names())


@pytest.mark.parametrize("name", SYNTHETIC)
def test_generators_are_deterministic_and_documented(name):
    a, b = load(name, seed=3), load(name, seed=3)
    assert isinstance(a, Series) and a.name == name
    np.testing.assert_array_equal(a.values, b.values)
    assert a.values.dtype == np.float64 and np.isfinite(a.values).all()
    assert a.times is None
    assert f"qrnn.data.load({name!r}" in a.source and "seed=3" in a.source
    assert a.licence


@pytest.mark.parametrize(
    "name", ["sine", "damped_oscillator", "bessel_j2", "mackey_glass", "lorenz63"]
)
def test_noise_option_is_seeded_gaussian_observation_noise(name):
    clean = load(name).values
    noisy = load(name, noise=0.01, seed=1)
    again = load(name, noise=0.01, seed=1)
    other = load(name, noise=0.01, seed=2)
    np.testing.assert_array_equal(noisy.values, again.values)
    assert not np.array_equal(noisy.values, other.values)
    residual = noisy.values - clean
    assert 0.007 < residual.std() < 0.013
    np.testing.assert_array_equal(load(name, seed=5).values, clean)  # no noise: seed unused


def test_sine_is_the_sine_formula():
    s = load("sine", length=50, period=7.5, amplitude=2.0, phase=0.3)
    t = np.arange(50)
    np.testing.assert_allclose(
        s.values, 2.0 * np.sin(2 * np.pi * t / 7.5 + 0.3), rtol=0, atol=1e-15
    )


def test_bessel_j2_is_scipy_jv_on_the_qlstm_grid():
    s = load("bessel_j2")
    assert len(s) == 256
    expected = scipy.special.jv(2, np.linspace(2, 100, 256))
    np.testing.assert_array_equal(s.values, expected)


def test_damped_oscillator_matches_an_adaptive_reference_solver():
    s = load("damped_oscillator", observable="both")
    assert s.values.shape == (240, 2)
    np.testing.assert_array_equal(s.values[0], [0.0, 3.0])  # QLSTM set-up starts at (0, 3)

    def rhs(_t, y):
        return [y[1], -0.15 * y[1] - 9.81 * math.sin(y[0])]

    t = np.linspace(0, 20, 240)
    ref = solve_ivp(rhs, (0, 20), [0.0, 3.0], t_eval=t, method="DOP853", rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(s.values, ref.y.T, atol=1e-6)
    np.testing.assert_array_equal(load("damped_oscillator").values, s.values[:, 1])
    np.testing.assert_array_equal(
        load("damped_oscillator", observable="angle").values, s.values[:, 0]
    )


def test_damped_oscillator_energy_decays():
    theta, omega = load("damped_oscillator", observable="both").values.T
    energy = 0.5 * omega**2 + 9.81 * (1 - np.cos(theta))
    assert (np.diff(energy) < 0).all()
    assert energy[-1] < 0.2 * energy[0]
    undamped = load("damped_oscillator", observable="both", damping=0.0).values
    e0 = 0.5 * undamped[:, 1] ** 2 + 9.81 * (1 - np.cos(undamped[:, 0]))
    np.testing.assert_allclose(e0, e0[0], rtol=1e-6)  # RK4 conserves it to high accuracy


@pytest.mark.parametrize("order", [5, 10])
def test_narma_follows_the_recurrence(order):
    s = load(f"narma{order}", include_input=True, length=400, seed=7)
    u, y = s.values.T
    assert s.values.shape == (400, 2)
    assert u.min() >= 0.0 and u.max() <= 0.5
    # recompute y(t+1) from the returned u and y, term by term
    for t in range(order - 1, len(y) - 1):
        expected = (
            0.3 * y[t]
            + 0.05 * y[t] * sum(y[t - i] for i in range(order))
            + 1.5 * u[t - (order - 1)] * u[t]
            + 0.1
        )
        assert y[t + 1] == pytest.approx(expected, rel=1e-12)
    np.testing.assert_array_equal(load(f"narma{order}", length=400, seed=7).values, y)
    assert not np.array_equal(load(f"narma{order}", seed=8).values, load(f"narma{order}").values)


def test_narma_from_zero_state_without_washout():
    y = load("narma5", washout=0, length=20).values
    np.testing.assert_array_equal(y[:5], 0.0)  # y = 0 until the recurrence starts
    assert y[5] > 0.1


def test_narma10_divergence_is_an_error_naming_the_seed():
    with pytest.raises(ValueError, match=r"NARMA-10 diverged for seed=262"):
        load("narma10", seed=262)


def test_mackey_glass_matches_the_method_of_steps():
    """On each delay interval [m tau, (m + 1) tau] the delayed value comes from the interval
    before, so the delay equation is an ODE there: solved with DOP853 at tight tolerances."""
    tau, x0 = 17.0, 1.2
    pieces = []  # dense solutions of the intervals solved so far

    def reference(t: float) -> float:
        if t <= 0:
            return x0  # the constant history
        return float(pieces[min(int(t // tau), len(pieces) - 1)](t)[0])

    def rhs(t, x):
        delayed = reference(t - tau)
        return [0.2 * delayed / (1 + delayed**10) - 0.1 * x[0]]

    for m in range(6):
        span = (m * tau, (m + 1) * tau)
        solution = solve_ivp(
            rhs, span, [reference(span[0])], method="DOP853", rtol=1e-12, atol=1e-13,
            dense_output=True,
        )  # fmt: skip
        pieces.append(solution.sol)
    s = load("mackey_glass", transient=0.0, length=6 * 17 + 1)  # t = 0, 1, ..., 102
    expected = [reference(t) for t in range(len(s))]
    np.testing.assert_allclose(s.values, expected, rtol=0, atol=1e-8)  # measured 1.0e-9

    # first interval: x(t - tau) = x0, a linear ODE with a closed-form solution
    rate = 0.2 * x0 / (1 + x0**10)
    t = np.arange(18)
    exact = rate / 0.1 + (x0 - rate / 0.1) * np.exp(-0.1 * t)
    np.testing.assert_allclose(s.values[:18], exact, rtol=0, atol=1e-10)


def test_mackey_glass_is_fourth_order_and_stays_in_its_attractor_band():
    coarse = load("mackey_glass", transient=0.0, length=101, dt=0.2).values
    fine = load("mackey_glass", transient=0.0, length=101, dt=0.1).values
    finer = load("mackey_glass", transient=0.0, length=101, dt=0.05).values
    ratio = np.abs(coarse - finer).max() / np.abs(fine - finer).max()
    assert 12 < ratio < 20  # 2**4 = 16 for a fourth-order scheme
    s = load("mackey_glass").values
    assert s.min() > 0.2 and s.max() < 1.5


def test_lorenz63_matches_an_adaptive_reference_and_stays_on_the_attractor():
    s = load("lorenz63", transient=0.0, length=41, coordinates="xyz")
    assert s.values.shape == (41, 3)

    def rhs(_t, v):
        return [10 * (v[1] - v[0]), v[0] * (28 - v[2]) - v[1], v[0] * v[1] - 8 / 3 * v[2]]

    t = np.arange(41) * 0.05
    ref = solve_ivp(rhs, (0, 2), [1, 1, 1], t_eval=t, method="DOP853", rtol=1e-13, atol=1e-12).y.T
    error = np.abs(s.values - ref).max()
    assert error < 2e-3  # chaos amplifies the RK4 step error of the fast first loop
    half = load("lorenz63", transient=0.0, length=41, coordinates="xyz", dt=0.005).values
    assert 12 < error / np.abs(half - ref).max() < 20  # fourth order: 2**4 = 16

    x, y, z = load("lorenz63", coordinates="xyz", length=2000).values.T
    assert np.abs(x).max() < 25 and np.abs(y).max() < 32 and z.min() > 0 and z.max() < 55
    assert (x > 0).mean() > 0.2 and (x < 0).mean() > 0.2  # visits both wings
    zx = load("lorenz63", coordinates="zx", length=2000).values
    np.testing.assert_array_equal(zx, np.stack([z, x], axis=1))
    np.testing.assert_array_equal(load("lorenz63", length=2000).values, x)


@pytest.mark.parametrize(
    ("name", "options", "error", "match"),
    [
        ("sine", {"length": 1}, ValueError, r"length must be >= 2, got 1"),
        ("sine", {"length": 10.0}, TypeError, r"length must be an int"),
        ("sine", {"period": 0}, ValueError, r"period must be > 0"),
        ("sine", {"noise": -0.1}, ValueError, r"noise must be >= 0"),
        ("sine", {"seed": -1}, ValueError, r"seed must be >= 0, got -1"),
        ("sine", {"seed": 1.5}, TypeError, r"seed must be an int"),
        ("sine", {"lenght": 10}, TypeError, r"unknown option\(s\) \['lenght'\].*'length'"),
        ("damped_oscillator", {"observable": "speed"}, ValueError, r"observable must be one of"),
        ("bessel_j2", {"start": 5, "stop": 5}, ValueError, r"stop must be greater than start"),
        ("mackey_glass", {"tau": 17.05}, ValueError, r"tau=17.05 must be a positive whole"),
        ("mackey_glass", {"sample_interval": 0.25}, ValueError, r"sample_interval=0.25"),
        ("lorenz63", {"coordinates": "xw"}, ValueError, r"coordinates must be distinct letters"),
        ("lorenz63", {"coordinates": "xx"}, ValueError, r"coordinates must be distinct letters"),
        ("lorenz63", {"initial": (1, 2)}, ValueError, r"initial must be three numbers"),
        ("lorenz63", {"dt": float("nan")}, ValueError, r"dt must be finite"),
        ("narma5", {"include_input": 1}, TypeError, r"include_input must be a bool"),
        ("airline", {"length": 10}, TypeError, r"takes no options"),
    ],
)
def test_bad_options_are_clear_errors(name, options, error, match):
    with pytest.raises(error, match=match):
        load(name, **options)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(KeyError, match=r"no built-in series 'air'.*'airline'") as info:
        load("air")
    assert isinstance(info.value, UnknownSeriesError)


# Every numeric option of every generator and its range: the lowest value allowed (an int for
# whole-number options), ">0" (any positive number) or None (any finite number).
OPTION_RANGES = {
    "sine": {"length": 2, "period": ">0", "amplitude": None, "phase": None, "noise": 0.0},
    "damped_oscillator": {
        "length": 2,
        "t_end": ">0",
        "damping": 0.0,
        "gravity": None,
        "pendulum_length": ">0",
        "mass": ">0",
        "theta0": None,
        "omega0": None,
        "substeps": 1,
        "noise": 0.0,
    },
    "bessel_j2": {"length": 2, "start": None, "stop": None, "order": None, "noise": 0.0},
    "narma5": {"length": 2, "washout": 0},
    "narma10": {"length": 2, "washout": 0},
    "mackey_glass": {
        "length": 2,
        "tau": ">0",
        "beta": None,
        "gamma": None,
        "n": None,
        "x0": 0.0,
        "dt": ">0",
        "noise": 0.0,
    },
    "lorenz63": {"length": 2, "sigma": None, "rho": None, "beta": None, "dt": ">0", "noise": 0.0},
}


@pytest.mark.parametrize(
    ("name", "option"),
    [(name, option) for name, ranges in OPTION_RANGES.items() for option in ranges],
)
def test_an_option_that_is_not_a_number_is_a_type_error_naming_it(name, option):
    with pytest.raises(TypeError, match=rf"^{option} must be an? (int|real number), got 'abc'$"):
        load(name, **{option: "abc"})


@pytest.mark.parametrize(
    ("name", "option", "lowest"),
    [
        (name, option, lowest)
        for name, ranges in OPTION_RANGES.items()
        for option, lowest in ranges.items()
        if lowest is not None
    ],
)
def test_options_below_their_range_are_refused_and_its_edge_is_accepted(name, option, lowest):
    if lowest == ">0":
        with pytest.raises(ValueError, match=rf"^{option} must be > 0, got 0$"):
            load(name, **{option: 0})
        return
    below = lowest - 1 if isinstance(lowest, int) else lowest - 0.5
    with pytest.raises(ValueError, match=rf"^{option} must be >= {lowest}, got {below}$"):
        load(name, **{option: below})
    edge = {option: lowest} if option == "length" else {option: lowest, "length": 20}
    assert len(load(name, **edge).values) == edge["length"]
