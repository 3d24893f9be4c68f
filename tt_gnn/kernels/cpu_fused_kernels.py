"""The numba side of :mod:`tt_gnn.kernels.cpu_fused`: SIMD vector intrinsics, a small matmul
and the per-level forward/backward kernels, compiled on first use (:func:`compiled_kernels`).

Importing this module imports neither numba nor compiles anything; see
:mod:`tt_gnn.kernels.cpu_fused` for the design.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

__all__ = ["compiled_kernels"]

#: Bytes per SIMD vector (AVX2; LLVM splits or keeps it on other targets).
_VECTOR_BYTES = 32
#: Rows ahead (in prefix order) whose output or gradient row is prefetched.
_PREFETCH_ROWS = 4

# Set by compiled_kernels(). The cached kernels reach these as module globals: numba resolves
# globals when it compiles, whereas a closure over jitted functions would change numba's cache
# key (which hashes closure contents) in every process.
_vector_like: Any = None
_vector_width: Any = None
_prefetch: Any = None
_matmul: Any = None


@functools.cache
def compiled_kernels() -> Any:
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
