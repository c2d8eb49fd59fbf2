"""Trainable circuit templates (ansätze).

Every builder returns ``(circuit, weights)``: a ``QuantumCircuit`` on ``n_qubits``
qubits and the ``ParameterVector`` (named by ``prefix``) of its trainable angles. The
circuit repeats one layer ``reps`` times, as Qiskit's circuit library says (``n_layers``
is a deprecated alias of ``reps``).
With a single vector, ``circuit.parameters`` lists ``weights`` in index order, so
a ``(n_weights,)`` tensor binds in that order.

Gate order: within one repetition (layer), all single-qubit rotations of qubit 0 come first,
then those of qubit 1, and so on, and the entangling gates follow. Runs of
one-qubit gates on the same qubit are therefore adjacent, which lets the torch
engine fuse them into one 2x2 matrix per qubit and layer.

Use :func:`get` to build an ansatz by name (``names()`` lists them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations

from qiskit.circuit import ParameterVector, QuantumCircuit

from circuits import _checks
from circuits._checks import renamed_keywords

__all__ = ["brickwork", "get", "hardware_efficient", "ion_native", "names"]

ROTATIONS = ("rx", "ry", "rz")
ENTANGLERS = ("cx", "cz")
CONNECTIVITIES = ("all", "ring")


def ring_pairs(n_qubits: int) -> list[tuple[int, int]]:
    """Nearest-neighbour pairs of a ring: ``(i, i+1 mod n)``; one pair for n=2, none for n=1."""
    if n_qubits == 1:
        return []
    if n_qubits == 2:
        return [(0, 1)]  # the ring would visit the same pair twice
    return [(i, (i + 1) % n_qubits) for i in range(n_qubits)]


def all_pairs(n_qubits: int) -> list[tuple[int, int]]:
    """Every pair ``(i, j)`` with ``i < j``, in lexicographic order."""
    return list(combinations(range(n_qubits), 2))


def brick_pairs(n_qubits: int) -> list[tuple[int, int]]:
    """Brick pattern: even pairs (0,1), (2,3), ... then odd pairs (1,2), (3,4), ..."""
    even = [(i, i + 1) for i in range(0, n_qubits - 1, 2)]
    odd = [(i, i + 1) for i in range(1, n_qubits - 1, 2)]
    return even + odd


def rotation_names(rotations: object) -> tuple[str, ...]:
    """Validate a rotation list such as ``("rx", "ry")`` (a single name is also accepted)."""
    if isinstance(rotations, str):
        rotations = (rotations,)
    if not isinstance(rotations, Sequence) or len(rotations) == 0:
        raise ValueError(
            f"rotations must be a non-empty sequence of names from {list(ROTATIONS)}, "
            f"got {rotations!r}"
        )
    return tuple(_checks.choice("rotations entry", r, ROTATIONS) for r in rotations)


def append_rotation(circuit: QuantumCircuit, name: str, angle: object, qubit: int) -> None:
    """Append ``RX``/``RY``/``RZ`` (``name`` in ``ROTATIONS``) of ``angle`` on ``qubit``."""
    getattr(circuit, name)(angle, qubit)


def append_entangler(circuit: QuantumCircuit, name: str, pair: tuple[int, int]) -> None:
    """Append a ``CX`` (control ``pair[0]``) or ``CZ`` on ``pair``."""
    getattr(circuit, name)(*pair)


@renamed_keywords(n_layers="reps")
def hardware_efficient(
    n_qubits: int = 10,
    reps: int = 2,
    rotations: Sequence[str] = ("rx", "ry", "rz"),
    entangler: str = "cx",
    prefix: str = "w",
) -> tuple[QuantumCircuit, ParameterVector]:
    """Hardware-efficient ansatz: rotation layers and an entangling ring.

    Each of the ``reps`` layers applies, on qubit 0, 1, ..., the gates
    ``rotations`` (in the given order) with their own angles, then the entangler
    (``"cx"``: CX with control i and target i+1, or ``"cz"``) on the ring pairs
    ``(0,1), (1,2), ..., (n-1,0)``. For ``n_qubits=2`` the ring is the single
    pair ``(0,1)``; for ``n_qubits=1`` there is no entangler.

    Returns:
        ``(circuit, weights)``; ``weights`` has
        ``reps * n_qubits * len(rotations)`` elements, element
        ``(layer * n_qubits + qubit) * len(rotations) + r`` being the angle of
        rotation ``r`` on ``qubit`` in ``layer``.
    """
    n_qubits = _checks.positive_int("n_qubits", n_qubits)
    reps = _checks.positive_int("reps", reps)
    rotations = rotation_names(rotations)
    entangler = _checks.choice("entangler", entangler, ENTANGLERS)
    prefix = _checks.prefix("prefix", prefix)

    weights = ParameterVector(prefix, reps * n_qubits * len(rotations))
    circuit = QuantumCircuit(n_qubits, name="hardware_efficient")
    index = 0
    for _ in range(reps):
        for qubit in range(n_qubits):
            for rotation in rotations:
                append_rotation(circuit, rotation, weights[index], qubit)
                index += 1
        for pair in ring_pairs(n_qubits):
            append_entangler(circuit, entangler, pair)
    return circuit, weights


@renamed_keywords(n_layers="reps")
def ion_native(
    n_qubits: int = 10,
    reps: int = 2,
    connectivity: str = "all",
    prefix: str = "w",
) -> tuple[QuantumCircuit, ParameterVector]:
    """Trapped-ion native ansatz: ``R(theta, phi)`` on every qubit, then ``RXX`` couplings.

    ``R(theta, phi) = exp(-i theta/2 (cos(phi) X + sin(phi) Y))`` (Qiskit
    ``RGate``) is the carrier rotation of an ion trap; ``RXX(theta) =
    exp(-i theta/2 X⊗X)`` is a Mølmer–Sørensen interaction with a trainable
    angle. Each layer applies ``R`` on qubits 0, 1, ..., then ``RXX`` on every
    pair ``i < j`` (``connectivity="all"``, lexicographic order, as ions in one
    trap allow) or on the ring pairs ``(0,1), ..., (n-1,0)`` (``"ring"``).
    ``n_qubits=1`` has no couplings.

    Returns:
        ``(circuit, weights)``; per layer ``2 * n_qubits + n_pairs`` elements
        (``n_pairs = n(n-1)/2`` for "all", ``n`` for "ring" with n >= 3): first
        ``theta_q, phi_q`` for each qubit ``q`` (elements ``2q`` and ``2q+1`` of
        the layer's block), then one RXX angle per pair in pair order.
    """
    n_qubits = _checks.positive_int("n_qubits", n_qubits)
    reps = _checks.positive_int("reps", reps)
    connectivity = _checks.choice("connectivity", connectivity, CONNECTIVITIES)
    prefix = _checks.prefix("prefix", prefix)

    pairs = all_pairs(n_qubits) if connectivity == "all" else ring_pairs(n_qubits)
    weights = ParameterVector(prefix, reps * (2 * n_qubits + len(pairs)))
    circuit = QuantumCircuit(n_qubits, name="ion_native")
    index = 0
    for _ in range(reps):
        for qubit in range(n_qubits):
            circuit.r(weights[index], weights[index + 1], qubit)
            index += 2
        for pair in pairs:
            circuit.rxx(weights[index], *pair)
            index += 1
    return circuit, weights


@renamed_keywords(n_layers="reps")
def brickwork(
    n_qubits: int = 10,
    reps: int = 2,
    prefix: str = "w",
    entangler: str = "cx",
) -> tuple[QuantumCircuit, ParameterVector]:
    """Brickwork ansatz: ``RY`` on every qubit, then entanglers in a brick pattern.

    Each layer applies ``RY(w)`` on qubits 0, 1, ..., then the entangler
    (``"cx"`` with control i, target i+1, or ``"cz"``) on the even pairs
    ``(0,1), (2,3), ...`` and then the odd pairs ``(1,2), (3,4), ...`` (no
    wrap-around). This is the variational block of the QLSTM of Chen, Yoo and
    Fang (arXiv 2009.01783) with the rotation placed before the CNOTs.

    Returns:
        ``(circuit, weights)``; ``weights`` has ``reps * n_qubits``
        elements, element ``layer * n_qubits + qubit`` being that RY angle.
    """
    n_qubits = _checks.positive_int("n_qubits", n_qubits)
    reps = _checks.positive_int("reps", reps)
    prefix = _checks.prefix("prefix", prefix)
    entangler = _checks.choice("entangler", entangler, ENTANGLERS)

    weights = ParameterVector(prefix, reps * n_qubits)
    circuit = QuantumCircuit(n_qubits, name="brickwork")
    index = 0
    for _ in range(reps):
        for qubit in range(n_qubits):
            circuit.ry(weights[index], qubit)
            index += 1
        for pair in brick_pairs(n_qubits):
            append_entangler(circuit, entangler, pair)
    return circuit, weights


_REGISTRY: dict[str, Callable[..., tuple[QuantumCircuit, ParameterVector]]] = {
    "hardware_efficient": hardware_efficient,
    "ion_native": ion_native,
    "brickwork": brickwork,
}


def names() -> tuple[str, ...]:
    """Names accepted by :func:`get`, sorted."""
    return tuple(sorted(_REGISTRY))


@renamed_keywords(n_layers="reps")
def get(
    name: str,
    n_qubits: int = 10,
    reps: int = 2,
    prefix: str = "w",
    **options: object,
) -> tuple[QuantumCircuit, ParameterVector]:
    """Build the ansatz called ``name`` (one of :func:`names`) with ``reps`` layers.

    ``options`` go to the builder, e.g. ``get("ion_native", connectivity="ring")``
    or ``get("hardware_efficient", rotations=("ry", "rz"), entangler="cz")``.

    Returns:
        ``(circuit, weights)`` as the named builder does.
    """
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"unknown ansatz {name!r}; expected one of {list(names())}")
    return _REGISTRY[name](n_qubits=n_qubits, reps=reps, prefix=prefix, **options)
