"""The hidden-register channel's products, a whole sequence in one autograd node.

``qrnn/sim/_memory.py`` has the maths. Here, with ``K_t = psi_t @ source`` step ``t``'s Kraus
operators, each step runs ``M = K rho`` and ``rho' = M K^+`` (two batched complex products),
the backward pass three (two at a step whose ``rho'`` gets no gradient, as the last one). What
is not a product is arranged around them:

- ``K_t`` is built into one buffer the steps share and rebuilt in the backward pass (one real
  product), not kept: on the CPU a fresh buffer of a step's size costs page faults comparable
  to the products themselves.
- On the CPU the batch is cut into one part per torch thread, each run forward and backward
  by a worker thread of its own with one torch thread (the memory-bound work around the
  products hardly gains from a second thread inside an operation; the parts do). Within a
  part the products run one sample at a time (``mm``, which takes ``K^+`` as a view) and each
  sample's ``M`` is read out into ``P`` while it is still in cache. Off the CPU: one batched
  product per step (``bmm`` would copy a conjugate view), with ``K`` conjugated in place once
  ``M``, ``P`` (or, backward, ``W``) are made, not into a buffer of its own. ``M`` itself is
  never kept.
- The weights' gradient is summed over the steps into one buffer per part; a step whose
  output has no gradient skips that part of the backward pass.
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import torch

__all__ = ["channel_sequence", "is_ground_state", "memory_channel"]

# Samples per chunk of the products on the CPU with one thread: about this many complex
# entries of K rho, so that a chunk's product is still in cache when it is read out.
_CHUNK_ENTRIES = 2**16
# Columns per block of the Kraus operators' product psi @ table (real entries).
_KRAUS_COLUMNS = 2**14
# Complex entries of Kraus operators a part of the batch must hold at least (``_min_part``).
_PART_ENTRIES = 2**18


def _chunk_size(entries: int, batch: int, device: torch.device) -> int:
    """Samples per chunk of the products: on the CPU with one thread (as in every part's
    worker) about ``_CHUNK_ENTRIES`` complex entries of ``K rho`` (``entries`` per sample),
    else the whole batch: with several threads every product is a parallel region, and one
    per sample stalls at each whenever a thread has to wait for a core (measured: 3x slower on
    a busy 2-core machine)."""
    if device.type != "cpu" or torch.get_num_threads() > 1:
        return batch
    return max(1, _CHUNK_ENTRIES // entries)


def _min_part(psi: torch.Tensor, rho: torch.Tensor) -> int:
    """The fewest samples worth a part of their own. A part builds its Kraus operators from
    the whole table (as many entries as ``D`` samples' Kraus operators) and sums its own copy
    of the table's gradient, so it holds ``D`` samples or more (16 parts of 2 samples ran W2
    2.6-2.9x slower than 2 parts of 16 on a 16-core machine); and ``_PART_ENTRIES`` complex
    entries of Kraus operators or more, since smaller parts lost 13-38% to batched products on
    two threads (65-131k entries a part; parts from 262k gained, measured on ten register
    sizes)."""
    h, d = rho.shape[-1], psi.shape[-1]
    return max(d, -(-_PART_ENTRIES // (h * d * h)))


def _parts(psi, rho: torch.Tensor) -> tuple[list[slice], int]:
    """The batch's parts and the torch threads of each. On the CPU with several threads, up
    to one part per thread (``_min_part`` samples or more each), each run by a worker thread
    of its own; elsewhere, or for a single step on given Kraus operators (``psi`` None), one
    part in the calling thread."""
    batch, threads = rho.shape[0], torch.get_num_threads()
    count = 1
    if psi is not None and rho.device.type == "cpu" and threads > 1:
        count = min(threads, batch // _min_part(psi, rho))
    if count <= 1:
        return [slice(None)], threads
    bounds = [batch * k // count for k in range(count + 1)]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)], threads // count


class _Pool:
    """Worker threads for the batch's parts, each with its own torch thread count (torch's
    setting is per thread); rebuilt when the counts change or after a fork (the child has no
    threads)."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._shape = (0, 0)
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._executor, self._shape = None, (0, 0)

    def map(self, function, items: list, threads: int) -> list:
        """``[function(item) for item in items]``, in parallel where there are several (each
        worker with ``threads`` torch threads); in the workers gradients are off (they run
        inside an autograd function) and inference mode is the caller's (it is per thread,
        and tensors made in it can only be written in it)."""
        if len(items) == 1:
            return [function(items[0])]
        inference = torch.is_inference_mode_enabled()
        with self._lock:
            if self._shape != (len(items), threads):
                if self._executor is not None:
                    self._executor.shutdown(wait=False)
                self._executor = ThreadPoolExecutor(
                    len(items), "qrnn-channel", torch.set_num_threads, (threads,)
                )
                self._shape = (len(items), threads)
            executor = self._executor

        def run(item):
            with torch.inference_mode(inference), torch.no_grad():
                return function(item)

        return list(executor.map(run, items))


_POOL = _Pool()


def is_ground_state(rho: torch.Tensor) -> bool:
    """Whether every matrix of ``rho (B, H, H)`` is ``|0><0|`` (one device sync)."""
    corner = rho[:, 0, 0]
    return bool((corner == 1).all()) and int(torch.count_nonzero(rho)) == rho.shape[0]


def memory_channel(kraus: torch.Tensor, rho: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The primitive Kraus step of the hidden register.

    Args:
        kraus: ``(B, H, D, H)`` complex, ``kraus[b, :, j, :] = K_j`` of sample ``b``
            (:meth:`MemoryStep.kraus_operators`).
        rho: ``(B, H, H)`` complex, Hermitian, same dtype.

    Returns:
        ``(P, rho')``: ``P (B, H, D)`` real, the joint distribution over (hidden, data) basis
        states after ``U`` (full index ``h * D + j``); ``rho' = sum_j K_j rho K_j^+``,
        ``(B, H, H)``. Differentiable in both arguments (first derivatives only).
    """
    source = torch.view_as_real(kraus).reshape(kraus.shape[0], -1)
    probabilities, new_rho = channel_sequence(None, source, rho)
    return probabilities[0], new_rho


def channel_sequence(
    psi: torch.Tensor | None,
    source: torch.Tensor,
    rho: torch.Tensor,
    valid: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A sequence of channel steps, step ``t``'s Kraus operators ``psi[t] @ source``.

    Args:
        psi: ``(L, B, D)`` real data-register states; None for one step whose Kraus
            operators are ``source`` itself.
        source: ``(D, H*D*H*2)`` real (``MemoryStep.table``), or ``(B, H*D*H*2)`` with ``psi``
            None: ``[..., (h', j, h, re/im)]`` is ``K_j[h', h]``.
        rho: ``(B, H, H)`` complex initial state.
        valid: ``(L, B)`` bool or None; where False the state is kept (a sequence has ended).

    Returns:
        ``(P (L, B, H, D), rho_L (B, H, H))``. Differentiable in ``psi``, ``source`` and
        ``rho`` (first derivatives only).
    """
    if valid is not None and bool(valid.all()):
        valid = None
    ground = not rho.requires_grad and is_ground_state(rho)
    return _Channel.apply(psi, source, rho, valid, ground)


class _Workspace:
    """Buffers the steps of one part of the batch share, forward and backward (one step at a
    time): the current step's Kraus operators, a chunk's product and its readout, ``dL/dK``."""

    def __init__(self, psi, source: torch.Tensor, rho: torch.Tensor) -> None:
        batch, h = rho.shape[0], rho.shape[-1]
        self.h, self.d = h, source.shape[-1] // (2 * h * h)
        self.psi, self.source = psi, source
        entries = h * self.d * h
        # a chunk is one sample (its own matrix, no batch axis) where one fills the cache
        self.size = _chunk_size(entries, batch, rho.device)
        self.n_chunks = -(-batch // self.size)
        self.moved = rho.new_empty(min(self.size, batch), h * self.d, h)
        self.product = source.new_empty(min(self.size, batch), h * self.d, 2 * h)
        real = source.new_empty(batch, source.shape[-1]) if psi is not None else None
        self._kraus_real, self._grad_kraus = real, None
        self._built = -1  # the step whose Kraus operators are in _kraus_real

    def kraus(self, t: int) -> torch.Tensor:
        """Step ``t``'s Kraus operators, ``(B, H, D, H)`` complex (built unless they are the
        last ones built: the backward pass starts with the forward's last step)."""
        real = self.source
        if self.psi is not None:
            real = self._kraus_real
            if self._built != t:
                # in column blocks: about 25% faster than one product of this shape
                for block in range(0, real.shape[1], _KRAUS_COLUMNS):
                    columns = slice(block, block + _KRAUS_COLUMNS)
                    torch.mm(self.psi[t], self.source[:, columns], out=real[:, columns])
                self._built = t
        return torch.view_as_complex(real.view(real.shape[0], self.h, self.d, self.h, 2))

    def split(self, tensor: torch.Tensor | None):
        """``tensor``'s chunks (views): single samples without the batch axis when a chunk
        is one sample, else ``(n, ...)``; None: as many Nones."""
        if tensor is None:
            return [None] * self.n_chunks
        return tensor.unbind(0) if self.size == 1 else tensor.split(self.size)

    def scratch(self, buffer: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
        """The part of the scratch ``buffer`` that matches ``chunk``'s samples."""
        return buffer[0] if self.size == 1 else buffer[: chunk.shape[0]]

    def conjugate(self, kraus: torch.Tensor) -> torch.Tensor:
        """``conj(kraus)`` for a chunk whose ``K`` is no longer needed as it is; its ``.mT`` is
        the ``K^+`` of the products. A view where a chunk is one sample (``mm`` takes it as it
        is), else conjugated in place (a copy where ``K`` is the caller's tensor)."""
        if self.size == 1:
            return kraus.conj()
        if self.psi is None:
            return torch.conj_physical(kraus)
        self._built = -1
        return kraus.conj_physical_()

    def grad_kraus(self, kraus: torch.Tensor) -> torch.Tensor:
        """A buffer for ``dL/dK`` (fresh when ``K`` is an input: it is returned)."""
        if self.psi is None:
            return torch.empty_like(kraus)
        if self._grad_kraus is None:
            self._grad_kraus = torch.empty_like(kraus)
        return self._grad_kraus


class _Channel(torch.autograd.Function):
    """``(psi, source, rho_0, valid, ground) -> (P, rho_L)`` (see :func:`channel_sequence`).

    Backward, with ``G`` the Hermitian part of ``rho'``'s gradient (only that part reaches
    anything upstream, since ``rho'`` is Hermitian) and ``G_j = G + diag(dL/dP[:, j])``:
    ``W_j = 2 G_j K_j``, ``dL/dK_j = W_j rho`` and ``dL/drho = sum_j K_j^+ W_j / 2``; ``rho``
    is kept for each step (``(B, H, H)``, small), ``M`` and ``K`` are not. ``ground``:
    ``rho_0 = |0><0|`` and needs no gradient, so the first step is
    ``K_j rho K_j^+ = k_j k_j^+`` with ``k_j = K_j[:, 0]``.
    """

    @staticmethod
    def forward(ctx, psi, source, rho, valid, ground):
        ctx.set_materialize_grads(False)
        h = rho.shape[-1]
        length = 1 if psi is None else psi.shape[0]
        shape = (length, rho.shape[0], h, source.shape[-1] // (2 * h * h))
        probabilities = rho.new_empty(shape, dtype=source.dtype)

        def run(part):
            inputs = _part(psi, part), source, rho[part], _part(valid, part), ground
            return _forward_part(*inputs, probabilities[:, part])

        parts, threads = _parts(psi, rho)
        results = _POOL.map(run, parts, threads)
        ctx.save_for_backward(psi, source, valid, rho)
        # each part's workspace and states rho_1 .. rho_{L-1} (rho_0 is saved above)
        ctx.parts = [(part, *result[:2]) for part, result in zip(parts, results, strict=True)]
        ctx.ground, ctx.threads = ground, threads
        finals = [final for _, _, final in results]
        return probabilities, finals[0] if len(finals) == 1 else torch.cat(finals)

    @staticmethod
    def backward(ctx, grad_probabilities, grad_rho):
        if torch.is_grad_enabled():  # create_graph=True: this backward has no graph of its own
            raise RuntimeError(
                "the memory channel's backward pass is not differentiable: second derivatives "
                "(create_graph=True) are not supported"
            )
        psi, _, valid, rho = ctx.saved_tensors  # the source is in each part's workspace
        need_psi, need_rho = ctx.needs_input_grad[0], ctx.needs_input_grad[2]
        grad_psi = torch.empty_like(psi) if need_psi else None
        # the steps whose outputs have a gradient (often only the last ones feed a loss): one sync
        length = 1 if psi is None else psi.shape[0]
        p_steps = [False] * length
        if grad_probabilities is not None:
            p_steps = grad_probabilities.flatten(1).any(1).tolist()

        def run(item):
            part, workspace, states = item
            return _backward_part(
                workspace,
                [rho[part], *states],
                _part(valid, part),
                _part(grad_probabilities, part),
                p_steps,
                None if grad_rho is None else grad_rho[part],
                _part(grad_psi, part),
                ctx.needs_input_grad[:3],
                ctx.ground,
            )

        results = _POOL.map(run, ctx.parts, ctx.threads)
        # the parts need the same gradients and run the same steps: all None or none
        grad_sources, grad_rhos = zip(*results, strict=True)
        grad_source = grad_sources[0]
        if grad_source is not None:
            for other in grad_sources[1:]:
                grad_source += other
        if not need_rho or grad_rhos[0] is None:
            grad_rho = None
        else:
            grad_rho = torch.cat(grad_rhos) if len(grad_rhos) > 1 else grad_rhos[0]
        return grad_psi, grad_source, grad_rho, None, None


def _part(tensor: torch.Tensor | None, part: slice) -> torch.Tensor | None:
    """``tensor (L, B, ...)``'s samples ``part`` (a view), None for None."""
    return None if tensor is None else tensor[:, part]


def _forward_part(psi, source, rho, valid, ground, probabilities):
    """The forward pass of one part of the batch (``probabilities (L, b, H, D)`` filled):
    returns its workspace, its states ``rho_1 .. rho_{L-1}`` and ``rho_L``."""
    workspace = _Workspace(psi, source, rho)
    states = []
    for t in range(probabilities.shape[0]):
        if t:
            states.append(rho)
        first = ground and t == 0
        new_rho = _forward_step(workspace.kraus(t), rho, probabilities[t], workspace, first)
        if valid is not None:
            new_rho = torch.where(valid[t].view(-1, 1, 1), new_rho, rho)
        rho = new_rho
    return workspace, states, rho


def _backward_part(
    workspace, states, valid, grad_probabilities, p_steps, grad_rho, grad_psi, needs, ground
):
    """The backward pass of one part of the batch, ``states`` its ``rho_0 .. rho_{L-1}``,
    ``grad_psi (L, b, D)`` (or None) filled: returns the part's ``dL/dsource`` (None where not
    needed) and ``dL/drho_0``."""
    psi, source = workspace.psi, workspace.source
    need_psi, need_source, need_rho = needs
    need_kraus = need_psi or need_source
    grad_source = torch.zeros_like(source) if need_source and psi is not None else None
    for t in range(len(states) - 1, -1, -1):
        rho = states[t]
        grad_out = grad_rho  # dL/drho_{t+1}
        grad_kept = None  # the part of it that passes by the channel (ended sequences)
        if valid is not None and grad_out is not None:
            keep = valid[t].view(-1, 1, 1)
            grad_kept = torch.where(keep, 0, grad_out)
            grad_out = torch.where(keep, grad_out, 0)
        grad_p = grad_probabilities[t] if p_steps[t] else None
        # rho_t's gradient is needed upstream if rho_0 or an earlier step's K needs one
        need_state = need_rho or (need_kraus and t > 0)
        grad_rho = None
        if grad_out is not None or grad_p is not None:
            kraus = workspace.kraus(t)
            grad_kraus = workspace.grad_kraus(kraus) if need_kraus else None
            grad_rho = _backward_step(
                kraus, rho, grad_out, grad_p, workspace, grad_kraus, need_state, ground and t == 0
            )
            if grad_kraus is not None:
                flat = torch.view_as_real(grad_kraus).view(grad_kraus.shape[0], -1)
                if psi is None:
                    grad_source = flat if need_source else None
                else:
                    if need_psi:
                        torch.mm(flat, source.mT, out=grad_psi[t])
                    if need_source:
                        grad_source.addmm_(psi[t].mT, flat)
        elif need_psi:
            grad_psi[t] = 0
        if grad_kept is not None:
            grad_rho = grad_kept if grad_rho is None else grad_rho + grad_kept
    return grad_source, grad_rho


def _forward_step(kraus, rho, probabilities, workspace, ground) -> torch.Tensor:
    """One step: ``P`` into ``probabilities (B, H, D)``; returns ``rho'``."""
    batch, h, d, _ = kraus.shape
    if ground:
        column = kraus[..., 0]  # (B, h', j)
        torch.sum(torch.view_as_real(column).square(), -1, out=probabilities)
        return torch.bmm(column, column.mH)
    rows = kraus.view(batch, h * d, h)  # rows (h', j): K_j
    new_rho = torch.empty_like(rho)
    split = workspace.split
    chunks = zip(
        split(rows),
        split(rho),
        split(probabilities.view(batch, h * d)),
        split(new_rho),
        strict=True,
    )
    for k_rows, state, p, out in chunks:
        moved = _product(k_rows, state, workspace.scratch(workspace.moved, k_rows))  # K_j rho
        _readout(moved, k_rows, workspace.scratch(workspace.product, k_rows), p)
        wide = (*moved.shape[:-2], h, d * h)
        _product(moved.view(wide), workspace.conjugate(k_rows).view(wide).mT, out)
    return new_rho


def _backward_step(kraus, rho, grad_out, grad_p, workspace, grad_kraus, need_state, ground):
    """One step back: ``dL/dK`` into ``grad_kraus`` (None: not needed); returns ``dL/drho``
    (None unless ``need_state``). ``grad_out``: ``rho'``'s gradient, ``grad_p``: ``P``'s; at
    least one is given."""
    batch, h, d, _ = kraus.shape
    herm2 = None if grad_out is None else grad_out + grad_out.mH  # 2 G
    # twice dL/dP as a (B, h', j, 1) row scale: the diagonal part of W_j = 2 G_j K_j
    scale = None if grad_p is None else (2 * grad_p).unsqueeze(-1)
    if ground:  # rho = |0><0|: dL/dK_j = W_j[:, 0] <0|, only W's first column is needed
        column = kraus[..., 0]
        w = torch.zeros_like(column) if herm2 is None else torch.bmm(herm2, column)
        if scale is not None:
            w.addcmul_(scale[..., 0], column)
        if grad_kraus is not None:
            grad_kraus.zero_()
            grad_kraus[..., 0] = w
        return None
    grad_rho = torch.empty_like(rho) if need_state else None
    split = workspace.split
    chunks = zip(
        split(kraus),
        split(kraus.view(batch, h, d * h)),
        split(rho),
        split(herm2),
        split(scale),
        split(None if grad_kraus is None else grad_kraus.view(batch, h * d, h)),
        split(grad_rho),
        strict=True,
    )
    for k, k_wide, state, g2, s, gk, gr in chunks:
        w = workspace.scratch(workspace.moved, state).view(k.shape)  # W_j = w[:, j]
        if g2 is None:
            torch.mul(s, k, out=w)
        else:
            _product(g2, k_wide, w.view(k_wide.shape))
            if s is not None:
                w.addcmul_(s, k)
        w = w.view((*k_wide.shape[:-2], h * d, h))  # rows (h', j)
        if gk is not None:
            _product(w, state, gk)
        if gr is not None:
            _product(workspace.conjugate(k).view(w.shape).mT, w, gr)
    if grad_rho is not None:
        grad_rho.mul_(0.5)
    return grad_rho


def _readout(moved, k_rows, product, out) -> None:
    """``P = Re sum_h M[r, h] conj(K[r, h])`` into ``out (..., R)`` for ``M``, ``K`` of shape
    ``(..., R, H)``, through the real views (``product``: scratch of their shape; one sample's
    is still in cache for the sum; one small product per row instead was 2.5x slower)."""
    real = torch.view_as_real(k_rows).flatten(-2)
    torch.sum(torch.mul(torch.view_as_real(moved).flatten(-2), real, out=product), -1, out=out)


def _product(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``a @ b`` into ``out``: one sample's matrices (``mm``, which takes a conjugate
    transpose ``.mH`` as it is, where ``bmm`` copies it) or a chunk's ``(n, ., .)``."""
    return (torch.mm if a.dim() == 2 else torch.bmm)(a, b, out=out)
