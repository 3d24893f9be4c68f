"""The TT row lookup on Triton kernels: forward over shared prefixes, backward into the cores.

Level ``k`` (cores numbered from 0) multiplies the partial product of each prefix
``(i_0, ..., i_{k-1})`` by the slice ``G_k[i_k]``:

    X_k[t] = X_{k-1}[parent(t)] @ G_k[i_k(t)]      (Q_{k-1}, r_k) @ (r_k, q_k * r_{k+1})

with ``X_0`` the slices of core 0 themselves. The terms of levels ``1 .. d-2`` are the distinct
prefixes of the batch (each computed once, kept in fp32); the last level has one term per id and
writes the output rows directly. The backward pass walks the levels in reverse with two gathered
matmuls per level: ``A^T @ dX`` summed into the core slices, and ``dX @ B^T`` summed into the
parent prefixes. Prefix terms are sorted, so their parents form contiguous segments that are
always reduced deterministically; core slices (and the parents of the per-id last level) are
reduced with fp32 atomics, or with sorted segments when ``deterministic=True``.

The batch is planned by :func:`tt_gnn.kernels.plan.plan_prefixes` (the planner every backend
uses). This module imports Triton; :func:`tt_gnn.kernels.triton.tt_lookup` imports it lazily.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from tt_gnn.kernels.plan import PrefixPlan, plan_prefixes
from tt_gnn.kernels.triton.gathered_matmul import (
    INTERPRETED,
    gathered_matmul,
    segment_sum,
    segments_of,
)
from tt_gnn.shapes import TTShapes

__all__ = ["tt_lookup"]

SUPPORTED_DTYPES = (torch.float32, torch.bfloat16, torch.float16)

#: Longest run of terms one program reduces serially in a segmented (deterministic) reduction;
#: longer segments are cut into chunks whose partial sums are added in a second, ordered pass.
SEGMENT_CHUNK_TERMS = 64


def _uninitialized(shape: Sequence[int], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Every buffer the kernels must fully overwrite comes from here (tests poison it)."""
    return torch.empty(tuple(shape), dtype=dtype, device=device)


def _core_as_matrices(core: torch.Tensor) -> torch.Tensor:
    """``(p, r, q, r')`` -> ``(p, r, q * r')``: slice ``i`` as the right operand of a level."""
    return core.reshape(core.shape[0], core.shape[1], core.shape[2] * core.shape[3])


def _first_core_as_prefixes(core: torch.Tensor) -> torch.Tensor:
    """``(p, 1, q, r)`` -> ``(p, q, r)``: the slices of core 0 are the level-0 prefixes."""
    return core.reshape(core.shape[0], core.shape[2], core.shape[3])


def _left_rows(plan: PrefixPlan) -> list[torch.Tensor]:
    """Per level ``k = 1 .. d-1`` (entry ``k - 1``), the row of each term's left operand: the
    row of core 0 (its first digit) at level 1, the parent prefix's index above."""
    return [plan.first_digits(1), *plan.parents[2:]]


def _forward(
    cores: Sequence[torch.Tensor], plan: PrefixPlan, left_rows: Sequence[torch.Tensor]
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Left operands of levels ``1 .. d-1`` and the output ``(n, Q_{d-2}, q_{d-1})``.

    ``lefts[k - 1]`` has shape ``(rows, Q_{k-1}, r_k)``: core 0's slices for level 1, the fp32
    partial products of the distinct prefixes of length ``k`` otherwise.
    """
    lefts = [_first_core_as_prefixes(cores[0])]
    last_level = len(cores) - 1
    for k in range(1, len(cores)):
        left, right = lefts[-1], _core_as_matrices(cores[k])
        num_terms = plan.num_terms[k]
        dtype = cores[0].dtype if k == last_level else torch.float32
        result = _uninitialized((num_terms, left.shape[1], right.shape[2]), dtype, left.device)
        gathered_matmul(
            left,
            right,
            result,
            num_terms=num_terms,
            x_rows=left_rows[k - 1],
            y_rows=plan.digits[k],
        )
        if k == last_level:
            return lefts, result
        lefts.append(result.reshape(num_terms, -1, cores[k].shape[3]))
    raise ValueError(f"the TT lookup needs at least 2 cores, got {len(cores)}")


def _chunk_boundaries(starts: torch.Tensor, chunk_terms: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Split segments ``starts`` into chunks of at most ``chunk_terms`` consecutive terms.

    Returns ``(chunk_starts, chunk_groups)``: the ``(C + 1,)`` boundaries of the chunks, and the
    ``(S + 1,)`` boundaries of each segment's run of chunks.
    """
    lengths = starts[1:] - starts[:-1]
    chunks_per_segment = torch.div(lengths + chunk_terms - 1, chunk_terms, rounding_mode="floor")
    chunk_groups = torch.zeros_like(starts)
    torch.cumsum(chunks_per_segment, 0, out=chunk_groups[1:])
    num_chunks = int(chunk_groups[-1])
    segment_of_chunk = torch.repeat_interleave(
        torch.arange(lengths.shape[0], device=starts.device), chunks_per_segment
    )
    index_in_segment = torch.arange(num_chunks, device=starts.device) - chunk_groups[
        :-1
    ].repeat_interleave(chunks_per_segment)
    chunk_starts = torch.empty(num_chunks + 1, dtype=torch.int64, device=starts.device)
    chunk_starts[:-1] = starts[:-1][segment_of_chunk] + index_in_segment * chunk_terms
    chunk_starts[-1] = starts[-1]
    return chunk_starts, chunk_groups


def _reduce(
    x: torch.Tensor,
    y: torch.Tensor,
    out: torch.Tensor,
    *,
    x_rows: torch.Tensor | None,
    y_rows: torch.Tensor | None,
    targets: torch.Tensor,
    targets_sorted: bool,
    deterministic: bool,
) -> None:
    """``out[targets[t]] += x[x_rows[t]] @ y[y_rows[t]]`` by atomics or sorted segments.

    Segments longer than ``SEGMENT_CHUNK_TERMS`` are cut into chunks: one program per chunk
    stores a partial sum, then :func:`segment_sum` adds each segment's partials in order. The
    result is as deterministic as one program per segment, with more programs in flight.
    """
    num_terms = targets.shape[0]
    if not (targets_sorted or deterministic):
        gathered_matmul(
            x,
            y,
            out,
            num_terms=num_terms,
            x_rows=x_rows,
            y_rows=y_rows,
            reduction="atomic",
            out_rows=targets,
        )
        return
    order, starts, out_rows = segments_of(targets, already_sorted=targets_sorted)
    longest = int((starts[1:] - starts[:-1]).max())
    if longest <= SEGMENT_CHUNK_TERMS:
        gathered_matmul(
            x,
            y,
            out,
            num_terms=num_terms,
            x_rows=x_rows,
            y_rows=y_rows,
            reduction="segments",
            out_rows=out_rows,
            order=order,
            starts=starts,
        )
        return
    chunk_starts, chunk_groups = _chunk_boundaries(starts, SEGMENT_CHUNK_TERMS)
    num_chunks = chunk_starts.shape[0] - 1
    partials = _uninitialized((num_chunks, *out.shape[1:]), torch.float32, out.device)
    gathered_matmul(
        x,
        y,
        partials,
        num_terms=num_terms,
        x_rows=x_rows,
        y_rows=y_rows,
        reduction="segments",
        out_rows=torch.arange(num_chunks, device=out.device),
        order=order,
        starts=chunk_starts,
    )
    segment_sum(partials, out, starts=chunk_groups, out_rows=out_rows)


def _backward(
    cores: Sequence[torch.Tensor],
    lefts: Sequence[torch.Tensor],
    plan: PrefixPlan,
    left_rows: Sequence[torch.Tensor],
    grad_rows: torch.Tensor,
    needs_grad: Sequence[bool],
    deterministic: bool,
) -> list[torch.Tensor | None]:
    """Core gradients (in the cores' dtype) from ``grad_rows`` ``(n, D)``."""
    grads: list[torch.Tensor | None] = [None] * len(cores)
    grad_result = grad_rows.reshape(grad_rows.shape[0], lefts[-1].shape[1], -1)
    for k in range(len(cores) - 1, 0, -1):
        left, right = lefts[k - 1], _core_as_matrices(cores[k])
        parent_rows, digits = left_rows[k - 1], plan.digits[k]
        if needs_grad[k]:
            grad_core = torch.zeros(right.shape, dtype=torch.float32, device=right.device)
            _reduce(
                left.transpose(1, 2),
                grad_result,
                grad_core,
                x_rows=parent_rows,
                y_rows=None,
                targets=digits,
                targets_sorted=False,
                deterministic=deterministic,
            )
            grads[k] = grad_core.reshape(cores[k].shape).to(cores[k].dtype)
        if k == 1 and not needs_grad[0]:
            break
        # Segments store every parent prefix (each has a child term); atomics and core 0 add.
        segmented = plan.parents_sorted(k) or deterministic
        if k > 1 and segmented:
            grad_left = _uninitialized(left.shape, torch.float32, left.device)
        else:
            grad_left = torch.zeros(left.shape, dtype=torch.float32, device=left.device)
        _reduce(
            grad_result,
            right.transpose(1, 2),
            grad_left,
            x_rows=None,
            y_rows=digits,
            targets=parent_rows,
            targets_sorted=plan.parents_sorted(k),
            deterministic=deterministic,
        )
        if k == 1:
            grads[0] = grad_left.reshape(cores[0].shape).to(cores[0].dtype)
        else:
            grad_result = grad_left.reshape(left.shape[0], lefts[k - 2].shape[1], -1)
    return grads


class _TritonTTLookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx, ids, p_shapes, deterministic, *cores):
        plan = plan_prefixes(ids, p_shapes)
        left_rows = _left_rows(plan)
        lefts, result = _forward(cores, plan, left_rows)
        ctx.plan, ctx.left_rows = plan, left_rows
        ctx.deterministic = deterministic
        ctx.num_cores = len(cores)
        ctx.save_for_backward(*cores, *lefts[1:])
        return result.reshape(ids.shape[0], -1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_rows):
        saved = ctx.saved_tensors
        cores = saved[: ctx.num_cores]
        lefts = [_first_core_as_prefixes(cores[0]), *saved[ctx.num_cores :]]
        grads = _backward(
            cores,
            lefts,
            ctx.plan,
            ctx.left_rows,
            grad_rows,
            ctx.needs_input_grad[3:],
            ctx.deterministic,
        )
        return (None, None, None, *grads)


def _check_inputs(
    cores: Sequence[torch.Tensor],
    ids: torch.Tensor,
    p_shapes: Sequence[int],
    q_shapes: Sequence[int],
) -> None:
    num_cores = len(cores)
    if num_cores < 2 or len(p_shapes) != num_cores or len(q_shapes) != num_cores:
        raise ValueError(
            f"expected d >= 2 cores with one p and one q factor each, got {num_cores} cores, "
            f"p_shapes={tuple(p_shapes)}, q_shapes={tuple(q_shapes)}"
        )
    shapes = TTShapes.from_cores(cores)  # 4-d cores whose ranks chain from 1 to 1
    for k, (shape, p, q) in enumerate(zip(shapes.core_shapes, p_shapes, q_shapes, strict=True)):
        expected = (int(p), shape[1], int(q), shape[3])
        if shape != expected:
            raise ValueError(
                f"core {k} has shape {shape}, expected (p_k, r_(k-1), q_k, r_k) = {expected}"
            )
    dtype = cores[0].dtype
    if dtype == torch.float64:
        raise TypeError(
            "the Triton TT lookup supports float32, bfloat16 and float16 cores, got float64; "
            "use the torch path (tt_gnn.ops.tt_lookup, TTEmbedding(backend='torch')) for float64"
        )
    if dtype not in SUPPORTED_DTYPES or any(core.dtype != dtype for core in cores):
        raise TypeError(
            f"cores must share one dtype among {SUPPORTED_DTYPES}, got "
            f"{[core.dtype for core in cores]}"
        )
    if ids.dim() != 1 or ids.dtype != torch.int64:
        raise ValueError(f"ids must be flat int64, got shape {tuple(ids.shape)}, {ids.dtype}")
    devices = {core.device for core in cores} | {ids.device}
    if len(devices) != 1:
        raise ValueError(f"cores and ids must be on one device, got {sorted(map(str, devices))}")
    device = ids.device
    if device.type != "cuda" and not INTERPRETED:
        raise RuntimeError(
            f"the Triton TT lookup runs on CUDA tensors, got {device}; to run it on the CPU, "
            "set TRITON_INTERPRET=1 before tt_gnn.kernels first runs a kernel"
        )


def tt_lookup(
    cores: Sequence[torch.Tensor],
    ids: torch.Tensor,
    p_shapes: Sequence[int],
    q_shapes: Sequence[int],
    *,
    deterministic: bool = False,
) -> torch.Tensor:
    """Rows ``ids`` of the TT table on Triton kernels; differentiable w.r.t. the cores.

    Args:
        cores: ``d >= 2`` tensors, core ``k`` of shape ``(p_k, r_{k-1}, q_k, r_k)``, one dtype
            among float32, bfloat16, float16 (accumulation is always fp32).
        ids: ``(n,)`` int64 in ``[0, prod(p_shapes))`` (validated by the caller).
        p_shapes, q_shapes: the factorization.
        deterministic: reduce the core gradients by sorted segments (bitwise reproducible)
            instead of fp32 atomics. Default False.

    Returns:
        ``(n, prod(q_shapes))`` in the cores' dtype.

    Example:
        >>> cores = [torch.randn(4, 1, 2, 3, device="cuda"), torch.randn(5, 3, 2, 1, device="cuda")]
        >>> rows = tt_lookup(cores, torch.tensor([0, 7, 19], device="cuda"), (4, 5), (2, 2))
        >>> rows.shape
        torch.Size([3, 4])
    """
    _check_inputs(cores, ids, p_shapes, q_shapes)
    if ids.shape[0] == 0:
        return cores[0].new_zeros(0, math.prod(int(q) for q in q_shapes))
    p_shapes = tuple(int(p) for p in p_shapes)
    return _TritonTTLookup.apply(ids, p_shapes, bool(deterministic), *cores)
