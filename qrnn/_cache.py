"""Caches with a clear lifetime: ``CircuitCache`` (what was derived from a circuit, kept as
long as the circuit lives) and ``WeightCache`` (what was computed from parameters, kept while
they are unchanged)."""

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


class WeightCache:
    """What was computed from some parameters (a bound program, a cell unitary), reused while
    they are unchanged: the natural ``layer(x_t)`` loop then costs what ``prepare()`` costs.

    An entry is reused only while every tensor has the same storage, version counter (every
    in-place change bumps it: an optimizer step, ``load_state_dict``, an edit under
    ``no_grad``), dtype, device and ``requires_grad``, under the same autograd mode, and while
    no backward pass has gone through it: a backward frees the graph the entry's tensors hang
    from, so a gradient hook on the parameters' use marks the entry spent (gradient
    accumulation and ``torch.autograd.grad`` then rebuild it). One entry per autograd mode, so
    evaluation under ``no_grad`` between training steps does not evict the training entry.
    Entries are not copied with their module (``copy.deepcopy``, pickling).
    """

    def __init__(self):
        self._entries: dict[bool, tuple] = {}

    def get(self, tensors: tuple, build):
        """``build(tensors)``'s value for the current state of ``tensors`` (see the class)."""
        import torch

        grad_mode = torch.is_grad_enabled()
        key = tuple((t.data_ptr(), t._version, t.dtype, t.device, t.requires_grad) for t in tensors)
        entry = self._entries.get(grad_mode)
        if entry is not None and entry[0] == key and not entry[2][0]:
            return entry[1]
        spent = [False]
        if grad_mode and any(t.requires_grad for t in tensors):
            tensors = tuple(_watched(t, spent) for t in tensors)
        value = build(tensors)
        self._entries[grad_mode] = (key, value, spent)
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __deepcopy__(self, memo):
        return WeightCache()

    def __getstate__(self):
        return {"_entries": {}}


def _watched(tensor, spent: list):
    """``tensor`` through a view whose gradient hook marks ``spent`` (a backward went
    through whatever was built from it)."""
    if not tensor.requires_grad:
        return tensor
    view = tensor.view_as(tensor)

    def mark(_grad):
        spent[0] = True

    view.register_hook(mark)
    return view
