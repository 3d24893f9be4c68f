"""Graph partitioning with exact block sizes, on CSR adjacency given as numpy arrays.

These are the pure functions behind :func:`tt_gnn.reorder.reorder_graph`. A graph here is a
symmetric CSR structure ``(indptr, indices)`` without self-loops or duplicate entries
(``int64``, as METIS is built with 64-bit ids), ``n = len(indptr) - 1`` nodes.

- :func:`metis_parts` calls METIS (pymetis) with target part sizes.
- :func:`balance_exactly` makes part sizes equal to the targets by greedily moving the nodes
  whose move cuts the fewest extra edges from overfull to underfull parts.
- :func:`exact_size_parts` keeps the best of a few METIS trials, each balanced exactly.
- :func:`tt_partition_order` is the recursive partition aligned to a TT row shape ``p``.
- :func:`flat_metis_order` is one flat METIS call, ids contiguous per part.

Example:
    >>> import numpy as np
    >>> indptr = np.array([0, 1, 2, 3, 4]); indices = np.array([1, 0, 3, 2])  # edges 0-1, 2-3
    >>> order, _ = tt_partition_order(indptr, indices, (2, 2), seed=0)
    >>> sorted(map(sorted, (order[:2].tolist(), order[2:].tolist())))
    [[0, 1], [2, 3]]
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import pymetis
import scipy.sparse as sp

__all__ = [
    "metis_parts",
    "balance_exactly",
    "edge_cut",
    "exact_size_parts",
    "child_block_sizes",
    "tt_partition_order",
    "flat_metis_order",
    "filter_within_blocks",
]

# Entries processed per chunk in the O(nnz) passes over the adjacency, bounding temporaries
# to a few hundred MB on graphs with ~10^8 adjacency entries.
_CHUNK_ENTRIES = 1 << 24

# Candidates considered per excess node of an overfull part, and destinations per candidate.
_CANDIDATES_PER_EXCESS = 2
_DESTINATIONS_PER_CANDIDATE = 3

# METIS runs per block in tt_partition_order: METIS's default scheme for the part count, then
# the other one (see exact_size_parts for what each costs and gains).
DEFAULT_METIS_TRIALS = 2


def child_block_sizes(num_nodes: int, block_size: int) -> np.ndarray:
    """Sizes of ``ceil(num_nodes / block_size)`` blocks of ``block_size``, the last partial.

    Example:
        >>> child_block_sizes(10, 4).tolist()
        [4, 4, 2]
    """
    num_blocks = -(-num_nodes // block_size)
    sizes = np.full(num_blocks, block_size, dtype=np.int64)
    sizes[-1] = num_nodes - block_size * (num_blocks - 1)
    return sizes


def metis_parts(
    indptr: np.ndarray,
    indices: np.ndarray,
    target_sizes: np.ndarray,
    seed: int,
    *,
    recursive: bool | None = None,
) -> tuple[np.ndarray, float]:
    """Partition with METIS into ``len(target_sizes)`` parts of about the given sizes.

    METIS runs at its default balance tolerance (``ufactor``); sizes are near, not exactly,
    the targets (see :func:`balance_exactly`). Unequal targets are passed as ``tpwgts``.
    ``recursive``: True for recursive bisection, False for k-way, None for pymetis's default
    (recursive bisection for up to 8 parts, k-way above).

    Shapes:
        indptr: ``[n + 1]``, indices: ``[nnz]``, target_sizes: ``[k]`` summing to ``n``.
        Output: part id per node ``[n]`` (int64) and the seconds spent inside METIS.

    Example:
        >>> indptr = np.array([0, 1, 2, 3, 4]); indices = np.array([1, 0, 3, 2])  # 0-1, 2-3
        >>> parts, _ = metis_parts(indptr, indices, np.array([2, 2]), seed=0)
        >>> bool(parts[0] == parts[1] != parts[2] == parts[3])
        True
    """
    num_nodes = indptr.shape[0] - 1
    num_parts = int(target_sizes.shape[0])
    if num_parts == 1:
        return np.zeros(num_nodes, dtype=np.int64), 0.0
    if num_parts == num_nodes:  # every part holds one node: nothing to optimize
        return np.arange(num_nodes, dtype=np.int64), 0.0
    tpwgts = None
    if target_sizes.min() != target_sizes.max():
        tpwgts = (target_sizes / num_nodes).tolist()
    started = time.perf_counter()
    result = pymetis.part_graph(
        num_parts,
        pymetis.CSRAdjacency(indptr, indices),
        tpwgts=tpwgts,
        recursive=recursive,
        options=pymetis.Options(seed=int(seed)),
    )
    seconds = time.perf_counter() - started
    return np.asarray(result.vertex_part, dtype=np.int64), seconds


def edge_cut(indptr: np.ndarray, indices: np.ndarray, parts: np.ndarray) -> int:
    """Undirected edges whose ends lie in different parts (in chunks of rows).

    Shapes:
        ``indptr [n + 1]``, ``indices [nnz]`` symmetric; ``parts [n]``. Output: an int.

    Example:
        >>> edge_cut(np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1]), np.array([0, 0, 1]))
        1
    """
    num_nodes = indptr.shape[0] - 1
    crossing = 0
    row_start = 0
    while row_start < num_nodes:
        row_stop = int(
            np.searchsorted(indptr, indptr[row_start] + _CHUNK_ENTRIES, side="right") - 1
        )
        row_stop = min(max(row_stop, row_start + 1), num_nodes)
        row_parts = np.repeat(parts[row_start:row_stop], np.diff(indptr[row_start : row_stop + 1]))
        column_parts = parts[indices[indptr[row_start] : indptr[row_stop]]]
        crossing += int(np.count_nonzero(row_parts != column_parts))
        row_start = row_stop
    return crossing // 2


def exact_size_parts(
    indptr: np.ndarray,
    indices: np.ndarray,
    target_sizes: np.ndarray,
    seed: int,
    trials: int = DEFAULT_METIS_TRIALS,
) -> tuple[np.ndarray, int, float]:
    """Parts of exactly ``target_sizes``: the smallest cut of ``trials`` METIS runs.

    Trial ``t`` runs :func:`metis_parts` with seed ``seed + 2 * (t // 2)`` (METIS gives seeds
    0 and 1 the same result), even trials with pymetis's default scheme for the part count
    (recursive bisection up to 8 parts, k-way above), odd trials with the other one. Each
    result is made exact by :func:`balance_exactly`; the smallest exact-size cut wins (ties:
    the earliest trial), stopping early at a cut of 0. Trial 0 is the plain METIS call, so
    the result never cuts more than that call balanced exactly.

    Why: one METIS call can land in a poor local optimum. On 60 random 120-node graphs of
    4 groups of 5 six-cliques (ids shuffled), one call into 4 parts mixes groups in 3 of
    them; the best of 2 trials recovers the groups in all 60 (``tests/test_partition.py``).
    On the shared graphs (p from ``choose_shapes(N, 128)``) 2 trials lower the tt-metis
    leaf cut by 1-18% (cora 2,116 -> 1,728, facebook_pagepage 124,793 -> 102,613) for
    1.2-1.7x the CPU time (a 300k-node planted-partition graph with 2.8M edges: 6.8 -> 10.8
    CPU s, leaf cut -2.9%); 4 trials gain a further 0-0.4% for twice the time of 2.

    Shapes:
        ``indptr [n + 1]``, ``indices [nnz]`` symmetric, no self-loops; ``target_sizes [k]``
        summing to ``n``. Output: part ids ``[n]`` with ``bincount == target_sizes``, their
        edge cut, and the seconds spent inside METIS.

    Raises:
        ValueError: ``trials < 1``.

    Example:
        >>> indptr = np.array([0, 1, 2, 3, 4]); indices = np.array([2, 3, 0, 1])  # 0-2, 1-3
        >>> parts, cut, _ = exact_size_parts(indptr, indices, np.array([2, 2]), seed=0)
        >>> bool(parts[0] == parts[2]), cut
        (True, 0)
    """
    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ValueError(f"trials must be an int >= 1, got {trials!r}")
    num_parts = int(target_sizes.shape[0])
    best_parts, best_cut, metis_seconds = None, 0, 0.0
    for trial in range(trials if 1 < num_parts < indptr.shape[0] - 1 else 1):
        default_recursive = num_parts <= 8
        recursive = default_recursive if trial % 2 == 0 else not default_recursive
        parts, seconds = metis_parts(
            indptr, indices, target_sizes, seed + 2 * (trial // 2), recursive=recursive
        )
        metis_seconds += seconds
        parts = balance_exactly(indptr, indices, parts, target_sizes)
        cut = edge_cut(indptr, indices, parts)
        if best_parts is None or cut < best_cut:
            best_parts, best_cut = parts, cut
        if best_cut == 0:
            break
    return best_parts, best_cut, metis_seconds


def _gather_rows(
    indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Neighbours of ``rows``: ``(owner, neighbour)`` with owner = position in ``rows``."""
    degrees = indptr[rows + 1] - indptr[rows]
    owner = np.repeat(np.arange(rows.shape[0], dtype=np.int64), degrees)
    first = np.cumsum(degrees) - degrees
    offsets = np.arange(owner.shape[0], dtype=np.int64) - first[owner] + indptr[rows][owner]
    return owner, indices[offsets]


def balance_exactly(
    indptr: np.ndarray, indices: np.ndarray, parts: np.ndarray, target_sizes: np.ndarray
) -> np.ndarray:
    """Move nodes from overfull to underfull parts until every part has its target size.

    Each node of an overfull part may move to an underfull part; its cost is the number of
    its neighbours in its own part minus those in the destination. Per overfull part the
    ``2 * excess`` cheapest nodes are candidates, each with its 3 best connected underfull
    destinations plus "the most underfull part" as a fallback; moves are applied in order
    of increasing cost (ties by node id), skipping any that would overfill a destination or
    empty a part below its target. Costs are not updated after moves (greedy, one pass).

    Shapes:
        parts: ``[n]`` part ids in ``[0, k)``; target_sizes: ``[k]`` summing to ``n``.
        Output: ``[n]`` part ids with ``bincount(output) == target_sizes``.

    Example:
        >>> indptr = np.array([0, 1, 2, 2]); indices = np.array([1, 0])  # edge 0-1, node 2 alone
        >>> balance_exactly(indptr, indices, np.array([0, 0, 0]), np.array([2, 1])).tolist()
        [0, 0, 1]
    """
    num_parts = target_sizes.shape[0]
    excess = np.bincount(parts, minlength=num_parts) - target_sizes
    if not excess.any():
        return parts
    overfull = excess > 0
    underfull = excess < 0

    candidates = np.flatnonzero(overfull[parts])
    owner, neighbours = _gather_rows(indptr, indices, candidates)
    neighbour_parts = parts[neighbours]
    own_part = parts[candidates]
    internal = np.bincount(owner[neighbour_parts == own_part[owner]], minlength=candidates.shape[0])
    to_underfull = underfull[neighbour_parts]
    keys, connections = np.unique(
        owner[to_underfull] * num_parts + neighbour_parts[to_underfull], return_counts=True
    )
    option_candidate = keys // num_parts
    option_part = keys % num_parts
    option_cost = internal[option_candidate] - connections

    # Keep the cheapest 2 * excess candidates of each overfull part.
    best_cost = internal.copy()
    np.minimum.at(best_cost, option_candidate, option_cost)
    ranked = np.lexsort((candidates, best_cost, own_part))
    part_start = np.searchsorted(own_part[ranked], np.arange(num_parts))
    rank = np.empty_like(ranked)
    rank[ranked] = np.arange(ranked.shape[0]) - part_start[own_part[ranked]]
    selected = rank < _CANDIDATES_PER_EXCESS * excess[own_part]

    keep = selected[option_candidate]
    option_candidate, option_part, option_cost = (
        option_candidate[keep],
        option_part[keep],
        option_cost[keep],
    )
    by_candidate = np.lexsort((option_part, option_cost, option_candidate))
    option_candidate = option_candidate[by_candidate]
    option_part = option_part[by_candidate]
    option_cost = option_cost[by_candidate]
    first = np.searchsorted(option_candidate, option_candidate, side="left")
    keep = np.arange(option_candidate.shape[0]) - first < _DESTINATIONS_PER_CANDIDATE
    fallback = np.flatnonzero(selected)
    move_candidate = np.concatenate([option_candidate[keep], fallback])
    move_part = np.concatenate([option_part[keep], np.full(fallback.shape[0], -1)])
    move_cost = np.concatenate([option_cost[keep], internal[fallback]])
    order = np.lexsort((move_part == -1, candidates[move_candidate], move_cost))

    result = parts.copy()
    surplus = excess.clip(min=0).tolist()
    deficit = (-excess).clip(min=0).tolist()
    most_underfull = np.flatnonzero(underfull)[
        np.argsort(excess[underfull], kind="stable")
    ].tolist()
    next_fallback = 0
    remaining = int(excess[overfull].sum())
    moved = np.zeros(candidates.shape[0], dtype=bool)
    for candidate, destination in zip(
        move_candidate[order].tolist(), move_part[order].tolist(), strict=True
    ):
        if moved[candidate]:
            continue
        source = int(own_part[candidate])
        if surplus[source] == 0:
            continue
        if destination == -1:
            while deficit[most_underfull[next_fallback]] == 0:
                next_fallback += 1
            destination = most_underfull[next_fallback]
        elif deficit[destination] == 0:
            continue
        result[candidates[candidate]] = destination
        moved[candidate] = True
        surplus[source] -= 1
        deficit[destination] -= 1
        remaining -= 1
        if remaining == 0:
            break
    return result


def filter_within_blocks(
    indptr: np.ndarray, indices: np.ndarray, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Keep only entries whose row and column lie in the same block of ``block_size`` ids.

    Blocks are ``[0, block_size), [block_size, 2 * block_size), ...``. Works in chunks of
    rows so that temporaries stay small on large graphs.

    Shapes:
        ``(indptr [n + 1], indices [nnz])`` -> ``(indptr [n + 1], indices [nnz'])``.
    """
    num_nodes = indptr.shape[0] - 1
    kept_per_row = np.empty(num_nodes, dtype=np.int64)
    pieces = []
    row_start = 0
    while row_start < num_nodes:
        row_stop = int(
            np.searchsorted(indptr, indptr[row_start] + _CHUNK_ENTRIES, side="right") - 1
        )
        row_stop = min(max(row_stop, row_start + 1), num_nodes)
        lo, hi = indptr[row_start], indptr[row_stop]
        rows = np.repeat(
            np.arange(row_start, row_stop, dtype=np.int64),
            np.diff(indptr[row_start : row_stop + 1]),
        )
        columns = indices[lo:hi]
        keep = rows // block_size == columns // block_size
        pieces.append(columns[keep])
        kept_per_row[row_start:row_stop] = np.bincount(
            rows[keep] - row_start, minlength=row_stop - row_start
        )
        row_start = row_stop
    new_indptr = np.zeros(num_nodes + 1, dtype=np.int64)
    np.cumsum(kept_per_row, out=new_indptr[1:])
    new_indices = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    return new_indptr, new_indices


def _permute(
    indptr: np.ndarray, indices: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Relabel a symmetric CSR graph so that new node ``i`` is old node ``order[i]``."""
    num_nodes = indptr.shape[0] - 1
    position = np.empty(num_nodes, dtype=np.int64)
    position[order] = np.arange(num_nodes, dtype=np.int64)
    relabeled = np.empty_like(indices)
    for lo in range(0, indices.shape[0], _CHUNK_ENTRIES):
        relabeled[lo : lo + _CHUNK_ENTRIES] = position[indices[lo : lo + _CHUNK_ENTRIES]]
    matrix = sp.csr_matrix(
        (np.ones(indices.shape[0], dtype=np.int8), relabeled, indptr),
        shape=(num_nodes, num_nodes),
    )
    del relabeled
    permuted = matrix[order]
    return permuted.indptr.astype(np.int64, copy=False), permuted.indices.astype(
        np.int64, copy=False
    )


def tt_partition_order(
    indptr: np.ndarray,
    indices: np.ndarray,
    p_shapes: Sequence[int],
    seed: int = 0,
    trials: int = DEFAULT_METIS_TRIALS,
) -> tuple[np.ndarray, float]:
    """Recursive partition aligned to the TT row shape ``p_shapes = (p_1, ..., p_d)``.

    Level ``k`` (``1 <= k < d``) splits every block of ``p_k * ... * p_d`` consecutive ids
    (level 1: all nodes) into blocks of exactly ``p_{k+1} * ... * p_d`` ids, the last one
    partial, by :func:`exact_size_parts` on the block's induced subgraph (the best of
    ``trials`` METIS runs, default 2, each followed by :func:`balance_exactly`; the first
    is the plain METIS call). Leaves hold ``p_d`` ids, so position ``i`` in the result is
    TT row ``i``. Cost: about ``trials`` times one METIS call per level.

    Shapes:
        ``indptr [n + 1]``, ``indices [nnz]`` (symmetric, no self-loops), ``prod(p) >= n``.
        Output: ``order [n]`` with ``order[new] = old``, and seconds spent inside METIS.

    Example:
        >>> indptr = np.array([0, 0, 0, 0]); indices = np.array([], dtype=np.int64)
        >>> tt_partition_order(indptr, indices, (2, 2))[0].tolist()
        [0, 1, 2]
    """
    num_nodes = indptr.shape[0] - 1
    order = np.arange(num_nodes, dtype=np.int64)
    metis_seconds = 0.0
    num_cores = len(p_shapes)
    for level in range(1, num_cores):
        parent_size = math.prod(p_shapes[level - 1 :])
        child_size = math.prod(p_shapes[level:])
        local_order = np.empty(num_nodes, dtype=np.int64)
        for start in range(0, num_nodes, parent_size):
            stop = min(start + parent_size, num_nodes)
            block_indptr = indptr[start : stop + 1] - indptr[start]
            block_indices = indices[indptr[start] : indptr[stop]]
            if start:
                block_indices = block_indices - start
            targets = child_block_sizes(stop - start, child_size)
            parts, _, seconds = exact_size_parts(block_indptr, block_indices, targets, seed, trials)
            metis_seconds += seconds
            local_order[start:stop] = start + np.argsort(parts, kind="stable")
        order = order[local_order]
        if level < num_cores - 1:
            indptr, indices = _permute(indptr, indices, local_order)
            indptr, indices = filter_within_blocks(indptr, indices, child_size)
    return order, metis_seconds


def flat_metis_order(
    indptr: np.ndarray, indices: np.ndarray, num_parts: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, int, float]:
    """One METIS call into ``num_parts`` parts; ids contiguous per part, by part then old id.

    Shapes:
        Output: ``order [n]`` (``order[new] = old``), part sizes ``[num_parts]``, METIS's
        edge cut, and the seconds spent inside METIS.

    Example:
        >>> indptr = np.array([0, 1, 2, 3, 4]); indices = np.array([2, 3, 0, 1])  # 0-2, 1-3
        >>> order, sizes, cut, _ = flat_metis_order(indptr, indices, 2)
        >>> sizes.tolist(), cut, sorted(map(sorted, (order[:2].tolist(), order[2:].tolist())))
        ([2, 2], 0, [[0, 2], [1, 3]])
    """
    num_nodes = indptr.shape[0] - 1
    if num_parts <= 1 or num_parts >= num_nodes:
        cut = 0 if num_parts <= 1 else indices.shape[0] // 2
        sizes = child_block_sizes(num_nodes, num_nodes if num_parts <= 1 else 1)
        return np.arange(num_nodes, dtype=np.int64), sizes, cut, 0.0
    started = time.perf_counter()
    result = pymetis.part_graph(
        num_parts, pymetis.CSRAdjacency(indptr, indices), options=pymetis.Options(seed=int(seed))
    )
    seconds = time.perf_counter() - started
    parts = np.asarray(result.vertex_part, dtype=np.int64)
    sizes = np.bincount(parts, minlength=num_parts)
    return np.argsort(parts, kind="stable"), sizes, int(result.edge_cuts), seconds
