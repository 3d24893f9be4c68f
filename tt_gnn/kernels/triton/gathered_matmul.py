"""One Triton kernel behind every step of the TT lookup: a gathered, optionally reduced, matmul.

Every forward level and every backward step of the lookup has the form

    out[o] (+)= sum over terms t of  X[x_row(t)] @ Y[y_row(t)]

with ``X`` of shape ``(rows_x, M, K)``, ``Y`` of shape ``(rows_y, K, N)`` and ``out`` of shape
``(rows_out, M, N)``, where the operands may be strided views (a transposed core is just other
strides). Three ways to place a term's product:

- ``"none"``: one term per output row, ``out[t] = X[x_row(t)] @ Y[y_row(t)]`` (forward levels);
- ``"atomic"``: ``out[out_rows[t]] += ...`` with fp32 atomic adds (fast, order-dependent);
- ``"segments"``: terms grouped into segments ``order[starts[s]:starts[s+1]]`` that share one
  output row ``out_rows[s]``; one program sums its segment in a fixed order in registers and
  stores once (deterministic: bitwise the same result on every run).

Each program owns one ``BLOCK_M x BLOCK_N`` output tile of one term (or segment) and keeps the fp32
accumulator in registers while it loops over ``K`` in ``BLOCK_K`` steps (and over the segment's
terms). Blocks are powers of two, at least 16 (``tl.dot`` needs that on GPUs); masks zero the
padding, so ranks such as 1 or 7 and odd ``q`` work.

This module imports Triton at import time; import it only when Triton is installed.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["INTERPRETED", "gathered_matmul", "launch_config", "segment_sum", "segments_of"]

#: Whether the kernel below was built for Triton's CPU interpreter (``TRITON_INTERPRET=1`` when
#: this module was first imported); then it runs on CPU tensors, otherwise on CUDA tensors only.
INTERPRETED: bool = bool(triton.knobs.runtime.interpret)

_REDUCTIONS = {"none": 0, "atomic": 1, "segments": 2}
# Tiles and warps chosen so that no variant spills or needs more than 128 registers per thread
# on sm_80/sm_90 (checked offline with ptxas in tests/test_kernels.py); speed is untuned.
_MAX_BLOCK_M = 32
_MAX_BLOCK_N = 64
_MAX_BLOCK_K = 16


@triton.jit
def _round_to_bfloat16(values):
    """fp32 -> bf16, round to nearest even, NaN kept. Written out because Triton 3.9's CPU
    interpreter truncates in ``.to(tl.bfloat16)``; the same code then runs on both."""
    bits = values.to(tl.uint32, bitcast=True)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    rounded = tl.where(values != values, 0x7FC0, rounded)
    return rounded.to(tl.uint16).to(tl.bfloat16, bitcast=True)


@triton.jit
def _gathered_matmul_kernel(
    x_ptr,
    y_ptr,
    out_ptr,
    x_rows_ptr,
    y_rows_ptr,
    out_rows_ptr,
    order_ptr,
    starts_ptr,
    size_m,
    size_n,
    size_k,
    x_stride_row,
    x_stride_m,
    x_stride_k,
    y_stride_row,
    y_stride_k,
    y_stride_n,
    out_stride_row,
    out_stride_m,
    out_stride_n,
    REDUCTION: tl.constexpr,
    X_ROW_IS_TERM: tl.constexpr,
    Y_ROW_IS_TERM: tl.constexpr,
    HAS_ORDER: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    group = tl.program_id(0).to(tl.int64)
    tile = tl.program_id(1)
    tiles_n = tl.cdiv(size_n, BLOCK_N)
    offs_m = (tile // tiles_n) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = (tile % tiles_n) * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_k = tl.arange(0, BLOCK_K)
    mask_m = offs_m < size_m
    mask_n = offs_n < size_n

    if REDUCTION == 2:
        first = tl.load(starts_ptr + group)
        last = tl.load(starts_ptr + group + 1)
    else:
        first = group
        last = group + 1

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for position in range(first, last):
        if HAS_ORDER:
            term = tl.load(order_ptr + position)
        else:
            term = position
        if X_ROW_IS_TERM:
            x_row = term
        else:
            x_row = tl.load(x_rows_ptr + term)
        if Y_ROW_IS_TERM:
            y_row = term
        else:
            y_row = tl.load(y_rows_ptr + term)
        x_base = x_ptr + x_row * x_stride_row + offs_m[:, None] * x_stride_m
        y_base = y_ptr + y_row * y_stride_row + offs_n[None, :] * y_stride_n
        for k_start in range(0, size_k, BLOCK_K):
            k_index = k_start + offs_k
            mask_k = k_index < size_k
            x_tile = tl.load(
                x_base + k_index[None, :] * x_stride_k,
                mask=mask_m[:, None] & mask_k[None, :],
                other=0.0,
            )
            y_tile = tl.load(
                y_base + k_index[:, None] * y_stride_k,
                mask=mask_k[:, None] & mask_n[None, :],
                other=0.0,
            )
            acc += tl.dot(x_tile.to(tl.float32), y_tile.to(tl.float32), input_precision="ieee")

    if REDUCTION == 0:
        out_row = group
    else:
        out_row = tl.load(out_rows_ptr + group)
    out_offsets = out_row * out_stride_row + offs_m[:, None] * out_stride_m
    out_offsets += offs_n[None, :] * out_stride_n
    mask = mask_m[:, None] & mask_n[None, :]
    if REDUCTION == 1:
        tl.atomic_add(out_ptr + out_offsets, acc, mask=mask)
    elif out_ptr.dtype.element_ty == tl.bfloat16:
        tl.store(out_ptr + out_offsets, _round_to_bfloat16(acc), mask=mask)
    else:
        tl.store(out_ptr + out_offsets, acc.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _segment_sum_kernel(
    partials_ptr,
    out_ptr,
    starts_ptr,
    out_rows_ptr,
    size_m,
    size_n,
    out_stride_row,
    out_stride_m,
    out_stride_n,
    BLOCK: tl.constexpr,
):
    segment = tl.program_id(0).to(tl.int64)
    offsets = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    size = size_m * size_n
    mask = offsets < size
    first = tl.load(starts_ptr + segment)
    last = tl.load(starts_ptr + segment + 1)
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for partial in range(first, last):
        acc += tl.load(partials_ptr + partial * size + offsets, mask=mask, other=0.0)
    out_row = tl.load(out_rows_ptr + segment)
    out_offsets = out_row * out_stride_row + (offsets // size_n) * out_stride_m
    out_offsets += (offsets % size_n) * out_stride_n
    tl.store(out_ptr + out_offsets, acc, mask=mask)


def segment_sum(
    partials: torch.Tensor, out: torch.Tensor, *, starts: torch.Tensor, out_rows: torch.Tensor
) -> torch.Tensor:
    """``out[out_rows[s]] = sum(partials[starts[s]:starts[s+1]])``, summed in index order.

    Args:
        partials: ``(P, M, N)`` contiguous fp32.
        out: ``(rows_out, M, N)`` fp32, any strides; rows not in ``out_rows`` are untouched.
        starts: ``(S + 1,)`` int64 boundaries; out_rows: ``(S,)`` int64 distinct rows.

    Example:
        >>> out = segment_sum(torch.ones(3, 2, 2), torch.zeros(2, 2, 2),
        ...                   starts=torch.tensor([0, 1, 3]), out_rows=torch.tensor([1, 0]))
        >>> out[:, 0, 0]
        tensor([2., 1.])
    """
    if partials.dtype != torch.float32 or out.dtype != torch.float32:
        raise TypeError(f"segment_sum works in float32, got {partials.dtype} and {out.dtype}")
    if not partials.is_contiguous() or partials.shape[1:] != out.shape[1:]:
        raise ValueError(
            f"partials {tuple(partials.shape)} must be contiguous and match out "
            f"{tuple(out.shape)} in their last two dimensions"
        )
    num_segments = out_rows.shape[0]
    size_m, size_n = out.shape[1], out.shape[2]
    if num_segments == 0 or size_m * size_n == 0:
        return out
    block = min(1024, triton.next_power_of_2(size_m * size_n))
    grid = (num_segments, triton.cdiv(size_m * size_n, block))
    _segment_sum_kernel[grid](
        partials, out, starts, out_rows, size_m, size_n, *out.stride(), BLOCK=block
    )
    return out


def _block(size: int, cap: int) -> int:
    return min(max(16, triton.next_power_of_2(size)), cap)


def launch_config(size_m: int, size_n: int, size_k: int) -> dict[str, int]:
    """Block sizes (powers of two, >= 16 for ``tl.dot``) and warps for an ``M x N x K`` product.

    Example:
        >>> launch_config(20, 5, 16)
        {'BLOCK_M': 32, 'BLOCK_N': 16, 'BLOCK_K': 16, 'num_warps': 4}
    """
    block_m = _block(size_m, _MAX_BLOCK_M)
    block_n = _block(size_n, _MAX_BLOCK_N)
    block_k = _block(size_k, _MAX_BLOCK_K)
    num_warps = min(8, max(2, block_m * block_n // 128))
    return {"BLOCK_M": block_m, "BLOCK_N": block_n, "BLOCK_K": block_k, "num_warps": num_warps}


def segments_of(
    targets: torch.Tensor, *, already_sorted: bool = False
) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    """Group terms by output row for ``reduction="segments"``.

    Args:
        targets: ``(T,)`` int64, the output row of each term.
        already_sorted: True when ``targets`` is non-decreasing (then no permutation is needed).

    Returns:
        ``(order, starts, out_rows)``: ``order`` ``(T,)`` the terms sorted stably by target, or
        None when already sorted; ``starts`` ``(S + 1,)`` segment boundaries into that order;
        ``out_rows`` ``(S,)`` the distinct targets.

    Example:
        >>> segments_of(torch.tensor([2, 0, 2]))
        (tensor([1, 0, 2]), tensor([0, 1, 3]), tensor([0, 2]))
    """
    if already_sorted:
        order, sorted_targets = None, targets
    else:
        sorted_targets, order = torch.sort(targets, stable=True)
    out_rows, counts = torch.unique_consecutive(sorted_targets, return_counts=True)
    starts = torch.zeros(counts.shape[0] + 1, dtype=torch.int64, device=targets.device)
    torch.cumsum(counts, 0, out=starts[1:])
    return order, starts, out_rows


def gathered_matmul(
    x: torch.Tensor,
    y: torch.Tensor,
    out: torch.Tensor,
    *,
    num_terms: int,
    x_rows: torch.Tensor | None = None,
    y_rows: torch.Tensor | None = None,
    reduction: str = "none",
    out_rows: torch.Tensor | None = None,
    order: torch.Tensor | None = None,
    starts: torch.Tensor | None = None,
) -> torch.Tensor:
    """``out[o] (+)= X[x_rows[t]] @ Y[y_rows[t]]`` on the GPU (or Triton's CPU interpreter).

    Args:
        x: ``(rows_x, M, K)``, any strides, fp32/bf16/fp16.
        y: ``(rows_y, K, N)``, any strides.
        out: ``(rows_out, M, N)``, written in place; must be fp32 for ``"atomic"``.
        num_terms: ``T``, the number of products.
        x_rows, y_rows: ``(T,)`` int64 rows of ``x``/``y`` per term; None means row ``t``.
        reduction: ``"none"`` (``out[t]`` is stored; ``rows_out >= T``), ``"atomic"`` (added
            into ``out[out_rows[t]]``) or ``"segments"`` (see :func:`segments_of` for
            ``order``, ``starts``, ``out_rows``).

    Returns:
        ``out``. Accumulation is fp32; the result is cast to ``out.dtype`` on store.

    Example:
        >>> x, y = torch.randn(3, 2, 5), torch.randn(4, 5, 6)
        >>> out = gathered_matmul(x, y, torch.empty(2, 2, 6), num_terms=2,
        ...                       x_rows=torch.tensor([2, 0]), y_rows=torch.tensor([1, 1]))
    """
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {sorted(_REDUCTIONS)}, got {reduction!r}")
    if reduction == "atomic" and out.dtype != torch.float32:
        raise TypeError(f"atomic reduction needs a float32 output, got {out.dtype}")
    if reduction != "none" and out_rows is None:
        raise ValueError(f"reduction={reduction!r} needs out_rows")
    if reduction == "segments" and starts is None:
        raise ValueError("reduction='segments' needs starts")
    size_m, size_k = x.shape[1], x.shape[2]
    size_n = y.shape[2]
    if y.shape[1] != size_k or out.shape[1] != size_m or out.shape[2] != size_n:
        raise ValueError(
            f"shapes do not chain: x {tuple(x.shape)}, y {tuple(y.shape)}, out {tuple(out.shape)}"
        )
    num_groups = starts.shape[0] - 1 if reduction == "segments" else num_terms
    if num_groups == 0:
        return out
    config = launch_config(size_m, size_n, size_k)
    tiles_m = triton.cdiv(size_m, config["BLOCK_M"])
    grid = (num_groups, tiles_m * triton.cdiv(size_n, config["BLOCK_N"]))
    _gathered_matmul_kernel[grid](
        x,
        y,
        out,
        x if x_rows is None else x_rows,
        y if y_rows is None else y_rows,
        out if out_rows is None else out_rows,
        out if order is None else order,
        out if starts is None else starts,
        size_m,
        size_n,
        size_k,
        *x.stride(),
        *y.stride(),
        *out.stride(),
        REDUCTION=_REDUCTIONS[reduction],
        X_ROW_IS_TERM=x_rows is None,
        Y_ROW_IS_TERM=y_rows is None,
        HAS_ORDER=order is not None,
        **config,
    )
    return out
