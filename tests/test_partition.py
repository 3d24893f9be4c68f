"""Tests for tt_gnn.partition: METIS trials, exact sizes, and planted hierarchies."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tt_gnn.graph import symmetric_adjacency
from tt_gnn.partition import (
    child_block_sizes,
    edge_cut,
    exact_size_parts,
    flat_metis_order,
    tt_partition_order,
)
from tt_gnn.reorder import reorder_graph

GROUPS, CLIQUES, CLIQUE_SIZE = 4, 5, 6
GROUP_SIZE = CLIQUES * CLIQUE_SIZE
NUM_NODES = GROUPS * GROUP_SIZE


def planted_hierarchy(seed: int, extra_links: int = 3, group_links: int = 2):
    """120 nodes: 4 groups of 5 cliques of 6, ids shuffled.

    Inside a group the cliques form a ring of single edges plus ``extra_links`` random
    clique-to-clique edges; ``group_links`` random edges join random pairs of groups. Returns
    ``(src, dst, group [N], clique [N])`` indexed by the shuffled ids.
    """
    rng = np.random.default_rng(seed)
    edges = []
    for start in range(0, NUM_NODES, CLIQUE_SIZE):
        edges += [(start + a, start + b) for a, b in itertools.combinations(range(CLIQUE_SIZE), 2)]
    for group in range(GROUPS):
        first = group * CLIQUES
        links = [(first + c, first + (c + 1) % CLIQUES) for c in range(CLIQUES)]
        links += [tuple(first + rng.choice(CLIQUES, 2, replace=False)) for _ in range(extra_links)]
        for a, b in links:
            edges.append(
                (
                    a * CLIQUE_SIZE + rng.integers(CLIQUE_SIZE),
                    b * CLIQUE_SIZE + rng.integers(CLIQUE_SIZE),
                )
            )
    for _ in range(group_links):
        a, b = rng.choice(GROUPS, 2, replace=False)
        edges.append(
            (a * GROUP_SIZE + rng.integers(GROUP_SIZE), b * GROUP_SIZE + rng.integers(GROUP_SIZE))
        )
    pairs = np.array(edges)
    shuffled = rng.permutation(NUM_NODES)
    group = np.empty(NUM_NODES, dtype=np.int64)
    group[shuffled] = np.arange(NUM_NODES) // GROUP_SIZE
    clique = np.empty(NUM_NODES, dtype=np.int64)
    clique[shuffled] = np.arange(NUM_NODES) // CLIQUE_SIZE
    return shuffled[pairs[:, 0]], shuffled[pairs[:, 1]], group, clique


def csr(src, dst, num_nodes):
    adjacency = symmetric_adjacency((src, dst), num_nodes=num_nodes)
    return adjacency.indptr.astype(np.int64), adjacency.indices.astype(np.int64)


def blocks_are_pure(order: np.ndarray, truth: np.ndarray, block_size: int) -> bool:
    return all(
        np.unique(truth[order[start : start + block_size]]).size == 1
        for start in range(0, order.shape[0], block_size)
    )


def test_level_one_recovers_planted_groups_where_one_metis_call_mixes_them():
    mixed_by_one_call = 0
    for seed in range(60):
        src, dst, group, clique = planted_hierarchy(seed)
        indptr, indices = csr(src, dst, NUM_NODES)
        (_, _), report = reorder_graph((src, dst), (GROUPS, CLIQUES, CLIQUE_SIZE), seed=0)
        order = report.permutation
        assert blocks_are_pure(order, group, GROUP_SIZE), f"instance {seed}: groups mixed"
        assert blocks_are_pure(order, clique, CLIQUE_SIZE), f"instance {seed}: cliques split"
        # Level 1 cuts exactly the planted between-group edges, never more than flat METIS.
        planted_cut = edge_cut(indptr, indices, group)
        assert report.levels[0].edge_cut == planted_cut
        _, _, flat_cut, _ = flat_metis_order(indptr, indices, GROUPS, seed=0)
        assert report.levels[0].edge_cut <= flat_cut
        single, _ = tt_partition_order(indptr, indices, (GROUPS, CLIQUES, CLIQUE_SIZE), trials=1)
        mixed_by_one_call += not blocks_are_pure(single, group, GROUP_SIZE)
    # The instances are hard for a single METIS call (3 of 60 with the bundled METIS).
    assert mixed_by_one_call >= 1


def test_exact_size_parts_sizes_cut_and_never_worse_than_the_first_trial():
    rng = np.random.default_rng(3)
    for trial_seed in range(5):
        num_nodes = 300
        src = rng.integers(0, num_nodes, 1200)
        dst = rng.integers(0, num_nodes, 1200)
        indptr, indices = csr(src, dst, num_nodes)
        targets = child_block_sizes(num_nodes, 47)
        single, single_cut, _ = exact_size_parts(indptr, indices, targets, trial_seed, trials=1)
        best, best_cut, _ = exact_size_parts(indptr, indices, targets, trial_seed, trials=4)
        for parts, cut in ((single, single_cut), (best, best_cut)):
            assert np.array_equal(np.bincount(parts, minlength=targets.shape[0]), targets)
            assert cut == edge_cut(indptr, indices, parts)
        assert best_cut <= single_cut
        again, again_cut, _ = exact_size_parts(indptr, indices, targets, trial_seed, trials=4)
        assert np.array_equal(again, best) and again_cut == best_cut


def test_edge_cut_matches_brute_force():
    rng = np.random.default_rng(4)
    src, dst = rng.integers(0, 50, 200), rng.integers(0, 50, 200)
    indptr, indices = csr(src, dst, 50)
    parts = rng.integers(0, 5, 50)
    pairs = {(min(u, v), max(u, v)) for u, v in zip(src.tolist(), dst.tolist()) if u != v}
    assert edge_cut(indptr, indices, parts) == sum(parts[u] != parts[v] for u, v in pairs)


@pytest.mark.parametrize("trials", [0, -1, 1.5, True])
def test_exact_size_parts_rejects_bad_trials(trials):
    indptr, indices = np.array([0, 1, 2]), np.array([1, 0])
    with pytest.raises(ValueError, match=f"trials must be an int >= 1, got {trials!r}"):
        exact_size_parts(indptr, indices, np.array([1, 1]), seed=0, trials=trials)
