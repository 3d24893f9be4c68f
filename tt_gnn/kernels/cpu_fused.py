"""A fused CPU kernel (numba) for the last level of the TT lookup.

The torch path (:mod:`tt_gnn.ops`) computes the partial product ``X[u]`` of every distinct id
prefix once, then contracts the last core row by row: batched ``16 x 16 x 8`` matmuls over
gathered copies of each row's prefix and core slice, and ``index_add_`` scatters backward.
That last level is most of a training step. Here it is one pass over the rows, grouped by
prefix, with no per-row temporaries::

    forward    out[n]      = X[u(n)] @ M[c(n)]          (Q, R) @ (R, C)
    backward   grad_X[u]  += grad[n] @ M[c(n)]^T        (Q, C) @ (C, R)
               grad_M[c]  += X[u(n)]^T @ grad[n]        (R, Q) @ (Q, C)

where ``M = G_d`` viewed as ``(p_d, R, C)`` (``R = r_{d-1}``, ``C = q_d``), ``u(n)`` is the
row's prefix and ``c(n)`` its last digit. Levels ``0 .. d-2`` (the distinct prefixes, their
partial products and their backward pass) are the torch path's, imported from :mod:`tt_gnn.ops`.

Design:

- **Rows grouped by prefix.** A stable counting sort of the rows by prefix gives each prefix its
  rows. They are cut into chunks of whole prefixes (at least ``_MIN_CHUNK_ROWS`` rows each; how
  many depends only on the batch and the shapes). A thread owns a run of chunks, so each
  ``grad_X[u]`` is written by one thread (no race, no zero-filled scatter target) while the
  prefix's partial stays in L1.
- **Core gradient.** Each chunk accumulates ``grad_M`` in its own buffer; the buffers are summed
  in chunk order. Nothing depends on the number of threads or on scheduling: the kernel's
  results are bitwise reproducible, also across thread counts. (The levels below run torch ops,
  reproducible from run to run at a fixed thread count.)
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

# -- coupling to the torch path (tt_gnn.ops): prefix levels, levels 0..d-2 forward and backward --
from tt_gnn.kernels.plan import PrefixPlan, plan_prefixes
from tt_gnn.ops import _backward_cores as torch_prefix_backward
from tt_gnn.ops import _forward_partials as torch_prefix_forward
from tt_gnn.ops import tt_lookup as torch_tt_lookup

__all__ = ["available", "tt_lookup"]

#: Dtypes the kernels compute in; others run the torch path.
SUPPORTED_DTYPES = (torch.float32, torch.float64)
#: Bytes per SIMD vector (AVX2; LLVM splits or keeps it on other targets).
_VECTOR_BYTES = 32
#: Rows per chunk at least, and chunks at most. The chunking (hence the order in which the core
#: gradient is summed) depends only on the batch, never on the number of threads.
_MIN_CHUNK_ROWS = 4096
_MAX_CHUNKS = 64
#: All per-chunk core-gradient buffers together hold at most this many elements (fewer chunks
#: when the last core is large).
_MAX_BUFFER_ELEMENTS = 1 << 22
#: Rows ahead (in prefix order) whose output or gradient row is prefetched.
_PREFETCH_ROWS = 4


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
        probe = _numba().probe
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
    """Rows ``ids`` of the TT table, the last level computed by the fused CPU kernel.

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
    """Levels ``0 .. d-2`` by the torch path, the last level by the fused kernel."""

    @staticmethod
    def forward(ctx, ids: torch.Tensor, p_shapes: tuple[int, ...], *cores: torch.Tensor):
        levels = plan_prefixes(ids, p_shapes)
        partials = torch_prefix_forward(cores[:-1], levels)
        with record_function("tt_gnn.cpu_fused.forward"):
            plan = _plan_rows(levels, partials[-1].shape[0], cores[-1])
            rows = _last_level_forward(partials[-1], cores[-1], levels.digits[-1], plan)
        ctx.levels, ctx.plan, ctx.num_cores = levels, plan, len(cores)
        ctx.save_for_backward(*cores, *partials)
        return rows

    @staticmethod
    def backward(ctx, grad_rows: torch.Tensor):
        saved = ctx.saved_tensors
        cores, partials = saved[: ctx.num_cores], saved[ctx.num_cores :]
        need_prefix = any(ctx.needs_input_grad[2:-1])
        with record_function("tt_gnn.cpu_fused.backward"):
            grad_partial, grad_last_core = _last_level_backward(
                partials[-1],
                cores[-1],
                ctx.levels.digits[-1],
                ctx.plan,
                grad_rows.detach().contiguous(),
                need_prefix,
                ctx.needs_input_grad[-1],
            )
        grads: list[torch.Tensor | None] = [None] * ctx.num_cores
        if need_prefix:
            grads[:-1] = torch_prefix_backward(cores[:-1], partials, ctx.levels, grad_partial)
        grads[-1] = grad_last_core
        return (None, None, *grads)


# -- planning and running the last level ---------------------------------------------------------


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


def _plan_rows(levels: PrefixPlan, num_prefixes: int, last_core: torch.Tensor) -> _RowPlan:
    kernels = _numba()
    parents = levels.parents[-1].numpy()
    order, offsets = kernels.group_rows(parents, num_prefixes)
    num_slices, rank, width, _ = last_core.shape
    buffer_elements = num_slices * rank * _padded(width, _lanes(last_core.dtype))
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


def _last_level_forward(
    partial: torch.Tensor, last_core: torch.Tensor, digits: torch.Tensor, plan: _RowPlan
) -> torch.Tensor:
    """``out[n] = partial[u(n)] @ M[digits[n]]``: partial ``(U, Q, R)``, out ``(n, Q * C)``."""
    _, num_columns, rank = partial.shape
    num_slices, _, width, _ = last_core.shape
    core = _padded_rows(last_core.detach().reshape(num_slices, rank, width))
    out = partial.new_empty(digits.shape[0], num_columns * width)
    shape = (num_columns, rank, width)
    arguments = (_flat(partial), _flat(core), digits.numpy(), _flat(out), shape)
    _run_chunks(_numba().forward, arguments, plan)
    return out


def _last_level_backward(
    partial: torch.Tensor,
    last_core: torch.Tensor,
    digits: torch.Tensor,
    plan: _RowPlan,
    grad_rows: torch.Tensor,
    need_partial: bool,
    need_core: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Gradients of :func:`_last_level_forward` w.r.t. the partial and the last core."""
    _, num_columns, rank = partial.shape
    num_slices, _, width, _ = last_core.shape
    core_t = _padded_rows(last_core.detach().reshape(num_slices, rank, width).transpose(1, 2))
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
        _flat(grad_rows),
        _flat(grad_partial),
        buffers.numpy(),
        shape,
        need_partial,
        need_core,
    )
    _run_chunks(_numba().backward, arguments, plan)
    if not need_core:
        return (grad_partial if need_partial else None), None
    grad_core = last_core.new_empty(last_core.shape)
    _numba().sum_buffers(buffers.numpy(), _flat(grad_core), plan.num_chunks, width)
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


# -- numba: SIMD vectors, a small matmul, the kernels (defined on first use) ---------------------

# Set by _numba(). The cached kernels reach these as module globals: numba resolves globals when
# it compiles, whereas a closure over jitted functions would change numba's cache key (which
# hashes closure contents) in every process.
_vector_like: Any = None
_vector_width: Any = None
_prefetch: Any = None
_matmul: Any = None


@functools.cache
def _numba() -> Any:
    """Import numba; define the SIMD vector type and its operations, the matmul and the kernels.

    Returns a namespace with the jitted ``forward``, ``backward``, ``group_rows``, ``cut_chunks``,
    ``sum_buffers`` and ``probe``.
    """
    from types import SimpleNamespace

    import numba
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic, models, register_model

    global _vector_like, _vector_width, _prefetch, _matmul

    class SimdVector(types.Type):
        """An LLVM vector ``<width x dtype>``, held in a register."""

        def __init__(self, dtype: Any, width: int) -> None:
            self.dtype, self.width = dtype, width
            super().__init__(name=f"tt_gnn.SimdVector({dtype}, {width})")

    @register_model(SimdVector)
    class SimdVectorModel(models.PrimitiveModel):
        def __init__(self, dmm: Any, fe_type: SimdVector) -> None:
            element = dmm.lookup(fe_type.dtype).get_value_type()
            super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.width))

    int32 = ir.IntType(32)

    def pointer_to(context, builder, array_type, array, offset, pointee):
        """``&array[offset]`` (no negative-index wrap-around) as a pointer to ``pointee``."""
        data = context.make_array(array_type)(context, builder, array).data
        return builder.bitcast(builder.gep(data, [offset]), pointee.as_pointer())

    def alignment(context, array_type):
        return context.get_abi_sizeof(context.get_value_type(array_type.dtype))

    def llvm_suffix(vector):
        return f"v{vector.count}{vector.element.intrinsic_name}"

    def splat(builder, vector, value):
        single = builder.insert_element(ir.Constant(vector, ir.Undefined), value, int32(0))
        return builder.shuffle_vector(
            single, single, ir.Constant(ir.VectorType(int32, vector.count), [0] * vector.count)
        )

    def first_lanes(builder, width, count):
        """``<width x i1>`` mask of lanes ``0 .. count-1``."""
        lanes = ir.Constant(ir.VectorType(count.type, width), list(range(width)))
        return builder.icmp_signed("<", lanes, splat(builder, lanes.type, count))

    def masked_intrinsic(builder, name, vector, pointer):
        mask = ir.VectorType(ir.IntType(1), vector.count)
        if name == "load":
            signature = ir.FunctionType(vector, [pointer.type, int32, mask, vector])
        else:
            signature = ir.FunctionType(ir.VoidType(), [vector, pointer.type, int32, mask])
        return cgutils.get_or_insert_function(
            builder.module, signature, f"llvm.masked.{name}.{llvm_suffix(vector)}.p0"
        )

    @intrinsic
    def vector_like(typingctx, array):
        """A zero vector of ``array``'s dtype, ``_VECTOR_BYTES`` wide."""
        vector_type = SimdVector(array.dtype, _VECTOR_BYTES * 8 // array.dtype.bitwidth)

        def codegen(context, builder, signature, args):
            return ir.Constant(context.get_value_type(vector_type), None)

        return vector_type(array), codegen

    @intrinsic
    def vector_width(typingctx, like):
        """The number of lanes of ``like``."""

        def codegen(context, builder, signature, args):
            return ir.Constant(ir.IntType(64), like.width)

        return types.int64(like), codegen

    @intrinsic
    def broadcast(typingctx, like, array, offset):
        """A vector like ``like`` with every lane ``array[offset]``."""

        def codegen(context, builder, signature, args):
            vector = context.get_value_type(like)
            pointer = pointer_to(context, builder, array, args[1], args[2], vector.element)
            value = builder.load(pointer, align=alignment(context, array))
            return splat(builder, vector, value)

        return like(like, array, offset), codegen

    @intrinsic
    def load(typingctx, like, array, offset, count):
        """``array[offset : offset + count]`` into the first lanes of a vector like ``like``
        (zeros in the others; ``count`` at most its width)."""

        def codegen(context, builder, signature, args):
            vector = context.get_value_type(like)
            pointer = pointer_to(context, builder, array, args[1], args[2], vector)
            align = alignment(context, array)
            full = builder.icmp_signed("==", args[3], ir.Constant(args[3].type, like.width))
            with builder.if_else(full, likely=True) as (whole, part):
                with whole:
                    whole_value = builder.load(pointer, align=align)
                    whole_block = builder.block
                with part:
                    function = masked_intrinsic(builder, "load", vector, pointer)
                    mask = first_lanes(builder, like.width, args[3])
                    part_value = builder.call(
                        function, [pointer, int32(align), mask, ir.Constant(vector, None)]
                    )
                    part_block = builder.block
            value = builder.phi(vector)
            value.add_incoming(whole_value, whole_block)
            value.add_incoming(part_value, part_block)
            return value

        return like(like, array, offset, count), codegen

    @intrinsic
    def store(typingctx, array, offset, value, count):
        """``array[offset : offset + count] = value[:count]``."""

        def codegen(context, builder, signature, args):
            vector = args[2].type
            pointer = pointer_to(context, builder, array, args[0], args[1], vector)
            align = alignment(context, array)
            full = builder.icmp_signed("==", args[3], ir.Constant(args[3].type, value.width))
            with builder.if_else(full, likely=True) as (whole, part):
                with whole:
                    builder.store(args[2], pointer, align=align)
                with part:
                    function = masked_intrinsic(builder, "store", vector, pointer)
                    mask = first_lanes(builder, value.width, args[3])
                    builder.call(function, [args[2], pointer, int32(align), mask])
            return context.get_dummy_value()

        return types.none(array, offset, value, count), codegen

    @intrinsic
    def fma(typingctx, a, b, c):
        """``a * b + c`` lane by lane with one rounding (``llvm.fma``)."""

        def codegen(context, builder, signature, args):
            vector = args[0].type
            function = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(vector, [vector] * 3),
                f"llvm.fma.{llvm_suffix(vector)}",
            )
            return builder.call(function, list(args))

        return a(a, b, c), codegen

    @intrinsic
    def prefetch(typingctx, array, offset, for_write):
        """Hint: fetch the cache line of ``array[offset]``, to read or (``for_write``, a
        compile-time constant) to write."""
        if not isinstance(for_write, types.BooleanLiteral):
            return None

        def codegen(context, builder, signature, args):
            byte = ir.IntType(8)
            pointer = pointer_to(context, builder, array, args[0], args[1], byte)
            function = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(ir.VoidType(), [byte.as_pointer(), int32, int32, int32]),
                "llvm.prefetch.p0",
            )
            write, locality, data_cache = int(for_write.literal_value), 3, 1
            builder.call(function, [pointer, int32(write), int32(locality), int32(data_cache)])
            return context.get_dummy_value()

        return types.none(array, offset, for_write), codegen

    jit = functools.partial(numba.njit, nogil=True, cache=_numba_can_cache(numba))
    # Inlined by numba into its caller: a call would pass arrays by reference, paying atomic
    # reference-count updates per call.
    inline = functools.partial(numba.njit, nogil=True, inline="always")

    @inline
    def matmul_rows8(like, left, left_at, right, right_at, out, out_at, inner, count, accumulate):
        """Rows ``0 .. 7`` of ``out (+)= left @ right`` for one vector of columns.

        ``left[i, t]`` is at ``left_offset + i * left_stride + t * left_step`` for ``left_at =
        (left_offset, left_stride, left_step)``, ``t < inner``; row ``t`` of ``right`` (``count``
        lanes) at ``right_offset + t * right_stride``; row ``i`` of ``out`` likewise.
        """
        left_offset, left_stride, left_step = left_at
        right_offset, right_stride = right_at
        out_offset, out_stride = out_at
        if accumulate:
            acc0 = load(like, out, out_offset, count)
            acc1 = load(like, out, out_offset + out_stride, count)
            acc2 = load(like, out, out_offset + 2 * out_stride, count)
            acc3 = load(like, out, out_offset + 3 * out_stride, count)
            acc4 = load(like, out, out_offset + 4 * out_stride, count)
            acc5 = load(like, out, out_offset + 5 * out_stride, count)
            acc6 = load(like, out, out_offset + 6 * out_stride, count)
            acc7 = load(like, out, out_offset + 7 * out_stride, count)
        else:
            acc0 = acc1 = acc2 = acc3 = acc4 = acc5 = acc6 = acc7 = like
        for t in range(inner):
            vector = load(like, right, right_offset + t * right_stride, count)
            at = left_offset + t * left_step
            acc0 = fma(broadcast(like, left, at), vector, acc0)
            acc1 = fma(broadcast(like, left, at + left_stride), vector, acc1)
            acc2 = fma(broadcast(like, left, at + 2 * left_stride), vector, acc2)
            acc3 = fma(broadcast(like, left, at + 3 * left_stride), vector, acc3)
            acc4 = fma(broadcast(like, left, at + 4 * left_stride), vector, acc4)
            acc5 = fma(broadcast(like, left, at + 5 * left_stride), vector, acc5)
            acc6 = fma(broadcast(like, left, at + 6 * left_stride), vector, acc6)
            acc7 = fma(broadcast(like, left, at + 7 * left_stride), vector, acc7)
        store(out, out_offset, acc0, count)
        store(out, out_offset + out_stride, acc1, count)
        store(out, out_offset + 2 * out_stride, acc2, count)
        store(out, out_offset + 3 * out_stride, acc3, count)
        store(out, out_offset + 4 * out_stride, acc4, count)
        store(out, out_offset + 5 * out_stride, acc5, count)
        store(out, out_offset + 6 * out_stride, acc6, count)
        store(out, out_offset + 7 * out_stride, acc7, count)

    @inline
    def matmul_row(like, left, left_at, right, right_at, out, out_offset, inner, count,
                   accumulate):  # fmt: skip
        """Row 0 of ``out (+)= left @ right``; see :func:`matmul_rows8`."""
        left_offset, _, left_step = left_at
        right_offset, right_stride = right_at
        acc = load(like, out, out_offset, count) if accumulate else like
        for t in range(inner):
            vector = load(like, right, right_offset + t * right_stride, count)
            acc = fma(broadcast(like, left, left_offset + t * left_step), vector, acc)
        store(out, out_offset, acc, count)

    @inline
    def matmul(like, left, left_at, right, right_at, out, out_at, shape, accumulate):
        """``out (+)= left @ right`` for ``shape = (rows, inner, columns)``, the operands laid
        out as in :func:`matmul_rows8`, in vectors like ``like`` along the columns."""
        num_rows, inner, num_columns = shape
        left_offset, left_stride, left_step = left_at
        right_offset, right_stride = right_at
        out_offset, out_stride = out_at
        width = vector_width(like)
        for column in range(0, num_columns, width):
            count = min(width, num_columns - column)
            row_right_at = (right_offset + column, right_stride)
            row = 0
            while row + 8 <= num_rows:
                row_left_at = (left_offset + row * left_stride, left_stride, left_step)
                row_out_at = (out_offset + row * out_stride + column, out_stride)
                matmul_rows8(like, left, row_left_at, right, row_right_at, out, row_out_at,
                             inner, count, accumulate)  # fmt: skip
                row += 8
            while row < num_rows:
                row_left_at = (left_offset + row * left_stride, left_stride, left_step)
                row_out_offset = out_offset + row * out_stride + column
                matmul_row(like, left, row_left_at, right, row_right_at, out, row_out_offset,
                           inner, count, accumulate)  # fmt: skip
                row += 1

    _vector_like, _vector_width, _prefetch, _matmul = vector_like, vector_width, prefetch, matmul

    @jit
    def probe(left, right, out):
        """``out = left @ right`` for ``(9, 3) @ (3, 10)`` float32: an 8-row block, a single row,
        a whole vector and a part one."""
        _matmul(_vector_like(left), left, (0, 3, 1), right, (0, 10), out, (0, 10), (9, 3, 10),
                False)  # fmt: skip

    @jit
    def forward(partial, core, digits, out, shape, order, offsets, chunk_prefixes, first, last):
        """``out[n] = partial[u] @ core[digits[n]]`` for the rows ``n`` of the prefixes ``u`` of
        chunks ``first .. last-1``.

        ``shape = (Q, R, C)``; ``partial`` is ``(U, Q, R)``, ``core`` ``(p, R, C')`` with ``C'``
        whole vectors, ``out`` ``(n, Q * C)``; all flat.
        """
        num_columns, rank, width = shape
        like = _vector_like(partial)
        padded_width = -(-width // _vector_width(like)) * _vector_width(like)
        row_size = num_columns * width
        line = max(1, 64 // partial.itemsize)
        end = offsets[chunk_prefixes[last]]
        for prefix in range(chunk_prefixes[first], chunk_prefixes[last]):
            left_at = (prefix * num_columns * rank, rank, 1)
            for position in range(offsets[prefix], offsets[prefix + 1]):
                if position + _PREFETCH_ROWS < end:
                    ahead = order[position + _PREFETCH_ROWS] * row_size
                    for element in range(0, row_size, line):
                        _prefetch(out, ahead + element, True)
                row = order[position]
                right_at = (digits[row] * rank * padded_width, padded_width)
                _matmul(like, partial, left_at, core, right_at, out, (row * row_size, width),
                        (num_columns, rank, width), False)  # fmt: skip

    @jit
    def backward(partial, core_t, digits, grad, grad_partial, buffers, shape, need_partial,
                 need_core, order, offsets, chunk_prefixes, first, last):  # fmt: skip
        """For the rows of chunks ``first .. last-1``: ``grad_partial[u] = sum grad[n] @
        core[digits[n]]^T`` over prefix ``u``'s rows, and ``buffers[chunk, digits[n]] +=
        partial[u]^T @ grad[n]``.

        ``core_t`` is the last core transposed, ``(p, C, R')``, and ``buffers`` is ``(K, p, R,
        C')``, with ``R'``, ``C'`` whole vectors; ``grad`` is ``(n, Q * C)``; all flat.
        """
        num_columns, rank, width = shape
        like = _vector_like(partial)
        lanes = _vector_width(like)
        padded_width = -(-width // lanes) * lanes
        padded_rank = -(-rank // lanes) * lanes
        num_slices = core_t.shape[0] // (width * padded_rank)
        partial_size = num_columns * rank
        row_size = num_columns * width
        line = max(1, 64 // partial.itemsize)
        end = offsets[chunk_prefixes[last]]
        for chunk in range(first, last):
            buffer_offset = chunk * num_slices * rank * padded_width
            for prefix in range(chunk_prefixes[chunk], chunk_prefixes[chunk + 1]):
                partial_offset = prefix * partial_size
                for position in range(offsets[prefix], offsets[prefix + 1]):
                    if position + _PREFETCH_ROWS < end:
                        ahead = order[position + _PREFETCH_ROWS] * row_size
                        for element in range(0, row_size, line):
                            _prefetch(grad, ahead + element, False)
                    row = order[position]
                    digit = digits[row]
                    if need_partial:  # (Q, C) @ (C, R) into grad_partial[prefix], then added
                        core_at = (digit * width * padded_rank, padded_rank)
                        _matmul(like, grad, (row * row_size, width, 1), core_t, core_at,
                                grad_partial, (partial_offset, rank), (num_columns, width, rank),
                                position > offsets[prefix])  # fmt: skip
                    if need_core:  # (R, Q) @ (Q, C) added into buffers[chunk, digit]
                        _matmul(like, partial, (partial_offset, 1, rank), grad,
                                (row * row_size, width), buffers,
                                (buffer_offset + digit * rank * padded_width, padded_width),
                                (rank, num_columns, width), True)  # fmt: skip

    @jit
    def group_rows(parents, num_prefixes):
        """Stable counting sort of rows by prefix: ``(order, offsets)``."""
        offsets = np.zeros(num_prefixes + 1, np.int64)
        for row in range(parents.shape[0]):
            offsets[parents[row] + 1] += 1
        for prefix in range(num_prefixes):
            offsets[prefix + 1] += offsets[prefix]
        cursor = offsets[:-1].copy()
        order = np.empty(parents.shape[0], np.int64)
        for row in range(parents.shape[0]):
            order[cursor[parents[row]]] = row
            cursor[parents[row]] += 1
        return order, offsets

    @jit
    def cut_chunks(offsets, rows_per_chunk):
        """Chunk bounds over the prefixes: a chunk closes once it holds ``rows_per_chunk`` rows."""
        num_prefixes = offsets.shape[0] - 1
        bounds = [0]
        for prefix in range(num_prefixes):
            if offsets[prefix + 1] - offsets[bounds[-1]] >= rows_per_chunk:
                bounds.append(prefix + 1)
        if bounds[-1] != num_prefixes:
            bounds.append(num_prefixes)
        return np.array(bounds, np.int64)

    @jit
    def sum_buffers(buffers, total, num_chunks, width):
        """``total[i, j] = sum_k buffers[k, i, j]`` in chunk order, for ``j < width``; the rows of
        ``buffers`` are padded to whole vectors."""
        lanes = _vector_width(_vector_like(buffers))
        padded_width = -(-width // lanes) * lanes
        num_rows = total.shape[0] // width
        chunk_size = num_rows * padded_width
        for row in range(num_rows):
            for column in range(width):
                accumulated = buffers[row * padded_width + column]
                for chunk in range(1, num_chunks):
                    accumulated += buffers[chunk * chunk_size + row * padded_width + column]
                total[row * width + column] = accumulated

    return SimpleNamespace(
        probe=probe,
        forward=forward,
        backward=backward,
        group_rows=group_rows,
        cut_chunks=cut_chunks,
        sum_buffers=sum_buffers,
    )


def _numba_can_cache(numba: Any) -> bool:
    """Whether numba can cache compiled functions on disk here (a writable cache directory)."""

    def probe() -> None:
        pass

    try:
        numba.njit(cache=True)(probe)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return False
    return True
