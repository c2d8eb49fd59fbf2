"""tensorcircuit-ng peer of the speed suite (``bench_suite.py``): the same recurrent training
step, on tensorcircuit's JAX backend.

Each row's circuit (``suite.py``) is translated gate by gate into a tensorcircuit function of
one sample's ``(inputs, weights)`` (state by a tensor network contraction on a RandomGreedy
path, <Z_q> from its probabilities), vmapped over the batch; the shell (encode Linear, circuit,
tanh(hidden Linear), head Linear after the last of 16 steps), the MSE loss, its gradient
(``jax.value_and_grad``) and torch's Adam update form one ``jax.jit`` function. The time steps
run in a ``jax.lax.scan``, so XLA compiles the circuit once rather than 16 times. Compile
time is the first call's wall time; steps/s come from the median of the timed steps after it.

    python benchmarks/peer_tensorcircuit.py --init FILE.npz --rows w1-10 ion-all-10

Needs numpy, jax, tensorcircuit-ng (and its opt_einsum), qiskit and the repository's
``circuits`` package only (never torch or qrnn). ``--init`` holds the shell's initial float64
parameters per row, keys ``row/name`` with names of the torch ``state_dict``
(``encode.weight``, ..., ``cell.weight``: the circuit weights in ``shape.weights`` order). The
last line of stdout is JSON: per row ``rate64``, ``rate32`` (steps/s), ``compile64``,
``compile32`` (s) and ``first_loss64`` (the float64 loss before any update).

JAX runs on the CPU (``JAX_PLATFORMS=cpu`` unless set) with XLA's default thread pool, which
uses every core of the machine. float64 runs in complex128 with JAX's x64 mode on, float32 in
complex64 with it off (``tc.set_dtype`` switches both).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import opt_einsum  # noqa: E402  (tensorcircuit's own dependency)
import suite  # noqa: E402
import tensorcircuit as tc  # noqa: E402
from qiskit.circuit import ParameterExpression  # noqa: E402

tc.set_backend("jax")
# opt_einsum's RandomGreedy (32 seeded trials, fewest flops) after merging one-qubit gates, as
# tensorcircuit's documentation suggests: on the all-to-all RXX rows its paths run ~10x faster
# than the default greedy ones, and never slower on the others
tc.set_contractor("custom_stateful", optimizer=opt_einsum.RandomGreedy, preprocessing=True)

NAMES = (
    "encode.weight",
    "encode.bias",
    "hidden.weight",
    "hidden.bias",
    "head.weight",
    "head.bias",
    "cell.weight",
)
# gate name -> number of angles; R(theta, phi) is Qiskit's RGate
GATES = {"ry": 1, "rx": 1, "rz": 1, "r": 2, "rxx": 1, "cx": 0, "cz": 0, "h": 0}
LR, BETAS, EPS = 0.01, (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, lr as in qrnn


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def linear_angle(value, position: dict) -> tuple[int, float, float]:
    """``(column, scale, offset)`` with angle = ``scale * values[column] + offset`` for a
    gate parameter (a number or a ParameterExpression linear in one parameter; column -1:
    constant), ``values`` being ``[inputs, weights]``."""
    if not isinstance(value, ParameterExpression):
        return -1, 0.0, float(value)
    if not value.parameters:
        return -1, 0.0, float(value)
    if len(value.parameters) != 1:
        raise ValueError(
            f"gate angle {value} depends on {len(value.parameters)} parameters, expected one"
        )
    (parameter,) = value.parameters
    if parameter not in position:
        raise ValueError(
            f"gate angle {value} uses {parameter}, which is neither an input nor a "
            "weight of the shape"
        )
    scale = value.gradient(parameter)
    if isinstance(scale, ParameterExpression):
        raise ValueError(
            f"gate angle {value} is not linear in {parameter}: d/d{parameter} = {scale}"
        )
    offset = float(value.bind({parameter: 0.0}))
    return position[parameter], float(scale), offset


def translate(shape: suite.Shape):
    """The shape's circuit as ``f(inputs (n_inputs,), weights (n_weights,)) -> (n_qubits,)``
    of ``<Z_q>`` on tensorcircuit, for one sample (tensorcircuit qubit q = Qiskit qubit q).
    Build it after ``tc.set_dtype``: gates and signs take tensorcircuit's dtype."""
    circuit = shape.circuit
    position = {p: k for k, p in enumerate([*shape.inputs, *shape.weights])}
    program = []
    for instruction in circuit.data:
        name = instruction.operation.name
        if name not in GATES:
            raise ValueError(
                f"gate {name!r} of {shape.name} is not translated; expected one of {sorted(GATES)}"
            )
        params = instruction.operation.params
        if len(params) != GATES[name]:
            raise ValueError(f"gate {name!r} has {len(params)} angles, expected {GATES[name]}")
        qubits = tuple(circuit.find_bit(q).index for q in instruction.qubits)
        program.append((name, qubits, [linear_angle(p, position) for p in params]))
    n = shape.n_qubits
    # <Z_q> = sum_k p_k (-1)^(bit q of k), qubit 0 the most significant bit (tensorcircuit's
    # order); one (2^n, n) product is cheaper than n calls of c.expectation_ps(z=[q])
    bits = (np.arange(2**n)[:, None] >> (n - 1 - np.arange(n))[None]) & 1
    signs = jnp.asarray(1 - 2 * bits, dtype=tc.rdtypestr)

    def expectations(inputs, weights):
        values = jnp.concatenate([inputs, weights])

        def angle(column, scale, offset):
            return offset if column < 0 else scale * values[column] + offset

        c = tc.Circuit(n)
        for name, qubits, angles in program:
            a = [angle(*spec) for spec in angles]
            # Qiskit's R(theta, phi) is tc's r(theta / 2, alpha = pi / 2, phi): tc's r is
            # exp(-i theta (sin alpha (cos phi X + sin phi Y) + cos alpha Z))
            if name == "r":
                c.r(*qubits, theta=a[0] / 2, alpha=np.pi / 2, phi=a[1])
            elif a:
                getattr(c, name)(*qubits, theta=a[0])
            else:
                getattr(c, name)(*qubits)
        return c.probability() @ signs

    return expectations


def training_step(shape: suite.Shape):
    """``step(params, moments, count, inputs, targets) -> (loss, params, moments, count)``:
    forward, backward and one Adam update, jitted."""
    circuit = jax.vmap(translate(shape), in_axes=(0, None))

    def loss_of(params, inputs, targets):
        def cell(h, x_t):  # x_t (B, 1), h (B, HIDDEN)
            v = jnp.concatenate([x_t, h], axis=1)
            angles = v @ params["encode.weight"].T + params["encode.bias"]
            z = circuit(angles, params["cell.weight"])
            return jnp.tanh(z @ params["hidden.weight"].T + params["hidden.bias"]), None

        h0 = jnp.zeros((inputs.shape[0], suite.HIDDEN), inputs.dtype)
        h, _ = jax.lax.scan(cell, h0, jnp.swapaxes(inputs, 0, 1))
        prediction = h @ params["head.weight"].T + params["head.bias"]
        return jnp.mean((prediction - targets) ** 2)

    def step(params, moments, count, inputs, targets):
        loss, grads = jax.value_and_grad(loss_of)(params, inputs, targets)
        count = count + 1
        first, second = moments
        first = jax.tree.map(lambda m, g: BETAS[0] * m + (1 - BETAS[0]) * g, first, grads)
        second = jax.tree.map(lambda s, g: BETAS[1] * s + (1 - BETAS[1]) * g * g, second, grads)
        correction1 = 1 - BETAS[0] ** count
        root2 = jnp.sqrt(1 - BETAS[1] ** count)

        def update(p, m, s):
            return p - (LR / correction1) * m / (jnp.sqrt(s) / root2 + EPS)

        params = jax.tree.map(update, params, first, second)
        return loss, params, (first, second), count

    return jax.jit(step)


def run(shape: suite.Shape, init: dict, precision: int, steps: int) -> dict:
    """Compile and time ``steps`` training steps in float``precision``."""
    real, complex_ = ("float64", "complex128") if precision == 64 else ("float32", "complex64")
    tc.set_dtype(complex_)  # also sets jax_enable_x64: on for complex128, off for complex64
    params = {name: jnp.asarray(init[name], real) for name in NAMES}
    moments = tuple(jax.tree.map(jnp.zeros_like, params) for _ in range(2))
    count = jnp.asarray(0, real)
    inputs, targets = (jnp.asarray(a, real) for a in suite.data())
    step = training_step(shape)  # a new jit per precision: tc's dtype is read while tracing
    start = time.perf_counter()
    loss, params, moments, count = step(params, moments, count, inputs, targets)
    loss.block_until_ready()
    compile_s = time.perf_counter() - start
    losses, times = [float(loss)], []
    for _ in range(steps):
        start = time.perf_counter()
        loss, params, moments, count = step(params, moments, count, inputs, targets)
        loss.block_until_ready()
        times.append(time.perf_counter() - start)
        losses.append(float(loss))
    rate = 1 / statistics.median(times)
    log(
        f"{shape.name} float{precision}: compile {compile_s:.1f} s, {rate:.2f} steps/s, "
        f"losses {', '.join(f'{x:.12g}' for x in losses)}"
    )
    return {"rate": rate, "compile": compile_s, "first_loss": losses[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--init", required=True, help=".npz of row/name float64 parameters")
    parser.add_argument("--rows", nargs="+", required=True, help="rows by name-size")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per precision")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    known = {shape.name: shape for shape in suite.shapes()}
    unknown = [row for row in args.rows if row not in known]
    if unknown:
        parser.error(f"unknown rows {unknown}; expected names among {sorted(known)}")
    stored = np.load(args.init)
    missing = [f"{r}/{n}" for r in args.rows for n in NAMES if f"{r}/{n}" not in stored]
    if missing:
        parser.error(f"{args.init} lacks {missing}")
    log(
        f"tensorcircuit-ng {tc.__version__}, jax {jax.__version__} on {jax.devices()}, "
        f"{os.cpu_count()} CPUs"
    )
    results = {}
    for row in args.rows:
        shape = known[row]
        init = {name: stored[f"{row}/{name}"] for name in NAMES}
        expected = (len(shape.weights),)
        if init["cell.weight"].shape != expected:
            raise ValueError(
                f"{row}/cell.weight has shape {init['cell.weight'].shape}, expected {expected}"
            )
        run64 = run(shape, init, 64, args.steps)
        run32 = run(shape, init, 32, args.steps)
        results[row] = {
            "rate64": run64["rate"],
            "rate32": run32["rate"],
            "compile64": run64["compile"],
            "compile32": run32["compile"],
            "first_loss64": run64["first_loss"],
        }
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
