"""Errors raised by the backends."""

from __future__ import annotations


class BackendError(ValueError):
    """Bad input to a backend: an unknown name, option, shot count, circuit or observable."""


class GPUUnavailableError(RuntimeError):
    """A GPU was asked for but this installation or machine cannot provide one."""
