"""Relabel a graph so that TT row blocks follow graph partitions.

After ``reorder_graph`` a node's new id is its TT row: nodes of one leaf block (``p_d``
consecutive ids) share the digits ``(i_1, ..., i_{d-1})`` and hence all core slices but the
last, so tightly connected nodes share parameters. No per-node index map is needed.

Example:
    >>> src, dst = np.array([0, 2, 1]), np.array([2, 0, 3])
    >>> (new_src, new_dst), report = reorder_graph((src, dst), p_shapes=(2, 2))
    >>> report.permutation.tolist(), report.levels[-1].edge_cut
    ([0, 2, 1, 3], 0)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tt_gnn.checks import non_negative_int
from tt_gnn.graph import GraphLike, edge_arrays, relabel_graph, symmetric_adjacency
from tt_gnn.options import REORDER_METHODS as METHODS
from tt_gnn.options import parse_reorder
from tt_gnn.partition import flat_metis_order, tt_partition_order
from tt_gnn.shapes import choose_shapes

__all__ = [
    "METHODS",
    "BlockLevelStats",
    "ReorderReport",
    "compute_order",
    "reorder_graph",
    "block_edge_cuts",
]


_CHUNK_ROWS = 1 << 20


@dataclass(frozen=True)
class BlockLevelStats:
    """Edge cut of one level of blocks of consecutive new ids.

    Attributes:
        name: e.g. ``"level 1"`` (blocks sharing ``i_1``) or ``"metis parts"``.
        block_size: ids per full block (0 for the variable-size parts of flat METIS).
        num_blocks: number of blocks.
        smallest_block, largest_block: node counts of the smallest and largest block.
        edge_cut: undirected edges (no self-loops, duplicates merged) between blocks.
        cut_fraction: ``edge_cut / num_edges`` (0 for a graph without edges).
    """

    name: str
    block_size: int
    num_blocks: int
    smallest_block: int
    largest_block: int
    edge_cut: int
    cut_fraction: float


@dataclass
class ReorderReport:
    """What :func:`reorder_graph` did.

    Attributes:
        method: ``"tt-metis"``, ``"metis"``, ``"random"`` or ``"none"``.
        num_nodes, num_edges: nodes; undirected edges of the symmetrized graph without
            self-loops or duplicates.
        p_shapes: the TT row shape the levels refer to.
        permutation: int64 ``[N]``, ``permutation[new] = old``.
        inverse: int64 ``[N]``, ``inverse[old] = new``.
        levels: edge cut of the TT blocks, level 1 (``p_2*...*p_d`` ids) to the leaves
            (``p_d`` ids), for every method.
        partition: for ``method="metis"``, the cut of its ``num_parts`` parts; else None.
        edge_homophily: fraction of edges (both ends labeled) joining equal labels, or None.
        leaf_homophily: fraction of labeled node pairs inside a leaf block with equal labels.
        chance_homophily: the same for two labeled nodes drawn at random, ``sum_c f_c^2``.
        seconds: wall time of the whole call; metis_seconds: time inside METIS.
        seed: the seed used.
    """

    method: str
    num_nodes: int
    num_edges: int
    p_shapes: tuple[int, ...]
    permutation: np.ndarray
    inverse: np.ndarray
    levels: list[BlockLevelStats]
    partition: BlockLevelStats | None = None
    edge_homophily: float | None = None
    leaf_homophily: float | None = None
    chance_homophily: float | None = None
    seconds: float = 0.0
    metis_seconds: float = 0.0
    seed: int = 0

    @property
    def leaf_edge_cut(self) -> int:
        """Edges between leaf blocks (``p_d`` consecutive ids)."""
        return self.levels[-1].edge_cut

    def summary(self) -> str:
        """One line: method, size, leaf cut, homophily, time."""
        text = (
            f"{self.method}: N={self.num_nodes:,} E={self.num_edges:,} p={self.p_shapes} "
            f"leaf cut {self.leaf_edge_cut:,} ({self.levels[-1].cut_fraction:.1%})"
        )
        if self.partition is not None:
            text += f", metis parts cut {self.partition.edge_cut:,}"
        if self.leaf_homophily is not None:
            text += (
                f", leaf homophily {self.leaf_homophily:.3f} (edges {self.edge_homophily:.3f},"
                f" chance {self.chance_homophily:.3f})"
            )
        return text + f", {self.seconds:.2f} s"

    def to_markdown(self) -> str:
        """A markdown table of the levels, preceded by the summary line."""
        lines = [
            self.summary(),
            "",
            "| blocks | block size | count | sizes (min-max) | edge cut | cut fraction |",
            "|---|---|---|---|---|---|",
        ]
        rows = list(self.levels) + ([self.partition] if self.partition is not None else [])
        for stats in rows:
            lines.append(
                f"| {stats.name} | {stats.block_size or 'varies'} | {stats.num_blocks:,} | "
                f"{stats.smallest_block:,}-{stats.largest_block:,} | {stats.edge_cut:,} | "
                f"{stats.cut_fraction:.4f} |"
            )
        return "\n".join(lines)


# METIS seeds are C int64, and tt-metis adds small offsets to the seed for its retries.
_SEED_LIMIT = 2**62


def _resolve_p_shapes(p_shapes: object, num_nodes: int, num_cores: int) -> tuple[int, ...]:
    if p_shapes is None:
        return choose_shapes(num_nodes, 1, num_cores=num_cores).p_shapes
    embedding_rows = getattr(p_shapes, "num_embeddings", None)
    if hasattr(p_shapes, "p_shapes"):
        if embedding_rows is not None and int(embedding_rows) != num_nodes:
            raise ValueError(
                f"the TT embedding has num_embeddings={embedding_rows}, but the graph has "
                f"{num_nodes} nodes"
            )
        p_shapes = p_shapes.p_shapes
    if not isinstance(p_shapes, Sequence) or isinstance(p_shapes, str):
        raise TypeError(
            f"p_shapes must be a sequence of ints, a TTEmbedding or None, got {p_shapes!r}"
        )
    shape = tuple(p_shapes)
    if len(shape) < 2:
        raise ValueError(f"p_shapes must have at least 2 factors (TT cores), got {shape}")
    for factor in shape:
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
            raise ValueError(f"every entry of p_shapes {shape} must be an int >= 1")
    shape = tuple(int(factor) for factor in shape)
    if math.prod(shape) < num_nodes:
        raise ValueError(
            f"p_shapes {shape} multiply to {math.prod(shape)}, fewer than the graph's "
            f"{num_nodes} nodes"
        )
    return shape


def _as_labels(labels: object, num_nodes: int) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    array = np.asarray(labels)
    if array.ndim != 1 or array.shape[0] != num_nodes:
        raise ValueError(
            f"labels must be 1-D class ids of length num_nodes={num_nodes}, got shape {array.shape}"
        )
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"labels must be integer class ids (-1 = unknown), got {array.dtype}")
    if array.size and (int(array.min()) < -1 or int(array.max()) >= num_nodes):
        bad = int(array.min()) if int(array.min()) < -1 else int(array.max())
        raise ValueError(
            f"labels must be class ids in 0..{num_nodes - 1} or -1 (unknown), got {bad}"
        )
    return array.astype(np.int64, copy=False)


def block_edge_cuts(
    indptr: np.ndarray, indices: np.ndarray, inverse: np.ndarray, block_sizes: Sequence[int]
) -> list[int]:
    """Undirected edges crossing blocks of each size, after relabeling ``old -> inverse[old]``.

    Shapes:
        ``indptr [n + 1]``, ``indices [nnz]`` symmetric without self-loops; ``inverse [n]``.
        Output: one count per entry of ``block_sizes``.

    Example:
        >>> block_edge_cuts(np.array([0, 1, 2]), np.array([1, 0]), np.array([0, 1]), [1, 2])
        [1, 0]
    """
    num_nodes = indptr.shape[0] - 1
    crossing = [0] * len(block_sizes)
    for row_start in range(0, num_nodes, _CHUNK_ROWS):
        row_stop = min(row_start + _CHUNK_ROWS, num_nodes)
        row_position = np.repeat(
            inverse[row_start:row_stop], np.diff(indptr[row_start : row_stop + 1])
        )
        column_position = inverse[indices[indptr[row_start] : indptr[row_stop]]]
        for index, size in enumerate(block_sizes):
            crossing[index] += int(
                np.count_nonzero(row_position // size != column_position // size)
            )
    return [count // 2 for count in crossing]


def _homophily(
    indptr: np.ndarray,
    indices: np.ndarray,
    labels: np.ndarray,
    inverse: np.ndarray,
    leaf_size: int,
) -> tuple[float, float, float]:
    """(edge homophily, leaf-block pair homophily, chance pair homophily); nan when undefined."""
    same = labeled = 0
    num_nodes = indptr.shape[0] - 1
    for row_start in range(0, num_nodes, _CHUNK_ROWS):
        row_stop = min(row_start + _CHUNK_ROWS, num_nodes)
        row_labels = np.repeat(
            labels[row_start:row_stop], np.diff(indptr[row_start : row_stop + 1])
        )
        column_labels = labels[indices[indptr[row_start] : indptr[row_stop]]]
        both = (row_labels >= 0) & (column_labels >= 0)
        labeled += int(both.sum())
        same += int((both & (row_labels == column_labels)).sum())
    edge = same / labeled if labeled else float("nan")

    known = labels >= 0
    classes = int(labels.max()) + 1 if known.any() else 1
    leaf = inverse[known] // leaf_size
    counts = np.bincount(leaf * classes + labels[known]).astype(np.float64)
    per_leaf = np.bincount(leaf).astype(np.float64)
    pairs = float((per_leaf * (per_leaf - 1)).sum())
    leaf_pairs = float((counts * (counts - 1)).sum()) / pairs if pairs else float("nan")
    fractions = np.bincount(labels[known], minlength=classes) / max(int(known.sum()), 1)
    chance = float((fractions**2).sum()) if known.any() else float("nan")
    return edge, leaf_pairs, chance


def compute_order(
    g: GraphLike,
    p_shapes: Sequence[int] | Any | None = None,
    *,
    method: str = "tt-metis",
    num_parts: int | None = None,
    seed: int = 0,
    labels: Any = None,
    num_nodes: int | None = None,
    num_cores: int = 3,
) -> ReorderReport:
    """The node order of :func:`reorder_graph` and its report, without relabeling anything.

    Same arguments as :func:`reorder_graph`; apply the order with
    :func:`tt_gnn.graph.relabel_graph` (``report.permutation[new] = old``).

    Example:
        >>> report = compute_order(([0, 1, 2], [3, 4, 5]), p_shapes=(3, 2))
        >>> report.leaf_edge_cut, report.permutation.shape
        (0, (6,))
    """
    started = time.perf_counter()
    method, num_parts = parse_reorder(method, num_parts)
    if non_negative_int(seed, "seed") >= _SEED_LIMIT:
        raise ValueError(f"seed must be below 2**62 (METIS takes a C int64), got {seed}")
    src, dst, total = edge_arrays(g, num_nodes)
    shape = _resolve_p_shapes(p_shapes, total, num_cores)
    if num_parts is not None and num_parts > total:
        raise ValueError(f"num_parts must be in [0, num_nodes={total}], got {num_parts}")
    label_array = None if labels is None else _as_labels(labels, total)

    adjacency = symmetric_adjacency((src, dst), num_nodes=total, dtype=np.int8)
    del src, dst
    indptr = adjacency.indptr.astype(np.int64)
    indices = adjacency.indices.astype(np.int64)
    del adjacency
    metis_seconds = 0.0
    partition = None
    if method == "tt-metis":
        permutation, metis_seconds = tt_partition_order(indptr, indices, shape, seed)
    elif method == "metis":
        parts = -(-total // shape[-1]) if num_parts is None else int(num_parts)
        permutation, sizes, cut, metis_seconds = flat_metis_order(indptr, indices, parts, seed)
        num_edges = indices.shape[0] // 2
        partition = BlockLevelStats(
            "metis parts",
            0,
            parts,
            int(sizes.min()),
            int(sizes.max()),
            cut,
            cut / num_edges if num_edges else 0.0,
        )
    elif method == "random":
        permutation = np.random.default_rng(seed).permutation(total).astype(np.int64)
    else:
        permutation = np.arange(total, dtype=np.int64)
    inverse = np.empty(total, dtype=np.int64)
    inverse[permutation] = np.arange(total, dtype=np.int64)

    report = _build_report(method, shape, permutation, inverse, indptr, indices, label_array)
    if partition is not None:
        report.partition = partition
    report.metis_seconds = metis_seconds
    report.seed = seed
    report.seconds = time.perf_counter() - started
    return report


def reorder_graph(
    g: GraphLike,
    p_shapes: Sequence[int] | Any | None = None,
    *,
    method: str = "tt-metis",
    num_parts: int | None = None,
    seed: int = 0,
    labels: Any = None,
    num_nodes: int | None = None,
    num_cores: int = 3,
) -> tuple[Any, ReorderReport]:
    """Relabel ``g`` so that new id == TT row and TT blocks hold graph partitions.

    This is :func:`compute_order` followed by :func:`tt_gnn.graph.relabel_graph`; callers
    that need only the order should call :func:`compute_order`.

    Args:
        g: a :class:`tt_gnn.graph.Graph`, a homogeneous ``DGLGraph``, a PyG ``Data``, a square
            ``scipy.sparse`` matrix, or a ``(src, dst)`` pair of integer arrays/tensors.
            Directed graphs are symmetrized for partitioning; self-loops and duplicate edges
            are ignored there but kept in the returned graph.
        p_shapes: TT row factors ``(p_1, ..., p_d)`` with ``prod >= N``, an object with a
            ``p_shapes`` attribute (a ``TTEmbedding``), or None to choose them as
            ``TTEmbedding`` would for ``num_cores`` cores.
        method: ``"tt-metis"`` (default) recursive partition aligned to ``p_shapes``: level 1
            splits the nodes into blocks of exactly ``p_2*...*p_d`` (last one partial), each
            block into blocks of ``p_3*...*p_d``, ..., down to leaves of ``p_d``; METIS then an
            exact-size greedy fix-up at each level. ``"metis:<k>"``: one flat METIS call into
            ``k`` parts, ids contiguous per part in old-id order (``"metis"``: as many parts as
            leaf blocks). ``"random"``: a seeded random permutation. ``"none"``: keep ids.
        num_parts: the older spelling of ``"metis:<k>"`` (with ``method="metis"``); 0 means
            keep the original order. Must be in ``[0, N]``.
        seed: METIS and random seed in ``[0, 2**62)``; the result is deterministic for a given
            seed.
        labels: optional int class ids ``[N]`` (-1 = unknown) for the homophily report.
        num_nodes: node count for a ``(src, dst)`` pair (default ``max id + 1``).
        num_cores: ``d`` when ``p_shapes`` is None (default 3).

    Returns:
        ``(new_graph, report)``. ``new_graph`` has node ``new`` = old node
        ``report.permutation[new]``, in the input's type (see
        :func:`tt_gnn.graph.relabel_graph`: a DGLGraph keeps the old ids in
        ``ndata[dgl.NID]``, a :class:`~tt_gnn.graph.Graph` in ``original_ids``).

    Raises:
        ValueError: negative or out-of-range ids, a non-square matrix, ``p_shapes`` with a
            product below N, ``num_parts`` < 0 or > N, an unknown method, or mismatched labels.

    Example:
        >>> (src, dst), report = reorder_graph(([0, 1, 2], [3, 4, 5]), p_shapes=(3, 2))
        >>> report.leaf_edge_cut, report.levels[-1].block_size
        (0, 2)
    """
    started = time.perf_counter()
    report = compute_order(
        g,
        p_shapes,
        method=method,
        num_parts=num_parts,
        seed=seed,
        labels=labels,
        num_nodes=num_nodes,
        num_cores=num_cores,
    )
    new_graph = relabel_graph(g, report.permutation)
    report.seconds = time.perf_counter() - started
    return new_graph, report


def _build_report(
    method: str,
    shape: tuple[int, ...],
    permutation: np.ndarray,
    inverse: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    labels: np.ndarray | None,
) -> ReorderReport:
    total = permutation.shape[0]
    num_edges = indices.shape[0] // 2
    block_sizes = [math.prod(shape[level:]) for level in range(1, len(shape))]
    cuts = block_edge_cuts(indptr, indices, inverse, block_sizes)
    levels = []
    for level, (size, cut) in enumerate(zip(block_sizes, cuts, strict=True), start=1):
        num_blocks = -(-total // size)
        last = total - size * (num_blocks - 1)
        levels.append(
            BlockLevelStats(
                f"level {level}",
                size,
                num_blocks,
                min(size, last),
                size if num_blocks > 1 else last,
                cut,
                cut / num_edges if num_edges else 0.0,
            )
        )
    report = ReorderReport(method, total, num_edges, shape, permutation, inverse, levels)
    if labels is not None:
        report.edge_homophily, report.leaf_homophily, report.chance_homophily = _homophily(
            indptr, indices, labels, inverse, shape[-1]
        )
    return report
