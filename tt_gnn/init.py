"""Initializers for TT cores, selectable by name through ``TTEmbedding(init=...)``.

Registered names:

- ``"gaussian"`` (default): i.i.d. Gaussian cores, table entries of standard deviation ``std``
  (:func:`gaussian_cores`).
- ``"ortho"``: random orthogonal cores whose table has orthogonal columns,
  ``W^T W = gain^2 * prod(p) * I`` (:func:`orthogonal_cores`).
- ``"spectral"``: bottom eigenvectors of the normalized Laplacian of ``graph``, decomposed by
  TT-SVD, then rescaled to the Gaussian init's entry and per-core scale
  (:func:`spectral_cores`).
- ``"dense"``: a given ``N x D`` table ``weight``, decomposed by TT-SVD (:func:`dense_cores`).

Every initializer is a function ``(context: InitContext) -> list[Tensor]`` returning the cores,
core ``k`` of shape ``(p_k, r_{k-1}, q_k, r_k)``, registered under a name with
:func:`register_initializer`. :func:`initialize_cores` resolves a name (or a callable) and
checks what it returns, so a new initializer is one decorated function.

:func:`initialize_table` gives full ``N x D`` tables (``nn.Embedding``) from the same names,
with the same entry scale.

Example:
    >>> from tt_gnn.shapes import choose_shapes
    >>> shapes = choose_shapes(1000, 16)
    >>> cores = initialize_cores("gaussian", shapes.with_ranks((4, 4)), seed=0)
    >>> [tuple(c.shape) for c in cores]
    [(10, 1, 2, 4), (10, 4, 2, 4), (10, 4, 4, 1)]
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from tt_gnn.checks import non_negative_int
from tt_gnn.decomposition import TTSVDResult, tt_svd
from tt_gnn.shapes import TTShapes

__all__ = [
    "InitContext",
    "Initializer",
    "register_initializer",
    "available_initializers",
    "initialize_cores",
    "gaussian_cores",
    "orthogonal_cores",
    "spectral_cores",
    "dense_cores",
    "tt_frobenius_norm",
    "initialize_table",
    "available_table_initializers",
]

_LOGGER = logging.getLogger(__name__)


@dataclass
class InitContext:
    """Everything an initializer may use.

    Attributes:
        shapes: the factorization, ranks included (``shapes.core_shapes`` are the shapes to
            return).
        tt_ranks: ``shapes.tt_ranks``, ``(1, r_1, ..., r_{d-1}, 1)``.
        dtype, device: of the cores to return.
        generator: seeded CPU generator for all random draws.
        graph: the (already reordered) graph, for graph-aware initializers; else None.
        options: initializer-specific keyword options (e.g. ``std`` for ``"gaussian"``).
    """

    shapes: TTShapes
    tt_ranks: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device
    generator: torch.Generator
    graph: Any = None
    options: dict[str, Any] = field(default_factory=dict)


Initializer = Callable[[InitContext], list[torch.Tensor]]
_REGISTRY: dict[str, Initializer] = {}


def register_initializer(name: str) -> Callable[[Initializer], Initializer]:
    """Decorator registering ``function`` as the initializer called ``name``."""

    def decorate(function: Initializer) -> Initializer:
        if name in _REGISTRY:
            raise ValueError(f"an initializer named {name!r} is already registered")
        _REGISTRY[name] = function
        return function

    return decorate


def available_initializers() -> list[str]:
    return sorted(_REGISTRY)


def initialize_cores(
    init: str | Initializer,
    shapes: TTShapes,
    tt_ranks: Sequence[int] | None = None,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    seed: int | None = None,
    graph: Any = None,
    **options: Any,
) -> list[torch.Tensor]:
    """Create cores with the initializer ``init`` (a registered name or a callable).

    Args:
        init: e.g. ``"gaussian"``; see :func:`available_initializers`.
        shapes: the factorization, ranks included.
        tt_ranks: ``(1, r_1, ..., r_{d-1}, 1)`` to use instead of ``shapes.tt_ranks``.
        dtype, device: of the returned cores (default: torch's default dtype, CPU).
        seed: seeds the draws, an integer in ``[0, 2**64)`` (None: drawn from torch's global
            generator, so ``torch.manual_seed`` makes it reproducible).
        graph: passed to graph-aware initializers.
        **options: initializer-specific options.

    Returns:
        list of ``d`` tensors, core ``k`` of shape ``(p_k, r_{k-1}, q_k, r_k)``.
    """
    if tt_ranks is not None:
        shapes = dataclasses.replace(shapes, tt_ranks=tt_ranks)  # validated there
    if callable(init):
        function = init
    elif isinstance(init, str) and init in _REGISTRY:
        function = _REGISTRY[init]
    else:
        raise ValueError(
            f"unknown initializer {init!r}; expected one of {available_initializers()} or a "
            "callable(InitContext) -> list[Tensor]"
        )
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    elif non_negative_int(seed, "seed") >= 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    context = InitContext(
        shapes=shapes,
        tt_ranks=shapes.tt_ranks,
        dtype=dtype or torch.get_default_dtype(),
        device=torch.device(device) if device is not None else torch.device("cpu"),
        generator=generator,
        graph=graph,
        options=dict(options),
    )
    cores = function(context)
    expected = shapes.core_shapes
    if len(cores) != len(expected) or any(
        tuple(core.shape) != shape for core, shape in zip(cores, expected, strict=True)
    ):
        raise ValueError(
            f"initializer {init!r} returned cores of shapes "
            f"{[tuple(c.shape) for c in cores]}, expected {expected}"
        )
    return [core.to(dtype=context.dtype, device=context.device) for core in cores]


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


# -- full tables ---------------------------------------------------------------------------

TableInitializer = Callable[..., torch.Tensor]
_TABLE_INITIALIZERS: dict[str, TableInitializer] = {}


def _table_initializer(name: str) -> Callable[[TableInitializer], TableInitializer]:
    def decorate(function: TableInitializer) -> TableInitializer:
        _TABLE_INITIALIZERS[name] = function
        return function

    return decorate


def initialize_table(
    name: str,
    num_rows: int,
    dim: int,
    *,
    graph: Any = None,
    seed: int | None = None,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
    **options: Any,
) -> torch.Tensor:
    """A full ``num_rows x dim`` embedding table from the initializer ``name``.

    The same names as the TT initializers, with the same entry scale, for a full table
    (``nn.Embedding``) that is to be compared with a TT or started like one:

    - ``"gaussian"``: i.i.d. ``N(0, std^2)``, option ``std`` (default 1.0, like
      ``nn.Embedding``).
    - ``"ortho"``: Haar-random orthogonal columns, ``W^T W = gain^2 N I`` (rows when ``N <
      D``: ``W W^T = gain^2 D I``); entries of root-mean-square ``gain`` (default 1.0).
    - ``"spectral"``: the ``dim`` bottom non-trivial eigenvectors of the normalized
      Laplacian of ``graph``, ascending, each scaled to norm ``std * sqrt(N)``, so ``W^T W =
      std^2 N I`` and entries have root-mean-square ``std`` (default 1.0); options as
      :func:`spectral_cores` (``tol``, ``max_iterations``, ``filter_degree``,
      ``solver_dtype``, ``max_memory_bytes``; ``report`` gets the solve's entries). The TT
      initializer decomposes exactly this table, then restores the root-mean-square ``std``
      that the truncation lost and balances its cores.
    - ``"dense"``: a copy of ``weight`` (option, ``(num_rows, dim)`` tensor or array).

    Args:
        name: one of :func:`available_table_initializers`.
        num_rows, dim: ``N`` and ``D``, ints >= 1.
        graph: for ``"spectral"`` (a DGLGraph, square scipy.sparse matrix or ``(src, dst)``
            pair with ``N`` nodes; row ``i`` is node ``i``).
        seed: seeds every random draw; the same seed gives the same table (None: drawn from
            torch's global generator, so ``torch.manual_seed`` makes it reproducible).
        dtype, device: of the result (default torch's default dtype, CPU).
        **options: the initializer's options above.

    Returns:
        ``(num_rows, dim)`` tensor.

    Raises:
        ValueError: an unknown name, sizes below 1, a missing or mismatched graph or
            weight, or a bad option value.

    Example:
        >>> table = initialize_table("ortho", 1000, 16, seed=0, dtype=torch.float64)
        >>> torch.allclose(table.T @ table, 1000 * torch.eye(16, dtype=torch.float64))
        True
    """
    if name not in _TABLE_INITIALIZERS:
        raise ValueError(
            f"unknown table initializer {name!r}; expected one of {available_table_initializers()}"
        )
    for label, value in (("num_rows", num_rows), ("dim", dim)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{label} must be an int >= 1, got {value!r}")
    generator = torch.Generator()
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    generator.manual_seed(int(seed))
    table = _TABLE_INITIALIZERS[name](
        int(num_rows), int(dim), generator=generator, graph=graph, **options
    )
    return table.to(
        dtype=dtype or torch.get_default_dtype(),
        device=torch.device(device) if device is not None else torch.device("cpu"),
    )


def available_table_initializers() -> list[str]:
    """Names :func:`initialize_table` accepts."""
    return sorted(_TABLE_INITIALIZERS)


@_table_initializer("gaussian")
def _gaussian_table(
    num_rows: int, dim: int, *, generator: torch.Generator, graph: Any, std: float = 1.0
) -> torch.Tensor:
    if not std > 0:
        raise ValueError(f"std must be > 0, got {std}")
    return torch.randn(num_rows, dim, generator=generator, dtype=torch.float64).mul_(std)


@_table_initializer("ortho")
def _orthogonal_table(
    num_rows: int, dim: int, *, generator: torch.Generator, graph: Any, gain: float = 1.0
) -> torch.Tensor:
    if not gain > 0:
        raise ValueError(f"gain must be > 0, got {gain}")
    return _orthonormal(num_rows, dim, generator).mul_(gain * math.sqrt(max(num_rows, dim)))


@_table_initializer("spectral")
def _spectral_table_initializer(
    num_rows: int, dim: int, *, generator: torch.Generator, graph: Any, **options: Any
) -> torch.Tensor:
    report = options.pop("report", None)
    table, solved = _spectral_table(graph, num_rows, dim, generator, **options)
    if report is not None:
        report.update(_solve_report(solved))
    return table


@_table_initializer("dense")
def _dense_table(
    num_rows: int,
    dim: int,
    *,
    generator: torch.Generator,
    graph: Any,
    weight: torch.Tensor | np.ndarray | None = None,
) -> torch.Tensor:
    if weight is None:
        raise ValueError('initialize_table("dense", ...) needs weight=<(num_rows, dim) tensor>')
    if not isinstance(weight, (torch.Tensor, np.ndarray)):
        raise TypeError(f"weight must be a tensor or numpy array, got {type(weight).__name__}")
    if tuple(weight.shape) != (num_rows, dim):
        raise ValueError(
            f"weight has shape {tuple(weight.shape)}, expected (num_rows, dim)={(num_rows, dim)}"
        )
    return torch.as_tensor(np.asarray(weight) if isinstance(weight, np.ndarray) else weight).clone()
