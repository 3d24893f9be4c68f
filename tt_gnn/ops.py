"""The TT row lookup as tensor functions: a naive reference and the fast prefix-sharing path.

Both take cores ``G_k`` of shape ``(p_k, r_{k-1}, q_k, r_k)`` and flat int64 ``ids`` that the
caller has validated (``0 <= id < prod(p)``), and return rows of shape ``(n, prod(q))``.

The fast path (:func:`tt_lookup`) is a :class:`torch.autograd.Function` built on one idea: in a
batch, ids share leading digits (a reordered graph puts neighbours in the same TT block). One
sort of the prefixes ``(i_1, ..., i_{d-1})`` gives the distinct prefixes at every level
(:func:`tt_gnn.kernels.plan.plan_prefixes`, the planner every lookup backend shares; its level
``k``, numbered from 0, holds the prefixes that end with core ``k``'s digit). The partial
product of a prefix,

    X_k[u] = G_1[i_1] G_2[i_2] ... G_k[i_k]        shape (q_1 * ... * q_k, r_k),

is computed once from its parent ``X_{k-1}``: as one large matmul of every parent with every
slice of ``G_k`` when most (parent, digit) pairs occur in the batch, otherwise as batched
matmuls over the distinct prefixes in ~4 MB chunks. The last core is contracted row by row
against the row's prefix, in input order. The backward pass walks the levels in reverse and
scatters gradients into the cores with ``index_add_``; it never gathers per-row slices of every
core the way the naive path does.

Cost per level ``k``: ``2 * U_k * Q_{k-1} * r_{k-1} * q_k * r_k`` flops, where ``U_k`` is the
number of distinct prefixes of length ``k`` and ``Q_{k-1} = q_1 * ... * q_{k-1}``. For random
ids only the last levels have ``U_k`` close to the batch size; for clustered ids every level but
the last is nearly free.

Example:
    >>> cores = [torch.randn(4, 1, 2, 3), torch.randn(5, 3, 2, 1)]
    >>> ids = torch.tensor([0, 7, 19])
    >>> torch.allclose(tt_lookup(cores, ids, (4, 5), (2, 2)), naive_tt_lookup(cores, ids, (4, 5)))
    True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from tt_gnn.kernels.plan import PrefixPlan, plan_prefixes
from tt_gnn.shapes import ids_to_digits

__all__ = ["naive_tt_lookup", "tt_lookup"]


def naive_tt_lookup(
    cores: Sequence[torch.Tensor], ids: torch.Tensor, p_shapes: Sequence[int]
) -> torch.Tensor:
    """Reference lookup: gather one slice per core per row and chain batched matmuls.

    Shapes:
        cores[k]: ``(p_k, r_{k-1}, q_k, r_k)``; ids: ``(n,)``. Output: ``(n, prod(q))``.
    """
    digits = ids_to_digits(ids, p_shapes)
    n = ids.shape[0]
    first = cores[0][digits[:, 0]]  # (n, 1, q_1, r_1)
    partial = first.reshape(n, first.shape[2], first.shape[3])
    for k in range(1, len(cores)):
        piece = cores[k][digits[:, k]]  # (n, r_{k-1}, q_k, r_k)
        _, rank_in, q_k, rank_out = piece.shape
        partial = torch.bmm(partial, piece.reshape(n, rank_in, q_k * rank_out))
        partial = partial.reshape(n, -1, rank_out)
    return partial.reshape(n, -1)


class _TTLookup(torch.autograd.Function):
    """Prefix-sharing TT lookup; see the module docstring."""

    @staticmethod
    def forward(ctx, ids: torch.Tensor, p_shapes: tuple[int, ...], *cores: torch.Tensor):
        levels = plan_prefixes(ids, p_shapes)
        partials = _forward_partials(cores, levels)
        ctx.levels = levels
        ctx.save_for_backward(*cores, *partials[:-1])
        ctx.num_cores = len(cores)
        return partials[-1].reshape(ids.shape[0], -1)

    @staticmethod
    def backward(ctx, grad_rows: torch.Tensor):
        saved = ctx.saved_tensors
        cores, partials = saved[: ctx.num_cores], saved[ctx.num_cores :]
        core_grads = _backward_cores(cores, partials, ctx.levels, grad_rows.contiguous())
        return (None, None, *core_grads)


# Rows per chunk of the row-by-row work: keeps every temporary under a few MB, so the allocator
# recycles it instead of mapping fresh pages (page faults cost as much as the arithmetic here).
_CHUNK_BYTES = 4 << 20
# A level is contracted as one dense block (every parent prefix times every digit, one large
# matmul) when at least this fraction of the (parent, digit) pairs occur in the batch: a large
# matmul runs several times faster per flop than gathered small ones.
_DENSE_FRACTION = 0.5
_DENSE_MAX_BYTES = 64 << 20


def _chunks(num_rows: int, bytes_per_row: int) -> list[slice]:
    step = max(256, _CHUNK_BYTES // max(bytes_per_row, 1))
    return [slice(start, min(start + step, num_rows)) for start in range(0, num_rows, step)]


def _as_matrices(core: torch.Tensor) -> torch.Tensor:
    """Core ``(p_k, r_{k-1}, q_k, r_k)`` viewed as ``(p_k, r_{k-1}, q_k * r_k)``."""
    p_k, rank_in, q_k, rank_out = core.shape
    return core.reshape(p_k, rank_in, q_k * rank_out)


def _side_by_side(matrices: torch.Tensor) -> torch.Tensor:
    """``(p, r, c)`` slices laid side by side as one ``(r, p * c)`` matrix."""
    return matrices.transpose(0, 1).reshape(matrices.shape[1], -1)


def _is_dense(previous: torch.Tensor, matrices: torch.Tensor, num_entries: int) -> bool:
    """Whether to contract a level as a dense block; see ``_DENSE_FRACTION``."""
    pairs = previous.shape[0] * matrices.shape[0]
    block_bytes = pairs * previous.shape[1] * matrices.shape[2] * previous.element_size()
    return num_entries >= _DENSE_FRACTION * pairs and block_bytes <= _DENSE_MAX_BYTES


def _level_forward(
    previous: torch.Tensor, matrices: torch.Tensor, parents: torch.Tensor, digits: torch.Tensor
) -> torch.Tensor:
    """``previous[parents[e]] @ matrices[digits[e]]`` for every entry ``e``.

    Shapes:
        previous: ``(U, Q, r)``; matrices: ``(p, r, c)``; parents, digits: ``(E,)``.
        Output: ``(E, Q, c)``.
    """
    if _is_dense(previous, matrices, parents.shape[0]):
        # One (U*Q, r) @ (r, p*c) matmul; its (u, a, v, c) layout is gathered without a copy.
        num_columns, width = previous.shape[1], matrices.shape[2]  # Q and c
        block = previous.reshape(-1, previous.shape[2]) @ _side_by_side(matrices)
        block = block.view(previous.shape[0], num_columns, matrices.shape[0], width)
        return block[parents, :, digits, :]
    product = previous.new_empty(parents.shape[0], previous.shape[1], matrices.shape[2])
    row_bytes = (previous[0].numel() + matrices[0].numel()) * previous.element_size()
    for rows in _chunks(parents.shape[0], row_bytes):
        torch.bmm(
            previous.index_select(0, parents[rows]),
            matrices.index_select(0, digits[rows]),
            out=product[rows],
        )
    return product


def _level_backward(
    previous: torch.Tensor,
    matrices: torch.Tensor,
    parents: torch.Tensor,
    digits: torch.Tensor,
    grad_product: torch.Tensor,
    need_matrices_grad: bool,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Gradients of :func:`_level_forward` w.r.t. ``previous`` and ``matrices``."""
    if _is_dense(previous, matrices, parents.shape[0]):
        num_columns, width = previous.shape[1], matrices.shape[2]  # Q and c
        block = previous.new_zeros(previous.shape[0], num_columns, matrices.shape[0], width)
        columns = torch.arange(num_columns, device=parents.device)
        block.index_put_(
            (parents[:, None], columns[None, :], digits[:, None]), grad_product, accumulate=True
        )
        block = block.view(previous.shape[0] * num_columns, -1)
        grad_matrices = None
        if need_matrices_grad:
            side = previous.reshape(-1, previous.shape[2]).T @ block  # (r, p * c)
            grad_matrices = side.view(-1, matrices.shape[0], width).transpose(0, 1)
        grad_previous = block @ _side_by_side(matrices).T
        return grad_previous.view(previous.shape), grad_matrices
    grad_matrices = torch.zeros_like(matrices) if need_matrices_grad else None
    grad_previous = torch.zeros_like(previous)
    row_bytes = (previous[0].numel() + matrices[0].numel()) * previous.element_size()
    for rows in _chunks(parents.shape[0], row_bytes):
        chunk_grad = grad_product[rows]
        if grad_matrices is not None:
            parent = previous.index_select(0, parents[rows])
            grad_matrices.index_add_(0, digits[rows], torch.bmm(parent.transpose(1, 2), chunk_grad))
        piece = matrices.index_select(0, digits[rows])
        grad_previous.index_add_(0, parents[rows], torch.bmm(chunk_grad, piece.transpose(1, 2)))
    return grad_previous, grad_matrices


def _forward_partials(cores: Sequence[torch.Tensor], levels: PrefixPlan) -> list[torch.Tensor]:
    """Partial products per level: ``partials[k]`` has shape ``(U_k, Q_k, r_k)``."""
    first = _as_matrices(cores[0]).index_select(0, levels.digits[0])  # (U_0, 1, q_1 r_1)
    partials = [first.reshape(first.shape[0], cores[0].shape[2], cores[0].shape[3])]
    for k in range(1, len(cores)):
        product = _level_forward(
            partials[-1], _as_matrices(cores[k]), levels.parents[k], levels.digits[k]
        )
        partials.append(product.reshape(product.shape[0], -1, cores[k].shape[3]))
    return partials


def _backward_cores(
    cores: Sequence[torch.Tensor],
    partials: Sequence[torch.Tensor],
    levels: PrefixPlan,
    grad_rows: torch.Tensor,
) -> list[torch.Tensor | None]:
    """Gradients of the cores from the gradient of the looked-up rows ``(n, D)``."""
    grads: list[torch.Tensor | None] = [None] * len(cores)
    grad_partial = grad_rows
    for k in range(len(cores) - 1, 0, -1):
        matrices, previous = _as_matrices(cores[k]), partials[k - 1]
        grad_product = grad_partial.reshape(-1, previous.shape[1], matrices.shape[2])
        grad_partial, grad_matrices = _level_backward(
            previous,
            matrices,
            levels.parents[k],
            levels.digits[k],
            grad_product,
            cores[k].requires_grad,
        )
        if grad_matrices is not None:
            grads[k] = grad_matrices.reshape(cores[k].shape)
    if cores[0].requires_grad:
        grads[0] = torch.zeros_like(cores[0]).index_add_(
            0, levels.digits[0], grad_partial.reshape(-1, *cores[0].shape[1:])
        )
    return grads


def tt_lookup(
    cores: Sequence[torch.Tensor],
    ids: torch.Tensor,
    p_shapes: Sequence[int],
    q_shapes: Sequence[int],
    *,
    deterministic: bool = False,
) -> torch.Tensor:
    """Rows ``ids`` of the TT table, computing each distinct prefix once; differentiable.

    This is the ``"torch"`` lookup backend (:mod:`tt_gnn.kernels.registry`).

    Args:
        cores: ``d`` tensors, core ``k`` of shape ``(p_k, r_{k-1}, q_k, r_k)``.
        ids: ``(n,)`` int64 row ids in ``[0, prod(p_shapes))`` (not checked here).
        p_shapes, q_shapes: the factorization.
        deterministic: accepted for the backend interface; this path is always deterministic
            on the CPU (its gradients are sums by ``index_add_``, which is deterministic there;
            on CUDA set ``torch.use_deterministic_algorithms`` for bitwise reproducibility).

    Returns:
        ``(n, prod(q_shapes))`` in the cores' dtype.
    """
    if ids.numel() == 0:
        return cores[0].new_zeros(0, math.prod(q_shapes))
    return _TTLookup.apply(ids, tuple(int(p) for p in p_shapes), *cores)
