"""Memory estimates: a simulation that cannot fit is refused before anything is allocated.

Every place that would allocate ``2**n`` of anything asks here first: ``Program`` when it
compiles (its tables over ``2**n`` basis states and one sample's run), ``BoundProgram`` before
each run (the batch's states, and with gradients the states the backward pass keeps),
``MemoryProgram`` before its sign table and ``MemoryStep`` before each sequence; the models'
constructors before they build a circuit, and ``qrnn run`` before Aer starts.
:func:`check_memory` compares an estimate with what this process can still get
(:func:`available_memory`) and raises ``SimulationMemoryError`` with one line: what was asked
for, how much it needs, how much is available, and the largest size that fits.

The constants come from peak resident memory measured on a 2-core x86 CPU (torch 2.13,
complex64, one thread): a compile peaks at about 160 bytes per amplitude plus 80 per
observable term (the observables' index and coefficient tables) and keeps about 32 plus 32 per
term; a run holds about 4 copies of its states, and with gradients about 2 more per dense
block (:func:`gradient_states`). Measured against them, per amplitude: an 18-qubit QLSTM gate
circuit, compile and one sample, 188 bytes with one observable (estimate 272) and 1400 with
18 (estimate 1632); with gradients about 1490 more per sample (92 blocks: estimate 1504); a
12-qubit QRNN step unitary with gradients 382 bytes per entry (41 blocks: estimate 392); an
11-qubit memory channel, 5 steps with gradients, 20 MiB per sample (estimate 26). So an
estimate is within a factor of two of the truth, mostly high.
"""

from __future__ import annotations

import math
import os
import resource
from collections.abc import Callable

import torch

from qrnn.sim._errors import SimulationMemoryError

__all__ = [
    "available_memory",
    "check_memory",
    "compile_bytes",
    "gradient_states",
    "kept_bytes",
    "memory_program_bytes",
    "memory_run_bytes",
    "program_bytes",
    "run_bytes",
]

ALWAYS_FITS = 64 * 2**20  # bytes; asking the system costs more than a run this small
_COMPILE_PER_AMPLITUDE = 160
_COMPILE_PER_TERM = 80
_KEPT_PER_AMPLITUDE = 32
_KEPT_PER_TERM = 32
_RUN_STATES = 4  # the state, a permuted copy, the readout's squares, slack


def itemsize(dtype: torch.dtype) -> int:
    """Bytes per complex amplitude for a real or complex ``dtype``."""
    return 8 if dtype in (torch.float32, torch.complex64) else 16


# --- estimates (bytes) -------------------------------------------------------------------


def compile_bytes(n_qubits: int, n_terms: int, density: bool = False) -> int:
    """Peak of compiling one plan of an ``n_qubits`` circuit whose observables have
    ``n_terms`` Pauli terms in all (on ``2 n_qubits`` wires for a density matrix)."""
    n_wires = 2 * n_qubits if density else n_qubits
    return _COMPILE_PER_AMPLITUDE * 2**n_wires + _COMPILE_PER_TERM * n_terms * 2**n_qubits


def kept_bytes(n_qubits: int, n_terms: int, density: bool = False) -> int:
    """What a compiled program keeps (its plan's tables) after the compile's peak."""
    n_wires = 2 * n_qubits if density else n_qubits
    return _KEPT_PER_AMPLITUDE * 2**n_wires + _KEPT_PER_TERM * n_terms * 2**n_qubits


def program_bytes(
    n_qubits: int,
    n_terms: int,
    *,
    density: bool = False,
    dtype: torch.dtype = torch.complex64,
    programs: int = 1,
) -> int:
    """The least ``programs`` compiled programs of one shape need to run a sample each: one
    compile's peak, the tables the others keep, and one sample's run (no gradients)."""
    n_wires = 2 * n_qubits if density else n_qubits
    return (
        compile_bytes(n_qubits, n_terms, density)
        + (programs - 1) * kept_bytes(n_qubits, n_terms, density)
        + run_bytes(n_wires, 1, dtype)
    )


def run_bytes(n_wires: int, batch: int, dtype: torch.dtype, grad_states: int = 0) -> int:
    """States of a run of ``batch`` samples on ``n_wires`` wires; ``grad_states``: the further
    states per sample a gradient pass needs (:func:`gradient_states`; 0 without gradients)."""
    return (_RUN_STATES + grad_states) * batch * 2**n_wires * itemsize(dtype)


def gradient_states(blocks: int, unitary: bool = False) -> int:
    """States per sample that a run with gradients adds for a plan of ``blocks`` dense blocks:
    the forward pass keeps the state before each block and the backward pass of a batched
    run makes about as many again (measured: 1.6 to 2 per block); the columns of a unitary,
    whose blocks are all weight-only, need about one per block and a few."""
    if not blocks:
        return 0
    return blocks + 4 if unitary else 2 * blocks


def memory_program_bytes(
    n_qubits: int,
    n_observables: int,
    dtype: torch.dtype = torch.complex64,
    programs: int = 1,
    grad_blocks: int = 0,
) -> int:
    """The least ``programs`` quantum-memory step circuits (``MemoryProgram``) need to run one
    sample: their sign tables, one step unitary built (``2**n`` columns run as a batch; with
    gradients when ``grad_blocks``, its plan's dense blocks, is given) and each one's Kraus
    table (the unitary rearranged) kept."""
    signs = 8 * (n_observables + 2) * 2**n_qubits
    grad = gradient_states(grad_blocks, unitary=True)
    unitary = compile_bytes(n_qubits, 0) + run_bytes(n_qubits, 2**n_qubits, dtype, grad)
    return programs * (signs + 2 * 4**n_qubits * itemsize(dtype)) + unitary


def memory_run_bytes(
    n_data: int, n_hidden: int, batch: int, steps: int, dtype: torch.dtype, grad: bool
) -> int:
    """A sequence of ``steps`` through the hidden-register channel (``_memory_channel``): one
    step's Kraus operators ``(batch, H, D, H)`` at a time, in a buffer the steps share, with
    ``conj(K)`` and ``K rho`` beside it; with gradients also ``dL/dK`` and the table's gradient
    buffer, and every step's ``rho`` kept for the backward pass (measured on a 4 + 6 qubit
    channel with two threads: 822 MiB at batch 256 and 20 steps; this estimate, with one more
    K for the allocator's slack, 944 MiB)."""
    kraus = batch * 4**n_hidden * 2**n_data * itemsize(dtype)
    rho = batch * 4**n_hidden * itemsize(dtype)
    if grad:
        return 6 * kraus + (steps + 2) * rho
    return 3 * kraus + 2 * rho


# --- what is available --------------------------------------------------------------------


def available_memory(device: torch.device | str | None = None) -> tuple[int, str]:
    """``(bytes, where)``: what this process can still allocate on ``device`` (default: the
    CPU), and what limits it, in words. On the CPU the least of the host's available memory,
    the container's memory limit and the process's address-space limit (``ulimit -v``)."""
    device = torch.device(device if device is not None else "cpu")
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        # torch's caching allocator reuses what it holds but has not handed out
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return free + cached, f"free on {device}"
    limits = [(_host_available(), "of host memory")]
    container = _container_available()
    if container is not None:
        limits.append((container, "under the container's memory limit"))
    address_space = _address_space_available()
    if address_space is not None:
        limits.append((address_space, "under the address-space limit (ulimit -v)"))
    return min(limits)


def _host_available() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def _container_available() -> int | None:
    """Limit minus usage of this process's memory cgroup (v2, else v1); None without one."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            with open(limit_file) as limit, open(usage_file) as usage:
                text = limit.read().strip()
                if text == "max" or int(text) >= 2**60:  # no limit
                    return None
                return max(0, int(text) - int(usage.read()))
        except (OSError, ValueError):
            continue
    return None


def _address_space_available() -> int | None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/status") as status:
            size = next(
                int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize:")
            )
    except (OSError, StopIteration):
        return None
    return max(0, soft - size)


# --- the check ------------------------------------------------------------------------------


def check_memory(
    what: str,
    need: Callable[[int], int],
    size: int,
    *,
    device: torch.device | str | None = None,
    unit: str = "qubits",
    smallest: int = 1,
) -> None:
    """Raise ``SimulationMemoryError`` when ``need(size)`` bytes do not fit on ``device``.

    Args:
        what: what needs the memory, in words ("a QLSTM with n_qubits=40").
        need: bytes needed as a function of the size the user chooses (non-decreasing).
        size: the size asked for.
        device: where the memory is allocated (default: the CPU).
        unit: ``"qubits"`` or ``"samples"`` (a batch): says what to change.
        smallest: the smallest size that makes sense (the advice never goes below it).
    """
    needed = need(size)
    if needed <= ALWAYS_FITS:
        return
    available, where = available_memory(device)
    if needed <= available:
        return
    low, high = smallest - 1, size  # need(high) does not fit; find the largest that does
    while high - low > 1:
        middle = (low + high) // 2
        if need(middle) <= available:
            low = middle
        else:
            high = middle
    if unit == "samples":
        advice = (
            f"Use a smaller batch (at most {low} samples fit) or fewer qubits."
            if low >= smallest
            else "Use fewer qubits: not even one sample fits."
        )
    else:
        advice = (
            f"Use fewer qubits: at most {low} fit."
            if low >= smallest
            else f"Free memory first: not even {smallest} {unit} fit."
        )
    raise SimulationMemoryError(
        f"{what} needs about {format_bytes(needed)}; {format_bytes(available)} {where} is "
        f"available. {advice}"
    )


def format_bytes(count: int) -> str:
    """``1.5 GiB``, ``16.0 TiB``, ...: binary units, one decimal; past 1024 PiB a power of 2
    (``2**95 bytes``)."""
    if count >= 2**60:
        return f"2**{round(math.log2(count))} bytes"
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            return f"{value:.1f} {unit}" if unit != "bytes" else f"{count} bytes"
        value /= 1024
    return f"{value:.1f} PiB"
