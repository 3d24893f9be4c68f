"""The spectral TT-core initializer: Laplacian eigenvectors, TT-SVD, balanced core scales."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import torch

from tt_gnn.init.basic import _decompose
from tt_gnn.init.registry import _LOGGER, InitContext, register_initializer


def _spectral_table(
    graph: Any,
    num_rows: int,
    dim: int,
    generator: torch.Generator,
    *,
    std: float = 1.0,
    tol: float = 1e-2,
    max_iterations: int = 30,
    filter_degree: int = 8,
    solver_dtype: torch.dtype = torch.float32,
    max_memory_bytes: int | None = None,
) -> tuple[torch.Tensor, Any]:
    """``(N, D)`` bottom Laplacian eigenvectors scaled to entry RMS ``std``, and the solve."""
    from tt_gnn.spectral import laplacian_eigenvectors

    if graph is None:
        raise ValueError(
            'init="spectral" needs a graph (graph=DGLGraph, scipy.sparse or (src, dst))'
        )
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    if not (isinstance(graph, (tuple, list)) and len(graph) == 2):
        # A graph object knows its node count (a (src, dst) pair only its largest id).
        from tt_gnn.graph import as_graph

        graph = as_graph(graph)
        graph_nodes = graph.num_nodes()
        if graph_nodes != num_rows:
            raise ValueError(
                f"the graph has {graph_nodes} nodes, but num_embeddings={num_rows} (one "
                "embedding row per node)"
            )
    try:
        solved = laplacian_eigenvectors(
            graph,
            dim,
            num_nodes=num_rows,
            tol=tol,
            max_iterations=max_iterations,
            filter_degree=filter_degree,
            dtype=solver_dtype,
            generator=generator,
            max_memory_bytes=max_memory_bytes,
        )
    except ValueError as error:
        raise ValueError(f"spectral init with embedding_dim={dim}: {error}") from error
    if not solved.converged:
        _LOGGER.warning(
            "spectral init: eigen-solve stopped after %d iterations with residual %.3g > tol %.3g",
            solved.iterations,
            float(solved.residual_norms.max()),
            tol,
        )
    return solved.eigenvectors.mul_(std * math.sqrt(num_rows)), solved


def _solve_report(solved: Any) -> dict[str, Any]:
    return {
        "eigenvalues": solved.eigenvalues,
        "residual_norms": solved.residual_norms,
        "converged": solved.converged,
        "iterations": solved.iterations,
        "num_components": solved.num_components,
        "solve_seconds": solved.seconds,
    }


def tt_frobenius_norm(cores: Sequence[torch.Tensor]) -> float:
    """``||W||_F`` of the TT table over all ``prod(p)`` rows, without materializing it.

    Contracts the cores' Gram matrices left to right (``O(sum_k p_k q_k r^3)``, float64).

    Example:
        >>> cores = [torch.ones(2, 1, 1, 1), torch.full((3, 1, 2, 1), 2.0)]  # a 6 x 2 table of 2s
        >>> tt_frobenius_norm(cores)
        6.928203230275509
    """
    gram = torch.ones(1, 1, dtype=torch.float64)
    for core in cores:
        core = core.to(torch.float64)
        gram = torch.einsum("ab,pajc,pbjd->cd", gram, core, core)
    return math.sqrt(max(float(gram.sum()), 0.0))


def _balance_cores(
    cores: list[torch.Tensor], target_norm: float
) -> tuple[list[torch.Tensor], float]:
    """Scale core ``k`` by ``c_k`` so that every core has the same entry RMS and the table
    has Frobenius norm ``target_norm``; the table's direction is unchanged. Returns the cores
    and the factor the table was multiplied by."""
    norm = tt_frobenius_norm(cores)
    core_rms = [float(core.pow(2).mean().sqrt()) for core in cores]
    if norm == 0.0 or min(core_rms) == 0.0:
        return cores, 1.0
    log_common = (math.log(target_norm / norm) + sum(map(math.log, core_rms))) / len(cores)
    return [
        core * (math.exp(log_common) / rms) for core, rms in zip(cores, core_rms, strict=True)
    ], target_norm / norm


def spectral_cores(
    context: InitContext,
    *,
    std: float = 1.0,
    tol: float = 1e-2,
    max_iterations: int = 30,
    filter_degree: int = 8,
    solver_dtype: torch.dtype = torch.float32,
    max_memory_bytes: int | None = None,
    report: dict[str, Any] | None = None,
) -> list[torch.Tensor]:
    """Cores approximating the graph's spectral embedding, by TT-SVD, balanced and rescaled.

    Takes ``context.graph`` (already reordered: row ``i`` is node ``i``; a DGLGraph, square
    scipy.sparse matrix or ``(src, dst)`` pair) and computes the ``embedding_dim`` non-trivial
    eigenvectors of smallest eigenvalue of the symmetric normalized Laplacian with
    :func:`tt_gnn.spectral.laplacian_eigenvectors` (one trivial vector per connected component
    skipped; isolated nodes get zero rows; seeded by the context's generator). Columns are in
    ascending eigenvalue order and scaled by ``std * sqrt(N)``: the table
    ``initialize_table("spectral", ...)`` returns, with ``W^T W = std^2 N I`` and entries of
    root-mean-square ``std``. The ``N x D`` result goes through the memory-bounded TT-SVD with
    the context's ranks.

    Scale: the TT-SVD's cores are then rescaled, which leaves the TT table's direction
    unchanged: (1) by one common factor so that the table's Frobenius norm (over its
    ``prod(p)`` rows) is again ``std * sqrt(N D)``, the norm the truncation reduced by
    ``sqrt(1 - relative_error^2)``: entries keep root-mean-square about ``std``, like the
    Gaussian init's; (2) by per-core factors whose product is 1 so that every core has the
    same entry root-mean-square (about the Gaussian init's per-core value). Why (2): TT-SVD
    leaves cores ``1..d-1`` orthonormal and the whole norm in the last core (facebook_pagepage,
    D = 128, rank 16: core entry RMS 0.10 / 0.023 / 14.6 against 0.39 / 0.40 / 0.40
    Gaussian), while Adam moves every parameter by about ``lr`` in its first steps whatever
    its size: at lr 0.03 one step changed the unbalanced table by 137% (Gaussian: 13%,
    balanced: 16%), wiping out the spectral start and costing 4 to 19 points of accuracy on
    facebook_pagepage and dblp_prone (``experiments/results/spectral_diagnosis.md``).

    Args:
        std: root-mean-square of the table entries (default 1.0, like ``N(0, 1)`` rows).
        tol, max_iterations, filter_degree: eigen-solver stopping rule (defaults 1e-2 and
            30) and filter degree (8), see :func:`tt_gnn.spectral.laplacian_eigenvectors`.
            The loose default tolerance is deliberate: graphs with many communities have
            thousands of nearly equal small eigenvalues; a residual of 1e-2 already puts the
            block inside that cluster, and sorting vectors within it costs many iterations
            for no benefit to an initialization (1e-3 measured no better in training). An
            unconverged solve is logged and reported, not an error: the subspace is still a
            useful start.
        solver_dtype: float32 (default) or float64 for the eigen-solve.
        max_memory_bytes: budget for the solve and the TT-SVD (default ``MemAvailable``).
        report: a dict to fill with ``eigenvalues``, ``residual_norms``, ``converged``,
            ``iterations``, ``num_components``, ``solve_seconds``, ``tt_svd_seconds``,
            ``relative_error`` and ``error_bound`` (of the TT-SVD of the scaled eigenvectors,
            before the rescaling: how much of them the TT keeps), ``scale`` (the factor the
            TT table was multiplied by, ``1 / sqrt(1 - relative_error^2)`` up to roundoff) and
            ``core_rms`` (per core, after balancing).

    Raises:
        ValueError: no graph, a graph whose node count is not ``num_embeddings``, or more
            columns than non-trivial eigenvectors (``embedding_dim > N - components``).

    Example:
        >>> from tt_gnn.init import initialize_cores
        >>> from tt_gnn.shapes import choose_shapes
        >>> from tt_gnn.synthetic import planted_partition_graph
        >>> g = planted_partition_graph(1000, 10, average_degree=20, seed=0)
        >>> shapes = choose_shapes(1000, 8, p_shapes=(10, 10, 10), q_shapes=(2, 2, 2))
        >>> info = {}
        >>> cores = initialize_cores("spectral", shapes, (1, 8, 8, 1), graph=(g.src, g.dst),
        ...                          seed=0, report=info)
        >>> info["relative_error"] < 1, round(tt_frobenius_norm(cores) / (1000 * 8) ** 0.5, 4)
        (True, 1.0)
    """
    shapes = context.shapes
    num_nodes = shapes.num_embeddings
    table, solved = _spectral_table(
        context.graph,
        num_nodes,
        shapes.embedding_dim,
        context.generator,
        std=std,
        tol=tol,
        max_iterations=max_iterations,
        filter_degree=filter_degree,
        solver_dtype=solver_dtype,
        max_memory_bytes=max_memory_bytes,
    )
    started = time.perf_counter()
    result = _decompose(context, table, max_memory_bytes)
    tt_svd_seconds = time.perf_counter() - started
    cores, scale = _balance_cores(result.cores, std * math.sqrt(num_nodes * shapes.embedding_dim))
    _LOGGER.info(
        "spectral init: solve %.1f s (%d iterations), TT-SVD %.1f s, relative error %.4g, "
        "table rescaled by %.3g",
        solved.seconds,
        solved.iterations,
        tt_svd_seconds,
        result.relative_error,
        scale,
    )
    if report is not None:
        report.update(_solve_report(solved))
        report.update(
            tt_svd_seconds=tt_svd_seconds,
            relative_error=result.relative_error,
            error_bound=result.error_bound,
            scale=scale,
            core_rms=[float(core.pow(2).mean().sqrt()) for core in cores],
        )
    return cores


@register_initializer("spectral")
def _spectral(context: InitContext) -> list[torch.Tensor]:
    return spectral_cores(context, **context.options)
