"""The torch engine: exact, batched, differentiable simulation of Qiskit circuits.

Compile a circuit once (``compile``) and run whole batches with few, large tensor operations;
or call the one-shot functions ``statevector``, ``density_matrix`` and ``expval``. Precision
follows ``values`` (float32 -> complex64, float64 -> complex128) and so does the device.
See ``_schedule.py`` for what the compiler does and ``_chain.py`` for how the kernels run:
inside one autograd function per call whose backward is the adjoint pass written out, with
angle encodings and product states differentiated by hand as well; and ``_split.py`` for
circuits whose state is run as a short sum of products across a cut of the wires; and
``_cones.py`` for observables read on their light cones, cones of one width stacked into one
batched product, where that costs fewer multiply-adds than the whole state. Circuits
with noise or resets run on the noisy engine (``_noisy.py``): density matrices as real
Pauli-basis states, gates and channels fused into Pauli-transfer-matrix blocks
(``_pauli.py``), observables evolved backwards once per bind where that is cheaper.

The physics every executor shares lives here once: ``parse_observables`` (the one observable
parser), ``check_values`` (the one check of parameter values), ``NoiseReader`` and
``simulated_form`` (where a noise model's errors act: Aer's rule, ``_noise.py``) and
``apply_readout`` / ``read_distribution`` / ``read_bits`` (readout error); and what a
simulation needs in memory (``_footprint.py``: ``program_bytes``, ``memory_program_bytes``,
``check_memory``, which refuses what cannot fit before it is allocated). ``MemoryProgram``
(``_memory.py``) is the quantum-memory engine of the QRNN: the Kraus channel a step induces on
a hidden register whose data register is reset and re-encoded every step.
"""

from __future__ import annotations

from qrnn.sim._bound import BoundProgram
from qrnn.sim._errors import (
    SimulationError,
    SimulationMemoryError,
    UnboundParameterError,
    UnsupportedGateError,
    UnsupportedNoiseError,
)
from qrnn.sim._footprint import (
    available_memory,
    check_memory,
    memory_program_bytes,
    program_bytes,
)
from qrnn.sim._lowering import SUPPORTED_GATES
from qrnn.sim._memory import MemoryProgram, MemoryStep, memory_channel
from qrnn.sim._noise import (
    NoiseReader,
    apply_readout,
    read_bits,
    read_distribution,
    simulated_form,
)
from qrnn.sim._observables import ObservableError, parse_observables
from qrnn.sim._program import Program
from qrnn.sim._values import check_values


def compile(
    circuit,
    observables=None,
    *,
    noise_model=None,
    weight_params=(),
    input_params=None,
    max_fused_qubits=5,
    stops=(),
) -> Program:
    """Compile ``circuit`` for repeated batched runs; see ``Program``."""
    return Program(
        circuit,
        observables,
        noise_model=noise_model,
        weight_params=weight_params,
        input_params=input_params,
        max_fused_qubits=max_fused_qubits,
        stops=stops,
    )


def statevector(circuit, values=None):
    """Final statevectors, (batch, 2**n) complex; ``values``: (batch, n_params) or (n_params,)."""
    return Program(circuit).statevector(values)


def density_matrix(circuit, values=None, noise_model=None):
    """Final density matrices, (batch, 2**n, 2**n) complex, with ``noise_model``'s errors."""
    return Program(circuit, noise_model=noise_model).density_matrix(values)


def expval(circuit, values, observables, noise_model=None):
    """Expectation values, (batch, n_obs) real; the density-matrix path with a noise model."""
    return Program(circuit, observables, noise_model=noise_model).expval(values)


__all__ = [
    "SUPPORTED_GATES",
    "BoundProgram",
    "MemoryProgram",
    "MemoryStep",
    "NoiseReader",
    "ObservableError",
    "Program",
    "SimulationError",
    "SimulationMemoryError",
    "UnboundParameterError",
    "UnsupportedGateError",
    "UnsupportedNoiseError",
    "apply_readout",
    "available_memory",
    "check_memory",
    "check_values",
    "compile",
    "density_matrix",
    "expval",
    "memory_channel",
    "memory_program_bytes",
    "parse_observables",
    "program_bytes",
    "read_bits",
    "read_distribution",
    "simulated_form",
    "statevector",
]
