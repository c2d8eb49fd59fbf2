"""Where noise is felt: what one time step of a model costs on a device.

:func:`step_cost` transpiles one step of a recurrent cell to a device's native gates and counts
what a researcher compares between machines: native two-qubit gates (the dominant error), an
estimated fidelity (the product of the gates' average fidelities, ``1 - error_1q`` per
physical one-qubit gate and ``1 - error_2q`` per two-qubit gate, from the device's published
error rates; ``rz`` is virtual and free) and the duration of one shot of the step (the
device's gate, measurement and reset times, :meth:`IonTrapDevice.duration`). ``qrnn devices
NAME --report`` prints it for the default model's cell.
"""

from __future__ import annotations

from dataclasses import dataclass

from qiskit import ClassicalRegister, QuantumCircuit

from circuits import cells
from circuits.native import ONE_QUBIT_GATES, TWO_QUBIT_GATES
from qrnn.devices._device import IonTrapDevice

__all__ = ["StepCost", "default_cell", "step_cost"]


@dataclass(frozen=True)
class StepCost:
    """One time step of a cell on a device.

    Attributes:
        device: the device's name.
        circuit: the step circuit's name.
        n_qubits: its width.
        gates_1q: physical one-qubit native gates (``rz`` is virtual and not counted).
        gates_2q: native two-qubit gates.
        measurements: qubits read out at the end of the step.
        resets: qubits reset after the step (a quantum-memory cell's data register).
        fidelity: ``(1 - error_1q) ** gates_1q * (1 - error_2q) ** gates_2q``, the
            estimated probability that no gate error occurs (readout error not included).
        duration: seconds of one shot of the step: gates, measurements and resets, timed as
            the device runs them (:meth:`IonTrapDevice.duration`).
    """

    device: str
    circuit: str
    n_qubits: int
    gates_1q: int
    gates_2q: int
    measurements: int
    resets: int
    fidelity: float
    duration: float

    def line(self) -> str:
        """One line: ``iontrap-10q  2q gates 90  1q gates 120  fidelity 0.253  time 66.4 ms``."""
        return (
            f"{self.device:<16} 2q gates {self.gates_2q:>4}  1q gates {self.gates_1q:>4}  "
            f"fidelity {self.fidelity:.3g}  time {self.duration * 1e3:.1f} ms"
        )


def default_cell() -> cells.Cell:
    """One step of the default model (``qrnn train``'s QRNN: 4 data + 6 hidden qubits, the
    ion-native ansatz, 2 repetitions)."""
    return cells.qrnn_step(n_data=4, n_hidden=6, reps=2, ansatz="ion_native")


def step_cost(device: IonTrapDevice, cell: cells.Cell | QuantumCircuit) -> StepCost:
    """What one time step of ``cell`` costs on ``device``.

    Args:
        device: an ``IonTrapDevice`` at least as wide as the cell (``qrnn.devices.get``).
        cell: a ``circuits.cells.Cell`` (its readout qubits are measured and its data qubits,
            when it carries quantum memory, reset after the step, as a device runs it) or a
            bare ``QuantumCircuit`` (gates only).

    Returns:
        a :class:`StepCost`.

    Raises:
        TypeError: ``device`` or ``cell`` of the wrong type. ValueError: a cell wider than
            the device.
    """
    if not isinstance(device, IonTrapDevice):
        raise TypeError(f"device must be an IonTrapDevice, got {type(device).__name__}")
    if isinstance(cell, cells.Cell):
        circuit, measured = cell.circuit, _read_qubits(cell)
        reset = list(cell.data_qubits) if cell.hidden_qubits else []
    elif isinstance(cell, QuantumCircuit):
        circuit, measured, reset = cell, [], []
    else:
        raise TypeError(
            f"cell must be a circuits.cells.Cell or a QuantumCircuit, got {type(cell).__name__}"
        )
    native = device.transpile(circuit)
    ops = native.count_ops()
    gates_1q = sum(count for name, count in ops.items() if name in ONE_QUBIT_GATES)
    gates_2q = sum(count for name, count in ops.items() if name in TWO_QUBIT_GATES)
    shot = native.copy()
    if measured:
        register = ClassicalRegister(len(measured), "step")
        shot.add_register(register)
        shot.measure(measured, register)
    for qubit in reset:
        shot.reset(qubit)
    fidelity = (1 - device.error_1q) ** gates_1q * (1 - device.error_2q) ** gates_2q
    return StepCost(
        device=device.name,
        circuit=circuit.name,
        n_qubits=circuit.num_qubits,
        gates_1q=int(gates_1q),
        gates_2q=int(gates_2q),
        measurements=len(measured),
        resets=len(reset),
        fidelity=float(fidelity),
        duration=float(device.duration(shot)),
    )


def _read_qubits(cell: cells.Cell) -> list[int]:
    """Qubits some readout label acts on (little-endian labels: last character = qubit 0)."""
    qubits = set()
    for label in cell.observables:
        qubits.update(q for q, letter in enumerate(reversed(label)) if letter != "I")
    return sorted(qubits)
