"""Bottom eigenvectors of the symmetric normalized graph Laplacian, at millions of nodes.

``L = I - D^{-1/2} A D^{-1/2}`` for the symmetrized 0/1 adjacency ``A`` (self-loops dropped)
and degrees ``D``. Its spectrum lies in ``[0, 2]``. Following Chung, an isolated node has
``L_ii = 0``, so the null space of ``L`` is spanned by one **trivial** vector per connected
component: ``sqrt(degree)`` restricted to the component (the unit vector ``e_i`` for an
isolated node ``i``). Those carry no information beyond component membership and are
skipped: :func:`laplacian_eigenvectors` returns the eigenpairs with the smallest eigenvalues
of ``L`` restricted to the orthogonal complement of the trivial vectors. Consequently an
isolated node has a zero row in every returned eigenvector, and at most
``N - num_components`` vectors exist.

The solver is a Chebyshev-filtered subspace iteration (Zhou and Saad, 2007) on a block of
``num_vectors + oversampling`` vectors: each iteration applies a degree-``m`` Chebyshev
polynomial of ``L`` that damps ``[c, 2]`` (``c`` = the largest current Ritz value), projects
out the trivial vectors, orthonormalizes (Householder QR) and does a Rayleigh-Ritz step. It
needs ``m + 1`` sparse-times-block products per iteration and no linear solves; float32 is
enough for initialization (residuals down to about ``1e-5``), float64 for tight tolerances.
Sparse products use ``torch`` CSR (multi-threaded).

Graphs with many communities have thousands of nearly equal small eigenvalues; the block
enters that cluster within one or two iterations (residual ~1e-2) but sorting vectors inside
it converges slowly, so a loose ``tol`` is the right choice for initialization. Measured
(``experiments/results/spectral_scale.md``): 2.45M nodes, 54.6M edges, 64 vectors on 2
shared cores: 2 iterations, 6 to 12 min depending on the load, 6.3 GiB peak.

Memory: the CSR matrix (``nnz * (4 + index bytes)``) plus two dense ``N x k`` blocks (three
while the QR factorization runs), ``k = num_vectors + oversampling``: the column-wise steps
(the Chebyshev filter, the projections, the residuals) run on 16 columns at a time; while the
Laplacian is built, about 24 bytes per edge.

Example:
    >>> from tt_gnn.synthetic import planted_partition_graph
    >>> g = planted_partition_graph(600, 6, average_degree=20, mixing=0.1, seed=0)
    >>> result = laplacian_eigenvectors((g.src, g.dst), 5, num_nodes=600, seed=0)
    >>> result.eigenvectors.shape, bool(result.converged)
    (torch.Size([600, 5]), True)
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components

from tt_gnn.graph import Graph, GraphLike, edge_arrays, symmetric_adjacency
from tt_gnn.io import available_memory_bytes

__all__ = [
    "SpectralResult",
    "laplacian_eigenvectors",
    "normalized_adjacency",
    "solve_memory_bytes",
]

_LOGGER = logging.getLogger(__name__)


@dataclass
class SpectralResult:
    """Eigenpairs of the normalized Laplacian returned by :func:`laplacian_eigenvectors`.

    Attributes:
        eigenvalues: ``(k,)`` ascending (Ritz values of ``L``).
        eigenvectors: ``(N, k)`` orthonormal columns, each orthogonal to the trivial vectors;
            sign fixed so that the entry of largest magnitude is positive.
        residual_norms: ``(k,)`` ``||L v - lambda v||_2`` per (unit) eigenvector.
        num_components: connected components (isolated nodes included).
        num_isolated: nodes without neighbours (zero rows in ``eigenvectors``).
        iterations: subspace iterations done.
        converged: every residual norm is ``<= tol``.
        sparse_products: sparse-matrix-times-vector products performed (a product with a
            block of ``b`` columns counts ``b``).
        seconds: wall time of the solve (graph preparation included).
    """

    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor
    residual_norms: torch.Tensor
    num_components: int
    num_isolated: int
    iterations: int
    converged: bool
    sparse_products: int
    seconds: float


def normalized_adjacency(
    graph: GraphLike, num_nodes: int | None = None, *, dtype: type = np.float32
) -> tuple[sp.csr_matrix, np.ndarray]:
    """``S = D^{-1/2} A D^{-1/2}`` in CSR and the degrees; rows of isolated nodes are empty.

    ``L = I - S`` except on isolated nodes, where :mod:`tt_gnn.spectral` uses ``L_ii = 0``.

    Shapes:
        Output: ``(N, N)`` CSR of ``dtype`` and ``(N,)`` int64 degrees.

    Example:
        >>> s, degree = normalized_adjacency(([0, 1], [1, 2]))
        >>> degree.tolist(), round(float(s[0, 1]), 4)
        ([1, 2, 1], 0.7071)
    """
    adjacency = symmetric_adjacency(graph, num_nodes, dtype=dtype)
    degree = np.diff(adjacency.indptr).astype(np.int64)
    inverse_sqrt = np.zeros(degree.shape[0], dtype=dtype)
    connected = degree > 0
    inverse_sqrt[connected] = 1.0 / np.sqrt(degree[connected])
    adjacency.data *= inverse_sqrt[adjacency.indices]
    adjacency.data *= np.repeat(inverse_sqrt, degree)
    return adjacency, degree


#: Columns of an ``N x k`` block processed at a time by the column-wise steps of the solver
#: (the Chebyshev filter, the projections, the residuals): their temporaries are ``N x 16``,
#: not ``N x k``, so the solve holds about two full blocks at a time.
_COLUMN_CHUNK = 16


def _column_chunks(block: torch.Tensor) -> list[slice]:
    """Slices of ``_COLUMN_CHUNK`` columns covering ``block``'s columns."""
    columns = block.shape[1]
    return [
        slice(start, min(start + _COLUMN_CHUNK, columns))
        for start in range(0, columns, _COLUMN_CHUNK)
    ]


class _TrivialSpace:
    """Projector onto the complement of the per-component null vectors of ``L``."""

    def __init__(self, adjacency: sp.csr_matrix, degree: np.ndarray, dtype: torch.dtype):
        self.num_components, labels = connected_components(adjacency, directed=False)
        self.labels = torch.from_numpy(labels.astype(np.int64))
        weights = np.sqrt(degree.astype(np.float64))
        weights[degree == 0] = 1.0
        norms = np.sqrt(np.bincount(labels, weights=weights**2, minlength=self.num_components))
        self.vector = torch.from_numpy(weights / norms[labels]).to(dtype)  # (N,) unit per component

    def project_out(self, block: torch.Tensor) -> torch.Tensor:
        """Removes the trivial components from ``block`` in place (by column chunks)."""
        for columns in _column_chunks(block):
            part = block[:, columns]
            weighted = part * self.vector[:, None]
            coefficients = torch.zeros(self.num_components, part.shape[1], dtype=block.dtype)
            coefficients.index_add_(0, self.labels, weighted)
            del weighted
            part -= self.vector[:, None] * coefficients[self.labels]
        return block


class _Laplacian:
    """``L x = x - S x`` on blocks (with ``L_ii = 0`` for isolated nodes), counting products."""

    def __init__(self, normalized: sp.csr_matrix, degree: np.ndarray, dtype: torch.dtype):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            self.matrix = torch.sparse_csr_tensor(
                torch.from_numpy(normalized.indptr),
                torch.from_numpy(normalized.indices),
                torch.from_numpy(normalized.data).to(dtype),
                size=normalized.shape,
                check_invariants=False,
            )
        self.connected = torch.from_numpy(degree > 0).to(dtype)[:, None]
        self.products = 0

    def __call__(self, block: torch.Tensor) -> torch.Tensor:
        self.products += block.shape[1]
        return block * self.connected - self.matrix @ block


def _memory_estimate(num_nodes: int, nnz: int, block_size: int, itemsize: int) -> int:
    sparse_bytes = nnz * (itemsize + 8) + 8 * (num_nodes + 1)
    # symmetrization: the CSR of the edges, its transpose and their sum
    preparation_bytes = 2 * nnz * (8 + itemsize)
    block_bytes = num_nodes * block_size * itemsize
    return max(preparation_bytes, sparse_bytes + 3 * block_bytes) + 24 * num_nodes


def solve_memory_bytes(
    num_nodes: int, num_edges: int, num_vectors: int, dtype: torch.dtype = torch.float32
) -> int:
    """Bytes :func:`laplacian_eigenvectors` needs at its peak, by the estimate it checks
    against its budget (default oversampling).

    Args:
        num_nodes: ``N``; num_edges: directed edges of the input (each counted once);
        num_vectors: ``k``; dtype: the solver's dtype.

    Example:
        >>> round(solve_memory_bytes(2_449_029, 123_718_152, 128) / 2**30, 1)
        7.2
    """
    itemsize = 4 if dtype == torch.float32 else 8
    block = num_vectors + max(8, num_vectors // 4)
    return _memory_estimate(num_nodes, 2 * num_edges, block, itemsize)


def _chebyshev_filter(
    laplacian: _Laplacian, block: torch.Tensor, degree: int, cut: float, lowest: float
) -> torch.Tensor:
    """Scaled Chebyshev filter: damps eigenvalues in ``[cut, 2]``, amplifies those below."""
    half_width = (2.0 - cut) / 2.0
    center = (2.0 + cut) / 2.0
    sigma = half_width / (lowest - center)
    tau = 2.0 / sigma
    previous = block
    current = (laplacian(block) - center * block) * (sigma / half_width)
    for _ in range(2, degree + 1):
        sigma_next = 1.0 / (tau - sigma)
        following = laplacian(current)
        following.sub_(current, alpha=center).mul_(2.0 * sigma_next / half_width)
        following.sub_(previous, alpha=sigma * sigma_next)
        previous, current, sigma = current, following, sigma_next
    return current


def _filtered(
    laplacian: _Laplacian, block: torch.Tensor, degree: int, cut: float, lowest: float
) -> torch.Tensor:
    """:func:`_chebyshev_filter` of ``block`` into a new block, a chunk of columns at a time
    (the polynomial acts on each column alone): one new ``N x k`` block plus chunk temporaries,
    instead of the four full blocks of the three-term recurrence."""
    out = torch.empty_like(block)
    for columns in _column_chunks(block):
        out[:, columns] = _chebyshev_filter(
            laplacian, block[:, columns].contiguous(), degree, cut, lowest
        )
    return out


def laplacian_eigenvectors(
    graph: GraphLike,
    num_vectors: int,
    *,
    num_nodes: int | None = None,
    tol: float = 1e-3,
    max_iterations: int = 60,
    filter_degree: int = 8,
    oversampling: int | None = None,
    dtype: torch.dtype = torch.float32,
    seed: int | None = 0,
    generator: torch.Generator | None = None,
    max_memory_bytes: int | None = None,
) -> SpectralResult:
    """The ``num_vectors`` smallest non-trivial eigenpairs of the normalized Laplacian.

    Args:
        graph: a DGLGraph, a square scipy.sparse matrix or a ``(src, dst)`` pair (made
            symmetric; self-loops and duplicates dropped).
        num_vectors: ``k``, at most ``N - num_components``.
        num_nodes: node count for a ``(src, dst)`` pair (validated against other inputs).
        tol: stop when every residual ``||L v - lambda v||`` is ``<= tol`` (default 1e-3:
            a subspace good enough to initialize embeddings).
        max_iterations: subspace iterations at most (default 60); the result says whether
            it converged.
        filter_degree: Chebyshev degree ``m`` per iteration (default 8).
        oversampling: extra block vectors (default ``max(8, k // 4)``, capped by the space).
        dtype: float32 (default) or float64.
        seed, generator: the random start block (a generator wins over the seed; None for
            both draws the seed from torch's global generator).
        max_memory_bytes: budget (default ``MemAvailable``); MemoryError above it.

    Returns:
        :class:`SpectralResult` (eigenvectors ``(N, k)`` of ``dtype``).

    Raises:
        ValueError: ``num_vectors`` outside ``1..N - num_components`` (names both), a bad
            option, or graph errors from :func:`tt_gnn.graph.edge_arrays`.
        MemoryError: when the estimate exceeds the budget.

    Example:
        >>> result = laplacian_eigenvectors(([0, 1, 2, 3], [1, 2, 3, 0]), 2, dtype=torch.float64)
        >>> [round(float(x), 6) for x in result.eigenvalues]
        [1.0, 1.0]
    """
    started = time.perf_counter()
    if isinstance(num_vectors, bool) or not isinstance(num_vectors, (int, np.integer)):
        raise TypeError(f"num_vectors must be an int, got {num_vectors!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    for name, value in (("max_iterations", max_iterations), ("filter_degree", filter_degree)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if num_vectors < 1:
        raise ValueError(f"num_vectors must be >= 1, got {num_vectors}")

    extra = max(8, num_vectors // 4) if oversampling is None else int(oversampling)
    if extra < 0:
        raise ValueError(f"oversampling must be >= 0, got {oversampling}")
    if isinstance(graph, Graph) and num_nodes in (None, graph.num_nodes()):
        source: GraphLike = graph  # read as CSR by normalized_adjacency, no edge arrays
        total, num_edges = graph.num_nodes(), graph.num_edges()
    else:
        src, dst, total = edge_arrays(graph, num_nodes)
        source, num_edges = (src, dst), src.shape[0]
        del src, dst
    budget = available_memory_bytes() if max_memory_bytes is None else int(max_memory_bytes)
    itemsize = 4 if dtype == torch.float32 else 8
    estimate = _memory_estimate(total, 2 * num_edges, num_vectors + extra, itemsize)
    if budget is not None and estimate > budget:
        raise MemoryError(
            f"the eigen-solve needs about {estimate / 2**30:.2f} GiB ({total} nodes, "
            f"{num_edges} edges, block of {num_vectors + extra} {dtype} vectors), more than "
            f"the {budget / 2**30:.2f} GiB available"
        )

    numpy_dtype = np.float32 if dtype == torch.float32 else np.float64
    normalized, degree = normalized_adjacency(source, total, dtype=numpy_dtype)
    del source
    trivial = _TrivialSpace(normalized, degree, dtype)
    available = total - trivial.num_components
    if num_vectors > available:
        raise ValueError(
            f"num_vectors={num_vectors} exceeds the {available} non-trivial eigenvectors of a "
            f"graph with {total} nodes and {trivial.num_components} connected components "
            "(one trivial eigenvector per component is skipped)"
        )
    block_size = min(num_vectors + extra, available)

    laplacian = _Laplacian(normalized, degree, dtype)
    del normalized
    if generator is None:
        generator = torch.Generator()
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())  # from torch's global generator
        generator.manual_seed(int(seed))
    block = torch.randn(total, block_size, generator=generator, dtype=dtype)
    block = torch.linalg.qr(trivial.project_out(block)).Q

    iterations, converged = 0, False
    while True:
        block, ritz_values, residual_norms = _rayleigh_ritz(laplacian, block)
        converged = bool((residual_norms[:num_vectors] <= tol).all())
        _LOGGER.info(
            "iteration %d: max residual %.3g, Ritz values %.4f..%.4f, %.1f s",
            iterations,
            float(residual_norms[:num_vectors].max()),
            float(ritz_values[0]),
            float(ritz_values[num_vectors - 1]),
            time.perf_counter() - started,
        )
        if converged or iterations >= max_iterations:
            break
        # damp [cut, 2]; keep the interval non-degenerate when every Ritz value is near 2
        cut = min(float(ritz_values[-1]), 2.0 - 1e-3)
        filtered = _filtered(laplacian, block, filter_degree, cut, 0.0)
        del block
        block = torch.linalg.qr(trivial.project_out(filtered)).Q
        del filtered
        iterations += 1

    # removes roundoff along the trivial vectors (rows of isolated nodes become exactly zero)
    vectors = trivial.project_out(block[:, :num_vectors].clone())
    del block
    largest = vectors.abs().argmax(dim=0)
    signs = torch.sign(vectors[largest, torch.arange(num_vectors)])
    signs[signs == 0] = 1
    vectors.mul_(signs)
    return SpectralResult(
        eigenvalues=ritz_values[:num_vectors].clone(),
        eigenvectors=vectors,
        residual_norms=residual_norms[:num_vectors].clone(),
        num_components=int(trivial.num_components),
        num_isolated=int((degree == 0).sum()),
        iterations=iterations,
        converged=converged,
        sparse_products=laplacian.products,
        seconds=time.perf_counter() - started,
    )


def _rayleigh_ritz(
    laplacian: _Laplacian, block: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ritz vectors (ascending Ritz values) of the orthonormal ``block`` and their residuals.

    ``block^T L block`` and the residuals ``L v - lambda v`` are formed a chunk of columns at a
    time (``L`` is applied twice: to the block, then to the rotated block), so at most one new
    ``N x k`` block (the rotated one) exists beside ``block``.
    """
    size = block.shape[1]
    projected = block.new_empty(size, size)
    for columns in _column_chunks(block):
        projected[:, columns] = block.T @ laplacian(block[:, columns].contiguous())
    projected = (projected + projected.T) / 2
    ritz_values, rotation = torch.linalg.eigh(projected.double())
    rotated = block @ rotation.to(block.dtype)
    residual_norms = torch.empty(size, dtype=torch.float64)
    for columns in _column_chunks(rotated):
        part = rotated[:, columns].contiguous()
        image = laplacian(part)
        image -= part * ritz_values[columns].to(part.dtype)
        residual_norms[columns] = torch.linalg.vector_norm(image, dim=0).double()
    return rotated, ritz_values, residual_norms
