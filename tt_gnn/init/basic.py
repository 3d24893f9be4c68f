"""Gaussian, orthogonal and dense (TT-SVD of a given table) TT-core initializers."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from tt_gnn.decomposition import TTSVDResult, tt_svd
from tt_gnn.init.registry import _LOGGER, InitContext, register_initializer


def gaussian_cores(context: InitContext, std: float = 1.0) -> list[torch.Tensor]:
    """Sampled-Gaussian cores (TT-Rec) whose materialized entries have standard deviation ``std``.

    Every core entry is drawn i.i.d. from ``N(0, s^2)``. An entry of the table is a sum of
    ``R = r_1 * ... * r_{d-1}`` products of ``d`` independent core entries, so its variance is
    ``R * s^(2d)``; choosing ``s = (std^2 / R) ** (1 / (2d))`` gives the table entries mean 0
    and standard deviation ``std`` exactly (they are not Gaussian: products have heavier tails).
    The default ``std=1.0`` matches ``torch.nn.Embedding``'s ``N(0, 1)`` rows.
    """
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    shapes = context.shapes
    rank_product = math.prod(context.tt_ranks[1:-1])
    core_std = (std**2 / rank_product) ** (1.0 / (2 * shapes.num_cores))
    return [
        torch.randn(shape, generator=context.generator, dtype=torch.float64).mul_(core_std)
        for shape in shapes.core_shapes
    ]


@register_initializer("gaussian")
def _gaussian(context: InitContext) -> list[torch.Tensor]:
    return gaussian_cores(context, **context.options)


def _orthonormal(rows: int, columns: int, generator: torch.Generator) -> torch.Tensor:
    """Haar-random ``rows x columns`` float64 matrix with orthonormal columns (rows if wide)."""
    tall = rows >= columns
    gaussian = torch.randn(
        (rows, columns) if tall else (columns, rows), generator=generator, dtype=torch.float64
    )
    q, r = torch.linalg.qr(gaussian)
    q = q * torch.sign(torch.diagonal(r)).where(torch.diagonal(r) != 0, 1.0)
    return q if tall else q.T


def _orthogonality_center(p: Sequence[int], q: Sequence[int], ranks: Sequence[int]) -> int:
    """Core index ``c`` for which the most cores can have orthonormal unfoldings."""

    def satisfied(center: int) -> int:
        count = 0
        for k in range(len(p)):
            left, right = ranks[k], ranks[k + 1]
            if k < center:
                count += left * p[k] >= q[k] * right
            elif k > center:
                count += p[k] * right >= left * q[k]
            else:
                count += left * p[k] * right >= q[k]
        return count

    return max(range(len(p)), key=lambda center: (satisfied(center), -center))


def orthogonal_cores(context: InitContext, gain: float = 1.0) -> list[torch.Tensor]:
    """Random cores whose full table has orthogonal columns: ``W^T W = gain^2 * prod(p) * I``.

    Construction (no large QR: the biggest factorized matrix is one core's unfolding). Pick a
    center core ``c``. Core ``k < c`` is drawn so that its ``(r_{k-1} p_k) x (q_k r_k)``
    unfolding (rows ``(a, i)``, columns ``(j, b)``) has orthonormal columns; core ``k > c`` so
    that its ``(p_k r_k) x (r_{k-1} q_k)`` unfolding does; core ``c`` so that its
    ``(r_{c-1} p_c r_c) x q_c`` unfolding does. Contracting ``W^T W`` from both ends then
    collapses every core to an identity, so the table over all ``prod(p)`` rows (padding
    included) has orthonormal columns; core ``k`` is then scaled by ``gain^(1/d) sqrt(p_k)``,
    giving entries of root-mean-square ``gain`` like ``N(0, gain^2)`` rows.

    Exactness needs ``r_{k-1} p_k >= q_k r_k`` left of ``c``, ``p_k r_k >= r_{k-1} q_k`` right of
    it and ``r_{c-1} p_c r_c >= q_c`` at it; ``c`` is chosen to satisfy as many as possible
    (typical shapes, e.g. p=(125,140,140), q=(4,4,8), r=16, satisfy all). A core that cannot
    is drawn with orthonormal rows scaled by ``sqrt(columns / rows)``: its unfolding then has
    ``E[M^T M] = I``, so ``W^T W`` equals the target in expectation but not exactly (the
    closest the shapes allow). Over the ``N < prod(p)`` addressed rows alone, ``W^T W`` is
    ``gain^2 N I`` only approximately (the padding rows are left out).

    Example:
        >>> from tt_gnn.init import initialize_cores
        >>> from tt_gnn.shapes import choose_shapes
        >>> shapes = choose_shapes(1000, 8, p_shapes=(10, 10, 10), q_shapes=(2, 2, 2))
        >>> cores = initialize_cores("ortho", shapes, (1, 4, 4, 1), seed=0)
        >>> [tuple(c.shape) for c in cores]
        [(10, 1, 2, 4), (10, 4, 2, 4), (10, 4, 2, 1)]
    """
    if not gain > 0:
        raise ValueError(f"gain must be > 0, got {gain}")
    p, q = context.shapes.p_shapes, context.shapes.q_shapes
    ranks = context.tt_ranks
    num_cores = len(p)
    center = _orthogonality_center(p, q, ranks)
    cores = []
    for k in range(num_cores):
        left, right = ranks[k], ranks[k + 1]
        if k < center:  # rows (a, i), columns (j, b)
            rows, columns = left * p[k], q[k] * right
            unfolding = _orthonormal(rows, columns, context.generator)
            core = unfolding.reshape(left, p[k], q[k], right).permute(1, 0, 2, 3)
        elif k > center:  # rows (i, b), columns (a, j)
            rows, columns = p[k] * right, left * q[k]
            unfolding = _orthonormal(rows, columns, context.generator)
            core = unfolding.reshape(p[k], right, left, q[k]).permute(0, 2, 3, 1)
        else:  # rows (a, i, b), columns (j)
            rows, columns = left * p[k] * right, q[k]
            unfolding = _orthonormal(rows, columns, context.generator)
            core = unfolding.reshape(left, p[k], right, q[k]).permute(1, 0, 3, 2)
        scale = gain ** (1.0 / num_cores) * math.sqrt(p[k])
        if rows < columns:
            scale *= math.sqrt(columns / rows)
        cores.append(core.contiguous() * scale)
    return cores


@register_initializer("ortho")
def _ortho(context: InitContext) -> list[torch.Tensor]:
    return orthogonal_cores(context, **context.options)


def _decompose(
    context: InitContext,
    weight: torch.Tensor | np.ndarray,
    max_memory_bytes: int | None,
) -> TTSVDResult:
    shapes = context.shapes
    return tt_svd(
        weight,
        shapes.p_shapes,
        shapes.q_shapes,
        ranks=context.tt_ranks[1:-1],
        dtype=torch.float64,
        max_memory_bytes=max_memory_bytes,
    )


def _all_finite(weight: torch.Tensor | np.ndarray, chunk_rows: int = 1 << 16) -> bool:
    """Whether every entry is finite, checked in row chunks (``np.memmap`` stays on disk)."""
    for start in range(0, weight.shape[0], chunk_rows):
        block = weight[start : start + chunk_rows]
        finite = torch.isfinite(block).all() if isinstance(block, torch.Tensor) else np.isfinite(
            block
        ).all()
        if not bool(finite):
            return False
    return True


def dense_cores(
    context: InitContext,
    weight: torch.Tensor | np.ndarray,
    *,
    max_memory_bytes: int | None = None,
    report: dict[str, Any] | None = None,
) -> list[torch.Tensor]:
    """Cores of the TT-SVD (:func:`tt_gnn.decomposition.tt_svd`) of a given ``N x D`` table.

    Args:
        weight: ``(num_embeddings, embedding_dim)`` tensor or array (``np.memmap`` works).
        max_memory_bytes: budget for the TT-SVD (default ``MemAvailable``).
        report: a dict to fill with ``relative_error``, ``error_bound`` and ``seconds``.

    Example:
        >>> import torch
        >>> from tt_gnn.init import initialize_cores
        >>> from tt_gnn.shapes import choose_shapes
        >>> table = torch.randn(1000, 8, dtype=torch.float64)
        >>> shapes = choose_shapes(1000, 8, p_shapes=(10, 10, 10), q_shapes=(2, 2, 2))
        >>> cores = initialize_cores("dense", shapes, (1, 20, 20, 1), weight=table)
        >>> len(cores)
        3
    """
    shapes = context.shapes
    expected = (shapes.num_embeddings, shapes.embedding_dim)
    if not isinstance(weight, (torch.Tensor, np.ndarray)):
        raise TypeError(f"weight must be a tensor or numpy array, got {type(weight).__name__}")
    if tuple(weight.shape) != expected:
        raise ValueError(
            f"weight has shape {tuple(weight.shape)}, expected (num_embeddings, embedding_dim)="
            f"{expected}"
        )
    started = time.perf_counter()
    if not _all_finite(weight):
        raise ValueError("weight holds NaN or inf entries; a TT decomposition needs finite values")
    result = _decompose(context, weight, max_memory_bytes)
    _LOGGER.info(
        "dense init: TT-SVD relative error %.4g (bound %.4g)",
        result.relative_error,
        result.error_bound,
    )
    if report is not None:
        report.update(
            relative_error=result.relative_error,
            error_bound=result.error_bound,
            seconds=time.perf_counter() - started,
        )
    return result.cores


@register_initializer("dense")
def _dense(context: InitContext) -> list[torch.Tensor]:
    if "weight" not in context.options:
        raise ValueError('init="dense" needs the option weight=<(num_embeddings, dim) tensor>')
    return dense_cores(context, **context.options)
