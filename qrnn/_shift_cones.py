"""Gate slots whose parameter-shift rows cannot change what a circuit is read for.

For a noise-free circuit read through Pauli observables, the expectation values do not depend
on the angle of gate ``G`` when ``G``'s forward light cone (``G`` and every later instruction
that touches a wire the cone already holds) either

- never touches a qubit an observable acts on: the cone's gates act on other wires than the
  observables, so they cancel in ``U^H O U``; or
- holds only monomial gates (a permutation matrix times a diagonal one: ``cx``, ``swap``,
  ``rz``, ``x``, ...), ``G`` is diagonal (``rz``, ``p``, ``rzz``, ``crz``, ...) and every
  observable is diagonal (only I and Z factors): ``C^H O C`` is then diagonal for the cone's
  gates ``C`` and commutes with ``G``.

Gates outside the cone act on wires the cone does not hold yet, so they commute with it and
move before ``G``. Both rules hold at every marker too (the cone up to a marker is part of the
cone up to the end). With quantum noise neither is claimed: the executor passes observables to
``parameter_shift`` only when it runs the circuit noise-free (readout error keeps a diagonal
observable diagonal and on its qubits, so it may be present).

W1's last layer of RZ gates, before the CNOT ring and <Z_i>: 10 of its 70 slots.
"""

from __future__ import annotations

import numpy as np
from qiskit.circuit import ParameterExpression, QuantumCircuit
from qiskit.circuit.exceptions import CircuitError
from qiskit.quantum_info import SparsePauliOp

# gates diagonal for every value of their angles
DIAGONAL = frozenset({"rz", "p", "u1", "rzz", "cp", "cu1", "crz", "mcphase", "cs", "csdg"})
# instructions that are no operation on the state
TRANSPARENT = frozenset({"barrier", "delay"})


def zero_slots(circuit: QuantumCircuit, observables: list[SparsePauliOp]) -> frozenset[int]:
    """Slots (in the order of ``gradients.expand_parameters``: instructions in order, each
    instruction's parameterised angles in order) of ``circuit`` whose angle cannot change any
    of ``observables`` (on ``circuit``'s qubits) in a noise-free run (module doc)."""
    support = set()
    for observable in observables:
        used = np.any(observable.paulis.x | observable.paulis.z, axis=0)
        support.update(int(q) for q in np.flatnonzero(used))
    diagonal = not any(np.any(o.paulis.x) for o in observables)
    data = circuit.data
    wires = [[circuit.find_bit(q).index for q in i.qubits] for i in data]
    monomial = [diagonal and _monomial(i.operation) for i in data]  # rule 2 needs both
    zero, slot = set(), 0
    for position, instruction in enumerate(data):
        params = instruction.operation.params
        n_slots = sum(isinstance(v, ParameterExpression) and bool(v.parameters) for v in params)
        if n_slots and _idle(position, data, wires, monomial, support, diagonal):
            zero.update(range(slot, slot + n_slots))
        slot += n_slots
    return frozenset(zero)


def _idle(position, data, wires, monomial, support, diagonal) -> bool:
    cone = set(wires[position])
    # rule 2 needs G diagonal and every cone gate monomial
    commuting = diagonal and data[position].operation.name in DIAGONAL
    for later in range(position + 1, len(data)):
        if data[later].operation.name in TRANSPARENT or cone.isdisjoint(wires[later]):
            continue
        cone.update(wires[later])
        commuting = commuting and monomial[later]
        if not commuting and not cone.isdisjoint(support):
            return False
    return commuting or cone.isdisjoint(support)


def _monomial(operation) -> bool:
    """Whether the instruction is a unitary with one non-zero entry per row, for every value
    of its angles."""
    if operation.name in DIAGONAL:
        return True
    if any(isinstance(p, ParameterExpression) and p.parameters for p in operation.params):
        return False
    try:
        matrix = operation.to_matrix()
    except (AttributeError, CircuitError):  # no matrix: a reset, an opaque instruction
        return False
    return bool(np.all(np.count_nonzero(np.abs(matrix) > 1e-12, axis=1) == 1))
