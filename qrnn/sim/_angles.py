"""Gate angles as an affine map of the circuit's parameters.

Every angle of the lowered circuit is a row of ``angles = offsets + weights @ W + inputs @ I``
(``_lowering.AngleTable``), so a whole batch of angles is one or two matrix products. An
``AngleMap`` holds that map as arrays, split into the bound weights and the per-sample inputs,
once per program, and its tensors once per device and dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from qrnn.sim._gates import constant_tensor
from qrnn.sim._lowering import U1Q, AngleTable, PauliRotation
from qrnn.sim._phases import PhaseRun


@dataclass(frozen=True)
class AngleTensors:
    """An ``AngleMap`` on one device and dtype."""

    offsets: torch.Tensor  # (n_rows,)
    weight_coefficients: torch.Tensor  # (n_weights, n_rows)
    input_coefficients: torch.Tensor  # (n_inputs, n_rows)


class AngleMap:
    """``angles (b, n_rows) = offsets + weights @ weight_coefficients.T + inputs @
    input_coefficients.T``, with the parameter columns split by ``input_index`` and
    ``weight_index`` (positions in ``circuit.parameters``)."""

    def __init__(self, table: AngleTable, input_index, weight_index):
        coefficients, offsets = table.matrices()
        self.input_coefficients = coefficients[:, input_index]  # (n_rows, n_inputs)
        self.weight_coefficients = coefficients[:, weight_index]  # (n_rows, n_weights)
        self.offsets = offsets  # (n_rows,)
        # rows that depend on the inputs: gates that must be built on every run
        self.dynamic_rows = np.abs(self.input_coefficients).sum(axis=1) > 0
        self._tensors: dict[tuple[torch.device, torch.dtype], AngleTensors] = {}

    @property
    def n_rows(self) -> int:
        return self.offsets.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.input_coefficients.shape[1]

    def is_dynamic(self, op) -> bool:
        """Whether the matrix of ``op`` depends on the inputs."""
        if isinstance(op, U1Q):
            return bool(self.dynamic_rows[list(op.rows)].any())
        if isinstance(op, PauliRotation):
            return bool(self.dynamic_rows[op.row])
        if isinstance(op, PhaseRun):
            return bool(self.dynamic_rows[list(op.rows)].any())
        return False

    def tensors(self, device, dtype) -> AngleTensors:
        """The map's tensors on ``device`` in the real ``dtype``, made once."""
        key = (device, dtype)
        if key not in self._tensors:
            self._tensors[key] = AngleTensors(
                constant_tensor(self.offsets, device, dtype),
                constant_tensor(self.weight_coefficients.T, device, dtype),
                constant_tensor(self.input_coefficients.T, device, dtype),
            )
        return self._tensors[key]
