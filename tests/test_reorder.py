"""Tests for tt_gnn.reorder and tt_gnn.partition against known answers and brute force."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from tt_gnn.dgl import dgl
from tt_gnn.graph import symmetric_adjacency
from tt_gnn.partition import balance_exactly, child_block_sizes, tt_partition_order
from tt_gnn.reorder import reorder_graph
from tt_gnn.shapes import choose_shapes, ids_to_digits


def nested_cliques(p_shapes: tuple[int, ...], seed: int):
    """Cliques of ``p_d`` nodes; siblings at every level chained by one edge; top groups apart.

    Returns scrambled ``(src, dst, num_nodes, path)`` where ``path[old id]`` is the tuple of
    the node's (group, subgroup, ..., clique) indices: the known TT digits up to relabeling.
    """
    rng = np.random.default_rng(seed)
    num_nodes = math.prod(p_shapes)
    scrambled = rng.permutation(num_nodes)
    leaf = p_shapes[-1]
    edges = []
    for clique_start in range(0, num_nodes, leaf):
        edges += [
            (clique_start + a, clique_start + b) for a, b in itertools.combinations(range(leaf), 2)
        ]
    for level in range(1, len(p_shapes) - 1 + 1):
        child = math.prod(p_shapes[level:])
        parent = child * p_shapes[level - 1]
        if level == 1:
            continue  # top-level groups stay disconnected
        for parent_start in range(0, num_nodes, parent):
            for sibling in range(1, p_shapes[level - 1]):
                edges.append((parent_start + sibling * child - 1, parent_start + sibling * child))
    pairs = np.array(edges)
    digits = ids_to_digits(torch.arange(num_nodes), p_shapes).numpy()
    path = np.empty_like(digits)
    path[scrambled] = digits
    return scrambled[pairs[:, 0]], scrambled[pairs[:, 1]], num_nodes, path


def brute_force_cut(src, dst, inverse, block_size):
    pairs = {
        (min(u, v), max(u, v)) for u, v in zip(src.tolist(), dst.tolist(), strict=True) if u != v
    }
    return sum(inverse[u] // block_size != inverse[v] // block_size for u, v in pairs)


@pytest.mark.parametrize(
    "p_shapes", [(4, 3, 5), (3, 4, 6), (6, 7), (2, 3, 3, 4)], ids=lambda p: "x".join(map(str, p))
)
def test_nested_cliques_land_one_per_leaf_and_share_prefixes(p_shapes):
    src, dst, num_nodes, path = nested_cliques(p_shapes, seed=3)
    (new_src, new_dst), report = reorder_graph((src, dst), p_shapes, num_nodes=num_nodes)
    new_digits = ids_to_digits(torch.from_numpy(report.inverse), p_shapes).numpy()
    # Two nodes share the first k new digits exactly when they share the first k known digits.
    for depth in range(1, len(p_shapes)):
        known = {tuple(row) for row in path[:, :depth]}
        pairs = {
            (tuple(a), tuple(b))
            for a, b in zip(path[:, :depth], new_digits[:, :depth], strict=True)
        }
        assert len(pairs) == len(known)
    assert report.levels[0].edge_cut == 0
    assert report.leaf_edge_cut == sum(
        math.prod(p_shapes[:level]) * (p_shapes[level] - 1) for level in range(1, len(p_shapes) - 1)
    )
    assert [stats.block_size for stats in report.levels] == [
        math.prod(p_shapes[level:]) for level in range(1, len(p_shapes))
    ]


def check_permutation(report, src, dst, new_src, new_dst):
    num_nodes = report.num_nodes
    assert np.array_equal(np.sort(report.permutation), np.arange(num_nodes))
    assert np.array_equal(report.inverse[report.permutation], np.arange(num_nodes))
    old_edges = Counter(zip(src.tolist(), dst.tolist(), strict=True))
    relabeled = Counter(
        zip(
            report.permutation[new_src].tolist(),
            report.permutation[new_dst].tolist(),
            strict=True,
        )
    )
    assert old_edges == relabeled


def random_graph(num_nodes, num_edges, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, num_nodes, num_edges), rng.integers(0, num_nodes, num_edges)


@pytest.mark.parametrize(
    ("num_nodes", "p_shapes"),
    [(101, (3, 4, 9)), (97, (10, 10)), (250, (3, 4, 5, 5)), (7, (2, 2, 2)), (50, (1, 50))],
)
def test_permutation_is_bijection_and_preserves_edge_multiset(num_nodes, p_shapes):
    src, dst = random_graph(num_nodes, 4 * num_nodes, seed=num_nodes)
    src = np.concatenate([src, [0, 0, 5]])  # a self-loop and a duplicate
    dst = np.concatenate([dst, [0, 0, 5]])
    (new_src, new_dst), report = reorder_graph((src, dst), p_shapes, num_nodes=num_nodes)
    check_permutation(report, src, dst, new_src, new_dst)
    for stats in report.levels:
        assert stats.edge_cut == brute_force_cut(src, dst, report.inverse, stats.block_size)
        assert stats.num_blocks == -(-num_nodes // stats.block_size)
    assert report.num_edges == len(
        {(min(u, v), max(u, v)) for u, v in zip(src, dst, strict=True) if u != v}
    )


def test_leaf_cut_far_below_random_on_planted_communities():
    from tt_gnn.synthetic import planted_partition_graph

    graph = planted_partition_graph(2000, 40, average_degree=10, mixing=0.1, seed=1)
    pair = (graph.src, graph.dst)
    _, tt = reorder_graph(pair, (5, 8, 50), num_nodes=2000, labels=graph.labels)
    _, shuffled = reorder_graph(pair, (5, 8, 50), num_nodes=2000, method="random")
    assert tt.leaf_edge_cut < 0.3 * shuffled.leaf_edge_cut
    assert tt.leaf_homophily > 0.7 > 10 * tt.chance_homophily


def test_deterministic_for_a_seed():
    src, dst = random_graph(300, 1200, seed=0)
    reports = [reorder_graph((src, dst), (4, 8, 10), seed=seed)[1] for seed in (0, 0, 1)]
    assert np.array_equal(reports[0].permutation, reports[1].permutation)
    _, first = reorder_graph((src, dst), (4, 8, 10), method="random", seed=0)
    _, again = reorder_graph((src, dst), (4, 8, 10), method="random", seed=0)
    _, other = reorder_graph((src, dst), (4, 8, 10), method="random", seed=1)
    assert np.array_equal(first.permutation, again.permutation)
    assert not np.array_equal(first.permutation, other.permutation)


def test_isolated_nodes_components_and_single_node():
    # 3 triangles, then 5 isolated nodes; leaves of 3.
    src = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8])
    dst = np.array([1, 2, 0, 4, 5, 3, 7, 8, 6])
    (new_src, new_dst), report = reorder_graph((src, dst), (5, 3), num_nodes=14)
    check_permutation(report, src, dst, new_src, new_dst)
    assert report.leaf_edge_cut == 0
    (single_src, _), single = reorder_graph(
        (np.zeros(0, np.int64), np.zeros(0, np.int64)), num_nodes=1
    )
    assert single.permutation.tolist() == [0] and single_src.shape == (0,)
    _, no_edges = reorder_graph((np.zeros(0, np.int64),) * 2, (2, 3), num_nodes=5)
    assert sorted(no_edges.permutation.tolist()) == list(range(5))


@pytest.mark.parametrize("num_cores", [2, 3, 4])
def test_default_shapes_follow_choose_shapes(num_cores):
    src, dst = random_graph(500, 2000, seed=2)
    _, report = reorder_graph((src, dst), num_nodes=500, num_cores=num_cores)
    assert report.p_shapes == choose_shapes(500, 1, num_cores=num_cores).p_shapes
    assert len(report.levels) == num_cores - 1


def test_embedding_like_object_supplies_p_shapes():
    src, dst = random_graph(60, 200, seed=4)
    embedding = SimpleNamespace(p_shapes=(3, 4, 5), num_embeddings=60)
    _, report = reorder_graph((src, dst), embedding, num_nodes=60)
    assert report.p_shapes == (3, 4, 5)
    with pytest.raises(ValueError, match="num_embeddings=61"):
        reorder_graph(
            (src, dst), SimpleNamespace(p_shapes=(3, 4, 6), num_embeddings=61), num_nodes=60
        )


def test_flat_metis_ids_contiguous_per_part_and_none_keeps_order():
    # Two 5-cliques with interleaved ids.
    first, second = [0, 2, 4, 6, 8], [1, 3, 5, 7, 9]
    pairs = list(itertools.combinations(first, 2)) + list(itertools.combinations(second, 2))
    src, dst = np.array(pairs).T
    _, report = reorder_graph((src, dst), (2, 5), method="metis", num_parts=2)
    assert report.partition.edge_cut == 0
    assert {frozenset(report.permutation[:5].tolist()), frozenset(report.permutation[5:])} == {
        frozenset(first),
        frozenset(second),
    }
    assert np.all(np.diff(report.permutation[:5]) > 0)  # old-id order inside a part
    for kwargs in ({"method": "none"}, {"method": "metis", "num_parts": 0}):
        (new_src, _), kept = reorder_graph((src, dst), (2, 5), **kwargs)
        assert kept.method == "none" and kept.permutation.tolist() == list(range(10))
        assert np.array_equal(new_src, src)


def test_balance_exactly_moves_the_cheapest_nodes():
    # Part 0: a 4-clique {0,1,2,3} plus node 4 hanging on node 0 and linked to node 5 (part 1).
    # Part 1: {5}. Targets (4, 2): node 4 (cost 1 - 1 = 0) must move, not a clique node.
    pairs = list(itertools.combinations(range(4), 2)) + [(0, 4), (4, 5)]
    adjacency = symmetric_adjacency(tuple(np.array(pairs).T), num_nodes=6)
    indptr, indices = adjacency.indptr.astype(np.int64), adjacency.indices.astype(np.int64)
    parts = balance_exactly(indptr, indices, np.array([0, 0, 0, 0, 0, 1]), np.array([4, 2]))
    assert parts.tolist() == [0, 0, 0, 0, 1, 1]


def test_balance_exactly_reaches_targets_and_moves_only_excess():
    rng = np.random.default_rng(7)
    src, dst = random_graph(400, 1600, seed=7)
    adjacency = symmetric_adjacency((src, dst), num_nodes=400)
    indptr, indices = adjacency.indptr.astype(np.int64), adjacency.indices.astype(np.int64)
    parts = rng.integers(0, 9, 400)
    targets = child_block_sizes(400, 45)
    balanced = balance_exactly(indptr, indices, parts, targets)
    assert np.array_equal(np.bincount(balanced, minlength=9), targets)
    excess = np.bincount(parts, minlength=9) - targets
    moved = balanced != parts
    assert moved.sum() == excess[excess > 0].sum()
    assert np.all(excess[parts[moved]] > 0) and np.all(excess[balanced[moved]] < 0)


def test_partition_order_sizes_are_exact_at_every_level():
    src, dst = random_graph(1000, 5000, seed=8)
    adjacency = symmetric_adjacency((src, dst), num_nodes=1000)
    indptr, indices = adjacency.indptr.astype(np.int64), adjacency.indices.astype(np.int64)
    order, _ = tt_partition_order(indptr, indices, (3, 7, 7, 7), seed=0)
    assert np.array_equal(np.sort(order), np.arange(1000))


def test_dgl_graph_data_carried_through():
    src, dst = random_graph(40, 150, seed=9)
    graph = dgl.graph((torch.from_numpy(src), torch.from_numpy(dst)), num_nodes=40)
    graph.ndata["feature"] = torch.arange(80.0).reshape(40, 2)
    graph.edata["weight"] = torch.arange(150.0)
    new_graph, report = reorder_graph(graph, (2, 4, 5))
    permutation = torch.from_numpy(report.permutation)
    assert torch.equal(new_graph.ndata[dgl.NID], permutation)
    assert torch.equal(new_graph.ndata["feature"], graph.ndata["feature"][permutation])
    assert torch.equal(new_graph.edata["weight"], graph.edata["weight"])
    new_src, new_dst = new_graph.edges()
    assert torch.equal(permutation[new_src], graph.edges()[0])
    assert torch.equal(permutation[new_dst], graph.edges()[1])
    assert new_graph.num_nodes() == 40


def test_scipy_input_returns_permuted_matrix_with_values():
    rng = np.random.default_rng(10)
    dense = (rng.random((30, 30)) < 0.1) * rng.integers(1, 5, (30, 30))
    matrix = sp.csr_matrix(dense)
    new_matrix, report = reorder_graph(matrix, (5, 6))
    assert new_matrix.format == "csr"
    permutation = report.permutation
    assert np.array_equal(new_matrix.toarray(), dense[np.ix_(permutation, permutation)])


def test_tensor_pair_returns_tensors():
    src, dst = torch.tensor([0, 1, 2]), torch.tensor([1, 2, 3])
    (new_src, new_dst), report = reorder_graph((src, dst), (2, 2))
    assert isinstance(new_src, torch.Tensor)
    assert torch.equal(torch.from_numpy(report.permutation)[new_src], src)


def test_homophily_matches_brute_force():
    src, dst = random_graph(60, 200, seed=11)
    labels = np.random.default_rng(11).integers(-1, 3, 60)
    _, report = reorder_graph((src, dst), (3, 4, 5), labels=labels)
    pairs = {
        (min(u, v), max(u, v)) for u, v in zip(src.tolist(), dst.tolist(), strict=True) if u != v
    }
    labeled = [(u, v) for u, v in pairs if labels[u] >= 0 and labels[v] >= 0]
    edge = sum(labels[u] == labels[v] for u, v in labeled) / len(labeled)
    leaf = report.inverse // 5
    inside = [
        (u, v)
        for u, v in itertools.combinations(range(60), 2)
        if leaf[u] == leaf[v] and labels[u] >= 0 and labels[v] >= 0
    ]
    leaf_pairs = sum(labels[u] == labels[v] for u, v in inside) / len(inside)
    known = labels[labels >= 0]
    chance = sum((np.sum(known == c) / known.size) ** 2 for c in range(3))
    assert report.edge_homophily == pytest.approx(edge)
    assert report.leaf_homophily == pytest.approx(leaf_pairs)
    assert report.chance_homophily == pytest.approx(chance)
    assert "leaf homophily" in report.summary() and "| level 2 |" in report.to_markdown()


@pytest.mark.parametrize(
    ("graph", "kwargs", "message"),
    [
        (([0, -1], [1, 2]), {}, "negative node id -1"),
        (([0, 1], [1, 9]), {"num_nodes": 5}, "node id 9, out of range"),
        (sp.csr_matrix((3, 4)), {}, "must be square"),
        (([0, 1], [1, 2]), {"p_shapes": (1, 2)}, "multiply to 2, fewer than .* 3 nodes"),
        (([0, 1], [1, 2]), {"p_shapes": (3,)}, "at least 2 factors"),
        (([0, 1], [1, 2]), {"p_shapes": (2, 0)}, "must be an int >= 1"),
        (([0, 1], [1, 2]), {"method": "metis", "num_parts": -1}, "non-negative integer, got -1"),
        (([0, 1], [1, 2]), {"method": "metis", "num_parts": 4}, r"\[0, num_nodes=3\], got 4"),
        (([0, 1], [1, 2]), {"num_parts": 2}, "applies to method='metis' only"),
        (([0, 1], [1, 2]), {"method": "spectral"}, "invalid reorder method 'spectral'"),
        (([0, 1], [1, 2]), {"labels": [0, 1]}, "length num_nodes=3"),
    ],
)
def test_errors_name_the_problem(graph, kwargs, message):
    with pytest.raises(ValueError, match=message):
        reorder_graph(graph, **kwargs)


def test_cora_leaf_cut_near_flat_metis(shared_data):
    with np.load(shared_data / "cora" / "graph.npz") as archive:
        edges, labels = archive["edges"], archive["labels"]
    pair = (edges[:, 0], edges[:, 1])
    _, tt = reorder_graph(pair, labels=labels)
    _, flat = reorder_graph(pair, tt.p_shapes, method="metis")
    _, shuffled = reorder_graph(pair, tt.p_shapes, method="random")
    assert flat.partition.num_blocks == tt.levels[-1].num_blocks
    assert tt.leaf_edge_cut <= 1.15 * flat.partition.edge_cut
    assert tt.leaf_edge_cut < 0.5 * shuffled.leaf_edge_cut
    assert tt.leaf_homophily > 2 * tt.chance_homophily
