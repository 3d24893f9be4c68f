"""Tests for tt_gnn.gnn.sampler and tt_gnn.gnn.blocks: validity, uniformity, determinism."""

from __future__ import annotations

import itertools
import time
from collections import Counter

import pytest
import torch
from scipy.stats import chi2

from tt_gnn.gnn.blocks import Block
from tt_gnn.gnn.sampler import (
    NeighborBatches,
    check_fanouts,
    full_neighbor_block,
    sample_blocks,
    sample_neighbors,
    to_block,
)
from tt_gnn.graph import Graph


def _simple_graph(num_nodes: int = 300, num_edges: int = 3000, seed: int = 0) -> Graph:
    """A random directed graph without parallel edges, with hubs (skewed destinations)."""
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_nodes, (num_edges,), generator=generator)
    dst = (torch.rand(num_edges, generator=generator) ** 3 * num_nodes).long()
    pairs = torch.unique(torch.stack([src, dst], dim=1), dim=0)
    return Graph.from_edges(pairs[:, 0], pairs[:, 1], num_nodes)


def _in_neighbors(graph: Graph) -> list[list[int]]:
    return [graph.in_neighbors(node).tolist() for node in range(graph.num_nodes())]


def _check_block(graph: Graph, block: Block, fanout: int) -> None:
    """Every edge exists; fanout respected; no repeats; all neighbours when degree <= fanout."""
    neighbors = _in_neighbors(graph)
    src_ids = block.src_ids.tolist()
    assert len(set(src_ids)) == len(src_ids), "source nodes must be distinct"
    assert torch.all(block.dst[1:] >= block.dst[:-1]), "edges must be grouped by destination"
    sampled: dict[int, list[int]] = {v: [] for v in range(block.num_dst)}
    for local_src, local_dst in zip(block.src.tolist(), block.dst.tolist()):
        sampled[local_dst].append(src_ids[local_src])
    for local_dst, sources in sampled.items():
        node = src_ids[local_dst]
        full = neighbors[node]
        assert set(sources) <= set(full), f"node {node}: sampled non-edges"
        assert len(set(sources)) == len(sources), f"node {node}: repeated neighbour"
        expected = len(full) if fanout == -1 else min(len(full), fanout)
        assert len(sources) == expected
        if fanout == -1 or len(full) <= fanout:
            assert sorted(sources) == sorted(full)
    used = set(block.src.tolist()) | set(range(block.num_dst))
    assert used == set(range(block.num_src)), "every source node is a destination or used"


@pytest.mark.parametrize("fanouts", [[3, 5], [1, -1, 4], [-1], [50, 50]])
def test_sampled_blocks_are_valid_subgraphs(fanouts):
    graph = _simple_graph()
    seeds = torch.tensor([0, 1, 2, 299, 17, 150])
    blocks = sample_blocks(graph, seeds, fanouts, seed=3)
    assert len(blocks) == len(fanouts)
    assert blocks[-1].dst_ids.tolist() == seeds.tolist()
    for layer, block in enumerate(blocks):
        _check_block(graph, block, fanouts[layer])
        if layer:
            assert torch.equal(block.dst_ids, blocks[layer - 1].src_ids[: block.num_dst])
            assert blocks[layer - 1].num_dst == block.num_src


def test_hubs_are_subsampled_and_small_nodes_kept_whole():
    graph = _simple_graph()
    degrees = graph.in_degrees()
    hubs = torch.nonzero(degrees > 40).squeeze(1)
    small = torch.nonzero((degrees > 0) & (degrees <= 5)).squeeze(1)
    assert hubs.numel() >= 3 and small.numel() >= 3, "fixture must have hubs and small nodes"
    nodes = torch.cat([hubs[:3], small[:3]])
    sources, counts = sample_neighbors(graph, nodes, 5, seed=0)
    assert counts.tolist() == [5, 5, 5] + degrees[small[:3]].tolist()
    assert sources.shape[0] == int(counts.sum())


def test_minus_one_and_full_neighbor_block_take_every_edge_with_multiplicity():
    # Parallel edges and self-loops are edges too: the full block keeps each one.
    graph = Graph.from_edges([0, 0, 1, 2, 2, 3], [1, 1, 1, 2, 0, 0], num_nodes=5)
    block = full_neighbor_block(graph, torch.tensor([1, 0, 4]))
    assert block.src_ids.tolist()[:3] == [1, 0, 4]
    edges = sorted(
        (block.src_ids[s].item(), block.src_ids[d].item())
        for s, d in zip(block.src.tolist(), block.dst.tolist())
    )
    assert edges == [(0, 1), (0, 1), (1, 1), (2, 0), (3, 0)]
    sources, counts = sample_neighbors(graph, torch.tensor([1, 0, 4]), -1)
    assert counts.tolist() == [3, 2, 0] and sorted(sources.tolist()) == [0, 0, 1, 2, 3]


def test_sampling_from_a_multigraph_picks_distinct_edges():
    # Node 0 has 12 in-edges from 3 sources (4 parallel edges each): a sample of 6 edges can
    # repeat a source at most 4 times, and edges are never repeated.
    src = torch.tensor([1, 2, 3] * 4)
    graph = Graph.from_edges(src, torch.zeros(12, dtype=torch.int64), num_nodes=4)
    for seed in range(20):
        sources, _ = sample_neighbors(graph, torch.tensor([0]), 6, seed=seed)
        assert len(sources) == 6 and max(Counter(sources.tolist()).values()) <= 4


def test_isolated_nodes_get_empty_neighbourhoods():
    graph = Graph.from_edges([0, 1], [1, 0], num_nodes=5)
    blocks = sample_blocks(graph, torch.tensor([3, 0, 4]), [2, 2], seed=0)
    assert blocks[-1].in_degrees().tolist() == [0, 1, 0]
    assert blocks[0].src_ids.tolist() == [3, 0, 4, 1]
    assert blocks[0].in_degrees().tolist() == [0, 1, 0, 1]
    edgeless = Graph.from_edges([], [], num_nodes=3)
    block = sample_blocks(edgeless, torch.tensor([2]), [4], seed=0)[0]
    assert block.num_edges == 0 and block.src_ids.tolist() == [2]


def _chi_square_threshold(degrees_of_freedom: int) -> float:
    # Fixed seeds make the statistic a constant: this threshold (p = 1e-6 for a uniform
    # sampler) can never flake; a biased sampler exceeds it by far (see the control below).
    return float(chi2.ppf(1 - 1e-6, degrees_of_freedom))


def _star_graph(num_leaves: int, num_centers: int) -> tuple[Graph, torch.Tensor]:
    """Centers ``num_leaves ..`` each have in-edges from every leaf ``0 .. num_leaves-1``."""
    centers = torch.arange(num_leaves, num_leaves + num_centers)
    src = torch.arange(num_leaves).repeat(num_centers)
    dst = centers.repeat_interleave(num_leaves)
    return Graph.from_edges(src, dst, num_leaves + num_centers), centers


def test_subsets_are_uniform_over_nodes_and_over_seeds():
    num_leaves, fanout = 6, 3
    subsets = {s: i for i, s in enumerate(itertools.combinations(range(num_leaves), fanout))}
    graph, centers = _star_graph(num_leaves, 6000)
    # Many nodes, one seed.
    sources, _ = sample_neighbors(graph, centers, fanout, seed=11)
    picks = sources.view(-1, fanout).sort(dim=1).values.tolist()
    counts = torch.bincount(torch.tensor([subsets[tuple(p)] for p in picks]), minlength=20)
    # One node, many seeds.
    single = [
        tuple(sorted(sample_neighbors(graph, centers[:1], fanout, seed=seed)[0].tolist()))
        for seed in range(1000)
    ]
    counts_over_seeds = torch.bincount(torch.tensor([subsets[p] for p in single]), minlength=20)
    for observed in (counts, counts_over_seeds):
        expected = observed.sum() / len(subsets)
        statistic = float(((observed - expected) ** 2 / expected).sum())
        assert statistic < _chi_square_threshold(len(subsets) - 1), observed.tolist()
    # Control: a window sampler (random start, then consecutive offsets) has uniform
    # marginals but only 6 of the 20 subsets; the test must reject it.
    starts = torch.randint(0, num_leaves, (6000,), generator=torch.Generator().manual_seed(0))
    windows = [tuple(sorted((s + j) % num_leaves for j in range(fanout))) for s in starts.tolist()]
    observed = torch.bincount(torch.tensor([subsets[w] for w in windows]), minlength=20)
    expected = observed.sum() / len(subsets)
    assert float(((observed - expected) ** 2 / expected).sum()) > _chi_square_threshold(19)


def test_neighbour_marginals_are_uniform_on_a_large_star():
    num_leaves, fanout = 40, 7
    graph, centers = _star_graph(num_leaves, 4000)
    sources, _ = sample_neighbors(graph, centers, fanout, seed=5)
    observed = torch.bincount(sources, minlength=num_leaves).double()
    expected = len(centers) * fanout / num_leaves
    statistic = float(((observed - expected) ** 2 / expected).sum())
    assert statistic < _chi_square_threshold(num_leaves - 1)


def test_same_seed_same_sample_and_different_seeds_differ():
    graph = _simple_graph()
    seeds = torch.arange(0, 300, 7)
    first = sample_blocks(graph, seeds, [4, 3], seed=42)
    again = sample_blocks(graph, seeds, [4, 3], seed=42)
    other = sample_blocks(graph, seeds, [4, 3], seed=43)
    for a, b in zip(first, again):
        assert torch.equal(a.src_ids, b.src_ids) and torch.equal(a.src, b.src)
        assert torch.equal(a.dst, b.dst)
    assert not torch.equal(first[-1].src, other[-1].src) or not torch.equal(
        first[-1].src_ids, other[-1].src_ids
    )


def test_a_nodes_sample_does_not_depend_on_the_rest_of_the_batch():
    graph = _simple_graph()
    hub = int(graph.in_degrees().argmax())
    alone, _ = sample_neighbors(graph, torch.tensor([hub]), 4, seed=9)
    together, counts = sample_neighbors(graph, torch.tensor([0, hub, 5]), 4, seed=9)
    start = int(counts[0])
    assert torch.equal(alone, together[start : start + 4])
    repeated, _ = sample_neighbors(graph, torch.tensor([hub, hub]), 4, seed=9)
    assert torch.equal(repeated, torch.cat([alone, alone]))


def test_to_block_relabels_with_destinations_first():
    block = to_block(torch.tensor([8, 3]), torch.tensor([5, 3, 8, 1, 5]), torch.tensor([3, 2]))
    assert block.src_ids.tolist() == [8, 3, 1, 5]
    assert [block.src_ids[s].item() for s in block.src.tolist()] == [5, 3, 8, 1, 5]
    assert block.dst.tolist() == [0, 0, 0, 1, 1]
    with pytest.raises(ValueError, match="distinct"):
        to_block(torch.tensor([1, 1]), torch.tensor([2]), torch.tensor([1, 0]))


def test_neighbor_batches_cover_the_seeds_in_order_and_repeat():
    graph = _simple_graph()
    seeds = torch.randperm(300, generator=torch.Generator().manual_seed(1))[:100]
    batches = NeighborBatches(graph, seeds, [3, 3], batch_size=32, seed=7)
    assert len(batches) == 4
    first = list(batches)
    assert torch.equal(torch.cat([output for _, output, _ in first]), seeds)
    for input_ids, output_ids, blocks in first:
        assert torch.equal(input_ids, blocks[0].src_ids)
        assert torch.equal(output_ids, blocks[-1].dst_ids)
        _check_block(graph, blocks[-1], 3)
    second = list(batches)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, second))
    reseeded = list(NeighborBatches(graph, seeds, [3, 3], batch_size=32, seed=8))
    assert any(not torch.equal(a[0], b[0]) for a, b in zip(first, reseeded))


def test_invalid_arguments_are_rejected():
    graph = _simple_graph(10, 30)
    with pytest.raises(ValueError, match="fanouts"):
        check_fanouts([3, 0])
    with pytest.raises(ValueError, match="fanouts"):
        sample_blocks(graph, torch.tensor([0]), [])
    with pytest.raises(ValueError, match="fanouts"):
        sample_neighbors(graph, torch.tensor([0]), -2)
    with pytest.raises(ValueError, match="node id 10"):
        sample_blocks(graph, torch.tensor([10]), [2])
    with pytest.raises(ValueError, match="distinct"):
        NeighborBatches(graph, torch.tensor([1, 2, 1]), [2], 2)
    with pytest.raises(TypeError, match="integer"):
        sample_blocks(graph, torch.tensor([1.0]), [2])
    with pytest.raises(ValueError, match="batch_size"):
        NeighborBatches(graph, torch.tensor([1]), [2], 0)
    with pytest.raises(ValueError, match="num_dst"):
        Block(torch.tensor([0]), torch.tensor([0]), torch.tensor([0]), 2)
    with pytest.raises(TypeError, match="int64"):
        Block(torch.tensor([0]), torch.tensor([0], dtype=torch.int32), torch.tensor([0]), 1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_samples_equal_cpu_samples():
    graph = _simple_graph()
    seeds = torch.arange(0, 300, 3)
    on_cpu = sample_blocks(graph, seeds, [5, -1, 2], seed=123)
    on_cuda = sample_blocks(graph.to("cuda"), seeds.cuda(), [5, -1, 2], seed=123)
    for a, b in zip(on_cpu, on_cuda):
        assert b.device.type == "cuda"
        assert torch.equal(a.src_ids, b.src_ids.cpu()) and torch.equal(a.src, b.src.cpu())
        assert torch.equal(a.dst, b.dst.cpu())


@pytest.mark.slow
def test_report_sampling_throughput_against_dgl():
    """300k-node synthetic graph, batch 1024, fanouts 15,10,5: torch-native vs DGL, one run.

    Run with ``--runslow -s`` to see the numbers. Both must sample ``min(degree, 5)`` edges
    for every seed in the last layer.
    """
    from tt_gnn.data import load_dataset
    from tt_gnn.dgl import dgl
    from tt_gnn.dgl.convert import to_dgl

    graph = load_dataset("synthetic", num_nodes=300_000).graph
    seeds = torch.randperm(graph.num_nodes(), generator=torch.Generator().manual_seed(0))
    seeds = seeds[: 1024 * 12]
    fanouts = [15, 10, 5]
    expected_last = [
        int(graph.in_degrees(seeds[i : i + 1024]).clamp(max=5).sum())
        for i in range(0, len(seeds), 1024)
    ]
    results = {}
    started = time.perf_counter()
    batches = list(NeighborBatches(graph, seeds, fanouts, 1024, seed=0))
    results["torch"] = (time.perf_counter() - started, batches)
    dgl_graph = to_dgl(graph)
    sampler = dgl.dataloading.NeighborSampler(fanouts)
    dgl.seed(0)
    started = time.perf_counter()
    dgl_batches = [
        sampler.sample_blocks(dgl_graph, seeds[i : i + 1024]) for i in range(0, len(seeds), 1024)
    ]
    results["dgl"] = (time.perf_counter() - started, dgl_batches)
    assert [blocks[-1].num_edges for _, _, blocks in batches] == expected_last
    assert [blocks[-1].num_edges() for _, _, blocks in dgl_batches] == expected_last
    for name, (seconds, sampled) in results.items():
        edges = sum(
            sum(b.num_edges if isinstance(b, Block) else b.num_edges() for b in blocks)
            for _, _, blocks in sampled
        )
        print(
            f"\n{name}: {len(sampled) / seconds:.1f} batches/s, {edges / seconds / 1e6:.2f} M "
            f"sampled edges/s ({edges / len(sampled):.0f} edges/batch, "
            f"{torch.get_num_threads()} torch threads)"
        )
