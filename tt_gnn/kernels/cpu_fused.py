"""A fused CPU kernel (numba) for the levels of the TT lookup.

The torch path (:mod:`tt_gnn.ops`) computes the partial product ``X[u]`` of every distinct id
prefix once, level by level: a level is batched small matmuls over gathered copies of each
term's parent partial and core slice (or one dense block), with ``index_select`` gathers forward
and ``index_add_``/``index_put_`` scatters backward. Here every level ``k >= 1`` is one pass over
its terms, grouped by parent, with no per-term temporaries::

    forward    out[t]      = X[u(t)] @ M[c(t)]          (Q, R) @ (R, C)
    backward   grad_X[u]  += grad[t] @ M[c(t)]^T        (Q, C) @ (C, R)
               grad_M[c]  += X[u(t)]^T @ grad[t]        (R, Q) @ (Q, C)

where ``M = G_k`` viewed as ``(p_k, R, C)`` (``R = r_{k-1}``, ``C = q_k r_k``), ``u(t)`` is the
term's parent (its prefix one level up, see :mod:`tt_gnn.kernels.plan`) and ``c(t)`` its digit.
The last level's terms are the batch's rows (``C = q_d``); level 0 is a gather of core 0's
slices, one per distinct first digit, and its gradient a scatter without collisions.

Design:

- **Rows grouped by prefix.** A stable counting sort of a level's terms ("rows") by parent
  gives each prefix its rows (below the last level they already are in parent order). They
  are cut into chunks of whole prefixes (at least ``_MIN_CHUNK_ROWS`` rows each; how many
  depends only on the batch and the shapes). A thread owns a run of chunks, so each
  ``grad_X[u]`` is written by one thread (no race, no zero-filled scatter target) while the
  prefix's partial stays in L1.
- **Core gradient.** Each chunk accumulates ``grad_M`` in its own buffer; the buffers are summed
  in chunk order. Nothing depends on the number of threads or on scheduling: the kernel's
  results are bitwise reproducible, also across thread counts. (Only the prefix planning,
  ``torch.unique``, runs torch ops.)
- **Explicit SIMD.** numba switches LLVM's SLP vectorizer off and LLVM does not vectorize loops
  as short as 8, so the small matmuls would run on scalars (about 3 GFLOP/s here). They are
  written instead with 256-bit vectors (8 float32 or 4 float64 lanes, masked loads and stores
  at row ends) through numba's extension API: ``@intrinsic`` functions that emit LLVM vector
  loads, stores and ``llvm.fma``. Eight independent accumulators per block hide the FMA latency.
  Sizes are runtime arguments, so one compiled kernel serves every shape of a dtype.
- **Threads.** ``torch.get_num_threads()`` Python threads run the kernels, which release the
  GIL. This starts no second OpenMP runtime next to torch's (numba's ``parallel=True`` would),
  and a forked child gets a fresh pool.
- **Compilation.** Importing this module imports neither numba nor compiles anything. The first
  call for a dtype compiles its kernels (several seconds); numba caches them on disk
  (``cache=True``; where no cache directory is writable, once per process instead).

Dtypes: float32 and float64. Other dtypes (bfloat16, float16) run the torch path: numba has no
arithmetic for them.

Example:
    >>> from tt_gnn.ops import naive_tt_lookup
    >>> cores = [torch.randn(4, 1, 2, 3), torch.randn(5, 3, 2, 1)]
    >>> ids = torch.tensor([0, 7, 19])
    >>> rows = tt_lookup(cores, ids, (4, 5), (2, 2))  # needs available()
    >>> torch.allclose(rows, naive_tt_lookup(cores, ids, (4, 5)), atol=1e-6)
    True
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.profiler import record_function

from tt_gnn.kernels.cpu_fused_kernels import _VECTOR_BYTES, compiled_kernels
from tt_gnn.kernels.plan import plan_prefixes
from tt_gnn.ops import tt_lookup as torch_tt_lookup

__all__ = ["available", "tt_lookup"]

#: Dtypes the kernels compute in; others run the torch path.
SUPPORTED_DTYPES = (torch.float32, torch.float64)
#: Rows per chunk at least, and chunks at most. The chunking (hence the order in which the core
#: gradient is summed) depends only on the batch, never on the number of threads.
_MIN_CHUNK_ROWS = 4096
_MAX_CHUNKS = 64
#: All per-chunk core-gradient buffers together hold at most this many elements (fewer chunks
#: when the last core is large).
_MAX_BUFFER_ELEMENTS = 1 << 22


@functools.cache
def available() -> bool:
    """Whether numba imports and the SIMD kernels compile and compute correctly here.

    The first call imports numba and compiles (or loads from numba's cache) a small probe
    matmul that exercises every vector operation; the answer is cached for the process.

    Example:
        >>> isinstance(available(), bool)
        True
    """
    if importlib.util.find_spec("numba") is None:
        return False
    try:
        probe = compiled_kernels().probe
        left = np.arange(9 * 3, dtype=np.float32).reshape(9, 3) - 13
        right = np.arange(3 * 10, dtype=np.float32).reshape(3, 10) / 7
        out = np.full((9, 10), np.nan, dtype=np.float32)
        probe(left.reshape(-1), right.reshape(-1), out.reshape(-1))
    except Exception:  # noqa: BLE001 - any failure to import or compile means "not available"
        return False
    return bool(np.allclose(out, left @ right, rtol=1e-6, atol=1e-5))


def tt_lookup(
    cores: Sequence[torch.Tensor],
    ids: torch.Tensor,
    p_shapes: Sequence[int],
    q_shapes: Sequence[int],
    *,
    deterministic: bool = False,
) -> torch.Tensor:
    """Rows ``ids`` of the TT table, every level computed by the fused CPU kernel.

    Same contract as :func:`tt_gnn.ops.tt_lookup`; differentiable with respect to every core.

    Args:
        cores: ``d >= 2`` CPU tensors, core ``k`` of shape ``(p_k, r_{k-1}, q_k, r_k)``, all of
            one dtype: float32 and float64 run the kernel, other dtypes the torch path.
        ids: ``(n,)`` int64 row ids in ``[0, prod(p_shapes))`` (not checked here).
        p_shapes, q_shapes: the factorization.
        deterministic: accepted for parity with the other backends; this path is always
            deterministic (the kernel sums in a fixed order that does not depend on the thread
            count; the torch levels below it are reproducible at a fixed thread count).

    Returns:
        ``(n, prod(q_shapes))`` in the cores' dtype.

    Raises:
        ImportError: numba is missing or the kernels do not work here (see :func:`available`).
        ValueError: fewer than 2 cores, or cores not on the CPU.

    Example:
        >>> cores = [torch.randn(3, 1, 2, 4), torch.randn(2, 4, 2, 1)]
        >>> tt_lookup(cores, torch.tensor([5, 0, 5]), (3, 2), (2, 2)).shape
        torch.Size([3, 4])
    """
    del deterministic  # always deterministic, see the docstring
    if len(cores) < 2:
        raise ValueError(f"the fused kernel needs d >= 2 cores, got {len(cores)}")
    if any(core.device.type != "cpu" for core in cores):
        devices = sorted({str(core.device) for core in cores})
        raise ValueError(f"the fused CPU kernel needs CPU cores, got cores on {devices}")
    dtype = cores[0].dtype
    if dtype not in SUPPORTED_DTYPES or any(core.dtype != dtype for core in cores):
        return torch_tt_lookup(cores, ids, p_shapes, q_shapes)
    if not available():
        raise ImportError(
            "tt_gnn.kernels.cpu_fused needs a working numba (pip install numba); "
            "use tt_gnn.ops.tt_lookup without it"
        )
    if ids.numel() == 0:
        return cores[0].new_zeros(0, math.prod(q_shapes))
    return _FusedLookup.apply(ids, tuple(int(p) for p in p_shapes), *cores)


class _FusedLookup(torch.autograd.Function):
    """Every level ``k >= 1`` by the fused kernel; level 0 is a gather of core 0's slices."""

    @staticmethod
    def forward(ctx, ids: torch.Tensor, p_shapes: tuple[int, ...], *cores: torch.Tensor):
        levels = plan_prefixes(ids, p_shapes)
        with record_function("tt_gnn.cpu_fused.forward"):
            first = cores[0].detach()
            partials = [first.reshape(first.shape[0], *first.shape[2:])[levels.digits[0]]]
            plans = []
            for level in range(1, len(cores)):
                plan = _plan_rows(levels.parents[level], partials[-1].shape[0], cores[level])
                product = _level_forward(partials[-1], cores[level], levels.digits[level], plan)
                partials.append(product.view(product.shape[0], -1, cores[level].shape[3]))
                plans.append(plan)
        ctx.levels, ctx.plans, ctx.num_cores = levels, plans, len(cores)
        ctx.save_for_backward(*cores, *partials[:-1])
        return partials[-1].view(ids.shape[0], -1)

    @staticmethod
    def backward(ctx, grad_rows: torch.Tensor):
        saved = ctx.saved_tensors
        cores, partials = saved[: ctx.num_cores], saved[ctx.num_cores :]
        needs = ctx.needs_input_grad[2:]
        grads: list[torch.Tensor | None] = [None] * ctx.num_cores
        grad = grad_rows.detach().contiguous()
        with record_function("tt_gnn.cpu_fused.backward"):
            for level in range(ctx.num_cores - 1, 0, -1):
                need_below = any(needs[:level])
                if not (need_below or needs[level]):
                    continue
                grad, grads[level] = _level_backward(
                    partials[level - 1],
                    cores[level],
                    ctx.levels.digits[level],
                    ctx.plans[level - 1],
                    grad,
                    need_below,
                    needs[level],
                )
                if not need_below:
                    break
            if needs[0]:
                # level 0's terms are distinct first digits: one slice each, no collisions
                first = cores[0]
                grads[0] = torch.zeros_like(first)
                grads[0].view(first.shape[0], -1)[ctx.levels.digits[0]] = grad.view(
                    grad.shape[0], -1
                )
        return (None, None, *grads)


# -- planning and running a level ---------------------------------------------------------


@dataclass
class _RowPlan:
    """Rows grouped by prefix and cut into chunks (int64 numpy arrays).

    Attributes:
        order: ``(n,)`` the rows sorted by prefix (stable: input order within a prefix).
        offsets: ``(U + 1,)`` prefix ``u`` owns ``order[offsets[u]:offsets[u + 1]]``.
        chunk_prefixes: ``(K + 1,)`` chunk ``k`` owns the prefixes from ``chunk_prefixes[k]``
            to ``chunk_prefixes[k + 1] - 1``.
    """

    order: np.ndarray
    offsets: np.ndarray
    chunk_prefixes: np.ndarray

    @property
    def num_chunks(self) -> int:
        return self.chunk_prefixes.shape[0] - 1


def _plan_rows(parents: torch.Tensor, num_prefixes: int, core: torch.Tensor) -> _RowPlan:
    """Group a level's terms by parent (``parents``: ``(T,)`` indices into ``num_prefixes``) and
    cut them into chunks; ``core`` ``(p, R, q, R')`` sizes the per-chunk gradient buffers."""
    kernels = compiled_kernels()
    order, offsets = kernels.group_rows(parents.numpy(), num_prefixes)
    num_slices, rank, width, next_rank = core.shape
    buffer_elements = num_slices * rank * _padded(width * next_rank, _lanes(core.dtype))
    max_chunks = max(1, min(_MAX_CHUNKS, _MAX_BUFFER_ELEMENTS // buffer_elements))
    rows_per_chunk = max(_MIN_CHUNK_ROWS, -(-parents.shape[0] // max_chunks))
    chunk_prefixes = kernels.cut_chunks(offsets, rows_per_chunk)
    return _RowPlan(order=order, offsets=offsets, chunk_prefixes=chunk_prefixes)


def _lanes(dtype: torch.dtype) -> int:
    """Lanes of one SIMD vector of ``dtype``."""
    return _VECTOR_BYTES // torch.empty((), dtype=dtype).element_size()


def _padded(length: int, lanes: int) -> int:
    """``length`` rounded up to whole vectors."""
    return -(-length // lanes) * lanes


def _padded_rows(matrices: torch.Tensor) -> torch.Tensor:
    """``(p, a, b)`` copied into zeros of ``(p, a, b')``, ``b'`` a whole number of vectors."""
    lanes = _lanes(matrices.dtype)
    padded = matrices.new_zeros(*matrices.shape[:2], _padded(matrices.shape[2], lanes))
    padded[:, :, : matrices.shape[2]] = matrices
    return padded


def _level_forward(
    partial: torch.Tensor, core: torch.Tensor, digits: torch.Tensor, plan: _RowPlan
) -> torch.Tensor:
    """``out[t] = partial[u(t)] @ M[digits[t]]``: partial ``(U, Q, R)``, core ``(p, R, q, R')``
    viewed as ``M`` ``(p, R, q R')``, out ``(T, Q * q R')``."""
    _, num_columns, rank = partial.shape
    num_slices, _, width, next_rank = core.shape
    width *= next_rank
    matrices = _padded_rows(core.detach().reshape(num_slices, rank, width))
    out = partial.new_empty(digits.shape[0], num_columns * width)
    shape = (num_columns, rank, width)
    arguments = (_flat(partial), _flat(matrices), digits.numpy(), _flat(out), shape)
    _run_chunks(compiled_kernels().forward, arguments, plan)
    return out


def _level_backward(
    partial: torch.Tensor,
    core: torch.Tensor,
    digits: torch.Tensor,
    plan: _RowPlan,
    grad_out: torch.Tensor,
    need_partial: bool,
    need_core: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Gradients of :func:`_level_forward` w.r.t. the partial and the core, from ``grad_out``
    (contiguous, ``(T, Q * q R')``)."""
    _, num_columns, rank = partial.shape
    num_slices, _, width, next_rank = core.shape
    width *= next_rank
    core_t = _padded_rows(core.detach().reshape(num_slices, rank, width).transpose(1, 2))
    grad_partial = partial.new_empty(partial.shape if need_partial else (0,))
    padded_width = _padded(width, _lanes(partial.dtype))
    buffers = partial.new_zeros(
        plan.num_chunks * num_slices * rank * padded_width if need_core else 0
    )
    shape = (num_columns, rank, width)
    arguments = (
        _flat(partial),
        _flat(core_t),
        digits.numpy(),
        _flat(grad_out),
        _flat(grad_partial),
        buffers.numpy(),
        shape,
        need_partial,
        need_core,
    )
    _run_chunks(compiled_kernels().backward, arguments, plan)
    if not need_core:
        return (grad_partial if need_partial else None), None
    grad_core = core.new_empty(core.shape)
    compiled_kernels().sum_buffers(buffers.numpy(), _flat(grad_core), plan.num_chunks, width)
    return (grad_partial if need_partial else None), grad_core


def _flat(tensor: torch.Tensor) -> np.ndarray:
    """A 1-D numpy view of a contiguous CPU tensor (no copy)."""
    return tensor.detach().contiguous().numpy().reshape(-1)


def _run_chunks(kernel: Callable[..., None], arguments: tuple[Any, ...], plan: _RowPlan) -> None:
    """``kernel(*arguments, order, offsets, chunk_prefixes, first, last)`` on ranges of the
    plan's chunks, one range per thread (``torch.get_num_threads()`` at most)."""
    num_chunks = plan.num_chunks
    arguments = (*arguments, plan.order, plan.offsets, plan.chunk_prefixes)
    num_threads = max(1, min(torch.get_num_threads(), num_chunks))
    bounds = [num_chunks * thread // num_threads for thread in range(num_threads + 1)]
    if num_threads == 1:
        kernel(*arguments, 0, num_chunks)
        return
    pool = _thread_pool(num_threads - 1)
    futures = [
        pool.submit(kernel, *arguments, bounds[thread], bounds[thread + 1])
        for thread in range(1, num_threads)
    ]
    kernel(*arguments, bounds[0], bounds[1])
    for future in futures:
        future.result()


_pool_lock = threading.Lock()
_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _thread_pool(num_workers: int) -> ThreadPoolExecutor:
    """A pool of ``num_workers`` threads for this process (a fresh one after ``fork``)."""
    key = (os.getpid(), num_workers)
    with _pool_lock:
        if key not in _pools:
            _pools[key] = ThreadPoolExecutor(num_workers, thread_name_prefix="tt_gnn_cpu_fused")
        return _pools[key]
