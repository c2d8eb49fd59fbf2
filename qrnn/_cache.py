"""``CircuitCache``: what was derived from a circuit, kept as long as the circuit lives."""

from __future__ import annotations

import weakref


class CircuitCache:
    """Per-circuit results keyed by identity (circuits are mutable and unhashable); an entry
    dies with its circuit (a weak reference removes it) and is rebuilt when the circuit grew.
    ``key`` adds variants (measurement basis, marker handling). Do not mutate a circuit in
    place between calls other than by appending."""

    def __init__(self):
        self._entries: dict = {}

    def get(self, circuit, key, build):
        """The value cached for ``(circuit, key)``, made by ``build()`` the first time."""
        entry_key = (id(circuit), len(circuit.data), key)
        entry = self._entries.get(entry_key)
        if entry is not None and entry[0]() is circuit:
            return entry[1]
        value = build()
        ref = weakref.ref(circuit, lambda _ref, k=entry_key: self._entries.pop(k, None))
        self._entries[entry_key] = (ref, value)
        return value
