"""Errors raised by the torch engine. All are ``ValueError``s: the input was wrong."""

from __future__ import annotations


class SimulationError(ValueError):
    """Base class of the engine's input errors."""


class UnsupportedGateError(SimulationError):
    """The circuit holds an instruction the engine cannot apply."""


class UnsupportedNoiseError(SimulationError):
    """The noise model holds an error the engine cannot apply."""


class UnboundParameterError(SimulationError):
    """Parameter values are missing or do not match the circuit's parameters."""


class SimulationMemoryError(SimulationError, MemoryError):
    """The state would not fit in memory."""
