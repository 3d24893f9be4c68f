"""Memory-bounded TT-SVD: an ``N x D`` matrix to TT-matrix cores, without the padded table.

The TT-matrix format views an ``N x D`` table (``N <= prod(p)``, ``D == prod(q)``, rows
``N .. prod(p)-1`` implicitly zero) as a tensor with interleaved indices
``(i_1 j_1)(i_2 j_2)...(i_d j_d)`` and factors it with the TT-SVD of Oseledets (2011): a
sequence of truncated SVDs of unfoldings.

Only the first unfolding is large: ``A_1`` of shape ``(p_1 q_1) x (prod(p[1:]) prod(q[1:]))``,
as big as the padded table. Rows of ``A_1`` with the same first row digit ``i_1`` come from one
contiguous block of ``P' = prod(p[1:])`` table rows, so ``A_1`` never has to exist:

1. the Gram matrix ``A_1 A_1^T`` (``p_1 q_1`` squared) is accumulated over chunks of row
   offsets ``r``: a chunk gathers rows ``i_1 * P' + r`` for every ``i_1`` (rows past ``N`` are
   zeros created only for the last block);
2. its leading eigenvectors are the left singular vectors ``U_1`` (the first core); a second
   pass over the same chunks projects, ``C = U_1^T A_1`` (``r_1 x P' Q'``, a factor
   ``r_1 / (p_1 q_1)`` of the table);
3. the remaining cores come from an ordinary in-memory TT-SVD of ``C`` (float64).

Peak memory: a few gathered chunks (``chunk_rows * p_1 * D`` float64 each), ``C`` and the SVD
work space on it (about 4 copies of ``C``). With full ranks ``C`` is as large as the padded
table: full rank is meant for small tables.

Example:
    >>> import torch
    >>> weight = torch.randn(1000, 16, dtype=torch.float64)
    >>> result = tt_svd(weight, (10, 10, 10), (2, 2, 4), ranks=(8, 8))
    >>> [tuple(c.shape) for c in result.cores], result.tt_ranks
    ([(10, 1, 2, 8), (10, 8, 2, 8), (10, 8, 4, 1)], (1, 8, 8, 1))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from tt_gnn.checks import positive_int
from tt_gnn.io import available_memory_bytes
from tt_gnn.shapes import TTShapes, choose_shapes

__all__ = ["TTSVDResult", "tt_svd", "maximal_tt_ranks"]

_DEFAULT_CHUNK_BYTES = 64 * 2**20


@dataclass
class TTSVDResult:
    """What :func:`tt_svd` returns.

    Attributes:
        cores: ``d`` tensors, core ``k`` of shape ``(p_k, r_{k-1}, q_k, r_k)``.
        tt_ranks: ``(1, r_1, ..., r_{d-1}, 1)``.
        relative_error: ``||W - TT||_F / ||W||_F``, computed exactly by reconstructing the TT
            block by block and comparing with ``W`` (float64); 0.0 for an all-zero ``W``.
        error_bound: ``sqrt(sum of all discarded squared singular values) / ||W||_F``, the
            TT-SVD bound (for this sequential algorithm it equals the error up to roundoff).
        singular_values: per bond ``k = 1..d-1``, every singular value of the unfolding that
            was truncated there (kept and discarded), descending, float64.
    """

    cores: list[torch.Tensor]
    tt_ranks: tuple[int, ...]
    relative_error: float
    error_bound: float
    singular_values: list[torch.Tensor]


def maximal_tt_ranks(p_shapes: Sequence[int], q_shapes: Sequence[int]) -> tuple[int, ...]:
    """Largest meaningful internal ranks ``(r_1, ..., r_{d-1})`` for the given shapes.

    ``r_k = min(prod_{l<=k} p_l q_l, prod_{l>k} p_l q_l)``: the rank of the k-th unfolding
    can be no larger. With these ranks TT-SVD is exact.

    Example:
        >>> maximal_tt_ranks((10, 10, 10), (2, 2, 4))
        (20, 40)
    """
    sizes = [int(p) * int(q) for p, q in zip(p_shapes, q_shapes, strict=True)]
    return tuple(
        min(math.prod(sizes[: k + 1]), math.prod(sizes[k + 1 :])) for k in range(len(sizes) - 1)
    )


def _validate_matrix(matrix: object) -> tuple[int, int]:
    if isinstance(matrix, torch.Tensor):
        if matrix.is_complex() or not (matrix.is_floating_point() or _is_integer_tensor(matrix)):
            raise TypeError(f"matrix must be real-valued, got a tensor of dtype {matrix.dtype}")
    elif isinstance(matrix, np.ndarray):
        kind = matrix.dtype
        if not (np.issubdtype(kind, np.floating) or np.issubdtype(kind, np.integer)):
            raise TypeError(f"matrix must be real-valued, got an array of dtype {matrix.dtype}")
    else:
        raise TypeError(
            f"matrix must be a torch.Tensor or numpy array (np.memmap works), got "
            f"{type(matrix).__name__}"
        )
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D (N x D), got shape {tuple(matrix.shape)}")
    return int(matrix.shape[0]), int(matrix.shape[1])


def _default_output_dtype(matrix: torch.Tensor | np.ndarray) -> torch.dtype:
    if isinstance(matrix, torch.Tensor):
        return matrix.dtype if matrix.is_floating_point() else torch.get_default_dtype()
    if np.issubdtype(matrix.dtype, np.floating):
        return torch.from_numpy(np.zeros(0, dtype=matrix.dtype)).dtype
    return torch.get_default_dtype()


def _is_integer_tensor(tensor: torch.Tensor) -> bool:
    return not tensor.is_floating_point() and not tensor.is_complex() and tensor.dtype != torch.bool


def _with_resolved_ranks(
    shapes: TTShapes, ranks: Sequence[int] | None, max_rank: int | None
) -> TTShapes:
    """``shapes`` with the ranks to decompose to: ``ranks``, or the maximal ranks capped at
    ``max_rank``, or the maximal ranks."""
    limits = maximal_tt_ranks(shapes.p_shapes, shapes.q_shapes)
    if ranks is not None and max_rank is not None:
        raise ValueError(
            f"give ranks or max_rank, not both (got ranks={ranks}, max_rank={max_rank})"
        )
    if max_rank is not None:
        max_rank = positive_int(max_rank, "max_rank")
        return shapes.with_ranks([min(limit, max_rank) for limit in limits])
    if ranks is None:
        return shapes.with_ranks(limits)
    shapes = shapes.with_ranks(ranks)  # validates the ranks
    for k, (rank, limit) in enumerate(zip(shapes.ranks, limits, strict=True), start=1):
        if rank > limit:
            raise ValueError(
                f"rank r_{k}={rank} exceeds the maximal TT rank {limit} at bond {k} for "
                f"p_shapes={shapes.p_shapes}, q_shapes={shapes.q_shapes} (maximal ranks "
                f"{limits})"
            )
    return shapes


def _rows_as_float64(matrix: torch.Tensor | np.ndarray, start: int, stop: int) -> torch.Tensor:
    rows = matrix[start:stop]
    if isinstance(rows, np.ndarray):
        return torch.from_numpy(np.array(rows, dtype=np.float64))
    return rows.detach().to(device="cpu", dtype=torch.float64)


def _gather_first_unfolding(
    matrix: torch.Tensor | np.ndarray,
    p_shapes: tuple[int, ...],
    q_shapes: tuple[int, ...],
    offset_start: int,
    offset_stop: int,
) -> torch.Tensor:
    """Columns of ``A_1`` for row offsets ``offset_start..offset_stop-1`` of every ``i_1`` block.

    Returns ``(p_1 q_1, c * D / q_1)`` float64 with ``c = offset_stop - offset_start``; column
    order is (offset, remaining column digits), a permutation of ``A_1``'s interleaved order
    that is fixed for all chunks.
    """
    num_rows, dim = int(matrix.shape[0]), int(matrix.shape[1])
    first_p, first_q = p_shapes[0], q_shapes[0]
    block_rows = math.prod(p_shapes[1:])
    width = offset_stop - offset_start
    chunk = torch.zeros(first_p, width, dim, dtype=torch.float64)
    for first_digit in range(first_p):
        start = first_digit * block_rows + offset_start
        stop = min(first_digit * block_rows + offset_stop, num_rows)
        if stop > start:
            chunk[first_digit, : stop - start] = _rows_as_float64(matrix, start, stop)
    chunk = chunk.view(first_p, width, first_q, dim // first_q).permute(0, 2, 1, 3)
    return chunk.reshape(first_p * first_q, width * (dim // first_q))


def _memory_estimate(
    p_shapes: tuple[int, ...], q_shapes: tuple[int, ...], first_rank: int, chunk_rows: int
) -> int:
    dim = math.prod(q_shapes)
    chunk_bytes = 8 * p_shapes[0] * chunk_rows * dim
    projected_bytes = 8 * first_rank * math.prod(p_shapes[1:]) * (dim // q_shapes[0])
    gram_bytes = 8 * (p_shapes[0] * q_shapes[0]) ** 2
    return 3 * chunk_bytes + 4 * projected_bytes + 2 * gram_bytes


def tt_svd(
    matrix: torch.Tensor | np.ndarray,
    p_shapes: Sequence[int],
    q_shapes: Sequence[int],
    *,
    ranks: Sequence[int] | None = None,
    max_rank: int | None = None,
    chunk_rows: int | None = None,
    dtype: torch.dtype | None = None,
    max_memory_bytes: int | None = None,
) -> TTSVDResult:
    """Decompose an ``N x D`` matrix into TT-matrix cores by a memory-bounded TT-SVD.

    Args:
        matrix: ``N x D`` torch tensor or numpy array (a ``np.memmap`` is read chunk by chunk),
            ``N <= prod(p_shapes)``, ``D == prod(q_shapes)``. Rows ``N..prod(p)-1`` are
            treated as zero and never materialized.
        p_shapes, q_shapes: row and column factors, ``d >= 2`` each.
        ranks: internal ranks ``(r_1, ..., r_{d-1})``; default None with ``max_rank`` None:
            maximal ranks (:func:`maximal_tt_ranks`, exact decomposition).
        max_rank: instead of ``ranks``, cap every maximal rank at this value.
        chunk_rows: row offsets per gathered chunk (each chunk holds ``p_1 * chunk_rows`` rows);
            default: chunks of about 64 MB.
        dtype: dtype of the returned cores; default the matrix's dtype when floating, else
            torch's default dtype. Computation is float64 on the CPU.
        max_memory_bytes: budget for the estimate below; default ``MemAvailable`` of
            ``/proc/meminfo`` (no check where that is unreadable).

    Returns:
        :class:`TTSVDResult`; core ``k`` has shape ``(p_k, r_{k-1}, q_k, r_k)``.

    Raises:
        ValueError: shapes that do not fit the matrix, ranks above the maximal TT ranks, both
            ``ranks`` and ``max_rank`` given.
        TypeError: a matrix that is not a real tensor/array.
        MemoryError: when the peak-memory estimate exceeds the budget (the message gives both).

    Example:
        >>> import torch
        >>> weight = torch.randn(90, 8, dtype=torch.float64)
        >>> exact = tt_svd(weight, (4, 5, 5), (2, 2, 2))
        >>> exact.relative_error < 1e-12
        True
    """
    num_rows, dim = _validate_matrix(matrix)
    if num_rows < 1 or dim < 1:
        raise ValueError(f"matrix must have rows and columns, got shape {(num_rows, dim)}")
    # The factorization is validated by TTShapes; the ranks are resolved right after.
    shapes = choose_shapes(num_rows, dim, p_shapes=p_shapes, q_shapes=q_shapes, rank=1)
    shapes = _with_resolved_ranks(shapes, ranks, max_rank)
    p_shapes, q_shapes, internal_ranks = shapes.p_shapes, shapes.q_shapes, shapes.ranks
    if dtype is None:
        dtype = _default_output_dtype(matrix)
    block_rows = math.prod(p_shapes[1:])
    if chunk_rows is None:
        chunk_rows = max(1, _DEFAULT_CHUNK_BYTES // (8 * p_shapes[0] * dim))
    chunk_rows = min(positive_int(chunk_rows, "chunk_rows"), block_rows)

    budget = (
        available_memory_bytes()
        if max_memory_bytes is None
        else positive_int(max_memory_bytes, "max_memory_bytes")
    )
    estimate = _memory_estimate(p_shapes, q_shapes, internal_ranks[0], chunk_rows)
    if budget is not None and estimate > budget:
        raise MemoryError(
            f"tt_svd needs about {estimate / 2**30:.2f} GiB (chunks of {chunk_rows} row offsets, "
            f"r_1={internal_ranks[0]}), more than the {budget / 2**30:.2f} GiB available; lower "
            "the ranks or chunk_rows"
        )

    chunks = [
        (start, min(start + chunk_rows, block_rows)) for start in range(0, block_rows, chunk_rows)
    ]
    first_size = p_shapes[0] * q_shapes[0]
    gram = torch.zeros(first_size, first_size, dtype=torch.float64)
    for start, stop in chunks:
        columns = _gather_first_unfolding(matrix, p_shapes, q_shapes, start, stop)
        gram.addmm_(columns, columns.T)
    eigenvalues, eigenvectors = torch.linalg.eigh(gram)
    order = torch.argsort(eigenvalues, descending=True)
    squared_norm = float(gram.trace())
    first_sigma = eigenvalues[order].clamp_min(0.0).sqrt()
    first_rank = internal_ranks[0]
    left = eigenvectors[:, order[:first_rank]]  # (p1 q1, r1), orthonormal columns

    rest_cols = dim // q_shapes[0]
    projected = torch.empty(first_rank, block_rows, rest_cols, dtype=torch.float64)
    for start, stop in chunks:
        columns = _gather_first_unfolding(matrix, p_shapes, q_shapes, start, stop)
        projected[:, start:stop] = (left.T @ columns).view(first_rank, stop - start, rest_cols)

    cores = [left.reshape(p_shapes[0], 1, q_shapes[0], first_rank)]
    discarded = [float((first_sigma[first_rank:] ** 2).sum())]
    singular_values = [first_sigma]
    cores_rest, sigmas_rest, discarded_rest = _in_memory_tt_svd(
        projected, p_shapes[1:], q_shapes[1:], internal_ranks
    )
    del projected
    cores.extend(cores_rest)
    singular_values.extend(sigmas_rest)
    discarded.extend(discarded_rest)

    norm = math.sqrt(squared_norm)
    error_bound = math.sqrt(sum(discarded)) / norm if norm > 0 else 0.0
    relative_error = _relative_error(matrix, cores, p_shapes, q_shapes, norm)
    return TTSVDResult(
        cores=[core.to(dtype) for core in cores],
        tt_ranks=(1, *internal_ranks, 1),
        relative_error=relative_error,
        error_bound=error_bound,
        singular_values=singular_values,
    )


def _in_memory_tt_svd(
    projected: torch.Tensor,
    p_rest: tuple[int, ...],
    q_rest: tuple[int, ...],
    internal_ranks: tuple[int, ...],
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[float]]:
    """TT-SVD of ``C`` (``r_1 x prod(p_rest) x prod(q_rest)``) into cores 2..d."""
    num_rest = len(p_rest)
    previous_rank = projected.shape[0]
    # (r1, i2..id, j2..jd) -> (r1, i2, j2, i3, j3, ...)
    tensor = projected.reshape(previous_rank, *p_rest, *q_rest)
    interleave = [0] + [axis for k in range(num_rest) for axis in (1 + k, 1 + num_rest + k)]
    remainder = tensor.permute(*interleave).contiguous()
    cores, sigmas, discarded = [], [], []
    for k in range(num_rest - 1):
        rank = internal_ranks[k + 1]
        unfolding = remainder.reshape(previous_rank * p_rest[k] * q_rest[k], -1)
        left, sigma, right_t = torch.linalg.svd(unfolding, full_matrices=False)
        cores.append(
            left[:, :rank].reshape(previous_rank, p_rest[k], q_rest[k], rank).permute(1, 0, 2, 3)
        )
        sigmas.append(sigma)
        discarded.append(float((sigma[rank:] ** 2).sum()))
        remainder = sigma[:rank, None] * right_t[:rank]
        previous_rank = rank
    last = remainder.reshape(previous_rank, p_rest[-1], q_rest[-1], 1).permute(1, 0, 2, 3)
    cores.append(last)
    return [core.contiguous() for core in cores], sigmas, discarded


def _block_rows_from_cores(cores: list[torch.Tensor], first_digit: int) -> torch.Tensor:
    """Rows ``first_digit * P' .. (first_digit + 1) * P' - 1`` of the TT, ``(P', D)`` float64."""
    # partial[rows so far, columns so far, rank]
    partial = cores[0][first_digit, 0].unsqueeze(0)  # (1, q1, r1)
    for core in cores[1:]:
        rows, cols, _ = partial.shape
        # (rows, cols, a) x (p, a, q, b) -> (rows, p, cols, q, b)
        partial = torch.einsum("xca,paqb->xpcqb", partial, core)
        partial = partial.reshape(rows * core.shape[0], cols * core.shape[2], core.shape[3])
    return partial[:, :, 0]


def _relative_error(
    matrix: torch.Tensor | np.ndarray,
    cores: list[torch.Tensor],
    p_shapes: tuple[int, ...],
    q_shapes: tuple[int, ...],
    norm: float,
) -> float:
    num_rows = int(matrix.shape[0])
    block_rows = math.prod(p_shapes[1:])
    squared_error = 0.0
    for first_digit in range(p_shapes[0]):
        start = first_digit * block_rows
        block = _block_rows_from_cores(cores, first_digit)
        stop = min(start + block_rows, num_rows)
        if stop > start:
            difference = block[: stop - start] - _rows_as_float64(matrix, start, stop)
            squared_error += float((difference**2).sum())
        squared_error += float((block[max(stop - start, 0) :] ** 2).sum())
    if norm == 0.0:
        return 0.0 if squared_error == 0.0 else math.inf
    return math.sqrt(squared_error) / norm
